package dispatch

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

// TestTooManyRequestsPausesChat fills chat A's flood window in the fake
// (2 messages per 7s, on the fake clock) so that the dispatcher's first
// send there gets 429 with retry_after 7, while chat B has room.
func TestTooManyRequestsPausesChat(t *testing.T) {
	spec := RouteSpec{ParseMode: render.HTML, Template: "default", SendResolved: true}
	d, st, fake, clk := newTestDispatcher(t, testOpts{
		routes: map[string]RouteSpec{"a": spec, "b": spec},
		recipients: func(_ context.Context, route string, _ *alert.Group) ([]store.Target, error) {
			return []store.Target{{ChatID: map[string]int64{"a": chatA, "b": chatB}[route]}}, nil
		},
		limits: testutil.Limits{PerChat: testutil.Window{Max: 2, Per: 7 * time.Second}},
	})
	for range 2 {
		if _, err := d.sender.SendMessage(t.Context(), telegram.SendMessageParams{ChatID: chatA, Text: "earlier"}); err != nil {
			t.Fatalf("priming chat A: %v", err)
		}
	}
	enqueue(t, d,
		group("a", "AlertOne", alert.StatusFiring, 1),
		group("a", "AlertTwo", alert.StatusFiring, 1),
		group("b", "AlertThree", alert.StatusFiring, 1))
	round(t, d)

	if v := fake.Violations(); v != 1 {
		t.Fatalf("fake saw %d flood violations, want 1 (chat A's first send)", v)
	}
	if n := len(callsTo(fake, chatA)); n != 3 {
		t.Errorf("sendMessage calls to chat A = %d, want 3 (2 priming + 1 refused): the paused chat was sent to again", n)
	}
	if msgs := fake.MessagesIn(chatB); len(msgs) != 1 || !strings.Contains(msgs[0].ParsedText, "AlertThree") {
		t.Errorf("chat B got %+v, want its message despite chat A's 429", msgs)
	}
	wantCounts(t, st, map[string]int{store.StatePending: 2, store.StateDelivered: 1})

	due := t0.Add(7 * time.Second)
	for _, at := range []time.Time{t0.Add(6 * time.Second), due.Add(-time.Microsecond)} {
		if ds := claimAs(t, st, "probe", at); len(ds) != 0 {
			t.Errorf("at +%v, deliveries are already due: %v", at.Sub(t0), brief(ds))
		}
	}
	ds := claimAs(t, st, "probe", due)
	if len(ds) != 2 {
		t.Fatalf("at +7s, due: %v; want chat A's 2 deliveries", brief(ds))
	}
	for _, del := range ds {
		if del.Target.ChatID != chatA || !del.NextAttemptAt.Equal(due) {
			t.Errorf("delivery %d: chat %d next attempt %v, want chat %d at %v", del.ID, del.Target.ChatID, del.NextAttemptAt, chatA, due)
		}
	}
	if err := st.ReleaseClaims(t.Context(), "probe"); err != nil {
		t.Fatal(err)
	}

	clk.Set(due)
	d.deliverDue(t.Context())
	// The two groups that waited out the pause together arrive as one
	// digest: the backlog costs chat A one message, not two.
	msgs := fake.MessagesIn(chatA)
	if len(msgs) != 3 || !strings.Contains(msgs[2].ParsedText, "2 alert groups") ||
		!strings.Contains(msgs[2].ParsedText, "AlertOne") || !strings.Contains(msgs[2].ParsedText, "AlertTwo") {
		t.Fatalf("chat A after the pause: %d messages, want the 2 earlier ones then one digest of AlertOne and AlertTwo: %+v", len(msgs), msgs)
	}
	wantCounts(t, st, map[string]int{store.StateDelivered: 3})
	if v := fake.Violations(); v != 1 {
		t.Errorf("fake saw %d flood violations, want still 1", v)
	}
}

func callsTo(fake *testutil.Telegram, chat int64) []testutil.Call {
	var out []testutil.Call
	for _, c := range fake.Calls("sendMessage") {
		if c.Params["chat_id"] == strconv.FormatInt(chat, 10) {
			out = append(out, c)
		}
	}
	return out
}

// TestServerErrorBacksOff: each SendMessage is two HTTP calls (the client
// retries a 5xx once), so four queued 500s fail two attempts of the
// dispatcher, which waits 1s, then 2s.
func TestServerErrorBacksOff(t *testing.T) {
	var spy *spyOutbox
	d, st, fake, clk := newTestDispatcher(t, testOpts{
		outbox: func(s store.Store) Outbox { spy = &spyOutbox{Store: s}; return spy },
	})
	for range 4 {
		fake.FailNext("sendMessage", http.StatusInternalServerError, "Internal Server Error", 0)
	}
	enqueue(t, d, firing("DiskFull"))
	d.routePending(t.Context())

	steps := []struct {
		at     time.Duration
		calls  int // sendMessage calls so far
		counts map[string]int
	}{
		{0, 2, map[string]int{store.StatePending: 1}},
		{time.Second - time.Microsecond, 2, map[string]int{store.StatePending: 1}},
		{time.Second, 4, map[string]int{store.StatePending: 1}},
		{3*time.Second - time.Microsecond, 4, map[string]int{store.StatePending: 1}},
		{3 * time.Second, 5, map[string]int{store.StateDelivered: 1}},
		{time.Hour, 5, map[string]int{store.StateDelivered: 1}},
	}
	for _, s := range steps {
		clk.Set(t0.Add(s.at))
		d.deliverDue(t.Context())
		if n := len(fake.Calls("sendMessage")); n != s.calls {
			t.Fatalf("at +%v: %d sendMessage calls, want %d", s.at, n, s.calls)
		}
		wantCounts(t, st, s.counts)
	}

	retries := spy.retryCalls()
	wantNext := []time.Time{t0.Add(time.Second), t0.Add(3 * time.Second)}
	if len(retries) != len(wantNext) {
		t.Fatalf("retries scheduled: %+v, want at %v", retries, wantNext)
	}
	for i, r := range retries {
		if !r.next.Equal(wantNext[i]) || !strings.Contains(r.err, "500") {
			t.Errorf("retry %d: at %v after %q, want at %v after a 500", i, r.next, r.err, wantNext[i])
		}
	}
	if msgs := fake.MessagesIn(chatA); len(msgs) != 1 {
		t.Errorf("chat A got %d messages, want 1", len(msgs))
	}
}
