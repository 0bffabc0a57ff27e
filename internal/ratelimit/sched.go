package ratelimit

import (
	"container/heap"
	"time"
)

// The scheduler runs under Limiter.mu whenever something changes: a Wait
// arrives, a waiter's timer fires, a waiter is cancelled, a pause is set.
// promote moves chats whose own windows have cleared from the pending heap
// to the tail of the ready list, in the order they cleared; serve grants the
// global budget to the ready list's head chats in FIFO order. Only two kinds
// of waiter hold a timer: the head of each pending chat (for its readyAt)
// and, when the global budget is exhausted, the head of the first ready chat
// (for the instant the budget frees).

// chat returns chatID's state, creating it on first use.
func (l *Limiter) chat(id int64) *chat {
	c, ok := l.chats[id]
	if !ok {
		c = &chat{id: id, sends: newRing(l.perChat)}
		if id < 0 {
			c.group = newRing(l.perGroup)
		}
		l.chats[id] = c
	}
	return c
}

// chatReadyAt is the first instant c's own windows and pause allow a send.
func (l *Limiter) chatReadyAt(c *chat) time.Time {
	t := laterOf(c.sends.freeAt(l.perChat.span), c.pausedUntil)
	return laterOf(t, c.group.freeAt(l.perGroup.span))
}

// globalReadyAt is the first instant the global window and pause allow a
// send.
func (l *Limiter) globalReadyAt() time.Time {
	t := laterOf(l.global.freeAt(l.glob.span), l.pausedAll)
	if newest, ok := l.global.newest(); ok && l.spacing > 0 {
		t = laterOf(t, newest.Add(l.spacing))
	}
	return t
}

func (l *Limiter) mayChat(c *chat, now time.Time) bool { return !l.chatReadyAt(c).After(now) }

func (l *Limiter) mayGlobal(now time.Time) bool { return !l.globalReadyAt().After(now) }

func (l *Limiter) record(c *chat, now time.Time) {
	c.sends.add(now)
	c.group.add(now)
	l.global.add(now)
}

// enqueue appends w to its chat; a new head puts the chat in line.
func (l *Limiter) enqueue(w *waiter, now time.Time) {
	c := w.c
	c.push(w)
	if c.head == w {
		l.place(c, now)
	}
}

// place puts an idle chat with waiters in line: ready if its own windows
// allow a send now, otherwise pending until they do.
func (l *Limiter) place(c *chat, now time.Time) {
	if r := l.chatReadyAt(c); r.After(now) {
		c.where, c.readyAt, c.seq = pending, r, l.seq
		l.seq++
		heap.Push(&l.pending, c)
		l.setWake(c.head, r)
		return
	}
	c.where = ready
	l.ready.push(c)
	l.setWake(c.head, time.Time{})
}

// unplace takes c out of line.
func (l *Limiter) unplace(c *chat) {
	switch c.where {
	case pending:
		l.pending.remove(c)
	case ready:
		l.ready.remove(c)
	}
	c.where = idle
}

// requeue puts c back in line after its own limits changed (a pause).
func (l *Limiter) requeue(c *chat, now time.Time) {
	l.unplace(c)
	l.place(c, now)
}

// promote moves every pending chat whose windows have cleared by now to the
// ready list, earliest first.
func (l *Limiter) promote(now time.Time) {
	for l.pending.due(now) {
		c := heap.Pop(&l.pending).(*chat)
		c.where = ready
		l.ready.push(c)
		l.setWake(c.head, time.Time{})
	}
}

// serve grants sends to the ready chats' heads, in order, while the global
// budget lasts; the first head left waiting gets the timer for the budget.
func (l *Limiter) serve(now time.Time) {
	for c := l.ready.head; c != nil; c = l.ready.head {
		w := c.head
		switch {
		case w.ctx.Err() != nil:
			l.drop(w)
		case !l.mayChat(c, now): // cannot happen; keeps the windows exact regardless
			l.requeue(c, now)
		case !l.mayGlobal(now):
			l.setWake(w, l.globalReadyAt())
			return
		default:
			l.grant(w, now)
		}
	}
}

// grant records w's send and puts its chat's next waiter, if any, in line.
func (l *Limiter) grant(w *waiter, now time.Time) {
	c := w.c
	l.unplace(c)
	c.unlink(w)
	l.record(c, now)
	l.setState(w, granted)
	if c.head != nil {
		l.place(c, now)
	}
}

// drop removes a queued waiter. If it was its chat's head, the next waiter
// takes over the chat's place in line and its wake-up time; the order of
// everyone else is untouched.
func (l *Limiter) drop(w *waiter) {
	c := w.c
	wasHead := c.head == w
	c.unlink(w)
	l.setState(w, dropped)
	switch {
	case !wasHead:
	case c.head == nil:
		l.unplace(c)
	default:
		l.setWake(c.head, w.wake)
	}
}

func (l *Limiter) setState(w *waiter, state int) {
	w.state = state
	poke(w)
}

func (l *Limiter) setWake(w *waiter, t time.Time) {
	if !w.wake.Equal(t) {
		w.wake = t
		poke(w)
	}
}

func poke(w *waiter) {
	select {
	case w.sig <- struct{}{}:
	default:
	}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
