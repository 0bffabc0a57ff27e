package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/alertgram/alertgram/internal/alertmanager"
)

// Chat members are told a short cause and a reference; the error with its
// internal address goes to the log under that reference.
func TestPublicFailureHidesAddressesAndLogsThem(t *testing.T) {
	dial := &url.Error{Op: "Post", URL: "http://10.20.30.40:9093/api/v2/silences",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}
	tests := []struct {
		name, source string
		err          error
		want         string
	}{
		{"unreachable", "alertmanager", fmt.Errorf("all 2 peers failed; last error: %w", dial), "Alertmanager is unreachable"},
		{"timeout", "alertmanager", fmt.Errorf("POST http://10.20.30.40:9093: %w", context.DeadlineExceeded), "Alertmanager did not answer in time"},
		{"5xx", "alertmanager", &alertmanager.APIError{Method: "POST", URL: "http://10.20.30.40:9093/api/v2/silences", Status: 503}, "Alertmanager could not serve the request (HTTP 503)"},
		{"4xx", "alertmanager", &alertmanager.APIError{URL: "http://10.20.30.40:9093/x", Status: 400, Message: "bad matcher"}, "Alertmanager refused the request (HTTP 400)"},
		{"credentials", "grafana", &alertmanager.APIError{URL: "http://10.20.30.40:3000/x", Status: 401}, "Grafana refused alertgram's credentials (HTTP 401)"},
		{"grafana down", "grafana", dial, "Grafana is unreachable"},
		{"none configured", "alertmanager", errNoSilencer, "No Alertmanager is configured for these alerts"},
	}
	refRE := regexp.MustCompile(`\(ref ([0-9a-f]{8})\)\.$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			l := slog.New(slog.NewJSONHandler(&logs, nil))
			got := publicFailure(l, tt.source, "press failed", tt.err)
			if !strings.HasPrefix(got, tt.want+"; the bridge logged the details") {
				t.Errorf("public text = %q, want it to start with %q", got, tt.want)
			}
			if strings.Contains(got, "10.20.30.40") || strings.Contains(got, "http") {
				t.Errorf("public text shows an address: %q", got)
			}
			m := refRE.FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("public text has no reference: %q", got)
			}
			var line struct{ Err, Ref string }
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", logs.String(), err)
			}
			if line.Ref != m[1] || line.Err != tt.err.Error() {
				t.Errorf("log has ref %q err %q; want ref %q and the full error %q", line.Ref, line.Err, m[1], tt.err.Error())
			}
		})
	}
}
