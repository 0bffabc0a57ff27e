package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestSecretsNeverPrint renders a whole loaded config every way it is
// likely to be printed and checks that no secret value shows.
func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/full.yml")
	cfg.WebhookAuth.BearerToken = "full-bearer-token" // exclusive with basic_auth; only printed here
	cfg.Admin.BearerToken = "admin-api-bearer-token"
	secrets := []string{
		cfg.Telegram.Token.Reveal(),
		cfg.Telegram.WebhookSecret.Reveal(),
		cfg.WebhookAuth.BearerToken.Reveal(),
		cfg.WebhookAuth.BasicAuth.Password.Reveal(),
		cfg.Admin.BearerToken.Reveal(),
	}
	for _, s := range secrets {
		if len(s) < 8 {
			t.Fatalf("secret %q too short to search for", s)
		}
	}

	outputs := make(map[string]string)
	// Every verb, including ones that do not call String (a Secret without
	// its Format method would print itself raw under %d).
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%t"} {
		outputs[verb] = fmt.Sprintf(verb, *cfg)
		outputs[verb+" &cfg"] = fmt.Sprintf(verb, cfg)
		// A pointer field prints as an address at depth; print it directly too.
		outputs[verb+" basic_auth"] = fmt.Sprintf(verb, cfg.WebhookAuth.BasicAuth)
		outputs[verb+" webhook_auth"] = fmt.Sprintf(verb, []any{cfg.WebhookAuth, &cfg.WebhookAuth})
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml.Marshal"] = string(y)
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json.Marshal"] = string(j)
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("loaded", "config", cfg, "telegram", cfg.Telegram,
			"basic_auth", cfg.WebhookAuth.BasicAuth, "token", cfg.Telegram.Token)
		outputs[name] = buf.String()
	}

	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s reveals %q:\n%s", name, s, out)
			}
		}
		if !strings.Contains(out, "<secret>") && !strings.Contains(out, `\u003csecret\u003e`) {
			t.Errorf("%s has no <secret> placeholder:\n%s", name, out)
		}
	}
}

func TestSecret(t *testing.T) {
	t.Parallel()
	s := Secret("hunter2-hunter2")
	if s.Reveal() != "hunter2-hunter2" || s.IsZero() || !Secret("").IsZero() {
		t.Fatal("Reveal or IsZero wrong")
	}
	for verb, want := range map[string]string{
		"%v": "<secret>", "%+v": "<secret>", "%#v": "<secret>", "%s": "<secret>",
		"%q": `"<secret>"`, "%d": "<secret>", "%x": "<secret>", "%10s": "<secret>",
	} {
		if got := fmt.Sprintf(verb, s); got != want {
			t.Errorf("Sprintf(%s) = %q, want %q", verb, got, want)
		}
	}
	if s.String() != "<secret>" || s.GoString() != "<secret>" || s.LogValue().String() != "<secret>" {
		t.Error("String, GoString or LogValue reveal the secret")
	}
	for _, c := range []struct {
		secret Secret
		yaml   string
		json   string
	}{
		{s, "<secret>\n", `"\u003csecret\u003e"`},
		{"", `""` + "\n", `""`},
	} {
		y, _ := yaml.Marshal(c.secret)
		j, _ := json.Marshal(c.secret)
		txt, _ := c.secret.MarshalText()
		if string(y) != c.yaml || string(j) != c.json || string(txt) != c.secret.masked() {
			t.Errorf("marshal %q: yaml %q json %s text %q", c.secret.Reveal(), y, j, txt)
		}
	}
}

// TestWebhookAuthFormatPrintsEveryField guards WebhookAuth.Format, which
// lists the fields by hand: a new field must be added there.
func TestWebhookAuthFormatPrintsEveryField(t *testing.T) {
	t.Parallel()
	if n := reflect.TypeFor[WebhookAuth]().NumField(); n != 4 {
		t.Errorf("WebhookAuth has %d fields; update WebhookAuth.Format and this test", n)
	}
	a := WebhookAuth{BearerToken: "b", BearerTokenFile: "/f", BasicAuth: &BasicAuth{Username: "am", Password: "pw-pw-pw"}}
	got := fmt.Sprintf("%+v", a)
	if want := "{BearerToken:<secret> BearerTokenFile:/f BasicAuth:&{Username:am Password:<secret> PasswordFile:} GrafanaHMAC:<nil>}"; got != want {
		t.Errorf("%%+v = %s, want %s", got, want)
	}
}
