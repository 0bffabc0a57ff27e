package ratelimit

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// A reply (WaitLow) queued for a chat yields to every alert (Wait) queued
// for that chat, also to one that arrives after it.
func TestWaitBeforeWaitLow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{PerChat: Window{Max: 1, Per: time.Second}})
		h.wait("alert0", 1)
		h.waitLow("reply", 1) // the chat's window is spent until 1s
		h.runTo(500 * ms)
		h.wait("alert1", 1) // queued after the reply, granted before it
		h.runTo(sec(1.5))
		h.wait("alert2", 1) // the reply is next in line again, and yields again
		h.runAll()
		h.wantSends(map[string]time.Duration{"alert0": 0, "alert1": sec(1), "alert2": sec(2), "reply": sec(3)})
	})
}

// An alert that overtakes a reply waiting for the global budget takes the
// chat's place in line and its timer: it is not sent to the back.
func TestWaitTakesOverWaitLowPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{Global: Window{Max: 1, Per: time.Second}})
		h.wait("c2", 2)
		h.waitLow("reply1", 1) // line: chat 1, then chat 3
		h.wait("c3", 3)
		h.runTo(500 * ms)
		h.wait("alert1", 1)
		if n := h.clk.Timers(); n != 1 {
			t.Errorf("%d timers armed, want 1 (the global budget's)", n)
		}
		h.runAll()
		h.wantSends(map[string]time.Duration{"c2": 0, "alert1": sec(1), "c3": sec(2), "reply1": sec(3)})
	})
}

// In a group, replies leave LowReserve sends of every PerGroup window to
// alerts; private chats have no group window and no reserve.
func TestWaitLowLeavesGroupReserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{PerGroup: Window{Max: 4, Per: 10 * time.Second}, LowReserve: 2})
		h.wait("n1", -100)
		h.wait("n2", -100)
		h.waitLow("reply", -100) // 2 of 4 used: only alerts may take the rest
		h.waitLow("private", 5)
		h.runTo(sec(1))
		h.wait("n3", -100)
		h.wait("n4", -100)
		h.runAll()
		// At 10s n1 and n2 leave the window; n3 and n4 leave it at 11s.
		h.wantSends(map[string]time.Duration{"n1": 0, "n2": 0, "n3": sec(1), "n4": sec(1), "private": 0, "reply": sec(11)})
	})
}

// A reserve as large as the window still lets one reply through an empty
// window.
func TestWaitLowReserveKeepsOneSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{PerGroup: Window{Max: 2, Per: 10 * time.Second}, LowReserve: 5})
		h.waitLow("r1", -100)
		h.waitLow("r2", -100)
		h.runAll()
		h.wantSends(map[string]time.Duration{"r1": 0, "r2": sec(10)})
	})
}

// An alert that overtook a reply and is then cancelled hands the chat back
// to the reply, under the reply's stricter limits and with one timer.
func TestCancelledWaitHandsBackToWaitLow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{
			PerChat: Window{Max: 1, Per: time.Second}, PerGroup: Window{Max: 3, Per: 10 * time.Second}, LowReserve: 1,
		})
		h.wait("a0", -7)
		h.wait("a1", -7)
		h.runTo(500 * ms)
		h.waitLow("reply", -7)
		h.runTo(sec(1.2)) // a1 sent at 1s: 2 sends in the window, a reply needs fewer
		cancel := h.wait("a2", -7)
		h.runTo(sec(1.5))
		h.cancel(cancel)
		if n := h.clk.Timers(); n != 1 {
			t.Errorf("%d timers armed, want 1 (the reply's)", n)
		}
		if h.l.Forget(-7) {
			t.Error("Forget dropped a chat with a reply waiting")
		}
		h.runAll()
		h.wantSends(map[string]time.Duration{"a0": 0, "a1": sec(1), "reply": sec(10)})
		if err := h.err("a2"); !errors.Is(err, context.Canceled) {
			t.Errorf("a2: %v, want context.Canceled", err)
		}
	})
}
