package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by AddNotification once Close has begun.
var ErrClosed = errors.New("store: closed")

// maxBatch bounds the notifications one group commit holds, and so the
// time its transaction keeps the write lock.
const maxBatch = 256

// addRequest is one AddNotification call waiting for its commit.
type addRequest struct {
	ctx  context.Context
	n    Notification
	done chan addResult // buffered: answering never waits for a caller that left
}

type addResult struct {
	id  int64
	err error
}

func (r *addRequest) answer(id int64, err error) { r.done <- addResult{id: id, err: err} }

// committer is group commit: concurrent AddNotification callers queue their
// notifications, and one goroutine commits whatever is queued (up to
// maxBatch) in one transaction, so that the cost of a commit (the write
// lock, the WAL append or the round trip) is shared by the batch. Batches
// form by themselves, without waiting: while one commits, the next queues.
type committer struct {
	commit func(batch []*addRequest) // answers every request of batch

	mu     sync.Mutex
	queue  []*addRequest
	closed bool
	wake   chan struct{} // cap 1: the queue may have grown, or closed was set
	done   chan struct{} // closed when run returns
}

// startCommitter starts the goroutine that calls commit; stop ends it.
func startCommitter(commit func(batch []*addRequest)) *committer {
	c := &committer{commit: commit, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

// add queues n and waits for the transaction that holds it. When ctx ends
// first it returns ctx.Err(), and n may or may not be committed: a request
// still queued is dropped, one already in a transaction is not recalled
// (the transaction is abandoned only if every caller in it gave up).
func (c *committer) add(ctx context.Context, n Notification) (int64, error) {
	req := &addRequest{ctx: ctx, n: n, done: make(chan addResult, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	c.queue = append(c.queue, req)
	c.mu.Unlock()
	c.poke()
	select {
	case r := <-req.done:
		return r.id, r.err
	case <-ctx.Done():
		select {
		case r := <-req.done: // answered meanwhile: that answer is exact
			return r.id, r.err
		default:
			return 0, ctx.Err()
		}
	}
}

func (c *committer) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *committer) run() {
	defer close(c.done)
	var batch []*addRequest
	for {
		var closed bool
		batch, closed = c.next(batch[:0])
		switch {
		case len(batch) > 0:
			c.commit(batch)
			clear(batch) // keep no request alive until the next batch
		case closed:
			return
		default:
			<-c.wake
		}
	}
}

// next appends the oldest queued requests, up to maxBatch, to batch and
// removes them from the queue.
func (c *committer) next(batch []*addRequest) ([]*addRequest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(c.queue), maxBatch)
	batch = append(batch, c.queue[:n]...)
	c.queue = c.queue[:copy(c.queue, c.queue[n:])]
	clear(c.queue[len(c.queue) : len(c.queue)+n])
	return batch, c.closed
}

// stop refuses new requests, commits and answers everything already queued,
// then returns. It may be called more than once.
func (c *committer) stop() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.poke()
	<-c.done
}

// live answers the requests of batch whose caller has already given up and
// returns the others (reusing batch's array).
func live(batch []*addRequest) []*addRequest {
	out := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.answer(0, err)
			continue
		}
		out = append(out, r)
	}
	return out
}

// batchContext is the context of a batch's transaction: it ends when every
// caller in batch has given up, since then nobody waits for the commit (a
// stuck database must not hold the committer longer than its callers). Its
// cancel must be called.
func batchContext(batch []*addRequest) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	var waiting atomic.Int64
	waiting.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, r := range batch {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
