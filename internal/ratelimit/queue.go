package ratelimit

import (
	"container/heap"
	"context"
	"time"
)

// ring holds the last max send instants of one window, oldest first from
// next. Instants are recorded in non-decreasing order.
type ring struct {
	at   []time.Time // len grows to cap(at) == max, then wraps
	next int         // the oldest instant once the ring is full
}

func newRing(l limit) ring {
	if l.max == 0 {
		return ring{}
	}
	return ring{at: make([]time.Time, 0, l.max)}
}

// freeAt is the first instant a send fits the window: the zero time while
// fewer than max sends are recorded, otherwise the oldest of the last max
// sends plus span.
func (r *ring) freeAt(span time.Duration) time.Time {
	if len(r.at) < cap(r.at) || cap(r.at) == 0 {
		return time.Time{}
	}
	return r.at[r.next].Add(span)
}

// add records a send; a ring for no limit records nothing.
func (r *ring) add(t time.Time) {
	switch {
	case cap(r.at) == 0:
	case len(r.at) < cap(r.at):
		r.at = append(r.at, t)
	default:
		r.at[r.next] = t
		r.next = (r.next + 1) % len(r.at)
	}
}

// newest returns the latest recorded send, if any.
func (r *ring) newest() (time.Time, bool) {
	if len(r.at) == 0 {
		return time.Time{}, false
	}
	return r.at[(r.next+len(r.at)-1)%len(r.at)], true
}

// freeBelow is the first instant fewer than n of the recorded sends fall in
// a window of length span ending then: the zero time while fewer than n are
// recorded, otherwise the n-th newest plus span. n is at most max, so
// freeBelow(max, span) is freeAt(span).
func (r *ring) freeBelow(n int, span time.Duration) time.Time {
	if n <= 0 || len(r.at) < n {
		return time.Time{}
	}
	return r.at[(r.next+len(r.at)-n)%len(r.at)].Add(span)
}

// busy reports whether the newest recorded send is younger than span.
func (r *ring) busy(now time.Time, span time.Duration) bool {
	if len(r.at) == 0 {
		return false
	}
	newest := r.at[(r.next+len(r.at)-1)%len(r.at)]
	return newest.Add(span).After(now)
}

// Where a chat with waiters is queued.
const (
	idle    = iota // no waiters
	pending        // in Limiter.pending: its own windows or pause hold it
	ready          // in Limiter.ready: competing for the global budget
)

// Priorities of a waiter: Wait and WaitLow.
const (
	normal = iota
	low
)

// chat is the state of one chat id: its windows, its pause and its FIFOs of
// waiters, one per priority. The chat, not the waiter, is what sits in the
// pending heap or the ready list; its front waiter (the oldest normal one,
// else the oldest low one) is the one that will send.
type chat struct {
	id          int64
	sends       ring // PerChat
	group       ring // PerGroup, negative ids only
	pausedUntil time.Time

	q [2]fifo // by priority

	where   int
	readyAt time.Time // pending: when the chat's windows and pause allow a send
	seq     uint64    // pending: tie-break, order of entry
	index   int       // pending: heap index

	prev, next *chat // ready list links
}

// Waiter states.
const (
	queued = iota
	granted
	dropped
)

// fifo is one priority's waiters of a chat, oldest first.
type fifo struct{ head, tail *waiter }

// waiter is one blocked Wait or WaitLow call.
type waiter struct {
	ctx        context.Context
	c          *chat
	prio       int // normal or low
	prev, next *waiter
	state      int
	// wake is when the waiter's goroutine must run the scheduler (zero:
	// never, someone else's timer or send will). sig is poked whenever wake
	// or state changes.
	wake time.Time
	sig  chan struct{}
}

// front is the waiter that sends next: the oldest normal one, else the
// oldest low one; nil when the chat has no waiters.
func (c *chat) front() *waiter {
	if w := c.q[normal].head; w != nil {
		return w
	}
	return c.q[low].head
}

func (c *chat) push(w *waiter) {
	q := &c.q[w.prio]
	w.prev = q.tail
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
}

func (c *chat) unlink(w *waiter) {
	q := &c.q[w.prio]
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next = nil, nil
}

// chatHeap orders pending chats by readyAt, then order of entry. Pointers
// fit an interface without allocating, so container/heap costs nothing here.
type chatHeap []*chat

func (h chatHeap) Len() int { return len(h) }

func (h chatHeap) Less(i, j int) bool {
	if !h[i].readyAt.Equal(h[j].readyAt) {
		return h[i].readyAt.Before(h[j].readyAt)
	}
	return h[i].seq < h[j].seq
}

func (h chatHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *chatHeap) Push(x any) {
	c := x.(*chat)
	c.index = len(*h)
	*h = append(*h, c)
}

func (h *chatHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return c
}

// due reports whether the earliest pending chat may send at now.
func (h chatHeap) due(now time.Time) bool { return len(h) > 0 && !h[0].readyAt.After(now) }

func (h *chatHeap) remove(c *chat) { heap.Remove(h, c.index) }

// chatList is the FIFO of ready chats.
type chatList struct{ head, tail *chat }

func (l *chatList) push(c *chat) {
	c.prev = l.tail
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *chatList) remove(c *chat) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
}
