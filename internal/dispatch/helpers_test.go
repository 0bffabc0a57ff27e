package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

const (
	testOwner = "test-instance"
	testRoute = "ops"
)

// t0 is where every fake clock starts: a whole second, so that the store's
// microsecond timestamps hold it exactly.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// senderFunc is a Sender built from a function, for wrapping the real client.
type senderFunc func(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)

var _ Sender = senderFunc(nil)

func (f senderFunc) SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
	return f(ctx, p)
}

// SendPhoto and the edits are not used by the tests that wrap the sender.
func (f senderFunc) SendPhoto(context.Context, telegram.SendPhotoParams) (telegram.Message, error) {
	return telegram.Message{}, fmt.Errorf("senderFunc: sendPhoto not supported")
}

func (f senderFunc) EditMessageText(context.Context, telegram.EditMessageTextParams) (telegram.Message, error) {
	return telegram.Message{}, fmt.Errorf("senderFunc: editMessageText not supported")
}

func (f senderFunc) EditMessageCaption(context.Context, telegram.EditMessageCaptionParams) (telegram.Message, error) {
	return telegram.Message{}, fmt.Errorf("senderFunc: editMessageCaption not supported")
}

// spyOutbox is the real store with hooks: it records the retries the
// dispatcher schedules and can run a function after each claim.
type spyOutbox struct {
	store.Store

	mu         sync.Mutex
	retries    []retryCall
	afterClaim func([]store.Delivery)
}

var _ Outbox = (*spyOutbox)(nil)

type retryCall struct {
	id   int64
	next time.Time
	err  string
}

func (s *spyOutbox) RetryDelivery(ctx context.Context, id int64, next time.Time, lastErr string) error {
	s.mu.Lock()
	s.retries = append(s.retries, retryCall{id, next, lastErr})
	s.mu.Unlock()
	return s.Store.RetryDelivery(ctx, id, next, lastErr)
}

// ClaimChatDeliveryHeaders is how workers claim; it runs afterClaim.
func (s *spyOutbox) ClaimChatDeliveryHeaders(ctx context.Context, owner string, chat int64, now, leaseUntil time.Time, limit int) ([]store.DeliveryHeader, error) {
	hs, err := s.Store.ClaimChatDeliveryHeaders(ctx, owner, chat, now, leaseUntil, limit)
	s.mu.Lock()
	hook := s.afterClaim
	s.mu.Unlock()
	if hook != nil && len(hs) > 0 {
		ds := make([]store.Delivery, len(hs))
		for i, h := range hs {
			ds[i] = h.Delivery
		}
		hook(ds)
	}
	return hs, err
}

func (s *spyOutbox) setAfterClaim(f func([]store.Delivery)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterClaim = f
}

func (s *spyOutbox) retryCalls() []retryCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]retryCall(nil), s.retries...)
}

// eventLog records ChatEvents; the dispatcher calls them from its per-chat
// goroutines.
type eventLog struct {
	mu       sync.Mutex
	gone     []int64
	migrated [][2]int64
}

func (e *eventLog) chatEvents() ChatEvents {
	return ChatEvents{
		Gone: func(_ context.Context, chatID int64, _ string) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.gone = append(e.gone, chatID)
		},
		Migrated: func(_ context.Context, from, to int64) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.migrated = append(e.migrated, [2]int64{from, to})
		},
	}
}

func (e *eventLog) snapshot() (gone []int64, migrated [][2]int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int64(nil), e.gone...), append([][2]int64(nil), e.migrated...)
}

// testOpts are the knobs of newTestDispatcher; the zero value is one HTML
// route "ops" sending resolved notifications to chat -1001.
type testOpts struct {
	routes        map[string]RouteSpec
	recipients    Recipients        // default: chats, for every route
	chats         []store.Target    // default: chat -1001
	userTemplates map[string]string // file name → text, parsed from a templates dir
	limits        testutil.Limits   // the fake's flood limits; zero disables them
	events        ChatEvents
	reg           prometheus.Registerer
	outbox        func(store.Store) Outbox // wraps the store (spies)
	sender        func(real Sender) Sender // wraps the real Telegram client
	config        func(*Config)            // last word on the Config
}

// newTestDispatcher wires a dispatcher to a real SQLite store, the real
// renderer and the real Telegram client talking to the fake Bot API, all on
// one fake clock.
func newTestDispatcher(t *testing.T, o testOpts) (*Dispatcher, store.Store, *testutil.Telegram, *testutil.ManualClock) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := testutil.NewManualClock(t0)
	st := openStore(t, logger)
	fake := testutil.NewTelegram(t, testutil.WithLimits(o.limits), testutil.WithClock(clk.Now))
	client, err := telegram.New(fake.Token(), telegram.WithBaseURL(fake.URL()),
		telegram.WithRetry(1, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var sender Sender = client
	if o.sender != nil {
		sender = o.sender(client)
	}
	var out Outbox = st
	if o.outbox != nil {
		out = o.outbox(st)
	}
	cfg := Config{Owner: testOwner, Routes: o.routes, Now: clk.Now}
	if cfg.Routes == nil {
		cfg.Routes = map[string]RouteSpec{testRoute: {ParseMode: render.HTML, Template: "default", SendResolved: true}}
	}
	if o.config != nil {
		o.config(&cfg)
	}
	d := New(cfg, out, o.recipientsFunc(), newRenderer(t, o.userTemplates), sender, o.events, logger, o.reg)
	return d, st, fake, clk
}

func (o testOpts) recipientsFunc() Recipients {
	if o.recipients != nil {
		return o.recipients
	}
	chats := o.chats
	if chats == nil {
		chats = []store.Target{{ChatID: -1001}}
	}
	return func(context.Context, string, *alert.Group) ([]store.Target, error) { return chats, nil }
}

func openStore(t *testing.T, logger *slog.Logger) store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "a.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func newRenderer(t *testing.T, files map[string]string) *render.Renderer {
	t.Helper()
	var opts render.Options
	if len(files) > 0 {
		opts.UserDir = t.TempDir()
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(opts.UserDir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := render.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// group is a notification for route with n alerts called alertname; the
// alerts differ by their instance label.
func group(route, alertname string, status alert.Status, n int) *alert.Group {
	g := &alert.Group{
		Source: alert.SourceAlertmanager, Route: route, Version: "4",
		GroupKey: `{}:{alertname="` + alertname + `"}`, Receiver: "telegram", Status: status,
		GroupLabels:       map[string]string{"alertname": alertname},
		CommonLabels:      map[string]string{"alertname": alertname, "severity": "warning"},
		CommonAnnotations: map[string]string{},
		ExternalURL:       "http://alertmanager.example.com:9093",
	}
	for i := range n {
		a := alert.Alert{
			Status:      status,
			Labels:      map[string]string{"alertname": alertname, "severity": "warning", "instance": fmt.Sprintf("host-%03d:9100", i)},
			Annotations: map[string]string{"description": "p99 latency is above 2s on this host"},
			StartsAt:    t0.Add(-time.Hour),
			Fingerprint: fmt.Sprintf("%016x", i),
		}
		if status == alert.StatusResolved {
			a.EndsAt = t0.Add(-time.Minute)
		}
		g.Alerts = append(g.Alerts, a)
	}
	return g
}

func firing(alertname string) *alert.Group {
	return group(testRoute, alertname, alert.StatusFiring, 1)
}

// round runs what one iteration of Run does, without Run's timers.
func round(t *testing.T, d *Dispatcher) {
	t.Helper()
	d.routePending(t.Context())
	d.deliverDue(t.Context())
}

func enqueue(t *testing.T, d *Dispatcher, gs ...*alert.Group) {
	t.Helper()
	for _, g := range gs {
		if err := d.Enqueue(t.Context(), g); err != nil {
			t.Fatalf("Enqueue(%s): %v", g.GroupKey, err)
		}
	}
}

func counts(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	c, err := st.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantCounts fails unless the store holds exactly want deliveries per state
// (states not in want must be zero) and no unrouted notification.
func wantCounts(t *testing.T, st store.Store, want map[string]int) {
	t.Helper()
	got := counts(t, st)
	for _, k := range []string{store.StatePending, store.StateDelivered, store.StateFailed, "unrouted"} {
		if got[k] != want[k] {
			t.Errorf("store counts = %v, want %v", got, want)
			return
		}
	}
}

// claimAs claims as another owner, leasing until now so that the claim
// does not hide the deliveries from the dispatcher afterwards.
func claimAs(t *testing.T, st store.Store, owner string, now time.Time) []store.Delivery {
	t.Helper()
	ds, err := st.ClaimDeliveries(t.Context(), owner, now, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// brief lists deliveries without their payloads, for failure messages.
func brief(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("#%d %s → chat %d (attempts %d, next %v)", d.ID, d.GroupKey, d.Target.ChatID, d.Attempts, d.NextAttemptAt)
	}
	return out
}

// counterValue reads a counter registered in reg by name.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
