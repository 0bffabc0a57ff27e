package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sign is what Grafana's hmacConfig sends: lowercase hex HMAC-SHA256 of
// the body, or of "<ts>:<body>" with a timestamp header.
func sign(secret, ts, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	if ts != "" {
		mac.Write([]byte(ts + ":"))
	}
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

func TestGrafanaHMAC(t *testing.T) {
	const secret = "grafana-hmac-secret"
	body := fixture(t, "grafana-firing.json")
	unix := func(d time.Duration) string { return strconv.FormatInt(grafanaNow.Add(d).Unix(), 10) }
	plain := GrafanaHMAC{Secret: secret} // defaults: X-Grafana-Alerting-Signature, no timestamp
	stamped := NewGrafanaHMAC(secret, "X-Signature", "X-Signature-Timestamp", 5*time.Minute)
	tests := []struct {
		name      string
		cfg       GrafanaHMAC
		auth      Auth
		path      string
		header    map[string]string
		body      string
		wantCode  int
		wantError string
	}{
		{name: "right signature", cfg: plain, header: map[string]string{"X-Grafana-Alerting-Signature": sign(secret, "", body)}, wantCode: 200},
		{name: "Grafana's default header", cfg: plain, header: map[string]string{"X-Grafana-Alert-Signature": sign(secret, "", body)}, wantCode: 200},
		{name: "Grafana's default header, wrong", cfg: plain, header: map[string]string{"X-Grafana-Alert-Signature": sign("other", "", body)}, wantCode: 401, wantError: "bad signature: header X-Grafana-Alerting-Signature (or X-Grafana-Alert-Signature, Grafana's default)"},
		{name: "no fallback for a custom header", cfg: stamped, header: map[string]string{"X-Grafana-Alert-Signature": sign(secret, unix(0), body), "X-Signature-Timestamp": unix(0)}, wantCode: 401, wantError: "missing signature: header X-Signature is not set"},
		{name: "uppercase hex", cfg: plain, header: map[string]string{"X-Grafana-Alerting-Signature": strings.ToUpper(sign(secret, "", body))}, wantCode: 200},
		{name: "wrong secret", cfg: plain, header: map[string]string{"X-Grafana-Alerting-Signature": sign("other", "", body)}, wantCode: 401, wantError: "bad signature"},
		{name: "body changed", cfg: plain, header: map[string]string{"X-Grafana-Alerting-Signature": sign(secret, "", body)}, body: strings.Replace(body, "93.2", "13.2", 1), wantCode: 401, wantError: "bad signature"},
		{name: "not hex", cfg: plain, header: map[string]string{"X-Grafana-Alerting-Signature": "sha256=zz"}, wantCode: 401, wantError: "bad signature"},
		{name: "missing signature", cfg: plain, wantCode: 401, wantError: "missing signature: header X-Grafana-Alerting-Signature (or X-Grafana-Alert-Signature, Grafana's default) is not set"},
		{name: "signature in the wrong header", cfg: stamped, header: map[string]string{"X-Grafana-Alerting-Signature": sign(secret, "", body), "X-Signature-Timestamp": unix(0)}, wantCode: 401, wantError: "missing signature: header X-Signature"},
		{name: "timestamp signed right", cfg: stamped, header: map[string]string{"X-Signature": sign(secret, unix(-30*time.Second), body), "X-Signature-Timestamp": unix(-30 * time.Second)}, wantCode: 200},
		{name: "small clock skew", cfg: stamped, header: map[string]string{"X-Signature": sign(secret, unix(time.Minute), body), "X-Signature-Timestamp": unix(time.Minute)}, wantCode: 200},
		{name: "timestamp not signed", cfg: stamped, header: map[string]string{"X-Signature": sign(secret, "", body), "X-Signature-Timestamp": unix(0)}, wantCode: 401, wantError: "bad signature"},
		{name: "timestamp swapped", cfg: stamped, header: map[string]string{"X-Signature": sign(secret, unix(-10*time.Minute), body), "X-Signature-Timestamp": unix(0)}, wantCode: 401, wantError: "bad signature"},
		{name: "missing timestamp", cfg: stamped, header: map[string]string{"X-Signature": sign(secret, "", body)}, wantCode: 401, wantError: "missing timestamp: header X-Signature-Timestamp is not set"},
		{name: "stale timestamp", cfg: stamped, header: map[string]string{"X-Signature": sign(secret, unix(-6*time.Minute), body), "X-Signature-Timestamp": unix(-6 * time.Minute)}, wantCode: 401, wantError: "stale timestamp: header X-Signature-Timestamp is 6m0s old, more than 5m0s"},
		{name: "future timestamp", cfg: stamped, header: map[string]string{"X-Signature": sign(secret, unix(time.Hour), body), "X-Signature-Timestamp": unix(time.Hour)}, wantCode: 401, wantError: "1h0m0s in the future"},
		{name: "timestamp not unix seconds", cfg: stamped, header: map[string]string{"X-Signature": sign(secret, "2026-11-21T10:30:00Z", body), "X-Signature-Timestamp": "2026-11-21T10:30:00Z"}, wantCode: 401, wantError: "not Unix seconds"},
		{name: "bearer checked too", cfg: plain, auth: Auth{BearerToken: "tok"}, header: map[string]string{"X-Grafana-Alerting-Signature": sign(secret, "", body)}, wantCode: 401, wantError: "bearer token"},
		{name: "bearer and signature", cfg: plain, auth: Auth{BearerToken: "tok"}, header: map[string]string{"Authorization": "Bearer tok", "X-Grafana-Alerting-Signature": sign(secret, "", body)}, wantCode: 200},
		{name: "signed but invalid payload", cfg: plain, body: `{"version":"1"}`, header: map[string]string{"X-Grafana-Alerting-Signature": sign(secret, "", `{"version":"1"}`)}, wantCode: 400, wantError: "status"},
		{name: "oversized", cfg: plain, body: strings.Repeat(" ", 65<<10), header: map[string]string{"X-Grafana-Alerting-Signature": "00"}, wantCode: 413, wantError: "exceeds the limit"},
		{name: "not applied to alertmanager", cfg: plain, path: "/webhook/alertmanager/oncall", body: fixture(t, "am-webhook-firing.json"), wantCode: 200},
		{name: "off without a secret", cfg: GrafanaHMAC{Header: "X-Signature"}, wantCode: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enq := &fakeEnqueuer{}
			path, b := tc.path, tc.body
			if path == "" {
				path = "/webhook/grafana/oncall"
			}
			if b == "" {
				b = body
			}
			rec := postGrafana(t, newGrafanaRouter(t, tc.auth, tc.cfg, enq), path, tc.header, b)
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
			}
			var resp struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("answer is not JSON: %s", rec.Body)
			}
			if tc.wantCode != 200 {
				if !strings.Contains(resp.Error, tc.wantError) {
					t.Errorf("error %q does not contain %q", resp.Error, tc.wantError)
				}
				if len(enq.groups) != 0 {
					t.Errorf("a rejected request enqueued %d groups", len(enq.groups))
				}
				if strings.Contains(rec.Body.String(), secret) {
					t.Errorf("the answer reveals the secret: %s", rec.Body)
				}
				return
			}
			if len(enq.groups) != 1 {
				t.Fatalf("enqueued %d groups, want 1", len(enq.groups))
			}
		})
	}
}
