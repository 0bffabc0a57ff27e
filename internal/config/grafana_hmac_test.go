package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestGrafanaHMAC(t *testing.T) {
	t.Parallel()
	secrets, _ := filepath.Abs(filepath.Join("testdata", "secrets"))
	for _, c := range []struct {
		fixture string
		want    GrafanaHMAC
	}{
		{"valid/grafana-hmac.yml", GrafanaHMAC{
			Secret: "file-grafana-hmac-secret", SecretFile: filepath.Join(secrets, "grafana_hmac_secret"),
			Header: "X-Grafana-Alerting-Signature", TimestampHeader: "X-Grafana-Alerting-Timestamp", MaxAge: 2 * time.Minute,
		}},
		{"valid/grafana-hmac-defaults.yml", GrafanaHMAC{
			Secret: "inline-grafana-hmac-secret", Header: DefaultGrafanaHMACHeader, MaxAge: DefaultGrafanaHMACMaxAge,
		}},
	} {
		cfg := mustLoadFixture(t, c.fixture)
		got := cfg.WebhookAuth.GrafanaHMAC
		if got == nil || *got != c.want {
			t.Errorf("%s: grafana_hmac = %+v, want %+v", c.fixture, got, c.want)
			continue
		}
		secret, header, ts, maxAge := got.Reveal()
		if secret != c.want.Secret.Reveal() || header != c.want.Header || ts != c.want.TimestampHeader || maxAge != c.want.MaxAge {
			t.Errorf("%s: Reveal() = (secret ok %v, %q, %q, %v)", c.fixture, secret == c.want.Secret.Reveal(), header, ts, maxAge)
		}
	}

	// Not configured: nil, and Reveal gives "off".
	cfg := mustLoadFixture(t, "valid/minimal.yml")
	if cfg.WebhookAuth.GrafanaHMAC != nil {
		t.Errorf("grafana_hmac without the key = %+v, want nil", cfg.WebhookAuth.GrafanaHMAC)
	}
	if secret, header, ts, maxAge := cfg.WebhookAuth.GrafanaHMAC.Reveal(); secret != "" || header != "" || ts != "" || maxAge != 0 {
		t.Errorf("nil Reveal() = %q, %q, %q, %v; want zeros", secret, header, ts, maxAge)
	}
}

// TestGrafanaHMACSecretNeverPrints prints a config with an HMAC secret every
// way TestSecretsNeverPrint does.
func TestGrafanaHMACSecretNeverPrints(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/grafana-hmac.yml")
	secret := cfg.WebhookAuth.GrafanaHMAC.Secret.Reveal()
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"} {
		outputs[verb] = fmt.Sprintf(verb, *cfg)
		outputs[verb+" webhook_auth"] = fmt.Sprintf(verb, []any{cfg.WebhookAuth, &cfg.WebhookAuth})
		outputs[verb+" grafana_hmac"] = fmt.Sprintf(verb, []any{cfg.WebhookAuth.GrafanaHMAC, *cfg.WebhookAuth.GrafanaHMAC})
	}
	y, _ := yaml.Marshal(cfg)
	j, _ := json.Marshal(cfg)
	outputs["yaml"], outputs["json"] = string(y), string(j)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("loaded", "config", cfg, "hmac", cfg.WebhookAuth.GrafanaHMAC)
	outputs["slog"] = buf.String()
	for name, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("%s reveals the HMAC secret:\n%s", name, out)
		}
	}
	if got, want := fmt.Sprintf("%+v", cfg.WebhookAuth.GrafanaHMAC), "{Secret:<secret> SecretFile:"; !strings.HasPrefix(got, want) {
		t.Errorf("%%+v = %s, want prefix %s", got, want)
	}
}
