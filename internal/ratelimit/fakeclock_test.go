package ratelimit

import (
	"sync"
	"time"
)

// fakeClock is a Clock that moves only when the test advances it. Timers
// fire (into a buffered channel) when the clock reaches their deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]struct{}
}

type fakeTimer struct {
	clk *fakeClock
	at  time.Time
	c   chan time.Time
}

var (
	_ Clock = (*fakeClock)(nil)
	_ Timer = (*fakeTimer)(nil)
)

// t0 is where fake clocks start; offsets in tests are from t0.
var t0 = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock {
	return &fakeClock{now: t0, timers: map[*fakeTimer]struct{}{}}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{clk: f, at: f.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- f.now
		return t
	}
	f.timers[t] = struct{}{}
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	_, ok := t.clk.timers[t]
	delete(t.clk.timers, t)
	return ok
}

// AdvanceTo moves the clock to at (never backwards) and fires every timer
// due by then.
func (f *fakeClock) AdvanceTo(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if at.After(f.now) {
		f.now = at
	}
	for t := range f.timers {
		if !t.at.After(f.now) {
			delete(f.timers, t)
			t.c <- f.now
		}
	}
}

// Jump moves the clock to at without firing timers: timers that are late,
// as real ones can be.
func (f *fakeClock) Jump(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = at
}

// FireEarly fires every timer now, before its deadline, as a timer on the
// monotonic clock can when the deadline came from the wall clock.
func (f *fakeClock) FireEarly() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for t := range f.timers {
		delete(f.timers, t)
		t.c <- f.now
	}
}

// Next returns the earliest timer deadline.
func (f *fakeClock) Next() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next time.Time
	for t := range f.timers {
		if next.IsZero() || t.at.Before(next) {
			next = t.at
		}
	}
	return next, !next.IsZero()
}

// Timers counts the armed timers.
func (f *fakeClock) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}
