package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

func TestPerChatWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{PerChat: Window{Max: 2, Per: time.Second}, Margin: 50 * ms})
		for i := range 5 {
			h.wait(fmt.Sprint("a", i), 1)
		}
		h.wait("b0", 2) // another chat is not held up by chat 1
		h.runAll()
		h.wantSends(map[string]time.Duration{
			"a0": 0, "a1": 0, "a2": sec(1.05), "a3": sec(1.05), "a4": sec(2.1), "b0": 0,
		})
	})
}

func TestGroupWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{
			PerChat:  Window{Max: 1, Per: time.Second},
			PerGroup: Window{Max: 3, Per: 10 * time.Second},
		})
		for i := range 5 {
			h.wait(fmt.Sprint("g", i), -100)
			h.wait(fmt.Sprint("p", i), 100) // positive ids have no group window
		}
		h.runAll()
		h.wantSends(map[string]time.Duration{
			"g0": 0, "g1": sec(1), "g2": sec(2), "g3": sec(10), "g4": sec(11),
			"p0": 0, "p1": sec(1), "p2": sec(2), "p3": sec(3), "p4": sec(4),
		})
	})
}

// A chat with a backlog must not starve a chat that arrives later: chats
// take turns for the global budget in the order they became ready.
func TestFairAcrossChats(t *testing.T) {
	lim := Limits{
		PerChat: Window{Max: 1, Per: time.Second},
		Global:  Window{Max: 2, Per: time.Second},
		Margin:  50 * ms,
	}
	t.Run("backlog alone", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, lim)
			for i := 1; i <= 10; i++ {
				h.wait(fmt.Sprint("A", i), 1)
			}
			h.runTo(500 * ms)
			h.wait("B", 2)
			h.runTo(sec(2.1))
			h.wantSends(map[string]time.Duration{"A1": 0, "B": 500 * ms, "A2": sec(1.05), "A3": sec(2.1)})
		})
	})
	t.Run("two backlogs fill the global budget", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, lim)
			for i := 1; i <= 10; i++ {
				h.wait(fmt.Sprint("A", i), 1)
				h.wait(fmt.Sprint("C", i), 3)
			}
			h.runTo(500 * ms)
			h.wait("B", 2) // global budget is spent until 1.05s
			h.runTo(sec(3.15))
			// B has been ready since 0.5s, A2 and C2 only since 1.05s.
			h.wantSends(map[string]time.Duration{
				"A1": 0, "C1": 0,
				"B": sec(1.05), "A2": sec(1.05),
				"C2": sec(2.1), "A3": sec(2.1),
				"C3": sec(3.15), "A4": sec(3.15),
			})
			b, _ := h.sentAt("B")
			if a3, _ := h.sentAt("A3"); b >= a3 {
				t.Errorf("B sent at +%v, not before A's 3rd send at +%v", b, a3)
			}
		})
	})
	t.Run("no per-chat window", func(t *testing.T) {
		// Without its own window a backlog is held only by the global
		// budget; after each send the chat's next message goes to the back
		// of the line, so chats alternate.
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, Limits{Global: Window{Max: 1, Per: time.Second}})
			for i := 1; i <= 10; i++ {
				h.wait(fmt.Sprint("A", i), 1)
			}
			h.runTo(500 * ms)
			h.wait("B", 2)
			h.wait("C", 3)
			h.runTo(sec(5))
			// A2 has been in line since 0s, B and C since 0.5s, A3 since 1s.
			h.wantSends(map[string]time.Duration{
				"A1": 0, "A2": sec(1), "B": sec(2), "C": sec(3), "A3": sec(4), "A4": sec(5),
			})
		})
	})
}

func TestGlobalFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{Global: Window{Max: 1, Per: time.Second}})
		for i := 1; i <= 5; i++ {
			h.wait(fmt.Sprint("c", i), int64(i))
		}
		if got := h.clk.Timers(); got != 1 {
			t.Errorf("%d timers armed for 4 waiters behind one global window, want 1", got)
		}
		h.runAll()
		h.wantSends(map[string]time.Duration{"c1": 0, "c2": sec(1), "c3": sec(2), "c4": sec(3), "c5": sec(4)})
	})
}

func TestCancel(t *testing.T) {
	lim := Limits{Global: Window{Max: 1, Per: time.Second}}
	tests := []struct {
		name   string
		cancel string
		want   map[string]time.Duration
	}{
		{"middle of the line", "c3", map[string]time.Duration{"c1": 0, "c2": sec(1), "c4": sec(2), "c5": sec(3)}},
		// c2 holds the timer for the global budget; c3 must take it over.
		{"first in line", "c2", map[string]time.Duration{"c1": 0, "c3": sec(1), "c4": sec(2), "c5": sec(3)}},
		{"last in line", "c5", map[string]time.Duration{"c1": 0, "c2": sec(1), "c3": sec(2), "c4": sec(3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, lim)
				cancels := map[string]context.CancelFunc{}
				for i := 1; i <= 5; i++ {
					name := fmt.Sprint("c", i)
					cancels[name] = h.wait(name, int64(i))
				}
				h.runTo(500 * ms)
				h.cancel(cancels[tt.cancel])
				h.runAll()
				h.wantSends(tt.want)
				if err := h.err(tt.cancel); !errors.Is(err, context.Canceled) {
					t.Errorf("cancelled Wait returned %v, want context.Canceled", err)
				}
			})
		})
	}
}

func TestCancelChatHead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{PerChat: Window{Max: 1, Per: time.Second}})
		h.wait("a1", 1)
		cancel := h.wait("a2", 1) // holds the chat's timer
		h.wait("a3", 1)
		h.runTo(500 * ms)
		h.cancel(cancel)
		h.runAll()
		h.wantSends(map[string]time.Duration{"a1": 0, "a3": sec(1)})
	})
}

// A caller cancelled just before the scheduler runs gets no send, even if
// its goroutine has not yet noticed.
func TestCancelRacesGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{Global: Window{Max: 1, Per: time.Second}})
		h.wait("c1", 1)
		cancel := h.wait("c2", 2)
		h.wait("c3", 3)
		cancel()                   // no synctest.Wait: c2 may not have seen it yet
		h.clk.Jump(t0.Add(sec(1))) // the budget is free, timers late
		h.l.PauseAll(time.Time{})  // runs the scheduler
		h.runAll()
		h.wantSends(map[string]time.Duration{"c1": 0, "c3": sec(1)})
		if err := h.err("c2"); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Wait returned %v, want context.Canceled", err)
		}
	})
}

func TestCancelledBeforeWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newFakeClock()
		l := New(Limits{PerChat: Window{Max: 1, Per: time.Second}}, clk)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Wait(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		done := make(chan error)
		go func() { done <- l.Wait(context.Background(), 1) }()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("Wait blocked: the cancelled call recorded a send")
		}
	})
}

func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Limits{PerChat: Window{Max: 1, Per: time.Minute}}, RealClock())
		if err := l.Wait(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := l.Wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{PerChat: Window{Max: 1, Per: time.Second}})
		h.wait("a1", 1)
		h.wait("a2", 1) // pending until 1s
		h.l.Pause(1, t0.Add(5*time.Second))
		h.l.Pause(1, t0.Add(3*time.Second)) // does not shorten the pause
		synctest.Wait()
		if next, _ := h.clk.Next(); next != t0.Add(5*time.Second) {
			t.Errorf("a2 wakes at +%v, want +5s (the end of the pause)", next.Sub(t0))
		}
		h.wait("b1", 2) // other chats are not paused
		h.runAll()
		h.wantSends(map[string]time.Duration{"a1": 0, "a2": sec(5), "b1": 0})
	})
}

// Timers can fire late. A caller arriving in the meantime must still queue
// behind the chats whose turn has come.
func TestLateTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{PerChat: Window{Max: 1, Per: time.Second}, Global: Window{Max: 1, Per: time.Second}})
		h.wait("a1", 1)
		h.wait("a2", 1) // chat 1 is held until 1s
		h.runTo(500 * ms)
		h.wait("b1", 2)               // first in line for the global budget, timer at 1s
		h.clk.Jump(t0.Add(1500 * ms)) // neither timer has fired
		h.wait("c1", 3)               // joins the line behind b1 and a2
		h.runAll()
		h.wantSends(map[string]time.Duration{"a1": 0, "b1": sec(1.5), "a2": sec(2.5), "c1": sec(3.5)})
	})
}

func TestEarlyTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{PerChat: Window{Max: 1, Per: time.Second}})
		h.l.Pause(1, t0.Add(5*time.Second))
		h.wait("a", 1)
		h.clk.FireEarly()
		synctest.Wait()
		if n := h.clk.Timers(); n != 1 {
			t.Errorf("%d timers armed after one fired early, want 1", n)
		}
		h.runAll()
		h.wantSends(map[string]time.Duration{"a": sec(5)})
	})
}

func TestPauseReadyChat(t *testing.T) {
	// A chat waiting for the global budget leaves the line when paused and
	// joins its end when the pause is over.
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{Global: Window{Max: 1, Per: time.Second}})
		for i := 1; i <= 4; i++ {
			h.wait(fmt.Sprint("c", i), int64(i))
		}
		h.l.Pause(2, t0.Add(1500*ms))
		h.runAll()
		h.wantSends(map[string]time.Duration{"c1": 0, "c3": sec(1), "c4": sec(2), "c2": sec(3)})
	})
}

func TestPauseAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{Global: Window{Max: 1, Per: time.Second}})
		h.wait("c1", 1)
		h.l.PauseAll(t0.Add(10 * time.Second))
		h.l.PauseAll(t0.Add(5 * time.Second)) // does not shorten the pause
		for i := 2; i <= 4; i++ {
			h.wait(fmt.Sprint("c", i), int64(i))
		}
		h.runAll()
		h.wantSends(map[string]time.Duration{"c1": 0, "c2": sec(10), "c3": sec(11), "c4": sec(12)})
	})
}

func TestPauseInPast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{Global: Window{Max: 1, Per: time.Second}})
		for i := 1; i <= 3; i++ {
			h.wait(fmt.Sprint("c", i), int64(i))
		}
		h.runTo(500 * ms)
		h.l.Pause(2, t0.Add(100*ms)) // already over: c2 keeps its place
		h.runAll()
		h.wantSends(map[string]time.Duration{"c1": 0, "c2": sec(1), "c3": sec(2)})
	})
}

func TestForget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{
			PerChat:  Window{Max: 1, Per: time.Second},
			PerGroup: Window{Max: 5, Per: time.Minute},
			Margin:   50 * ms,
		})
		if !h.l.Forget(7) {
			t.Error("Forget(unknown chat) = false")
		}
		h.wait("p1", 1)
		h.wait("p2", 1)
		h.wait("g1", -1)
		forget := func(id int64, want bool) {
			t.Helper()
			if got := h.l.Forget(id); got != want {
				t.Errorf("at +%v: Forget(%d) = %v, want %v", h.clk.Now().Sub(t0), id, got, want)
			}
		}
		forget(1, false) // p2 waiting
		h.runTo(sec(1.05))
		forget(1, false) // p2 just sent
		h.runTo(sec(2.09))
		forget(1, false)
		h.runTo(sec(2.1))
		forget(1, true)
		forget(-1, false) // the group window still holds g1
		h.runTo(sec(60.04))
		forget(-1, false)
		h.runTo(sec(60.05))
		forget(-1, true)
		h.l.Pause(2, t0.Add(100*time.Second))
		forget(2, false)
		h.runTo(sec(100))
		forget(2, true)
		if n := len(h.l.chats); n != 0 {
			t.Errorf("%d chats left after forgetting all", n)
		}
	})
}

func TestNoLimits(t *testing.T) {
	l := New(Limits{PerChat: Window{Max: 1}, Global: Window{Per: time.Second}, Margin: -time.Second}, nil)
	for i := range 1000 {
		if err := l.Wait(context.Background(), int64(i%3-1)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNegativeMargin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{PerChat: Window{Max: 1, Per: time.Second}, Margin: -500 * ms})
		h.wait("a1", 1)
		h.wait("a2", 1)
		h.runAll()
		h.wantSends(map[string]time.Duration{"a1": 0, "a2": sec(1)})
	})
}

// RealClock drives timers too; inside a bubble its time is synctest's fake.
func TestRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(DefaultLimits(), RealClock())
		start := time.Now()
		for range 3 {
			if err := l.Wait(context.Background(), -5); err != nil {
				t.Fatal(err)
			}
		}
		if got := time.Since(start); got != 2100*ms {
			t.Errorf("3 sends to one chat took %v, want 2.1s", got)
		}
	})
}

func TestDefaultLimits(t *testing.T) {
	want := Limits{
		PerChat:    Window{Max: 1, Per: time.Second},
		PerGroup:   Window{Max: 20, Per: time.Minute},
		Global:     Window{Max: 30, Per: time.Second},
		Margin:     50 * ms,
		LowReserve: 10,
	}
	if got := DefaultLimits(); got != want {
		t.Errorf("DefaultLimits() = %+v, want %+v", got, want)
	}
}

func TestSpreadGlobal(t *testing.T) {
	// With SpreadGlobal, 3 per second start 1/3 s apart instead of at once;
	// the window (with margin) still binds the fourth.
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Limits{Global: Window{Max: 3, Per: time.Second}, Margin: 50 * ms, SpreadGlobal: true})
		for i := 1; i <= 4; i++ {
			h.wait(fmt.Sprint("c", i), int64(i))
		}
		h.runAll()
		third := time.Second / 3
		h.wantSends(map[string]time.Duration{"c1": 0, "c2": third, "c3": 2 * third, "c4": sec(1) + 50*ms})
	})
}
