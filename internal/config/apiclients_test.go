package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"gopkg.in/yaml.v3"
)

// alertmanagerAt is the default alertmanager block with another url.
func alertmanagerAt(url string) Alertmanager {
	a := defaultAlertmanager()
	a.URL = url
	return a
}

func TestAPIClientsConfig(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/api-clients.yml")
	dir, _ := filepath.Abs(filepath.Join("testdata", "valid"))

	am := cfg.Alertmanager
	if want := []string{"http://alertmanager.internal:9093", "http://am-1.internal:9093/alertmanager"}; !slices.Equal(am.Endpoints(), want) {
		t.Errorf("Endpoints() = %v, want %v (url's default must yield to urls)", am.Endpoints(), want)
	}
	if am.URL != "" || am.Timeout != 5*time.Second {
		t.Errorf("url = %q, timeout = %v", am.URL, am.Timeout)
	}
	h := am.HTTPConfig
	if h.BasicAuth == nil || h.BasicAuth.Username != "alertgram" || h.BasicAuth.Password != "am-basic-password-0123" {
		t.Errorf("basic_auth = %v", h.BasicAuth)
	}
	if want := filepath.Join(dir, "certs", "ca.pem"); h.TLSConfig.CAFile != want || h.TLSConfig.ServerName != "am.internal" {
		t.Errorf("tls_config: ca_file %q (want %q, resolved), server_name %q", h.TLSConfig.CAFile, want, h.TLSConfig.ServerName)
	}
	if h.ProxyURL.URL == nil || h.ProxyURL.Host != "proxy.internal:3128" || h.FollowRedirects || !h.EnableHTTP2 {
		t.Errorf("proxy_url %v, follow_redirects %v, enable_http2 %v", h.ProxyURL.Redacted(), h.FollowRedirects, h.EnableHTTP2)
	}
	if _, err := commoncfg.NewClientFromConfig(h.HTTPClientConfig, "test"); err == nil {
		t.Error("a client was built although ca_file does not exist") // proves ca_file reaches Prometheus' code
	}

	grafanaCases := []struct {
		route, url, token string
	}{
		{"oncall", "https://grafana.example.com", "glsa_top-level-token_0123456789"},
		{"db", "https://grafana.example.com", "glsa_file-token_db_0123456789"},
		{"other", "https://grafana-2.example.com", "glsa_other-token_0123456789"},
		{"no-such-route", "https://grafana.example.com", "glsa_top-level-token_0123456789"},
	}
	for _, c := range grafanaCases {
		g, ok := cfg.GrafanaFor(c.route)
		if !ok || g.URL != c.url || g.Token.Reveal() != c.token || g.Timeout != 20*time.Second || !g.HTTPConfig.TLSConfig.InsecureSkipVerify {
			t.Errorf("GrafanaFor(%q) = %+v, %v; want url %s and its token", c.route, g, ok, c.url)
		}
	}
	if g, _ := cfg.GrafanaFor("db"); g.ClientConfig().Authorization == nil || g.ClientConfig().Authorization.Credentials != "glsa_file-token_db_0123456789" || g.ClientConfig().Authorization.Type != "Bearer" {
		t.Errorf("GrafanaFor(db).ClientConfig() = %v, want the token as bearer", g.ClientConfig().Authorization)
	}
	if g, _ := (&Config{}).GrafanaFor("x"); g.ClientConfig().Authorization != nil {
		t.Error("no token, yet an Authorization header")
	}
	if want := filepath.Join(dir, "..", "secrets", "grafana_token"); cfg.Routes[1].Grafana.TokenFile != filepath.Clean(want) {
		t.Errorf("routes[1].grafana.token_file = %q, want %q", cfg.Routes[1].Grafana.TokenFile, want)
	}
}

func TestAPIClientDefaults(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/minimal.yml")
	if got := cfg.Alertmanager.Endpoints(); !slices.Equal(got, []string{DefaultAlertmanager}) {
		t.Errorf("Endpoints() = %v", got)
	}
	if cfg.Alertmanager.Timeout != 10*time.Second || !cfg.Alertmanager.HTTPConfig.FollowRedirects || !cfg.Alertmanager.HTTPConfig.EnableHTTP2 {
		t.Errorf("alertmanager defaults: %+v", cfg.Alertmanager)
	}
	if g, ok := cfg.GrafanaFor("oncall"); ok || g.Timeout != 10*time.Second {
		t.Errorf("GrafanaFor without grafana.url = %+v, %v; want false", g, ok)
	}
	if got := (Alertmanager{}).Endpoints(); got != nil {
		t.Errorf("empty Endpoints() = %v", got)
	}
}

// TestHTTPConfigExpansionAndAliases: ${VAR} works inside http_config (it
// runs on the node tree first), and an alias to another http_config is
// followed, since the subtree is re-encoded on its own.
func TestHTTPConfigExpansionAndAliases(t *testing.T) {
	t.Parallel()
	const doc = `
telegram:
  token: ${TOKEN}
alertmanager:
  http_config: &http
    authorization:
      credentials: ${AM_TOKEN}
    tls_config: {server_name: "${AM_HOST}"}
grafana:
  url: https://grafana.example.com
  http_config: *http
routes:
  - name: oncall
`
	const amToken = `am-token: #1 "q" 'x' {y} yes`
	env := map[string]string{"TOKEN": testToken, "AM_TOKEN": amToken, "AM_HOST": "am.internal"}
	cfg, err := parse([]byte(doc), t.TempDir(), lookupIn(env), testHostname)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]HTTPClientConfig{"alertmanager": cfg.Alertmanager.HTTPConfig, "grafana": cfg.Grafana.HTTPConfig} {
		if h.Authorization == nil || h.Authorization.Credentials != amToken || h.Authorization.Type != "Bearer" || h.TLSConfig.ServerName != "am.internal" {
			t.Errorf("%s.http_config = %v", name, h)
		}
	}
}

// TestHTTPConfigErrorLines checks that errors inside http_config name the
// line of the file, also for flow style, and never the expanded value.
func TestHTTPConfigErrorLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"flow", "alertmanager:\n  http_config: {basic_auth: {username: u, pasword: x}}\n",
			[]string{"line 2: alertmanager.http_config.basic_auth.pasword: unknown key"}},
		{"nested list", "alertmanager:\n  http_config:\n    http_headers:\n      X-A:\n        values: [a, b]\n        secret: [c]\n",
			[]string{"line 6: alertmanager.http_config.http_headers.X-A.secret: unknown key"}},
		{"duplicate", "alertmanager:\n  http_config:\n    enable_http2: true\n    enable_http2: false\n",
			[]string{"line 4: alertmanager.http_config.enable_http2: duplicate key"}},
		{"env value", "alertmanager:\n  http_config:\n    follow_redirects: ${SECRET}\n",
			[]string{"line 3: alertmanager.http_config.follow_redirects: expected a boolean (true or false), got a string"}},
		{"env unset", "alertmanager:\n  http_config:\n    bearer_token: ${NOPE}\n",
			[]string{"line 3: alertmanager.http_config.bearer_token: environment variable NOPE is not set"}},
		{"not a mapping", "alertmanager:\n  http_config: [a]\n",
			[]string{"line 2: alertmanager.http_config: expected a mapping, got a list"}},
	}
	env := map[string]string{"SECRET": "very-secret-value"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.doc + "telegram:\n  token: " + testToken + "\nroutes:\n  - name: oncall\n"
			_, err := parse([]byte(doc), t.TempDir(), lookupIn(env), testHostname)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tt.want) {
				t.Errorf("%d errors, want %d:\n%v", n, len(tt.want), err)
			}
			if strings.Contains(err.Error(), "very-secret") {
				t.Errorf("error reveals the expanded value: %v", err)
			}
		})
	}
}

// TestValidateHTTPConfig: Validate checks a config built in code too, where
// no UnmarshalYAML ran.
func TestValidateHTTPConfig(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/minimal.yml")
	cfg.Alertmanager.HTTPConfig.BearerToken = "hunter2"
	cfg.Alertmanager.HTTPConfig.BasicAuth = &commoncfg.BasicAuth{Username: "u", Password: "hunter2"}
	cfg.Grafana.URL = "https://grafana.example.com"
	cfg.Grafana.Token = "glsa_hunter2"
	cfg.Grafana.HTTPConfig.Authorization = &commoncfg.Authorization{Credentials: "hunter2"}
	err := cfg.Validate()
	for _, want := range []string{
		"alertmanager.http_config: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
		"grafana.token and the credentials in grafana.http_config",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error reveals a secret: %v", err)
	}
	if cfg.Alertmanager.HTTPConfig.BearerToken != "hunter2" {
		t.Error("Validate changed the config")
	}
}

func TestGrafanaForOtherInstanceDropsCredentials(t *testing.T) {
	t.Parallel()
	top := defaultGrafana()
	top.URL = "https://grafana.example.com"
	top.HTTPConfig.BasicAuth = &commoncfg.BasicAuth{Username: "admin", Password: "pw"}
	top.HTTPConfig.TLSConfig.ServerName = "kept"
	cfg := &Config{Grafana: top, Routes: []Route{
		{Name: "same", Grafana: GrafanaRoute{URL: top.URL}},
		{Name: "other", Grafana: GrafanaRoute{URL: "https://other.example.com"}},
	}}
	if g, _ := cfg.GrafanaFor("same"); g.HTTPConfig.BasicAuth == nil {
		t.Error("the same instance lost the credentials")
	}
	g, ok := cfg.GrafanaFor("other")
	if !ok || g.URL != "https://other.example.com" || g.HTTPConfig.HasCredentials() || g.HTTPConfig.TLSConfig.ServerName != "kept" {
		t.Errorf("GrafanaFor(other) = %+v, %v; want its url, no credentials, TLS kept", g, ok)
	}
	if cfg.Grafana.HTTPConfig.BasicAuth == nil {
		t.Error("GrafanaFor changed the top-level block")
	}
}

// TestAPIClientSecretsNeverPrint prints the config with the API clients'
// secrets every likely way.
func TestAPIClientSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/api-clients.yml")
	cfg.Alertmanager.HTTPConfig.HTTPHeaders = &commoncfg.Headers{Headers: map[string]commoncfg.Header{"X-Key": {Secrets: []commoncfg.Secret{"header-secret-0123"}}}}
	secrets := []string{"am-basic-password-0123", "proxy-pass-0123", "glsa_top-level-token", "glsa_file-token_db", "glsa_other-token", "header-secret-0123"}

	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%t"} {
		outputs[verb] = fmt.Sprintf(verb, *cfg)
		outputs[verb+" &cfg"] = fmt.Sprintf(verb, cfg)
		outputs[verb+" parts"] = fmt.Sprintf(verb, []any{cfg.Alertmanager, &cfg.Alertmanager, cfg.Alertmanager.HTTPConfig, &cfg.Alertmanager.HTTPConfig, cfg.Grafana, cfg.Routes, cfg.Routes[2].Grafana})
		g, _ := cfg.GrafanaFor("db")
		outputs[verb+" GrafanaFor"] = fmt.Sprintf(verb, g)
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	for how, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s reveals %q:\n%s", how, s, out)
			}
		}
	}
	if !strings.Contains(outputs["%v"], `"username":"alertgram"`) || !strings.Contains(outputs["%v"], "<secret>") {
		t.Errorf("%%v should still show the http_config, redacted:\n%s", outputs["%v"])
	}
}
