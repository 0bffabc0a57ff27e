package config

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	testToken = "123456789:TEST-token_0123456789abcdefghij"
	testHost  = "test-host"
)

// testEnv is the environment the fixtures are loaded with.
var testEnv = map[string]string{
	"ALERTGRAM_TEST_TOKEN": testToken,
	"ALERTGRAM_TEST_AM":    "http://alertmanager.internal:9093",
}

func lookupIn(env map[string]string) lookupFunc {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func testHostname() (string, error) { return testHost, nil }

// loadFixture loads testdata/<name> with testEnv, like Load.
func loadFixture(t *testing.T, name string) (*Config, error) {
	t.Helper()
	path := filepath.Join("testdata", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parse(data, filepath.Dir(path), lookupIn(testEnv), testHostname)
}

func mustLoadFixture(t *testing.T, name string) *Config {
	t.Helper()
	cfg, err := loadFixture(t, name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return cfg
}

func fixtures(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", dir, "*.yml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	for i, n := range names {
		names[i] = filepath.Join(dir, filepath.Base(n))
	}
	return names
}

// wants returns the "# want: " lines of a fixture: substrings its error
// must contain.
func wants(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for s := bufio.NewScanner(f); s.Scan(); {
		if want, ok := strings.CutPrefix(s.Text(), "# want: "); ok {
			out = append(out, want)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no '# want: ' line", name)
	}
	return out
}

func TestValidFixtures(t *testing.T) {
	for _, name := range fixtures(t, "valid") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mustLoadFixture(t, name)
		})
	}
}

func TestInvalidFixtures(t *testing.T) {
	for _, name := range fixtures(t, "invalid") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadFixture(t, name)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("config returned with error %v", err)
			}
			for _, want := range wants(t, name) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
			for _, secret := range []string{testToken, "SECRET", "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error reveals %q:\n%v", secret, err)
				}
			}
		})
	}
}

func TestFullConfig(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/full.yml")
	dir, _ := filepath.Abs(filepath.Join("testdata", "valid"))
	no := false
	want := &Config{
		Listen:       "0.0.0.0:9087",
		Storage:      "sqlite://" + filepath.Join(dir, "data", "alertgram.db"),
		InstanceID:   "replica-a",
		TemplatesDir: filepath.Join(dir, "templates"),
		MaxBodyBytes: 1 << 20,
		Log:          Log{Level: "debug", Format: "json"},
		Telegram: Telegram{
			Token:         testToken,
			APIURL:        "http://127.0.0.1:8081",
			Updates:       UpdatesWebhook,
			WebhookURL:    "https://alerts.example.com/telegram/webhook",
			WebhookSecret: "full-webhook-secret_0123",
		},
		Alertmanager: alertmanagerAt("http://alertmanager.internal:9093"),
		Grafana:      defaultGrafana(),
		Delivery:     defaultDelivery(),
		Links:        Links{MaxTTL: 7 * 24 * time.Hour},
		Actions:      Actions{CallbackTTL: 168 * time.Hour, AckCheckInterval: 30 * time.Second},
		WebhookAuth:  WebhookAuth{BasicAuth: &BasicAuth{Username: "alertmanager", Password: "full-basic-password"}},
		Routes: []Route{{
			Name:         "oncall",
			Chats:        []ChatRef{{ChatID: -1001234567890}, {ChatID: -1001234567891, ThreadID: 42}},
			ParseMode:    ParseModeMarkdownV2,
			Template:     "oncall",
			SendResolved: &no,
			Buttons:      []string{ButtonAck, ButtonSilence},
			Actions: RouteActions{
				SilenceDurations: []time.Duration{30 * time.Minute, 2 * time.Hour}, AckDuration: 10 * time.Minute,
				SilenceScope: ScopeGroupLabels, AllowedUsers: []int64{111, 222}, ChatAdmins: true, Receiver: "telegram-.*",
			},
		}, {
			Name:      "team.db-alerts",
			Chats:     []ChatRef{{ChatID: 12345}},
			ParseMode: ParseModeHTML,
			Template:  DefaultTemplate,
			Actions:   defaultRouteActions(),
		}},
		Dir: dir,
	}
	yes := true
	want.Routes[1].SendResolved = &yes
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%#v\nwant\n%#v", *cfg, *want) // secrets print as <secret>
		t.Errorf("got\n%s\nwant\n%s", dump(t, cfg), dump(t, want))
	}
}

func dump(t *testing.T, cfg *Config) string {
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestMinimalConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/minimal.yml")
	dir, _ := filepath.Abs(filepath.Join("testdata", "valid"))
	want := &Config{
		Listen:       "127.0.0.1:8080",
		Storage:      "sqlite://" + filepath.Join(dir, "alertgram.db"),
		InstanceID:   testHost,
		MaxBodyBytes: 4 << 20,
		Log:          Log{Level: "info", Format: "text"},
		Telegram:     Telegram{Token: testToken, APIURL: "https://api.telegram.org", Updates: UpdatesPolling},
		Alertmanager: alertmanagerAt("http://127.0.0.1:9093"),
		Grafana:      defaultGrafana(),
		Delivery:     defaultDelivery(),
		Links:        Links{MaxTTL: DefaultLinkMaxTTL},
		Actions:      defaultActions(),
		Routes:       []Route{{Name: "oncall", ParseMode: ParseModeHTML, Template: "default", Actions: defaultRouteActions()}},
		Dir:          dir,
	}
	if cfg.Routes[0].SendResolved == nil || !*cfg.Routes[0].SendResolved {
		t.Errorf("send_resolved default: got %v, want pointer to true", cfg.Routes[0].SendResolved)
	}
	cfg.Routes[0].SendResolved = nil
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(t, cfg), dump(t, want))
	}
}

func TestEmptyFileGetsDefaultsThenFailsValidation(t *testing.T) {
	t.Parallel()
	_, err := parse(nil, t.TempDir(), lookupIn(nil), testHostname)
	for _, want := range []string{"telegram.token: required", "routes: at least one route is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}

func TestSecretFiles(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/secret-files.yml")
	secrets, _ := filepath.Abs(filepath.Join("testdata", "secrets"))
	checks := []struct {
		key, got, want, gotFile, wantFile string
	}{
		{"telegram.token", cfg.Telegram.Token.Reveal(), "123456789:FILE-token_0123456789abcdefghij", cfg.Telegram.TokenFile, "bot_token"},
		{"telegram.webhook_secret", cfg.Telegram.WebhookSecret.Reveal(), "file-webhook-secret_0123", cfg.Telegram.WebhookSecretFile, "webhook_secret"},
		// Only one trailing newline is dropped.
		{"webhook_auth.basic_auth.password", cfg.WebhookAuth.BasicAuth.Password.Reveal(), "file-basic-password\n", cfg.WebhookAuth.BasicAuth.PasswordFile, "basic_password"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
		if want := filepath.Join(secrets, c.wantFile); c.gotFile != want {
			t.Errorf("%s_file = %q, want %q", c.key, c.gotFile, want)
		}
	}
	if cfg.Storage != "sqlite:///var/lib/alertgram/alertgram.db" {
		t.Errorf("absolute sqlite path changed: %q", cfg.Storage)
	}

	bearer := mustLoadFixture(t, "valid/bearer-file.yml")
	if got := bearer.WebhookAuth.BearerToken.Reveal(); got != "file-bearer-token" {
		t.Errorf("bearer token from file = %q", got)
	}
}

func TestMergeKeys(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/anchors.yml")
	quiet, ok := cfg.Route("oncall-quiet")
	if !ok {
		t.Fatal("route oncall-quiet not found")
	}
	if quiet.ParseMode != ParseModeMarkdownV2 || quiet.SendsResolved() || len(quiet.Chats) != 1 || quiet.Chats[0].ChatID != -100111 {
		t.Errorf("merged route = %+v", quiet)
	}
	if base, _ := cfg.Route("oncall"); !base.SendsResolved() {
		t.Error("merging into oncall-quiet changed oncall's send_resolved")
	}
}

func TestPostgresDSNUnchanged(t *testing.T) {
	t.Parallel()
	cfg := mustLoadFixture(t, "valid/postgres.yml")
	if want := "postgresql://alertgram@db.internal:5432/alertgram?sslmode=verify-full"; cfg.Storage != want {
		t.Errorf("storage = %q, want %q", cfg.Storage, want)
	}
}

// TestLoad goes through the exported path: a real file and the real
// environment (so it cannot run in parallel).
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ALERTGRAM_LOAD_TOKEN", testToken)
	path := filepath.Join(dir, "alertgram.yml")
	body := "telegram:\n  token: ${ALERTGRAM_LOAD_TOKEN}\n  token_file: \"\"\nroutes:\n  - name: oncall\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dir != dir || cfg.Telegram.Token.Reveal() != testToken {
		t.Errorf("Dir = %q, token ok = %v", cfg.Dir, cfg.Telegram.Token.Reveal() == testToken)
	}
	if want := "sqlite://" + filepath.Join(dir, "alertgram.db"); cfg.Storage != want {
		t.Errorf("storage = %q, want %q", cfg.Storage, want)
	}
	if host, _ := os.Hostname(); cfg.InstanceID != host {
		t.Errorf("instance_id = %q, want hostname %q", cfg.InstanceID, host)
	}

	_, err = Load(filepath.Join(dir, "missing.yml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}

	t.Setenv("ALERTGRAM_LOAD_TOKEN", "")
	os.Unsetenv("ALERTGRAM_LOAD_TOKEN")
	_, err = Load(path)
	if want := path + ": line 2: telegram.token: environment variable ALERTGRAM_LOAD_TOKEN is not set"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("unset variable: got %v, want %q", err, want)
	}
}

// TestStrictDecodingAgreesWithKnownFields checks the strict node decoder
// against yaml.v3's own KnownFields(true) on the fixtures: both accept the
// valid ones and both reject the unknown keys.
func TestStrictDecodingAgreesWithKnownFields(t *testing.T) {
	t.Parallel()
	decodeKnown := func(name string) error {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		var cfg Config
		return dec.Decode(&cfg)
	}
	for _, name := range fixtures(t, "valid") {
		if err := decodeKnown(name); err != nil {
			t.Errorf("%s: yaml.v3 rejects a valid fixture: %v", name, err)
		}
	}
	for _, name := range fixtures(t, "invalid") {
		if !strings.Contains(wants(t, name)[0], "unknown key") {
			continue
		}
		if err := decodeKnown(name); err == nil || !strings.Contains(err.Error(), "not found in type") {
			t.Errorf("%s: yaml.v3 KnownFields(true) accepts it (%v)", name, err)
		}
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	no, yes := false, true
	cfg := &Config{Routes: []Route{{Name: "a", SendResolved: &no}, {Name: "b", SendResolved: &yes}, {Name: "c"}}}
	for name, want := range map[string]bool{"a": false, "b": true, "c": true} {
		r, ok := cfg.Route(name)
		if !ok || r.Name != name {
			t.Fatalf("Route(%q) = %+v, %v", name, r, ok)
		}
		if r.SendsResolved() != want {
			t.Errorf("route %s SendsResolved() = %v, want %v", name, !want, want)
		}
	}
	if r, ok := cfg.Route("nope"); ok {
		t.Errorf("Route(nope) = %+v, true", r)
	}
}
