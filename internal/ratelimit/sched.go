package ratelimit

import (
	"container/heap"
	"time"
)

// The scheduler runs under Limiter.mu whenever something changes: a Wait
// arrives, a waiter's timer fires, a waiter is cancelled, a pause is set.
// promote moves chats whose own windows have cleared from the pending heap
// to the tail of the ready list, in the order they cleared; serve grants the
// global budget to the ready list's head chats in FIFO order. A chat is in
// line for its front waiter, whose priority decides which limits apply
// (chatReadyAt). Only two kinds of waiter hold a timer: the front of each
// pending chat (for its readyAt) and, when the global budget is exhausted,
// the front of the first ready chat (for the instant the budget frees).

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

// chatReadyAt is the first instant c's own windows and pause allow a send
// of priority prio. A low-priority send also needs the group window to hold
// fewer than lowGroup sends (Limits.LowReserve), so its limits are never
// looser than a normal send's.
func (l *Limiter) chatReadyAt(c *chat, prio int) time.Time {
	t := laterOf(c.sends.freeAt(l.perChat.span), c.pausedUntil)
	t = laterOf(t, c.group.freeAt(l.perGroup.span))
	if prio == low {
		t = laterOf(t, c.group.freeBelow(l.lowGroup, l.perGroup.span))
	}
	return t
}

// frontReadyAt is chatReadyAt for the chat's front waiter.
func (l *Limiter) frontReadyAt(c *chat) time.Time { return l.chatReadyAt(c, c.front().prio) }

// globalReadyAt is the first instant the global window and pause allow a
// send.
func (l *Limiter) globalReadyAt() time.Time {
	t := laterOf(l.global.freeAt(l.glob.span), l.pausedAll)
	if newest, ok := l.global.newest(); ok && l.spacing > 0 {
		t = laterOf(t, newest.Add(l.spacing))
	}
	return t
}

func (l *Limiter) mayChat(c *chat, prio int, now time.Time) bool {
	return !l.chatReadyAt(c, prio).After(now)
}

func (l *Limiter) mayGlobal(now time.Time) bool { return !l.globalReadyAt().After(now) }

func (l *Limiter) record(c *chat, now time.Time) {
	c.sends.add(now)
	c.group.add(now)
	l.global.add(now)
}

// enqueue appends w to its chat; a new front puts the chat in line. A
// normal waiter that arrives while a low one is the front takes over: in
// the ready list it keeps the chat's place and timer (the low waiter's
// stricter limits allowed a send, so its own do), otherwise the chat is
// placed again for its limits, which may clear sooner.
func (l *Limiter) enqueue(w *waiter, now time.Time) {
	c := w.c
	old := c.front()
	c.push(w)
	switch {
	case old == nil:
		l.place(c, now)
	case c.front() != w:
	case c.where == ready:
		wake := old.wake
		l.setWake(old, time.Time{})
		l.setWake(w, wake)
	default:
		l.setWake(old, time.Time{})
		l.requeue(c, now)
	}
}

// place puts an idle chat with waiters in line: ready if its own windows
// allow a send now, otherwise pending until they do.
func (l *Limiter) place(c *chat, now time.Time) {
	if r := l.frontReadyAt(c); r.After(now) {
		c.where, c.readyAt, c.seq = pending, r, l.seq
		l.seq++
		heap.Push(&l.pending, c)
		l.setWake(c.front(), r)
		return
	}
	c.where = ready
	l.ready.push(c)
	l.setWake(c.front(), time.Time{})
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
		l.setWake(c.front(), time.Time{})
	}
}

// serve grants sends to the ready chats' fronts, in order, while the global
// budget lasts; the first front left waiting gets the timer for the budget.
func (l *Limiter) serve(now time.Time) {
	for c := l.ready.head; c != nil; c = l.ready.head {
		w := c.front()
		switch {
		case w.ctx.Err() != nil:
			l.drop(w, now)
		case !l.mayChat(c, w.prio, now): // cannot happen; keeps the windows exact regardless
			l.requeue(c, now)
		case !l.mayGlobal(now):
			l.setWake(w, l.globalReadyAt())
			return
		default:
			l.grant(w, now)
		}
	}
}

// grant records w's send and puts its chat's next waiter (normal ones
// first), if any, in line.
func (l *Limiter) grant(w *waiter, now time.Time) {
	c := w.c
	l.unplace(c)
	c.unlink(w)
	l.record(c, now)
	l.setState(w, granted)
	if c.front() != nil {
		l.place(c, now)
	}
}

// drop removes a queued waiter. If it was its chat's front, the next waiter
// of the same priority takes over the chat's place in line and its wake-up
// time, and the order of everyone else is untouched; a low waiter taking
// over from a normal one has stricter limits, so the chat is placed again.
func (l *Limiter) drop(w *waiter, now time.Time) {
	c := w.c
	wasFront := c.front() == w
	c.unlink(w)
	l.setState(w, dropped)
	next := c.front()
	switch {
	case !wasFront:
	case next == nil:
		l.unplace(c)
	case next.prio == w.prio:
		l.setWake(next, w.wake)
	default:
		l.requeue(c, now)
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
