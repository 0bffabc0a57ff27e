package alertmanager

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

// amConfig routes everything to a receiver that does nothing: these tests
// only use the API.
const amConfig = `
route:
  receiver: blackhole
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: blackhole
`

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// deadURL is a loopback URL nothing listens on: the listener is closed, so
// a connection is refused at once.
func deadURL(ctx context.Context, t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func testSilence(labels map[string]string) Silence {
	now := time.Now()
	return Silence{
		Matchers:  MatchersFromLabels(labels),
		StartsAt:  now,
		EndsAt:    now.Add(time.Hour),
		CreatedBy: "telegram:@alice (12345)",
		Comment:   "Silenced from Telegram button",
	}
}

// TestRealAlertmanagerSilenceLifecycle runs the whole silence life cycle
// against the real Alertmanager binary.
func TestRealAlertmanagerSilenceLifecycle(t *testing.T) {
	t.Parallel()
	am := testutil.StartAlertmanager(t, amConfig)
	c := newTestClient(t, Config{URLs: []string{am.URL}})
	ctx := testContext(t)

	labels := map[string]string{"alertname": "HighLatency", "instance": "web-1:8080", "severity": "warning"}
	want := testSilence(labels)
	id, err := c.CreateSilence(ctx, want)
	if err != nil {
		t.Fatalf("CreateSilence: %v", err)
	}

	got, err := c.GetSilence(ctx, id)
	if err != nil {
		t.Fatalf("GetSilence: %v", err)
	}
	if got.ID != id || got.State != StateActive || got.CreatedBy != want.CreatedBy || got.Comment != want.Comment {
		t.Errorf("GetSilence = %+v, want id %s active by %q with comment %q", got, id, want.CreatedBy, want.Comment)
	}
	if !slices.Equal(got.Matchers, want.Matchers) {
		t.Errorf("matchers = %v, want %v", got.Matchers, want.Matchers)
	}
	if d := got.EndsAt.Sub(want.EndsAt); d < -time.Second || d > time.Second {
		t.Errorf("endsAt = %v, want %v", got.EndsAt, want.EndsAt)
	}

	// The filter matches the silence's own matchers literally.
	list, err := c.Silences(ctx, []string{Matcher{Name: "alertname", Value: "HighLatency", IsEqual: true}.String()})
	if err != nil {
		t.Fatalf("Silences: %v", err)
	}
	if len(list) != 1 || list[0].ID != id {
		t.Errorf("Silences(filter) = %+v, want only %s", list, id)
	}
	if list, err := c.Silences(ctx, []string{`alertname="Other"`}); err != nil || len(list) != 0 {
		t.Errorf("Silences(other filter) = %+v, %v; want none", list, err)
	}

	am.PostAlerts(t, testutil.TestAlert{Labels: labels, Annotations: map[string]string{"summary": "p99 > 2s"}})
	alert := waitSuppressed(t, ctx, c, labels)
	if !slices.Contains(alert.SilencedBy, id) || alert.Fingerprint == "" || alert.StartsAt.IsZero() || alert.Annotations["summary"] != "p99 > 2s" {
		t.Errorf("alert = %+v, want silenced by %s with fingerprint, startsAt and annotations", alert, id)
	}
	active, err := c.Alerts(ctx, AlertsQuery{Active: true})
	if err != nil || len(active) != 0 {
		t.Errorf("Alerts(active only) = %+v, %v; want none (it is silenced)", active, err)
	}

	if err := c.ExpireSilence(ctx, id); err != nil {
		t.Fatalf("ExpireSilence: %v", err)
	}
	if got, err := c.GetSilence(ctx, id); err != nil || got.State != StateExpired {
		t.Errorf("after expiry: %+v, %v; want state expired", got, err)
	}
	if err := c.ExpireSilence(ctx, id); err != nil {
		t.Errorf("expiring an expired silence again: %v, want nil", err)
	}
}

// waitSuppressed polls until Alertmanager reports the alert with these
// labels as suppressed. Alertmanager is another process: there is no
// event to wait on, so the loop is bounded instead.
func waitSuppressed(t *testing.T, ctx context.Context, c *Client, labels map[string]string) Alert {
	t.Helper()
	filters := make([]string, 0, len(labels))
	for _, m := range MatchersFromLabels(labels) {
		filters = append(filters, m.String())
	}
	var last []Alert
	for range 200 {
		alerts, err := c.Alerts(ctx, AlertsQuery{Filters: filters})
		if err != nil {
			t.Fatalf("Alerts: %v", err)
		}
		if len(alerts) == 1 && alerts[0].State == AlertSuppressed {
			return alerts[0]
		}
		last = alerts
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("alert not suppressed; last answer %+v", last)
	return Alert{}
}

// TestRealAlertmanagerErrors checks the error answers of the real binary.
func TestRealAlertmanagerErrors(t *testing.T) {
	t.Parallel()
	am := testutil.StartAlertmanager(t, amConfig)
	c := newTestClient(t, Config{URLs: []string{am.URL}})
	ctx := testContext(t)

	// Alertmanager 0.25 answers 500 "silence not found", 0.26+ 404.
	err := c.ExpireSilence(ctx, "8b8d6a1b-7c5e-4d7e-9a45-2f0e5b1c9d3a")
	if !errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("expiring an unknown id: %v, want ErrSilenceNotFound", err)
	}
	if _, err := c.GetSilence(ctx, "8b8d6a1b-7c5e-4d7e-9a45-2f0e5b1c9d3a"); !errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("getting an unknown id: %v, want ErrSilenceNotFound", err)
	}

	past := testSilence(map[string]string{"alertname": "Past"})
	past.StartsAt, past.EndsAt = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	_, err = c.CreateSilence(ctx, past)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Fatalf("silence ending in the past: %v, want an *APIError with status 400", err)
	}
	const want = "alertmanager: 400 Failed to create silence: end time can't be in the past"
	if err.Error() != want || apiErr.Method != http.MethodPost || !strings.HasSuffix(apiErr.URL, "/api/v2/silences") {
		t.Errorf("error = %q (%s %s), want %q", err, apiErr.Method, apiErr.URL, want)
	}

	// A schema failure: 422 {"code":...,"message":...}.
	_, err = c.CreateSilence(ctx, Silence{EndsAt: time.Now().Add(time.Hour)})
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity || !strings.Contains(apiErr.Message, "matchers") {
		t.Errorf("silence without matchers: %v, want 422 naming matchers", err)
	}
	if errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("a 422 matches ErrSilenceNotFound")
	}
}

// TestRealAlertmanagerUpdateReturnsNewID: an update that cannot be done in
// place (the matchers change) gets a new id, which the client returns.
func TestRealAlertmanagerUpdateReturnsNewID(t *testing.T) {
	t.Parallel()
	am := testutil.StartAlertmanager(t, amConfig)
	c := newTestClient(t, Config{URLs: []string{am.URL}})
	ctx := testContext(t)
	s := testSilence(map[string]string{"alertname": "A"})
	id, err := c.CreateSilence(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	s.ID = id
	s.Matchers = append(s.Matchers, Matcher{Name: "instance", Value: "web-.*", IsRegex: true, IsEqual: true})
	newID, err := c.CreateSilence(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if newID == id {
		t.Errorf("changing the matchers kept id %s", id)
	}
	if got, err := c.GetSilence(ctx, newID); err != nil || !slices.Equal(got.Matchers, s.Matchers) {
		t.Errorf("new silence %+v, %v; want matchers %v", got, err, s.Matchers)
	}
}

// TestFailover runs the HA cases against a real Alertmanager as the
// healthy peer.
func TestFailover(t *testing.T) {
	t.Parallel()
	am := testutil.StartAlertmanager(t, amConfig)
	ctx := testContext(t)

	t.Run("dead peer first", func(t *testing.T) {
		logs := &testutil.SyncBuffer{}
		dead := strings.Replace(deadURL(ctx, t), "http://", "http://am:hunter2@", 1)
		c := newTestClient(t, Config{URLs: []string{dead, am.URL}, Logger: newLogger(logs)})
		if _, err := c.CreateSilence(ctx, testSilence(map[string]string{"alertname": "Dead"})); err != nil {
			t.Fatalf("CreateSilence: %v", err)
		}
		if log := logs.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "am:xxxxx@") || strings.Contains(log, "hunter2") {
			t.Errorf("failover log should be a WARN naming the redacted URL:\n%s", log)
		}
	})

	t.Run("503 peer first, then the working peer is kept", func(t *testing.T) {
		var hits atomic.Int32
		busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		}))
		t.Cleanup(busy.Close)
		c := newTestClient(t, Config{URLs: []string{busy.URL, am.URL}})
		for range 2 {
			if _, err := c.CreateSilence(ctx, testSilence(map[string]string{"alertname": "Busy"})); err != nil {
				t.Fatalf("CreateSilence: %v", err)
			}
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("the 503 peer got %d requests, want 1 (the working peer is used next time)", n)
		}
	})

	t.Run("all dead", func(t *testing.T) {
		c := newTestClient(t, Config{URLs: []string{deadURL(ctx, t), deadURL(ctx, t)}})
		_, err := c.CreateSilence(ctx, testSilence(map[string]string{"alertname": "Dead"}))
		if err == nil || !strings.Contains(err.Error(), "all 2 peers failed") || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("error = %v, want one naming 2 peers and the last error", err)
		}
	})
}
