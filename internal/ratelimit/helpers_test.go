package ratelimit

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// harness drives a Limiter on a fake clock. Use it inside synctest.Test:
// synctest.Wait tells it when every caller has either returned or blocked,
// so the clock only moves when the Limiter has nothing left to do.
type harness struct {
	t       *testing.T
	clk     *fakeClock
	l       *Limiter
	cancels []context.CancelFunc

	mu    sync.Mutex
	sends map[string]time.Duration // caller → grant time, as an offset from t0
	errs  map[string]error
}

func newHarness(t *testing.T, lim Limits) *harness {
	clk := newFakeClock()
	h := &harness{t: t, clk: clk, l: New(lim, clk), sends: map[string]time.Duration{}, errs: map[string]error{}}
	t.Cleanup(h.cancelAll)
	return h
}

// wait starts a Wait for chatID named name and returns, once it has sent or
// blocked, the function that cancels it.
func (h *harness) wait(name string, chatID int64) context.CancelFunc {
	return h.start(name, chatID, h.l.Wait)
}

// waitLow is wait for a WaitLow caller.
func (h *harness) waitLow(name string, chatID int64) context.CancelFunc {
	return h.start(name, chatID, h.l.WaitLow)
}

func (h *harness) start(name string, chatID int64, wait func(context.Context, int64) error) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancels = append(h.cancels, cancel)
	go func() {
		err := wait(ctx, chatID)
		at := h.clk.Now().Sub(t0)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err != nil {
			h.errs[name] = err
		} else {
			h.sends[name] = at
		}
	}()
	synctest.Wait()
	return cancel
}

// cancel cancels a caller and lets the Limiter settle.
func (h *harness) cancel(c context.CancelFunc) {
	c()
	synctest.Wait()
}

func (h *harness) cancelAll() {
	for _, c := range h.cancels {
		c()
	}
	synctest.Wait()
}

// runTo advances the clock to t0+d, stopping at every timer on the way.
func (h *harness) runTo(d time.Duration) {
	end := t0.Add(d)
	for {
		synctest.Wait()
		next, ok := h.clk.Next()
		if !ok || next.After(end) {
			break
		}
		h.clk.AdvanceTo(next)
	}
	h.clk.AdvanceTo(end)
	synctest.Wait()
}

// runAll advances the clock until no timer is left.
func (h *harness) runAll() {
	for {
		synctest.Wait()
		next, ok := h.clk.Next()
		if !ok {
			return
		}
		h.clk.AdvanceTo(next)
	}
}

// wantSends checks the grant time of every caller that has sent.
func (h *harness) wantSends(want map[string]time.Duration) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		got, ok := h.sends[name]
		switch {
		case !ok:
			h.t.Errorf("%s: not sent, want sent at +%v (err %v)", name, want[name], h.errs[name])
		case got != want[name]:
			h.t.Errorf("%s: sent at +%v, want +%v", name, got, want[name])
		}
	}
	for name, got := range h.sends {
		if _, ok := want[name]; !ok {
			h.t.Errorf("%s: sent at +%v, want not sent", name, got)
		}
	}
}

func (h *harness) sentAt(name string) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	at, ok := h.sends[name]
	return at, ok
}

func (h *harness) err(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.errs[name]
}

const ms = time.Millisecond

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
