package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// The committer's own behaviour, with a fake commit that the test holds.

// heldCommit is a commit function that hands each batch to the test and
// answers it (with ids from next) only when the test releases it.
type heldCommit struct {
	batches chan []*addRequest
	release chan struct{}
	mu      sync.Mutex
	next    int64
}

func newHeldCommit() *heldCommit {
	return &heldCommit{batches: make(chan []*addRequest), release: make(chan struct{})}
}

func (h *heldCommit) commit(batch []*addRequest) {
	h.batches <- slices.Clone(batch)
	<-h.release
	for _, r := range live(batch) {
		h.mu.Lock()
		h.next++
		id := h.next
		h.mu.Unlock()
		r.answer(id, nil)
	}
}

// waitFor yields until cond holds; what it waits for is another
// goroutine's progress, not time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func (c *committer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

func (c *committer) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

type addOutcome struct {
	id  int64
	err error
}

// addAll calls add for n notifications concurrently; outcomes are read
// from the returned channel, one per call.
func addAll(ctx context.Context, add func(context.Context, Notification) (int64, error), n int) <-chan addOutcome {
	out := make(chan addOutcome, n)
	for i := range n {
		go func() {
			id, err := add(ctx, Notification{Source: "alertmanager", Route: "r", GroupKey: fmt.Sprint("g", i)})
			out <- addOutcome{id, err}
		}()
	}
	return out
}

// While a batch commits, the next callers queue; the next batch is all of
// them up to maxBatch, and no caller waits longer than its batch.
func TestCommitterBatchesWhatQueued(t *testing.T) {
	h := newHeldCommit()
	c := startCommitter(h.commit)
	defer c.stop()
	first := addAll(t.Context(), c.add, 1)
	if got := <-h.batches; len(got) != 1 {
		t.Fatalf("first batch has %d requests, want 1", len(got))
	}
	const more = maxBatch + 10
	rest := addAll(t.Context(), c.add, more)
	waitFor(t, "the callers to queue", func() bool { return c.queued() == more })
	h.release <- struct{}{}
	if o := <-first; o.err != nil || o.id != 1 {
		t.Fatalf("first caller got %d, %v; want 1, nil", o.id, o.err)
	}
	if got := <-h.batches; len(got) != maxBatch {
		t.Fatalf("second batch has %d requests, want maxBatch (%d)", len(got), maxBatch)
	}
	h.release <- struct{}{}
	if got := <-h.batches; len(got) != more-maxBatch {
		t.Fatalf("third batch has %d requests, want %d", len(got), more-maxBatch)
	}
	h.release <- struct{}{}
	ids := map[int64]bool{}
	for range more {
		o := <-rest
		if o.err != nil || ids[o.id] {
			t.Fatalf("caller got %d, %v; want a fresh id", o.id, o.err)
		}
		ids[o.id] = true
	}
}

// stop answers every queued caller with its commit, not with ErrClosed, and
// refuses callers that come after it.
func TestCommitterStopDrainsQueue(t *testing.T) {
	h := newHeldCommit()
	c := startCommitter(h.commit)
	first := addAll(t.Context(), c.add, 1)
	<-h.batches
	const waiting = 5
	rest := addAll(t.Context(), c.add, waiting)
	waitFor(t, "the callers to queue", func() bool { return c.queued() == waiting })
	stopped := make(chan struct{})
	go func() {
		c.stop()
		close(stopped)
	}()
	waitFor(t, "stop to close the queue", c.isClosed)
	if _, err := c.add(t.Context(), Notification{}); !errors.Is(err, ErrClosed) {
		t.Errorf("add after stop = %v, want ErrClosed", err)
	}
	h.release <- struct{}{} // the batch under way
	<-h.batches             // the queued ones: committed, not dropped
	h.release <- struct{}{}
	<-stopped
	for _, w := range []struct {
		outcomes <-chan addOutcome
		n        int
	}{{first, 1}, {rest, waiting}} {
		for range w.n {
			if o := <-w.outcomes; o.err != nil || o.id == 0 {
				t.Errorf("waiting caller got %d, %v; want an id", o.id, o.err)
			}
		}
	}
	c.stop() // twice is fine
}

// A caller that gives up while queued gets its ctx's error, and its
// notification never reaches a transaction.
func TestCommitterDropsAbandonedRequests(t *testing.T) {
	h := newHeldCommit()
	c := startCommitter(h.commit)
	defer c.stop()
	first := addAll(t.Context(), c.add, 1)
	<-h.batches
	ctx, cancel := context.WithCancel(t.Context())
	abandoned := addAll(ctx, c.add, 1)
	kept := addAll(t.Context(), c.add, 1)
	waitFor(t, "the callers to queue", func() bool { return c.queued() == 2 })
	cancel()
	if o := <-abandoned; !errors.Is(o.err, context.Canceled) {
		t.Fatalf("abandoned caller got %d, %v; want context.Canceled", o.id, o.err)
	}
	h.release <- struct{}{}
	<-first
	next := <-h.batches
	h.release <- struct{}{}
	if o := <-kept; o.err != nil {
		t.Fatalf("kept caller got %v", o.err)
	}
	committed := 0
	for _, r := range next {
		if r.ctx.Err() == nil { // what live keeps
			committed++
		}
	}
	if committed != 1 {
		t.Errorf("the second batch commits %d requests, want 1 (not the abandoned one)", committed)
	}
}

// A batch's transaction lasts while any of its callers waits.
func TestBatchContextEndsWithLastCaller(t *testing.T) {
	ctx1, cancel1 := context.WithCancel(t.Context())
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	ctx, cancel := batchContext([]*addRequest{{ctx: ctx1}, {ctx: ctx2}})
	defer cancel()
	cancel1()
	if ctx.Err() != nil {
		t.Fatal("the batch ended while a caller still waits")
	}
	cancel2()
	<-ctx.Done()
}
