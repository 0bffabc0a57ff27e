package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestExpandString(t *testing.T) {
	t.Parallel()
	env := lookupIn(map[string]string{"A": "alpha", "B_2": "beta", "EMPTY": "", "NESTED": "${A}"})
	for _, c := range []struct {
		in, want string
		errs     []string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x-${A}-${B_2}-y", want: "x-alpha-beta-y"},
		{in: "${EMPTY}", want: ""},
		{in: "${NESTED}", want: "${A}"}, // values are not expanded again
		{in: "$${A}", want: "${A}"},
		{in: "$${A} and ${A}", want: "${A} and alpha"},
		{in: "$$${A}", want: "$${A}"}, // "$${" always wins: write "$" + "${A}" apart if needed
		{in: "$A and $", want: "$A and $"},
		{in: "cost: $5 {x}", want: "cost: $5 {x}"},
		{in: "${UNSET}", errs: []string{"environment variable UNSET is not set"}},
		{in: "${UNSET}${ALSO_UNSET}", errs: []string{"UNSET is not set", "ALSO_UNSET is not set"}},
		{in: "${}", errs: []string{`invalid variable reference "${}"`}},
		{in: "${1A}", errs: []string{`invalid variable reference "${1A}"`}},
		{in: "${A:-default}", errs: []string{`invalid variable reference "${A:-default}"`}},
		{in: "${A", errs: []string{`unterminated "${"`}},
	} {
		got, errs := expandString(c.in, env)
		if len(errs) != len(c.errs) {
			t.Errorf("%q: errors %v, want %d", c.in, errs, len(c.errs))
			continue
		}
		for i, err := range errs {
			if !strings.Contains(err.Error(), c.errs[i]) {
				t.Errorf("%q: error %q, want %q", c.in, err, c.errs[i])
			}
		}
		if len(errs) == 0 && got != c.want {
			t.Errorf("%q = %q, want %q", c.in, got, c.want)
		}
	}
}

const expandDoc = `
listen: ${LISTEN}
max_body_bytes: ${MAX_BODY}
telegram:
  token: ${TOKEN}
  webhook_secret: "${TOKEN}"
alertmanager:
  url: http://${AM_HOST}:9093
webhook_auth:
  basic_auth:
    username: ${USER}
    password: '${PASSWORD}'
routes:
  - name: ${ROUTE}
    template: ${TEMPLATE}
    send_resolved: ${SEND_RESOLVED}
    chats:
      - ${CHAT}
      - ${CHAT}:${THREAD}
`

func expandEnv() map[string]string {
	return map[string]string{
		"LISTEN":        "127.0.0.1:9999",
		"MAX_BODY":      "2048",
		"TOKEN":         testToken,
		"AM_HOST":       "am.internal",
		"ROUTE":         "oncall",
		"TEMPLATE":      "custom",
		"SEND_RESOLVED": "false",
		"CHAT":          "-100123",
		"THREAD":        "9",
		// YAML-special characters: if the value were pasted into the text
		// and re-parsed, ": " would start a mapping, " #" a comment and the
		// quotes would end the string.
		"USER":     `ops: team # "admin' {x: [y]}`,
		"PASSWORD": `p: w # "quoted' & *alias !tag`,
	}
}

func TestExpandKeepsStructure(t *testing.T) {
	t.Parallel()
	env := expandEnv()
	cfg, err := parse([]byte(expandDoc), t.TempDir(), lookupIn(env), testHostname)
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.WebhookAuth.BasicAuth
	for _, c := range []struct{ key, got, want string }{
		{"listen", cfg.Listen, "127.0.0.1:9999"},
		{"telegram.token", cfg.Telegram.Token.Reveal(), testToken},
		{"telegram.webhook_secret", cfg.Telegram.WebhookSecret.Reveal(), testToken},
		{"alertmanager.url", cfg.Alertmanager.URL, "http://am.internal:9093"},
		{"username", b.Username, env["USER"]},
		{"password", b.Password.Reveal(), env["PASSWORD"]},
		{"routes[0].name", cfg.Routes[0].Name, "oncall"},
		{"routes[0].template", cfg.Routes[0].Template, "custom"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
	}
	if cfg.MaxBodyBytes != 2048 {
		t.Errorf("max_body_bytes = %d, want 2048 (a plain ${VAR} holding a number is a number)", cfg.MaxBodyBytes)
	}
	if cfg.Routes[0].SendsResolved() {
		t.Error("send_resolved: ${SEND_RESOLVED}=false gave true")
	}
	want := []ChatRef{{ChatID: -100123}, {ChatID: -100123, ThreadID: 9}}
	if len(cfg.Routes[0].Chats) != 2 || cfg.Routes[0].Chats[0] != want[0] || cfg.Routes[0].Chats[1] != want[1] {
		t.Errorf("chats = %v, want %v", cfg.Routes[0].Chats, want)
	}
}

func TestExpandTypes(t *testing.T) {
	t.Parallel()
	base := "telegram: {token: " + testToken + "}\nroutes: [{name: r}]\n"
	for _, c := range []struct {
		doc, value, wantErr string
	}{
		// An empty value is an empty string, not null: it does not fall
		// back to the default.
		{doc: "listen: ${V}\n", value: "", wantErr: `listen: "" is not host:port`},
		{doc: "instance_id: ${V}\n", value: "null"}, // the string "null"
		{doc: "instance_id: ${V}\n", value: "123"},  // a number is fine in a string key
		{doc: "max_body_bytes: '${V}'\n", value: "2048", wantErr: `line 1: max_body_bytes: expected an integer, got the expansion of "${V}"`},
		{doc: "max_body_bytes: ${V}\n", value: "2k", wantErr: `line 1: max_body_bytes: expected an integer, got the expansion of "${V}"`},
		{doc: "log:\n  level: ${V}\n", value: "[debug]", wantErr: `log.level: "[debug]" is not one of`},
	} {
		env := lookupIn(map[string]string{"V": c.value})
		cfg, err := parse([]byte(c.doc+base), t.TempDir(), env, testHostname)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%q with V=%q: %v", c.doc, c.value, err)
		case c.wantErr == "" && cfg.InstanceID != c.value:
			t.Errorf("%q with V=%q: instance_id = %q", c.doc, c.value, cfg.InstanceID)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%q with V=%q: error %v, want %q", c.doc, c.value, err, c.wantErr)
		}
	}
}

// An anchored value is expanded once, where it is defined, however many
// aliases use it: "$${" stays a literal "${" everywhere.
func TestExpandAnchorOnce(t *testing.T) {
	t.Parallel()
	doc := "telegram: {token: " + testToken + "}\n" +
		"routes:\n  - {name: a, template: &t 'tmpl-$${A}'}\n  - {name: b, template: *t}\n"
	cfg, err := parse([]byte(doc), t.TempDir(), lookupIn(map[string]string{"A": "expanded"}), testHostname)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.Routes {
		if r.Template != "tmpl-${A}" {
			t.Errorf("route %s template = %q, want %q", r.Name, r.Template, "tmpl-${A}")
		}
	}
}

// Inside a flow collection ([...] or {...}) YAML ends a plain scalar at
// "{", so an unquoted ${VAR} there is a YAML syntax error; quoted, it works.
func TestExpandInFlowCollectionNeedsQuotes(t *testing.T) {
	t.Parallel()
	env := lookupIn(map[string]string{"CHAT": "-100123"})
	doc := "telegram: {token: " + testToken + "}\nroutes: [{name: r, chats: [%s]}]\n"
	if _, err := parse(fmt.Appendf(nil, doc, "${CHAT}"), t.TempDir(), env, testHostname); err == nil {
		t.Error("unquoted ${CHAT} in a flow list parsed; update the docs")
	}
	cfg, err := parse(fmt.Appendf(nil, doc, `"${CHAT}"`), t.TempDir(), env, testHostname)
	if err != nil || cfg.Routes[0].Chats[0].ChatID != -100123 {
		t.Errorf("quoted: %v", err)
	}
}

// One unset variable gives exactly one error: the value it was in is not
// decoded, so no follow-on type or validation error.
func TestExpandErrorsAreNotRepeated(t *testing.T) {
	t.Parallel()
	doc := "max_body_bytes: ${NOPE}\ntelegram: {token: " + testToken + "}\nroutes: [{name: r, chats: [\"${NOPE}:1\"]}]\n"
	_, err := parse([]byte(doc), t.TempDir(), lookupIn(nil), testHostname)
	if err == nil {
		t.Fatal("no error")
	}
	want := "line 1: max_body_bytes: environment variable NOPE is not set\n" +
		"line 3: routes[0].chats[0]: environment variable NOPE is not set"
	if err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}
