package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/alert"
)

type fakeEnqueuer struct {
	mu     sync.Mutex
	groups []*alert.Group
	err    error
}

var _ Enqueuer = (*fakeEnqueuer)(nil)

func (f *fakeEnqueuer) Enqueue(_ context.Context, g *alert.Group) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.groups = append(f.groups, g)
	return nil
}

func newTestRouter(t *testing.T, auth Auth, enq *fakeEnqueuer) http.Handler {
	t.Helper()
	return NewRouter(Deps{
		Logger:       slog.New(slog.DiscardHandler),
		Enqueuer:     enq,
		Routes:       func(n string) bool { return n == "oncall" },
		Auth:         auth,
		MaxBodyBytes: 64 << 10,
		Ready:        func(context.Context) error { return nil },
		Registerer:   prometheus.NewRegistry(),
	})
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAlertmanagerWebhook(t *testing.T) {
	firing := fixture(t, "am-webhook-firing.json")
	replace := func(old, new string) string {
		if !strings.Contains(firing, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(firing, old, new, 1)
	}
	tests := []struct {
		name      string
		path      string
		body      string
		header    map[string]string
		auth      Auth
		wantCode  int
		wantError string // substring of the JSON error
	}{
		{name: "firing fixture", body: firing, wantCode: 200},
		{name: "group fixture", body: fixture(t, "am-webhook-group.json"), wantCode: 200},
		{name: "partially resolved", body: fixture(t, "am-webhook-group-partial-resolved.json"), wantCode: 200},
		{name: "resolved fixture", body: fixture(t, "am-webhook-resolved.json"), wantCode: 200},
		{name: "max_alerts fixture", body: fixture(t, "am-webhook-max_alerts2.json"), wantCode: 200},
		{name: "malformed JSON", body: `{"version":"4",`, wantCode: 400, wantError: "malformed JSON"},
		{name: "not an object", body: `[1,2]`, wantCode: 400, wantError: "expected"},
		{name: "wrong version", body: replace(`"version": "4"`, `"version": "3"`), wantCode: 400, wantError: `version: got "3"`},
		{name: "missing version", body: replace(`"version": "4"`, `"versio": "4"`), wantCode: 400, wantError: "version: missing"},
		{name: "bad status", body: replace(`"status": "firing",`+"\n  \"alerts\"", `"status": "burning",`+"\n  \"alerts\""), wantCode: 400, wantError: `status: got "burning"`},
		{name: "empty alerts", body: `{"version":"4","status":"firing","alerts":[]}`, wantCode: 400, wantError: "alerts: empty"},
		{name: "bad startsAt", body: replace(`"startsAt": "`, `"startsAt": "yesterday`), wantCode: 400, wantError: "alerts[0].startsAt"},
		{name: "label not a string", body: `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":1},"startsAt":"2026-11-21T10:05:49Z"}]}`, wantCode: 400, wantError: "labels"},
		{name: "alert without labels", body: `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{},"startsAt":"2026-11-21T10:05:49Z"}]}`, wantCode: 400, wantError: "alerts[0].labels: empty"},
		{name: "unknown route", path: "/webhook/alertmanager/nope", body: firing, wantCode: 404, wantError: `route "nope" is not configured`},
		{name: "oversized body", body: `{"version":"4","pad":"` + strings.Repeat("x", 65<<10) + `"}`, wantCode: 413, wantError: "exceeds the limit"},
		{name: "wrong content type", body: firing, header: map[string]string{"Content-Type": "text/plain"}, wantCode: 415, wantError: "not application/json"},
		{name: "bearer missing", body: firing, auth: Auth{BearerToken: "s3cret"}, wantCode: 401, wantError: "bearer token"},
		{name: "bearer wrong", body: firing, auth: Auth{BearerToken: "s3cret"}, header: map[string]string{"Authorization": "Bearer nope"}, wantCode: 401, wantError: "bearer token"},
		{name: "bearer right", body: firing, auth: Auth{BearerToken: "s3cret"}, header: map[string]string{"Authorization": "Bearer s3cret"}, wantCode: 200},
		{name: "basic wrong", body: firing, auth: Auth{BasicUser: "am", BasicPassword: "pw"}, header: map[string]string{"Authorization": "Basic YW06eHg="}, wantCode: 401, wantError: "basic auth"},
		{name: "basic right", body: firing, auth: Auth{BasicUser: "am", BasicPassword: "pw"}, header: map[string]string{"Authorization": "Basic YW06cHc="}, wantCode: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enq := &fakeEnqueuer{}
			path := tc.path
			if path == "" {
				path = "/webhook/alertmanager/oncall"
			}
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			newTestRouter(t, tc.auth, enq).ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
			}
			var resp map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("response is not JSON: %q", rec.Body)
			}
			if tc.wantCode >= 400 {
				if msg, _ := resp["error"].(string); !strings.Contains(msg, tc.wantError) {
					t.Errorf("error %q does not contain %q", msg, tc.wantError)
				}
				if len(enq.groups) != 0 {
					t.Errorf("a rejected request enqueued %d groups", len(enq.groups))
				}
				return
			}
			if len(enq.groups) != 1 {
				t.Fatalf("accepted request enqueued %d groups, want 1", len(enq.groups))
			}
		})
	}
}

func TestAlertmanagerDecodeFixture(t *testing.T) {
	g, err := decodeAlertmanager([]byte(fixture(t, "am-webhook-group-partial-resolved.json")), "oncall")
	if err != nil {
		t.Fatal(err)
	}
	if g.Source != alert.SourceAlertmanager || g.Route != "oncall" || g.Status != alert.StatusFiring {
		t.Errorf("header fields wrong: %+v", g)
	}
	if g.GroupKey != `{}:{alertname="HighLatency"}` {
		t.Errorf("group key %q", g.GroupKey)
	}
	if len(g.Alerts) != 3 || len(g.Firing()) != 2 || len(g.Resolved()) != 1 {
		t.Fatalf("alerts: %d total, %d firing, %d resolved", len(g.Alerts), len(g.Firing()), len(g.Resolved()))
	}
	if !g.Alerts[0].EndsAt.IsZero() {
		t.Errorf("firing alert endsAt = %v, want zero", g.Alerts[0].EndsAt)
	}
	if g.Alerts[2].EndsAt.IsZero() || g.Alerts[2].Fingerprint != "4449711b97eb8e12" {
		t.Errorf("resolved alert: %+v", g.Alerts[2])
	}

	trunc, err := decodeAlertmanager([]byte(fixture(t, "am-webhook-max_alerts2.json")), "oncall")
	if err != nil {
		t.Fatal(err)
	}
	if trunc.TruncatedAlerts != 3 {
		t.Errorf("truncatedAlerts = %d, want 3", trunc.TruncatedAlerts)
	}
}

func TestEnqueueFailureIs503(t *testing.T) {
	enq := &fakeEnqueuer{err: errors.New("disk full")}
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/webhook/alertmanager/oncall", strings.NewReader(fixture(t, "am-webhook-firing.json")))
	rec := httptest.NewRecorder()
	newTestRouter(t, Auth{}, enq).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "disk full") {
		t.Errorf("internal error leaked to the client: %s", rec.Body)
	}
}

func TestHealthAndReady(t *testing.T) {
	notReady := NewRouter(Deps{
		Logger: slog.New(slog.DiscardHandler), Enqueuer: &fakeEnqueuer{},
		Routes: func(string) bool { return false }, MaxBodyBytes: 1024,
		Ready: func(context.Context) error { return errors.New("telegram getMe failed") },
	})
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 503, "telegram getMe failed"},
		{"/nope", 404, "no such endpoint"},
	} {
		rec := httptest.NewRecorder()
		notReady.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, tc.path, nil))
		if rec.Code != tc.code || !bytes.Contains(rec.Body.Bytes(), []byte(tc.want)) {
			t.Errorf("%s: %d %s, want %d containing %q", tc.path, rec.Code, rec.Body, tc.code, tc.want)
		}
	}
}
