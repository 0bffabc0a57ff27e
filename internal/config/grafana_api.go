package config

import (
	"errors"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

// Grafana is Grafana's Alertmanager-compatible API, where silences of
// Grafana-managed alerts go (PROTOCOLS.md §2.6). Optional: without a url
// there is none.
type Grafana struct {
	URL string `yaml:"url"`
	// Token is a service account token, sent as "Authorization: Bearer".
	Token      Secret           `yaml:"token"`
	TokenFile  string           `yaml:"token_file"`
	Timeout    time.Duration    `yaml:"timeout"` // per request; default 10s
	HTTPConfig HTTPClientConfig `yaml:"http_config"`
}

// GrafanaRoute overrides the top-level grafana block for one route; the
// zero value overrides nothing. It is a value, not a pointer, so that fmt
// never prints the token through a pointer (see WebhookAuth.Format).
type GrafanaRoute struct {
	URL       string `yaml:"url"`
	Token     Secret `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

// ClientConfig is the http_config to reach this Grafana with: http_config
// plus the token, if set, as "Authorization: Bearer" (Validate made sure
// http_config brings no credentials of its own then).
func (g Grafana) ClientConfig() commoncfg.HTTPClientConfig {
	h := g.HTTPConfig.HTTPClientConfig
	if !g.Token.IsZero() {
		h.Authorization = &commoncfg.Authorization{Type: "Bearer", Credentials: commoncfg.Secret(g.Token.Reveal())}
	}
	return h
}

func defaultGrafana() Grafana {
	return Grafana{Timeout: DefaultAPITimeout, HTTPConfig: DefaultHTTPClientConfig()}
}

// GrafanaFor returns the Grafana API settings of a route: the route's
// grafana block over the top-level one. ok is false when there is no
// Grafana url for it.
//
// A route that names another Grafana (a different url) inherits neither
// the top-level token nor the credentials in http_config (TLS and proxy
// settings still apply): they belong to the other instance.
func (c *Config) GrafanaFor(route string) (g Grafana, ok bool) {
	g = c.Grafana
	if r, found := c.Route(route); found {
		g = g.override(r.Grafana)
	}
	return g, g.URL != ""
}

func (g Grafana) override(o GrafanaRoute) Grafana {
	if o.URL != "" && o.URL != g.URL {
		g.URL, g.Token, g.TokenFile = o.URL, "", ""
		g.HTTPConfig = g.HTTPConfig.withoutCredentials()
	}
	if !o.Token.IsZero() {
		g.Token, g.TokenFile = o.Token, o.TokenFile
	}
	return g
}

// withoutCredentials drops everything that authenticates (and headers,
// which may).
func (h HTTPClientConfig) withoutCredentials() HTTPClientConfig {
	h.BasicAuth, h.Authorization, h.OAuth2, h.HTTPHeaders = nil, nil, nil, nil
	h.BearerToken, h.BearerTokenFile = "", ""
	return h
}

// grafana validates the top-level grafana block and the routes' overrides.
func (p *problems) grafana(c *Config) {
	g := c.Grafana
	if g.URL != "" {
		p.httpURL("grafana.url", g.URL)
	} else if !g.Token.IsZero() {
		p.addf("grafana.url", "required when grafana.token is set")
	}
	p.apiTimeout("grafana.timeout", g.Timeout)
	p.httpClientConfig("grafana.http_config", g.HTTPConfig)
	p.grafanaToken("grafana.token", g)
	for i, r := range c.Routes {
		if r.Grafana == (GrafanaRoute{}) {
			continue
		}
		key := indexKey("routes", i) + ".grafana"
		if r.Grafana.URL != "" {
			p.httpURL(key+".url", r.Grafana.URL)
		}
		merged := g.override(r.Grafana)
		if merged.URL == "" {
			p.addf(key+".url", "required (there is no top-level grafana.url)")
		}
		if !r.Grafana.Token.IsZero() {
			p.grafanaToken(key+".token", merged)
		}
	}
}

// grafanaToken: a token is sent as the Authorization header, so http_config
// must not bring credentials of its own.
func (p *problems) grafanaToken(key string, g Grafana) {
	if !g.Token.IsZero() && g.HTTPConfig.HasCredentials() {
		*p = append(*p, errors.New(key+" and the credentials in grafana.http_config (basic_auth, authorization, bearer_token, oauth2) are mutually exclusive: set one of them"))
	}
}

// resolveAPIPaths makes the file paths of the API clients' settings
// absolute.
func (c *Config) resolveAPIPaths() {
	c.Alertmanager.HTTPConfig.resolvePaths(c.Dir)
	c.Grafana.HTTPConfig.resolvePaths(c.Dir)
	c.Grafana.TokenFile = c.resolve(c.Grafana.TokenFile)
	for i := range c.Routes {
		g := &c.Routes[i].Grafana
		g.TokenFile = c.resolve(g.TokenFile)
	}
}

// grafanaSecretFields are the Grafana tokens and their *_file twins.
func (c *Config) grafanaSecretFields() []secretField {
	fields := []secretField{{"grafana.token", "grafana.token_file", &c.Grafana.Token, c.Grafana.TokenFile}}
	for i := range c.Routes {
		g := &c.Routes[i].Grafana
		key := indexKey("routes", i) + ".grafana.token"
		fields = append(fields, secretField{key, key + "_file", &g.Token, g.TokenFile})
	}
	return fields
}
