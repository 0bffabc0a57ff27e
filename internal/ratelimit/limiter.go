package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Limiter paces sends so that they stay inside Limits. All methods are safe
// for concurrent use.
type Limiter struct {
	clock                   Clock
	perChat, perGroup, glob limit
	spacing                 time.Duration // minimum gap between global sends (SpreadGlobal)
	lowGroup                int           // WaitLow: fewer sends than this in a PerGroup window; 0: no extra limit

	mu        sync.Mutex
	chats     map[int64]*chat
	global    ring
	pausedAll time.Time
	pending   chatHeap // chats whose own windows or pause hold them
	ready     chatList // chats competing for the global budget, FIFO
	seq       uint64
}

// New returns a Limiter enforcing l on clock c (RealClock if c is nil).
// The zero Limits enforce nothing.
func New(l Limits, c Clock) *Limiter {
	if c == nil {
		c = RealClock()
	}
	lim := &Limiter{
		clock:    c,
		perChat:  l.PerChat.limit(l.Margin),
		perGroup: l.PerGroup.limit(l.Margin),
		glob:     l.Global.limit(l.Margin),
		chats:    map[int64]*chat{},
	}
	lim.global = newRing(lim.glob)
	if l.SpreadGlobal && lim.glob.max > 0 {
		lim.spacing = l.Global.Per / time.Duration(l.Global.Max)
	}
	if l.LowReserve > 0 && lim.perGroup.max > 0 {
		lim.lowGroup = max(lim.perGroup.max-l.LowReserve, 1)
	}
	return lim
}

// Wait blocks until a send to chatID may start without exceeding any window
// or pause, records the send at that instant and returns nil. It returns
// ctx.Err() if ctx ends first, and then records nothing. A waiter granted at
// the instant ctx ends gets nil: the send is recorded, and the caller may
// still skip it.
func (l *Limiter) Wait(ctx context.Context, chatID int64) error {
	return l.wait(ctx, chatID, normal)
}

// WaitLow is Wait for a send that must not compete with Wait's (a reply to
// a command, where Wait paces alerts): it is granted only while no Wait for
// chatID is queued, a Wait that arrives later is served first, and in a
// group it starts only while the PerGroup window leaves Limits.LowReserve
// sends free. Among themselves WaitLow calls are served in order; against
// other chats they compete for the global budget like any send.
func (l *Limiter) WaitLow(ctx context.Context, chatID int64) error {
	return l.wait(ctx, chatID, low)
}

func (l *Limiter) wait(ctx context.Context, chatID int64, prio int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	now := l.clock.Now()
	l.promote(now)
	c := l.chat(chatID)
	if c.front() == nil && l.ready.head == nil && l.mayGlobal(now) && l.mayChat(c, prio, now) {
		l.record(c, now)
		l.mu.Unlock()
		return nil
	}
	w := &waiter{ctx: ctx, c: c, prio: prio, sig: make(chan struct{}, 1)}
	l.enqueue(w, now)
	l.serve(now)
	state := w.state
	l.mu.Unlock()
	if state == granted {
		return nil
	}
	return l.block(ctx, w)
}

// block waits for w to be granted or dropped, running the scheduler when
// w's alarm fires.
func (l *Limiter) block(ctx context.Context, w *waiter) error {
	a := alarm{clock: l.clock}
	defer a.stop()
	for {
		l.mu.Lock()
		state, wake := w.state, w.wake
		l.mu.Unlock()
		switch state {
		case granted:
			return nil
		case dropped:
			return ctx.Err()
		}
		fire := a.set(wake)
		select {
		case <-ctx.Done():
			l.cancel(w)
		case <-w.sig:
		case <-fire:
			a.fired()
			l.tick()
		}
	}
}

// alarm is a blocked waiter's one timer.
type alarm struct {
	clock Clock
	t     Timer     // nil: not armed
	at    time.Time // the wake-up time it was last armed for
	fire  bool      // it fired for at
}

// set arms the alarm for wake (zero: none) and returns its channel. It
// re-arms only when wake moves, or when the alarm fired before a wake-up
// time that is still ahead (a wall-clock Pause deadline can disagree with
// the monotonic timer).
func (a *alarm) set(wake time.Time) <-chan time.Time {
	if !wake.Equal(a.at) || a.fire && wake.After(a.clock.Now()) {
		a.stop()
		a.at, a.fire = wake, false
		if !wake.IsZero() {
			a.t = a.clock.NewTimer(wake.Sub(a.clock.Now()))
		}
	}
	if a.t == nil {
		return nil
	}
	return a.t.C()
}

func (a *alarm) fired() { a.t, a.fire = nil, true }

func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
		a.t = nil
	}
}

// cancel drops w unless it was granted meanwhile.
func (l *Limiter) cancel(w *waiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.state == queued {
		now := l.clock.Now()
		l.promote(now)
		l.drop(w, now)
		l.serve(now)
	}
}

// tick runs the scheduler at the current time.
func (l *Limiter) tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.promote(now)
	l.serve(now)
}

// Pause forbids sends to chatID until until (Telegram's 429 retry_after).
// A pause never shortens one already in force.
func (l *Limiter) Pause(chatID int64, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.promote(now)
	c := l.chat(chatID)
	if !until.After(c.pausedUntil) {
		return
	}
	c.pausedUntil = until
	if c.where == ready && until.After(now) || c.where == pending && until.After(c.readyAt) {
		l.requeue(c, now)
	}
	l.serve(now)
}

// PauseAll forbids every send until until (repeated 429s across chats: slow
// down globally). A pause never shortens one already in force.
func (l *Limiter) PauseAll(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.promote(now)
	if until.After(l.pausedAll) {
		l.pausedAll = until
	}
	l.serve(now)
}

// Forget drops the state of an idle chat and reports whether it did. It
// refuses (false) while the chat has waiters, is paused, or has a send
// recent enough to count in one of its windows; a chat the Limiter does not
// know is forgotten already (true).
func (l *Limiter) Forget(chatID int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.chats[chatID]
	if !ok {
		return true
	}
	now := l.clock.Now()
	if c.front() != nil || c.pausedUntil.After(now) ||
		c.sends.busy(now, l.perChat.span) || c.group.busy(now, l.perGroup.span) {
		return false
	}
	delete(l.chats, chatID)
	return true
}
