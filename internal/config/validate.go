package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	sqliteScheme    = "sqlite://"
	minMaxBodyBytes = 1 << 10
	maxMaxBodyBytes = 64 << 20
)

var (
	// A bot token is "<bot id>:<secret>". It is never printed.
	botTokenRE = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]{20,}$`)
	// Telegram's setWebhook secret_token rule (PROTOCOLS.md §4.7).
	webhookSecretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	// Route names are URL path segments: /webhook/<source>/<name>.
	routeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

	parseModes  = []string{ParseModeMarkdownV2, ParseModeHTML}
	updateModes = []string{UpdatesPolling, UpdatesWebhook}
	buttons     = []string{ButtonAck, ButtonSilence}
	logLevels   = []string{"debug", "info", "warn", "error"}
	logFormats  = []string{"text", "json"}
)

// problems collects validation errors, each prefixed by its key path.
type problems []error

func (p *problems) addf(key, format string, args ...any) {
	*p = append(*p, errors.New(key+": "+fmt.Sprintf(format, args...)))
}

// oneOf adds a problem unless value is one of allowed.
func (p *problems) oneOf(key, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		p.addf(key, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

// Validate checks the whole config and returns every problem, joined, each
// naming its key path. Secret values are never part of a message.
func (c *Config) Validate() error {
	var p problems
	p.listen("listen", c.Listen)
	p.storage("storage", c.Storage)
	if c.InstanceID == "" {
		p.addf("instance_id", "required (the default, the hostname, is not available)")
	}
	if c.MaxBodyBytes < minMaxBodyBytes || c.MaxBodyBytes > maxMaxBodyBytes {
		p.addf("max_body_bytes", "%d is out of range: between %d (1 KiB) and %d (64 MiB)", c.MaxBodyBytes, minMaxBodyBytes, maxMaxBodyBytes)
	}
	p.oneOf("log.level", c.Log.Level, logLevels)
	p.oneOf("log.format", c.Log.Format, logFormats)
	p.telegram(&c.Telegram)
	p.alertmanager(&c.Alertmanager)
	p.grafana(c)
	p.webhookAuth(&c.WebhookAuth)
	p.routes(c.Routes)
	p.delivery(c.Delivery)
	p.actions(c.Actions)
	p.links(c.Links)
	return errors.Join(p...)
}

func (p *problems) listen(key, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.addf(key, "%q is not host:port", addr)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port != strconv.FormatUint(n, 10) {
		p.addf(key, "%q: port must be a number from 0 to 65535", addr)
	}
}

// storage checks the DSN without printing it: a PostgreSQL DSN may hold a
// password.
func (p *problems) storage(key, dsn string) {
	switch scheme, rest, _ := strings.Cut(dsn, "://"); scheme {
	case "sqlite":
		if !plainSQLitePath(rest) {
			p.addf(key, "sqlite:// needs a plain file path (no ?query, :memory: or file:), e.g. sqlite://alertgram.db")
		}
	case "postgres", "postgresql":
		if _, err := url.Parse(dsn); err != nil {
			p.addf(key, "not a valid %s:// URL", scheme)
		}
	default:
		p.addf(key, "must start with sqlite://, postgres:// or postgresql://")
	}
}

// plainSQLitePath reports whether path is what the store opens: a file
// path, without the query, :memory: or file: forms of SQLite DSNs.
func plainSQLitePath(path string) bool {
	return path != "" && path != ":memory:" && !strings.HasPrefix(path, "file:") && !strings.Contains(path, "?")
}

func (p *problems) telegram(t *Telegram) {
	switch {
	case t.Token.IsZero():
		p.addf("telegram.token", "required (set token or token_file)")
	case !botTokenRE.MatchString(t.Token.Reveal()):
		p.addf("telegram.token", "does not look like a bot token (<digits>:<at least 20 of A-Z a-z 0-9 _ ->)")
	}
	p.httpURL("telegram.api_url", t.APIURL)
	p.oneOf("telegram.updates", t.Updates, updateModes)
	if t.Updates != UpdatesWebhook {
		return
	}
	p.webhookURL("telegram.webhook_url", t.WebhookURL)
	switch {
	case t.WebhookSecret.IsZero():
		p.addf("telegram.webhook_secret", "required when updates is webhook (set webhook_secret or webhook_secret_file)")
	case !webhookSecretRE.MatchString(t.WebhookSecret.Reveal()):
		p.addf("telegram.webhook_secret", "must be 1 to 256 characters of A-Z a-z 0-9 _ - (Telegram's secret_token rule)")
	}
}

// httpURL checks an absolute http(s) URL. A URL is printed redacted (it
// may carry a password) and not at all when it does not parse.
func (p *problems) httpURL(key, raw string) *url.URL {
	if raw == "" {
		p.addf(key, "required")
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		p.addf(key, "not a valid URL")
		return nil
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.addf(key, "%q is not an absolute http:// or https:// URL", u.Redacted())
		return nil
	}
	return u
}

// webhookURL must be https; http is allowed for loopback hosts, for tests.
func (p *problems) webhookURL(key, raw string) {
	if raw == "" {
		p.addf(key, "required when updates is webhook")
		return
	}
	u := p.httpURL(key, raw)
	if u != nil && u.Scheme != "https" && !isLoopback(u.Hostname()) {
		p.addf(key, "%q must be https:// (http:// only for a loopback host)", u.Redacted())
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (p *problems) webhookAuth(a *WebhookAuth) {
	p.grafanaHMAC(a.GrafanaHMAC)
	b := a.BasicAuth
	if b == nil {
		return
	}
	if !a.BearerToken.IsZero() {
		*p = append(*p, errors.New("webhook_auth.bearer_token and webhook_auth.basic_auth are mutually exclusive: set one of them"))
	}
	if b.Username == "" {
		p.addf("webhook_auth.basic_auth.username", "required")
	}
	if b.Password.IsZero() {
		p.addf("webhook_auth.basic_auth.password", "required (set password or password_file)")
	}
}

func (p *problems) routes(routes []Route) {
	if len(routes) == 0 {
		p.addf("routes", "at least one route is required")
	}
	names := make(map[string]int)
	for i, r := range routes {
		key := indexKey("routes", i)
		if first, dup := names[r.Name]; dup {
			p.addf(key+".name", "%q is already the name of routes[%d]", r.Name, first)
		} else {
			names[r.Name] = i
			p.routeName(key+".name", r.Name)
		}
		p.oneOf(key+".parse_mode", r.ParseMode, parseModes)
		if r.Template == "" {
			p.addf(key+".template", "must not be empty (the built-in one is %q)", DefaultTemplate)
		}
		p.buttons(key+".buttons", r.Buttons)
		p.routeActions(key+".actions", r.Actions)
		p.chats(key+".chats", r.Chats)
		for j, sev := range r.SilentSeverities {
			if strings.TrimSpace(sev) == "" {
				p.addf(indexKey(key+".silent_severities", j), "must not be empty")
			}
		}
	}
}

func (p *problems) delivery(d Delivery) {
	if d.Margin < 0 || d.Margin > 10*time.Second {
		p.addf("delivery.margin", "%v is outside 0s..10s", d.Margin)
	}
	if d.DedupeWindow < 0 || d.DedupeWindow > 24*time.Hour {
		p.addf("delivery.dedupe_window", "%v is outside 0s..24h", d.DedupeWindow)
	}
	if d.Retention != 0 && d.Retention < time.Hour {
		p.addf("delivery.retention", "%v is below 1h (0 keeps everything)", d.Retention)
	}
}

func (p *problems) routeName(key, name string) {
	switch {
	case name == "":
		p.addf(key, "required")
	case !routeNameRE.MatchString(name):
		p.addf(key, "%q must match %s (it is a URL path segment)", name, routeNameRE)
	}
}

func (p *problems) buttons(key string, list []string) {
	for i, b := range list {
		k := indexKey(key, i)
		if j := slices.Index(list, b); j < i {
			p.addf(k, "%q is already in %s", b, indexKey(key, j))
			continue
		}
		p.oneOf(k, b, buttons)
	}
}

func (p *problems) chats(key string, chats []ChatRef) {
	for i, c := range chats {
		k := indexKey(key, i)
		switch {
		case c.ChatID == 0:
			p.addf(k, "chat id must not be 0")
		case c.ThreadID < 0:
			p.addf(k, "%q: thread id must not be negative", c)
		}
		if j := slices.Index(chats, c); j < i {
			p.addf(k, "%q is already in %s", c, indexKey(key, j))
		}
	}
}
