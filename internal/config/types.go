// Package config is alertgram's configuration: the YAML schema, defaults,
// ${VAR} expansion, strict decoding with key-named errors, validation, the
// Secret type and the *_file twins of secrets. It is a leaf package.
//
// Load and Parse return a config that has defaults applied, paths resolved,
// secret files read and Validate passed; only cmd and app see all of it.
package config

import (
	"fmt"
	"time"
)

// Config is the whole alertgram configuration: one YAML file. Only cmd and
// app see all of it; every other package gets the part it needs.
type Config struct {
	Listen       string `yaml:"listen"`        // host:port; default 127.0.0.1:8080
	Storage      string `yaml:"storage"`       // sqlite://PATH or postgres://…; default sqlite://alertgram.db
	InstanceID   string `yaml:"instance_id"`   // owner name for outbox leases; default: hostname
	TemplatesDir string `yaml:"templates_dir"` // optional user template dir, relative to the config file
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
	Log          Log    `yaml:"log"`

	Telegram     Telegram     `yaml:"telegram"`
	Alertmanager Alertmanager `yaml:"alertmanager"`
	Grafana      Grafana      `yaml:"grafana"`
	Actions      Actions      `yaml:"actions"`
	WebhookAuth  WebhookAuth  `yaml:"webhook_auth"`
	Admin        Admin        `yaml:"admin"`
	Links        Links        `yaml:"links"`
	Delivery     Delivery     `yaml:"delivery"`
	Routes       []Route      `yaml:"routes"`

	// Dir is the directory of the config file; relative paths were resolved
	// against it. Not read from YAML.
	Dir string `yaml:"-"`
}

// Log configures the process logger.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// Telegram configures the Bot API connection. Each secret has a *_file twin
// holding the path of a file to read it from; after loading, the secret
// field holds the value whichever way it was given.
type Telegram struct {
	Token             Secret `yaml:"token"`
	TokenFile         string `yaml:"token_file"`
	APIURL            string `yaml:"api_url"`
	Updates           string `yaml:"updates"` // polling | webhook
	WebhookURL        string `yaml:"webhook_url"`
	WebhookSecret     Secret `yaml:"webhook_secret"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
}

// Alertmanager is where Silence/Ack callbacks go: one URL, or the peers of
// an HA cluster in urls (tried in order on failure); use Endpoints.
type Alertmanager struct {
	URL        string           `yaml:"url"`     // default http://127.0.0.1:9093
	URLs       []string         `yaml:"urls"`    // exclusive with url
	Timeout    time.Duration    `yaml:"timeout"` // per attempt at one peer; default 10s
	HTTPConfig HTTPClientConfig `yaml:"http_config"`
}

// WebhookAuth protects the webhook endpoints. Bearer and basic are
// mutually exclusive; neither means no auth. GrafanaHMAC additionally
// verifies Grafana's request signature on /webhook/grafana/*.
type WebhookAuth struct {
	BearerToken     Secret       `yaml:"bearer_token"`
	BearerTokenFile string       `yaml:"bearer_token_file"`
	BasicAuth       *BasicAuth   `yaml:"basic_auth"`
	GrafanaHMAC     *GrafanaHMAC `yaml:"grafana_hmac"`
}

// Format prints a WebhookAuth the same way for every verb, following the
// *BasicAuth pointer. Without it, %s or %q of a struct holding a
// WebhookAuth would print the pointer through fmt's bad-verb path, which
// skips Secret's methods and shows the password.
func (a WebhookAuth) Format(f fmt.State, _ rune) {
	switch {
	case f.Flag('#'):
		fmt.Fprintf(f, "config.WebhookAuth{BearerToken:%#v, BearerTokenFile:%#v, BasicAuth:%#v, GrafanaHMAC:%#v}", a.BearerToken, a.BearerTokenFile, a.BasicAuth, a.GrafanaHMAC)
	case f.Flag('+'):
		fmt.Fprintf(f, "{BearerToken:%+v BearerTokenFile:%+v BasicAuth:%+v GrafanaHMAC:%+v}", a.BearerToken, a.BearerTokenFile, a.BasicAuth, a.GrafanaHMAC)
	default:
		fmt.Fprintf(f, "{%v %v %v %v}", a.BearerToken, a.BearerTokenFile, a.BasicAuth, a.GrafanaHMAC)
	}
}

// Admin protects the admin API (POST /api/v1/links). Without a token the
// admin API is off.
type Admin struct {
	BearerToken     Secret `yaml:"bearer_token"`
	BearerTokenFile string `yaml:"bearer_token_file"`
}

// BasicAuth is a username and password pair.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Route is one named destination: webhooks posted to
// /webhook/<source>/<name> go to its chats and subscribers.
type Route struct {
	Name         string    `yaml:"name"`
	Chats        []ChatRef `yaml:"chats"`
	ParseMode    string    `yaml:"parse_mode"` // MarkdownV2 | HTML
	Template     string    `yaml:"template"`
	SendResolved *bool     `yaml:"send_resolved"` // nil means true; use SendsResolved
	Buttons      []string  `yaml:"buttons"`       // ack | silence
	// SilentSeverities are severity label values whose messages arrive
	// without sound (disable_notification), e.g. [warning, info].
	// Resolved messages are always silent.
	SilentSeverities []string `yaml:"silent_severities"`

	// Grafana overrides the top-level grafana block; see GrafanaFor.
	Grafana GrafanaRoute `yaml:"grafana"`
	// Actions tunes the Ack/Silence buttons (see actions.go).
	Actions RouteActions `yaml:"actions"`
}

// ChatRef is a static chat: a chat id, optionally with a forum topic. In YAML
// it is a number (-1001234567890) or a string "chat_id:thread_id".
// ThreadID 0 means no topic.
type ChatRef struct {
	ChatID   int64
	ThreadID int64
}

// Parse modes.
const (
	ParseModeMarkdownV2 = "MarkdownV2"
	ParseModeHTML       = "HTML"
)

// Ways of receiving Telegram updates (telegram.updates).
const (
	UpdatesPolling = "polling"
	UpdatesWebhook = "webhook"
)

// Inline buttons a route can put on firing messages (routes[].buttons).
const (
	ButtonAck     = "ack"
	ButtonSilence = "silence"
)

// Route returns the route called name.
func (c *Config) Route(name string) (Route, bool) {
	for _, r := range c.Routes {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}

// SendsResolved reports whether resolved notifications go out on this
// route; an unset send_resolved means yes.
func (r Route) SendsResolved() bool {
	return r.SendResolved == nil || *r.SendResolved
}

// setDefaults is called on every route before its YAML is decoded into it,
// so explicit values (even empty ones) win and are then validated.
func (r *Route) setDefaults() {
	sendResolved := true
	r.ParseMode = ParseModeHTML
	r.Template = "default"
	r.SendResolved = &sendResolved
	r.Actions = defaultRouteActions()
}
