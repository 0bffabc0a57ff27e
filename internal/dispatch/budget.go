package dispatch

import (
	"context"
	"slices"
	"sync"
)

// budget bounds the payload bytes that all chat workers together hold
// decoded: a worker takes what its unit's payloads weigh before it reads
// them and gives back what its message does not keep. Requests are served
// in order, so a large one is not starved by small ones; one larger than
// the whole budget takes all of it.
type budget struct {
	size int64

	mu      sync.Mutex
	used    int64
	waiters []*budgetWaiter // in arrival order
	queued  chan struct{}   // closed and replaced when a request starts waiting
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

func newBudget(size int64) *budget { return &budget{size: size, queued: make(chan struct{})} }

// acquire blocks until n bytes (at most the whole budget) are free, takes
// them and returns how many it took, which the caller releases. It gives
// up with ctx's error, taking nothing.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(max(n, 0), b.size)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return n, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	close(b.queued)
	b.queued = make(chan struct{})
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.used -= n
	default:
		b.waiters = slices.DeleteFunc(b.waiters, func(o *budgetWaiter) bool { return o == w })
	}
	b.grant()
	return 0, ctx.Err()
}

// release gives back n bytes taken by acquire.
func (b *budget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.grant()
}

// grant serves waiters in order while the first one fits; call with b.mu
// held.
func (b *budget) grant() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.size {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}

// state returns the bytes taken, the requests waiting, and a channel
// closed when another request starts waiting (for tests).
func (b *budget) state() (used int64, waiting int, queued <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, len(b.waiters), b.queued
}
