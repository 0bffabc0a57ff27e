package dispatch

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/ratelimit"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

const coalescedMx = "alertgram_notifications_coalesced_total"

// TestBacklogBecomesOneDigest: fifty groups waiting for one chat and route
// leave in one round as one digest that names every group, and each of the
// fifty deliveries is recorded as delivered by that message.
func TestBacklogBecomesOneDigest(t *testing.T) {
	reg := prometheus.NewRegistry()
	d, st, fake, _ := newTestDispatcher(t, testOpts{reg: reg})
	names := make([]string, 50)
	for i := range names {
		names[i] = fmt.Sprintf("Backlog%02d", i)
		enqueue(t, d, firing(names[i]))
	}
	round(t, d)

	if calls := fake.Calls("sendMessage"); len(calls) != 1 {
		t.Fatalf("sendMessage calls = %d, want 1 digest", len(calls))
	}
	msgs := fake.MessagesIn(chatA)
	if len(msgs) != 1 {
		t.Fatalf("chat A got %d messages, want 1", len(msgs))
	}
	text := msgs[0].ParsedText
	if !strings.Contains(text, "50 alert groups") {
		t.Errorf("digest header lacks %q:\n%s", "50 alert groups", text)
	}
	for _, name := range names {
		if !strings.Contains(text, name) {
			t.Errorf("digest lacks group %s", name)
		}
	}
	if strings.Contains(text, "more group") {
		t.Errorf("digest defers groups although all fit:\n%s", text)
	}
	wantCounts(t, st, map[string]int{store.StateDelivered: 50})
	if got := counterValue(t, reg, coalescedMx); got != 49 {
		t.Errorf("%s = %v, want 49 (50 groups, one message)", coalescedMx, got)
	}
}

// TestNewerStateSupersedes: a group's second state arrives before the
// first was sent; only the newer one is sent, the older ends superseded.
func TestNewerStateSupersedes(t *testing.T) {
	reg := prometheus.NewRegistry()
	d, st, fake, _ := newTestDispatcher(t, testOpts{reg: reg})
	enqueue(t, d, group(testRoute, "HighLatency", alert.StatusFiring, 2))
	enqueue(t, d, group(testRoute, "HighLatency", alert.StatusFiring, 3))
	round(t, d)

	msgs := fake.MessagesIn(chatA)
	if len(msgs) != 1 {
		t.Fatalf("chat A got %d messages, want 1: %+v", len(msgs), msgs)
	}
	text := msgs[0].ParsedText
	if !strings.HasPrefix(text, "🔥 FIRING: HighLatency (3 firing)") || !strings.Contains(text, "host-002") {
		t.Errorf("message does not show the newer state (3 alerts):\n%s", text)
	}
	if strings.Contains(text, "alert groups") {
		t.Errorf("two states of one group were sent as a digest:\n%s", text)
	}
	wantCounts(t, st, map[string]int{store.StateDelivered: 1})
	if got := counts(t, st)[store.StateSuperseded]; got != 1 {
		t.Errorf("superseded deliveries = %d, want 1", got)
	}
	if got := counterValue(t, reg, coalescedMx); got != 1 {
		t.Errorf("%s{how=superseded} = %v, want 1", coalescedMx, got)
	}
}

// TestResolveEditsOriginal: a group's resolution edits its message in
// place; with send_resolved a silent reply is threaded to it, without
// send_resolved nothing new is posted. When the original message is gone,
// the resolution is posted as a new message.
func TestResolveEditsOriginal(t *testing.T) {
	const name = "DiskFull"
	tests := []struct {
		name         string
		sendResolved bool
		deleted      bool // the original is deleted before the resolution
		check        func(t *testing.T, r resolveResult)
	}{{
		name:         "send_resolved on: edit and silent reply",
		sendResolved: true,
		check: func(t *testing.T, r resolveResult) {
			wantResolvedEdit(t, r.edits)
			if len(r.msgs) != 2 {
				t.Fatalf("chat A got %d messages, want the original and a reply", len(r.msgs))
			}
			reply := r.msgs[1]
			if !strings.HasPrefix(reply.ParsedText, "✅ RESOLVED: "+name) || reply.ReplyTo != 1 || !reply.DisableNotification {
				t.Errorf("reply %q (reply to %d, silent %v), want a silent \"RESOLVED\" reply to message 1",
					reply.ParsedText, reply.ReplyTo, reply.DisableNotification)
			}
			if r.sent != 2 {
				t.Errorf("alertgram_messages_sent_total = %v, want 2 (the original and the reply)", r.sent)
			}
			wantDelivered(t, r, 2)
		},
	}, {
		name: "send_resolved off: edit only",
		check: func(t *testing.T, r resolveResult) {
			wantResolvedEdit(t, r.edits)
			if len(r.msgs) != 1 {
				t.Errorf("chat A got %d messages, want only the original: %+v", len(r.msgs), r.msgs)
			}
			wantDelivered(t, r, 2)
		},
	}, {
		name:         "original deleted: a new message",
		sendResolved: true,
		deleted:      true,
		check: func(t *testing.T, r resolveResult) {
			if len(r.edits) != 0 {
				t.Errorf("edits = %+v, want none: the original is gone", r.edits)
			}
			if len(r.msgs) != 2 {
				t.Fatalf("chat A got %d messages, want the original and a new resolved one", len(r.msgs))
			}
			m := r.msgs[1]
			if !strings.HasPrefix(m.ParsedText, "✅ RESOLVED: "+name) || m.ReplyTo != 0 || !m.DisableNotification {
				t.Errorf("new message %q (reply to %d, silent %v), want a silent \"RESOLVED\" message replying to nothing",
					m.ParsedText, m.ReplyTo, m.DisableNotification)
			}
			wantDelivered(t, r, 2)
		},
	}, {
		name:         "original deleted: the new message is counted",
		sendResolved: true,
		deleted:      true,
		check: func(t *testing.T, r resolveResult) {
			if len(r.msgs) != 2 || r.sent != 2 {
				t.Errorf("%d messages sent, alertgram_messages_sent_total = %v; want them equal", len(r.msgs), r.sent)
			}
		},
	}, {
		name:    "send_resolved off, original deleted: nothing",
		deleted: true,
		check: func(t *testing.T, r resolveResult) {
			if len(r.edits) != 0 || len(r.msgs) != 1 {
				t.Errorf("with send_resolved off and nothing to edit: %d edits and %d messages, want 0 and only the original: %+v",
					len(r.edits), len(r.msgs), r.msgs)
			}
			if r.counts[store.StatePending] != 0 || r.counts[store.StateFailed] != 0 {
				t.Errorf("store counts = %v, want nothing pending or failed", r.counts)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			d, st, fake, _ := newTestDispatcher(t, testOpts{
				reg:    reg,
				routes: map[string]RouteSpec{testRoute: {ParseMode: render.HTML, Template: "default", SendResolved: tt.sendResolved}},
			})
			enqueue(t, d, group(testRoute, name, alert.StatusFiring, 1))
			round(t, d)
			if msgs := fake.MessagesIn(chatA); len(msgs) != 1 || msgs[0].MessageID != 1 {
				t.Fatalf("firing: chat A got %+v, want message 1", msgs)
			}
			if tt.deleted {
				deleteMessage(t, fake, chatA, 1)
			}
			enqueue(t, d, group(testRoute, name, alert.StatusResolved, 1))
			round(t, d)

			tt.check(t, resolveResult{
				msgs: fake.MessagesIn(chatA), edits: fake.Edits(),
				counts: counts(t, st), sent: counterSum(t, reg, "alertgram_messages_sent_total"),
			})
		})
	}
}

// resolveResult is what a resolution left behind.
type resolveResult struct {
	msgs   []testutil.Message
	edits  []testutil.Edit
	counts map[string]int // store counts
	sent   float64        // alertgram_messages_sent_total, all kinds
}

// wantDelivered fails unless both notifications ended delivered and
// nothing else is in the store.
func wantDelivered(t *testing.T, r resolveResult, n int) {
	t.Helper()
	for state, want := range map[string]int{store.StateDelivered: n, store.StatePending: 0, store.StateFailed: 0, store.StateSuperseded: 0, "unrouted": 0} {
		if r.counts[state] != want {
			t.Errorf("store counts = %v, want %d delivered and nothing else", r.counts, n)
			return
		}
	}
}

// counterSum adds up every series of a counter registered in reg.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// wantResolvedEdit fails unless the only edit turned message 1 of chat A
// into its resolved form.
func wantResolvedEdit(t *testing.T, edits []testutil.Edit) {
	t.Helper()
	if len(edits) != 1 {
		t.Fatalf("edits = %+v, want 1", edits)
	}
	e := edits[0]
	if e.Method != "editMessageText" || e.ChatID != chatA || e.MessageID != 1 || !strings.Contains(e.ParsedText, "RESOLVED") {
		t.Errorf("edit %s of chat %d message %d to %q, want editMessageText of message 1 showing RESOLVED",
			e.Method, e.ChatID, e.MessageID, e.ParsedText)
	}
}

// deleteMessage deletes a message through the Bot API, as a chat admin
// (or the user, in a private chat) would.
func deleteMessage(t *testing.T, fake *testutil.Telegram, chat, id int64) {
	t.Helper()
	c, err := telegram.New(fake.Token(), telegram.WithBaseURL(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMessage(t.Context(), chat, id); err != nil {
		t.Fatalf("deleting message %d: %v", id, err)
	}
}

// TestTopUpKeepsPacing: after the pacer grants a send, the worker tops the
// batch up from the store (and renders the digest) before it sends. That
// work happens after the instant the pacer recorded, so when it is slow
// (a store busy with a storm's intake, a digest of hundreds of groups)
// Telegram sees the next send, which was fast, less than a second after
// this one, although the pacer spaced its grants by 1s+margin. The store
// here takes 900ms once; the fake Bot API and the real limiter share the
// fake clock.
func TestTopUpKeepsPacing(t *testing.T) {
	spec := RouteSpec{ParseMode: render.HTML, Template: "default", SendResolved: true}
	var out *slowClaims
	d, st, fake, clk := newTestDispatcher(t, testOpts{
		routes: map[string]RouteSpec{"a": spec, "b": spec}, // two routes: two messages to chat A
		limits: testutil.DefaultLimits(),
		outbox: func(s store.Store) Outbox { out = &slowClaims{Store: s}; return out },
	})
	out.clk, out.slowCall, out.delay = clk, 2, 900*time.Millisecond // the top-up after the first grant
	// The limiters as the app builds them, on the fake clock.
	limits := ratelimit.DefaultLimits()
	d.cfg.Pacer = ratelimit.New(limits, jumpClock{clk})
	enqueue(t, d, group("a", "AlertOne", alert.StatusFiring, 1), group("b", "AlertTwo", alert.StatusFiring, 1))
	round(t, d)

	if v := fake.Violations(); v != 0 {
		var gaps []string
		for _, c := range fake.Calls("sendMessage") {
			gaps = append(gaps, fmt.Sprintf("%d at +%v", c.Status, c.Time.Sub(t0)))
		}
		t.Errorf("Telegram answered 429 %d times (sendMessage calls: %v): sends were closer than the pacer allowed", v, gaps)
	}
	wantCounts(t, st, map[string]int{store.StateDelivered: 2})
}

// slowClaims is the store whose slowCall-th claim takes delay on the fake
// clock.
type slowClaims struct {
	store.Store
	clk      *testutil.ManualClock
	slowCall int
	delay    time.Duration

	mu    sync.Mutex
	calls int
}

var _ Outbox = (*slowClaims)(nil)

func (s *slowClaims) ClaimChatDeliveryHeaders(ctx context.Context, owner string, chat int64, now, leaseUntil time.Time, limit int) ([]store.DeliveryHeader, error) {
	s.mu.Lock()
	s.calls++
	slow := s.calls == s.slowCall
	s.mu.Unlock()
	if slow {
		s.clk.Advance(s.delay)
	}
	return s.Store.ClaimChatDeliveryHeaders(ctx, owner, chat, now, leaseUntil, limit)
}

// jumpClock is the limiter's clock in a single-goroutine simulation: a
// timer moves the fake clock to its deadline and fires at once, so a
// Wait that must hold returns at once, at the instant it would have.
type jumpClock struct{ *testutil.ManualClock }

var _ ratelimit.Clock = jumpClock{}

func (c jumpClock) NewTimer(d time.Duration) ratelimit.Timer {
	c.Advance(max(d, 0))
	fired := make(chan time.Time, 1)
	fired <- c.Now()
	return firedTimer(fired)
}

type firedTimer chan time.Time

func (f firedTimer) C() <-chan time.Time { return f }
func (f firedTimer) Stop() bool          { return false }

// TestOneChat429sDoNotPauseAll: 429s piling up in one chat slow that chat
// down; only 429s across several chats mean the bot as a whole is over
// Telegram's budget and justify pausing every chat (throttleWatch's
// stated purpose).
func TestOneChat429sDoNotPauseAll(t *testing.T) {
	pacer := &pauseSpy{}
	d, st, fake, clk := newTestDispatcher(t, testOpts{config: func(c *Config) { c.Pacer = pacer }})
	for range 3 {
		fake.FailNext("sendMessage", http.StatusTooManyRequests, "Too Many Requests: retry after 1", 1)
	}
	enqueue(t, d, firing("DiskFull"))
	d.routePending(t.Context())
	for range 4 {
		d.deliverDue(t.Context())
		clk.Advance(time.Second)
	}

	wantCounts(t, st, map[string]int{store.StateDelivered: 1})
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	if pacer.paused != 3 || pacer.pausedAll != 0 {
		t.Errorf("Pause called %d times, PauseAll %d times; want 3 and 0: only chat A was throttled", pacer.paused, pacer.pausedAll)
	}
}

// pauseSpy is a Pacer that never waits and counts pauses.
type pauseSpy struct {
	noPacing
	mu                sync.Mutex
	paused, pausedAll int
}

func (p *pauseSpy) Pause(int64, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused++
}

func (p *pauseSpy) PauseAll(time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pausedAll++
}
