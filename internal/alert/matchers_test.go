package alert

import (
	"strings"
	"testing"
)

func TestMatchers(t *testing.T) {
	g := &Group{Alerts: []Alert{
		{Labels: map[string]string{"alertname": "A", "severity": "warning", "team": "web"}},
		{Labels: map[string]string{"alertname": "B", "severity": "critical", "team": "db"}},
	}}
	tests := []struct {
		matchers []string
		want     bool
		wantErr  string
	}{
		{nil, true, ""},
		{[]string{"severity=critical"}, true, ""},
		{[]string{`severity="critical"`, "team=web"}, false, ""}, // no single alert matches both
		{[]string{`team=~"db|infra"`}, true, ""},
		{[]string{`team!~"db|web"`}, false, ""},
		{[]string{"severity=info"}, false, ""},
		{[]string{"=broken"}, false, "matcher \"=broken\""},
	}
	for _, tc := range tests {
		got, err := MatchesAny(g, tc.matchers)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err %v, want %q", tc.matchers, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %v, %v; want %v", tc.matchers, got, err, tc.want)
		}
	}
	norm, err := NormaliseMatchers([]string{"severity=critical", `team=~"db|infra"`})
	if err != nil || norm[0] != `severity="critical"` || norm[1] != `team=~"db|infra"` {
		t.Errorf("normalised %q, %v", norm, err)
	}
}
