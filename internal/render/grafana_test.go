package render

import (
	"strings"
	"testing"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/tgmarkup"
)

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		93.21587301587302: "93.22", 41.73015873015873: "41.73", 1: "1", 0: "0", 8.43: "8.43",
		0.7342: "0.7342", 0.000123456: "0.0001235", -2.5: "-2.5", 123456.7: "123457", 1e21: "1000000000000000000000",
	} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestGrafanaData(t *testing.T) {
	g := loadGroup(t, "testdata/grafana-multi.json")
	d := newData(g, 0)
	// Grafana's silence form, not Alertmanager's; the shared rule replaces
	// alertname and grafana_folder, as in Grafana's own silenceURL.
	want := "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=__alert_rule_uid__%3Dad7xk3m1p0qz4b&matcher=team%3Ddba&orgId=1"
	if d.SilenceURL != want || d.OrgID != 1 {
		t.Errorf("group silence URL %q (org %d), want %q", d.SilenceURL, d.OrgID, want)
	}
	if got := d.Alerts[1].SortedValues(); len(got) != 2 || got[0].Name != "B" || got[0].Value != "8.43" || got[1].Name != "C" {
		t.Errorf("sorted values of db-1: %v", got)
	}
	if d.Alerts[0].RuleUID != "ad7xk3m1p0qz4b" || d.Alerts[0].Values != nil {
		t.Errorf("db-2: rule %q values %v", d.Alerts[0].RuleUID, d.Alerts[0].Values)
	}

	// Alerts of different rules: no rule matcher, the common labels instead.
	g.Alerts[0].RuleUID = "other"
	if got := newData(g, 0).SilenceURL; !strings.Contains(got, "matcher=alertname%3DDiskSpaceLow&matcher=grafana_folder%3DStorage&matcher=team%3Ddba") || strings.Contains(got, "__alert_rule_uid__") {
		t.Errorf("mixed rules silence URL %q", got)
	}
	// A Grafana alert without silenceURL gets one built the same way.
	g.Alerts[1].SilenceURL = ""
	if got := newData(g, 0).Alerts[1].SilenceURL; !strings.HasPrefix(got, "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=__alert_rule_uid__%3Dad7xk3m1p0qz4b&matcher=instance%3D") {
		t.Errorf("built alert silence URL %q", got)
	}
}

// TestGrafanaLinksTelegramRefuses renders the Test button's payload, sent
// by a Grafana whose root_url is http://localhost:3000/: the silence link
// must be left out, or Telegram would drop (or refuse) it.
func TestGrafanaLinksTelegramRefuses(t *testing.T) {
	r := newTestRenderer(t, Options{})
	g := loadGroup(t, "testdata/grafana-test.json")
	if g.Source != alert.SourceGrafana || !strings.Contains(g.Alerts[0].SilenceURL, "localhost") {
		t.Fatalf("fixture changed: %+v", g)
	}
	for _, mode := range []Mode{MarkdownV2, HTML} {
		msg, err := r.Render(g, "default", mode)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := tgmarkup.Parse(string(mode), msg.Text)
		if err != nil {
			t.Fatal(err)
		}
		if len(parsed.Entities) == 0 || strings.Contains(msg.Text, "localhost") {
			t.Errorf("%s: %q", mode, msg.Text)
		}
		for _, e := range parsed.Entities {
			if e.Type == "text_link" {
				t.Errorf("%s: link to %s kept", mode, e.URL)
			}
		}
	}
}
