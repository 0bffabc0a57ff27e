package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/store"
)

// gatePacer holds every send at its pacing slot until open is closed, and
// counts the sends that reached it.
type gatePacer struct {
	noPacing
	open chan struct{}

	mu      sync.Mutex
	arrived int
	changed chan struct{} // closed and replaced on every arrival
}

var _ Pacer = (*gatePacer)(nil)

func newGatePacer() *gatePacer {
	return &gatePacer{open: make(chan struct{}), changed: make(chan struct{})}
}

func (g *gatePacer) Wait(ctx context.Context, _ int64) error {
	g.mu.Lock()
	g.arrived++
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await returns once n sends reached the gate (in all), and how many did.
func (g *gatePacer) await(t *testing.T, n int) int {
	t.Helper()
	for {
		g.mu.Lock()
		arrived, changed := g.arrived, g.changed
		g.mu.Unlock()
		if arrived >= n {
			return arrived
		}
		select {
		case <-changed:
		case <-time.After(waitLimit):
			t.Fatalf("%d sends reached the pacer, want %d", arrived, n)
		}
	}
}

// awaitBudgetWaiting returns once n requests wait for the payload budget.
func awaitBudgetWaiting(t *testing.T, b *budget, n int) {
	t.Helper()
	for {
		_, waiting, queued := b.state()
		if waiting >= n {
			return
		}
		select {
		case <-queued:
		case <-time.After(waitLimit):
			t.Fatalf("%d requests wait for the payload budget, want %d", waiting, n)
		}
	}
}

// bulkyGroup is alert group i with n alerts labelled and annotated as
// Kubernetes alerts typically are: about 900 bytes of payload per alert.
func bulkyGroup(i, n int) *alert.Group {
	name := fmt.Sprintf("Bulky%04d", i)
	g := group(testRoute, name, alert.StatusFiring, n)
	for j := range g.Alerts {
		a := &g.Alerts[j]
		pod := fmt.Sprintf("checkout-7d9f8b6c5-%05d", j)
		for k, v := range map[string]string{"cluster": "prod-eu-west-1", "namespace": "payments", "job": "kubernetes-pods", "pod": pod, "team": "payments-sre"} {
			a.Labels[k] = v
		}
		a.Annotations = map[string]string{
			"summary":     name + " on " + pod,
			"description": "The p99 latency of checkout requests has been above 2s for 10 minutes on " + pod + "; customers see timeouts at payment.",
			"runbook_url": "https://runbooks.example.com/payments/" + strings.ToLower(name),
		}
		a.GeneratorURL = "https://prometheus.example.com/graph?g0.expr=histogram_quantile%280.99%2C+rate%28http_request_duration_seconds_bucket%5B5m%5D%29%29+%3E+2"
	}
	return g
}

// liveHeap is the heap in use after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestBacklogHeldAsHeaders: with a backlog of 4,000 deliveries (40 groups
// of 5 alerts to each of 100 chats) and every chat's worker waiting for
// its pacing slot with a digest prepared, the workers hold their claims as
// headers and one message each: the live heap grows by less than 512 bytes
// per pending delivery plus 32 KiB per worker (a message and its plain-text
// fallback at Telegram's limit). Holding the claimed payloads, and the
// decoded groups of each prepared digest, took about 14 KiB per pending
// delivery here. Once the slots open, every delivery is sent.
func TestBacklogHeldAsHeaders(t *testing.T) {
	const chats, groups = 100, 40
	targets := make([]store.Target, chats)
	for i := range targets {
		targets[i] = store.Target{ChatID: int64(800000 + i)}
	}
	gate := newGatePacer()
	d, st, _, _ := newTestDispatcher(t, testOpts{chats: targets, config: func(c *Config) {
		c.Pacer = gate
		c.PollInterval = time.Hour
	}})
	payload := 0
	for i := range groups {
		g := bulkyGroup(i, 5)
		b, _ := json.Marshal(g)
		payload += len(b)
		enqueue(t, d, g)
	}
	before := liveHeap()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	gate.await(t, chats)
	held := liveHeap() - before
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil on shutdown", err)
	}

	pending := chats * groups
	limit := int64(pending*512 + chats*32<<10)
	t.Logf("%d pending deliveries (payloads %d B each on average): workers hold %.1f KiB, %d B per delivery; limit %.1f KiB",
		pending, payload/groups, float64(held)/1024, held/int64(pending), float64(limit)/1024)
	if held > limit {
		t.Errorf("with %d deliveries waiting, the workers hold %d KiB, want at most %d KiB", pending, held>>10, limit>>10)
	}
	if used, _, _ := d.budget.state(); used != 0 {
		t.Errorf("payload budget in use after shutdown = %d, want 0", used)
	}
	close(gate.open)
	round(t, d)
	wantCounts(t, st, map[string]int{store.StateDelivered: pending})
}

// TestPayloadBudgetBoundsPreparedMessages: a single group keeps its decoded
// group until it is sent, so the payload budget bounds how many such
// messages wait for their slot: with room for three payloads, three chats
// wait at the pacer and the others wait for the budget, holding nothing
// decoded. Once the slots open, every chat gets its message.
func TestPayloadBudgetBoundsPreparedMessages(t *testing.T) {
	const chats = 12
	targets := make([]store.Target, chats)
	for i := range targets {
		targets[i] = store.Target{ChatID: int64(900000 + i)}
	}
	g := bulkyGroup(1, 50)
	raw, _ := json.Marshal(g)
	size := int64(len(raw))
	gate := newGatePacer()
	d, st, fake, _ := newTestDispatcher(t, testOpts{chats: targets, config: func(c *Config) {
		c.Pacer = gate
		c.PollInterval = time.Hour
		c.PayloadBudget = 3*size + size/2
	}})
	enqueue(t, d, g)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v, want nil on shutdown", err)
			}
		}
	}()

	gate.await(t, 3)
	awaitBudgetWaiting(t, d.budget, chats-3)
	gate.mu.Lock()
	arrived := gate.arrived
	gate.mu.Unlock()
	if used, _, _ := d.budget.state(); arrived != 3 || used != 3*size {
		t.Errorf("%d messages at the pacer holding %d payload bytes, want 3 holding %d", arrived, used, 3*size)
	}
	close(gate.open)
	fake.WaitMessages(t, chats, waitLimit)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil on shutdown", err)
	}
	stopped = true
	wantCounts(t, st, map[string]int{store.StateDelivered: chats})
	if used, waiting, _ := d.budget.state(); used != 0 || waiting != 0 {
		t.Errorf("payload budget: %d bytes in use, %d waiting after the backlog, want none", used, waiting)
	}
}

// TestUnitReadsItsShareOfTheBudget: a unit reads at most a quarter of the
// payload budget; what it leaves waits for the next message, oldest first,
// and nothing is lost.
func TestUnitReadsItsShareOfTheBudget(t *testing.T) {
	d, st, fake, _ := newTestDispatcher(t, testOpts{})
	var size int64
	for i := range 9 {
		g := bulkyGroup(i, 1)
		raw, _ := json.Marshal(g)
		size = max(size, int64(len(raw)))
		enqueue(t, d, g)
	}
	d.cfg.PayloadBudget = 4 * 3 * size // a unit reads three groups
	d.budget = newBudget(d.cfg.PayloadBudget)
	round(t, d)

	msgs := fake.MessagesIn(chatA)
	if len(msgs) != 3 {
		t.Fatalf("chat A got %d messages, want 3 digests of 3 groups", len(msgs))
	}
	for m, msg := range msgs {
		for i := range 9 {
			name := fmt.Sprintf("Bulky%04d", i)
			if in := strings.Contains(msg.ParsedText, name); in != (i/3 == m) {
				t.Errorf("message %d shows %s: %v, want groups %d–%d in it:\n%s", m, name, in, 3*m, 3*m+2, msg.ParsedText)
			}
		}
	}
	wantCounts(t, st, map[string]int{store.StateDelivered: 9})
}

// failingPayloads is the real store whose NotificationPayloads fails while
// fail is set.
type failingPayloads struct {
	*spyOutbox
	mu   sync.Mutex
	fail bool
}

func (f *failingPayloads) NotificationPayloads(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, errors.New("database is locked")
	}
	return f.spyOutbox.NotificationPayloads(ctx, ids)
}

// TestPayloadReadFailurePostpones: when the payloads cannot be read, the
// worker gives its claims back due after a backoff and ends, instead of
// trying again at once; the next round after that sends them.
func TestPayloadReadFailurePostpones(t *testing.T) {
	var out *failingPayloads
	d, st, fake, clk := newTestDispatcher(t, testOpts{outbox: func(s store.Store) Outbox {
		out = &failingPayloads{spyOutbox: &spyOutbox{Store: s}, fail: true}
		return out
	}})
	enqueue(t, d, firing("First"), firing("Second"))
	round(t, d)

	if n := len(fake.Messages()); n != 0 {
		t.Fatalf("%d messages sent without payloads", n)
	}
	retries := out.retryCalls()
	if len(retries) != 2 {
		t.Fatalf("retries = %+v, want both deliveries given back", retries)
	}
	for _, r := range retries {
		if !r.next.Equal(t0.Add(time.Second)) || !strings.Contains(r.err, "database is locked") {
			t.Errorf("retry %+v, want due at %v for the read error", r, t0.Add(time.Second))
		}
	}
	wantCounts(t, st, map[string]int{store.StatePending: 2})

	out.mu.Lock()
	out.fail = false
	out.mu.Unlock()
	clk.Advance(time.Second)
	round(t, d)
	if msgs := fake.MessagesIn(chatA); len(msgs) != 1 || !strings.Contains(msgs[0].ParsedText, "2 alert groups") {
		t.Errorf("chat A got %d messages, want one digest of both groups", len(msgs))
	}
	wantCounts(t, st, map[string]int{store.StateDelivered: 2})
}

// TestBudgetServesInOrder: requests are granted in arrival order, a small
// one does not overtake a large one that waits, a request larger than the
// budget takes all of it, and a request given up takes nothing.
func TestBudgetServesInOrder(t *testing.T) {
	b := newBudget(10)
	ctx := t.Context()
	if n, err := b.acquire(ctx, 6); n != 6 || err != nil {
		t.Fatalf("acquire(6) = %d, %v", n, err)
	}
	granted := make(chan string, 3)
	go func() {
		if _, err := b.acquire(ctx, 6); err == nil {
			granted <- "large"
		}
	}()
	awaitBudgetWaiting(t, b, 1)
	go func() {
		if _, err := b.acquire(ctx, 1); err == nil {
			granted <- "small"
		}
	}()
	awaitBudgetWaiting(t, b, 2)
	b.release(1) // 5 free: the large one still does not fit, and the small one waits behind it
	if used, waiting, _ := b.state(); used != 5 || waiting != 2 {
		t.Fatalf("budget: %d in use, %d waiting; want 5, and both requests waiting", used, waiting)
	}
	select {
	case who := <-granted:
		t.Fatalf("%s request granted while the large one does not fit", who)
	default:
	}
	b.release(5) // grants both, in order, at once
	if used, waiting, _ := b.state(); used != 7 || waiting != 0 {
		t.Fatalf("budget: %d in use, %d waiting; want 7, none waiting", used, waiting)
	}
	<-granted
	<-granted
	b.release(7)

	if n, _ := b.acquire(ctx, 25); n != 10 {
		t.Errorf("acquire(25) of a budget of 10 took %d, want 10", n)
	}
	gone, cancel := context.WithCancel(ctx)
	go func() {
		n, err := b.acquire(gone, 4)
		if n != 0 || err == nil {
			t.Errorf("acquire given up = %d, %v; want 0 and an error", n, err)
		}
		granted <- "cancelled"
	}()
	awaitBudgetWaiting(t, b, 1)
	cancel()
	<-granted
	b.release(10)
	if used, waiting, _ := b.state(); used != 0 || waiting != 0 {
		t.Errorf("budget: %d in use, %d waiting; want none", used, waiting)
	}
}
