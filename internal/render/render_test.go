package render

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
	"github.com/alertgram/alertgram/internal/tgmarkup"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC) }

func newTestRenderer(t testing.TB, opts Options) *Renderer {
	t.Helper()
	opts.Now = fixedNow
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// loadGroup decodes a webhook body into the domain model. alert.Group uses
// the webhook's JSON names, so a fixture decodes directly.
func loadGroup(t testing.TB, path string) *alert.Group {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g := &alert.Group{Source: alert.SourceAlertmanager, Route: "oncall"}
	if err := json.Unmarshal(b, g); err != nil {
		t.Fatal(err)
	}
	return g
}

// mustSend sends msg through the real client to the fake Bot API, which
// parses and checks it exactly as Telegram would.
func mustSend(t *testing.T, fake *testutil.Telegram, chat int64, msg Message) {
	t.Helper()
	c, err := telegram.New(fake.Token(), telegram.WithBaseURL(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(context.Background(), telegram.SendMessageParams{ChatID: chat, Text: msg.Text, ParseMode: string(msg.ParseMode)})
	if err != nil {
		t.Fatalf("fake Telegram rejected the %s message: %v\n%s", modeName(msg.ParseMode), err, msg.Text)
	}
}

var modes = map[Mode]string{MarkdownV2: "md", HTML: "html", Plain: "txt"}

// TestGolden renders every fixture in every mode, compares with the golden
// files, and sends each formatted message through the fake Telegram, which
// parses it as Telegram does.
func TestGolden(t *testing.T) {
	fake := testutil.NewTelegram(t, testutil.WithLimits(testutil.Limits{})) // rate limits are not under test here
	r := newTestRenderer(t, Options{})
	cases, _ := filepath.Glob("testdata/*.json")
	if len(cases) < 6 {
		t.Fatalf("only %d golden cases found", len(cases))
	}
	for _, path := range cases {
		g := loadGroup(t, path)
		for mode, ext := range modes {
			name := strings.TrimSuffix(filepath.Base(path), ".json")
			t.Run(name+"/"+ext, func(t *testing.T) {
				msg, err := r.Render(g, "default", mode)
				if err != nil {
					t.Fatal(err)
				}
				testutil.Golden(t, fmt.Sprintf("testdata/%s.%s.golden", name, ext), []byte(msg.Text))
				mustSend(t, fake, -100123, msg)
			})
		}
	}
}

func TestValuesAreShownVerbatim(t *testing.T) {
	r := newTestRenderer(t, Options{})
	g := loadGroup(t, "testdata/special-chars.json")
	weird := g.Alerts[0].Labels["weird"]
	for _, mode := range []Mode{MarkdownV2, HTML} {
		msg, err := r.Render(g, "default", mode)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := tgmarkup.Parse(string(mode), msg.Text)
		if err != nil {
			t.Fatalf("%s: Telegram would reject: %v\n%s", mode, err, msg.Text)
		}
		for _, want := range []string{weird, g.Alerts[0].Annotations["summary"], "Disk_Full <80%> & [rising]", "> not a quote"} {
			if !strings.Contains(parsed.Text, want) {
				t.Errorf("%s: parsed text lacks %q:\n%s", mode, want, parsed.Text)
			}
		}
	}
}

// manyAlerts builds a firing group of n alerts with realistic sizes.
func manyAlerts(n int) *alert.Group {
	g := &alert.Group{
		Source: alert.SourceAlertmanager, Route: "oncall", Status: alert.StatusFiring,
		GroupKey: `{}:{alertname="NodeDown"}`, ExternalURL: "https://am.example.com",
		GroupLabels:  map[string]string{"alertname": "NodeDown"},
		CommonLabels: map[string]string{"alertname": "NodeDown", "job": "node"},
	}
	for i := range n {
		sev := []string{"warning", "critical", "info"}[i%3]
		g.Alerts = append(g.Alerts, alert.Alert{
			Status:       alert.StatusFiring,
			Labels:       map[string]string{"alertname": "NodeDown", "job": "node", "instance": fmt.Sprintf("node-%03d.example.com:9100", i), "severity": sev},
			Annotations:  map[string]string{"summary": fmt.Sprintf("Node node-%03d is down", i), "description": "The node exporter has not answered for 5 minutes."},
			StartsAt:     time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
			GeneratorURL: "https://prometheus.example.com/graph?g0.expr=up%3D%3D0",
			Fingerprint:  fmt.Sprintf("%016x", i),
		})
	}
	return g
}

func TestLargeGroupOmitsAlertsAndSaysSo(t *testing.T) {
	fake := testutil.NewTelegram(t, testutil.WithLimits(testutil.Limits{})) // rate limits are not under test here
	r := newTestRenderer(t, Options{})
	g := manyAlerts(300)
	for _, mode := range []Mode{MarkdownV2, HTML, Plain} {
		msg, err := r.Render(g, "default", mode)
		if err != nil {
			t.Fatal(err)
		}
		n, err := tgmarkup.Length(string(mode), msg.Text)
		if err != nil || n > MaxTextLength {
			t.Fatalf("%s: length %d, err %v", mode, n, err)
		}
		if msg.Shown+msg.Omitted != 300 || msg.Omitted == 0 || msg.Shown < 5 {
			t.Fatalf("%s: shown %d, omitted %d", mode, msg.Shown, msg.Omitted)
		}
		if want := fmt.Sprintf("+%d more", msg.Omitted); !strings.Contains(msg.Text, want) {
			t.Errorf("%s: text does not say %q", mode, want)
		}
		if red, orange := strings.Index(msg.Text, "🔴"), strings.Index(msg.Text, "🟠"); red < 0 || (orange >= 0 && orange < red) {
			t.Errorf("%s: critical alerts are not shown first", mode)
		}
		// One more alert would not have fitted: the reduction is tight.
		_, n, err = r.try(r.sets[mode], "default", newData(g, 0), msg.Shown+1, mode)
		if err != nil {
			t.Fatal(err)
		}
		if n <= r.maxLength {
			t.Errorf("%s: %d alerts would have fitted, only %d shown", mode, msg.Shown+1, msg.Shown)
		}
		mustSend(t, fake, 42, msg)
		// The room left is enough for the longest state note.
		noted, ok := WithNote(msg.Text, mode, "🔕 Silenced by "+strings.Repeat("<b>*_", 100))
		if !ok {
			t.Fatalf("%s: a note does not fit a message reduced to the limit", mode)
		}
		mustSend(t, fake, 42, Message{Text: noted, ParseMode: mode})
	}
}

func TestHugeValuesAreShortenedNotCut(t *testing.T) {
	r := newTestRenderer(t, Options{})
	g := manyAlerts(1) // the only alert: it must be shown, so its values must shrink
	g.Alerts[0].Annotations["description"] = strings.Repeat("<&_*>", 5000)
	g.Alerts[0].Labels["blob"] = strings.Repeat("x.", 4000)
	for _, mode := range []Mode{MarkdownV2, HTML} {
		msg, err := r.Render(g, "default", mode)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := tgmarkup.Parse(string(mode), msg.Text)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if n := utf8.RuneCountInString(parsed.Text); n > MaxTextLength {
			t.Fatalf("%s: %d code points", mode, n)
		}
		if !strings.Contains(parsed.Text, "…") || msg.Shown == 0 {
			t.Errorf("%s: expected a shortened value and at least one alert shown (shown %d):\n%s", mode, msg.Shown, parsed.Text)
		}
	}
}

func TestUserTemplatesOverrideDefaults(t *testing.T) {
	dir := t.TempDir()
	tmpl := `{{ define "default.header" }}{{ bold "Custom" }} header for {{ .Title }} (1.5 * 2){{ end }}
{{ define "short" }}{{ .Status }}: {{ len .Alerts }} alert(s) — {{ code .GroupKey }}{{ end }}`
	if err := os.WriteFile(filepath.Join(dir, "mine.tmpl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newTestRenderer(t, Options{UserDir: dir})
	g := loadGroup(t, "testdata/firing.json")
	msg, err := r.Render(g, "default", MarkdownV2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msg.Text, `*Custom* header for `) || !strings.Contains(msg.Text, ` \(1\.5 \* 2\)`) {
		t.Errorf("override not applied or not escaped: %q", msg.Text)
	}
	short, err := r.Render(g, "short", HTML)
	if err != nil || !strings.HasPrefix(short.Text, "firing: 1 alert(s) — <code>") {
		t.Errorf("short template: %q, %v", short.Text, err)
	}
	if !r.Has("short") || r.Has("nope") {
		t.Error("Has does not report user templates")
	}
}

func TestTemplateErrorsAndFallback(t *testing.T) {
	dir := t.TempDir()
	bad := `{{ define "broken" }}{{ index .Alerts 99 }}{{ end }}{{ define "empty" }}   {{ end }}{{ define "markup" }}{{ code (bold "x") }}{{ end }}`
	if err := os.WriteFile(filepath.Join(dir, "bad.tmpl"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newTestRenderer(t, Options{UserDir: dir})
	g := loadGroup(t, "testdata/group.json")
	for name, want := range map[string]string{"broken": "index out of range", "empty": "empty message", "markup": "already markup", "missing": "not defined"} {
		if _, err := r.Render(g, name, HTML); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", name, err, want)
		}
	}
	fb := r.Fallback(g)
	if fb.ParseMode != Plain || !strings.HasPrefix(fb.Text, "FIRING: ") {
		t.Errorf("fallback: %+v", fb)
	}
	if _, err := New(Options{UserDir: filepath.Join(dir, "absent")}); err == nil {
		t.Error("a missing templates_dir must be an error")
	}
}

func TestLinkableURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://grafana.example.com/d/x": true,
		"http://10.0.0.1:9090/graph":      true,
		"tg://user?id=1":                  true,
		"http://prometheus:9090/graph":    false,
		"http://localhost:9093":           false,
		"http://[::1]:9093":               false,
		"ftp://files.example.com":         false,
		"/relative":                       false,
		"":                                false,
	} {
		if got := LinkableURL(u); got != want {
			t.Errorf("LinkableURL(%q) = %v, want %v", u, got, want)
		}
	}
}

// FuzzRenderValues puts arbitrary strings into labels and annotations; in
// both parse modes the message must render, parse as Telegram parses it,
// and stay within the length limit.
func FuzzRenderValues(f *testing.F) {
	for _, s := range []string{"", "a-b.c", "_*[]()~`>#+-=|{}.!\\", "<b>&amp;</b>&apos;", "||x||", "```", "\x00\r\n\t\u200b", "ёжик 🔥", strings.Repeat("*", 5000), "\xff\xfe", "&#x1F525;", "[x](http://a.b)"} {
		f.Add(s, s+"!", "value with "+s)
	}
	r := newTestRenderer(f, Options{})
	f.Fuzz(func(t *testing.T, label, summary, description string) {
		g := manyAlerts(3)
		g.Alerts[0].Labels["fuzz"] = label
		g.Alerts[1].Annotations["summary"] = summary
		g.Alerts[2].Annotations["description"] = description
		g.CommonLabels["alertname"] = label
		g.GroupKey = summary
		for _, mode := range []Mode{MarkdownV2, HTML, Plain} {
			msg, err := r.Render(g, "default", mode)
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			parsed, err := tgmarkup.Parse(string(mode), msg.Text)
			if err != nil {
				t.Fatalf("%s: Telegram would reject %q: %v", mode, msg.Text, err)
			}
			if n := utf8.RuneCountInString(parsed.Text); n == 0 || n > MaxTextLength {
				t.Fatalf("%s: parsed length %d", mode, n)
			}
		}
	})
}
