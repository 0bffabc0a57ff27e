package bot

import (
	"context"
	"sync"
	"time"
)

// pendingWait bounds how long a press waits for its message to be
// recorded as sent.
const pendingWait = 3 * time.Second

// pendingForget is how long a pending message is waited for at all: a send
// that failed never completes its record (the retry makes a new one).
const pendingForget = time.Minute

// pendingSends are the messages whose buttons are stored but whose send is
// not recorded yet. Telegram shows a message as soon as it accepted it,
// which is a moment before its sender learns the message id and records
// it; a press in that moment waits here instead of failing.
type pendingSends struct {
	mu sync.Mutex
	m  map[int64]pendingSend // by ActionMessage id
}

type pendingSend struct {
	done  chan struct{}
	since time.Time
}

// add registers the pending message id; call the returned func once its
// send is recorded (or failed).
func (p *pendingSends) add(id int64) (done func()) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[int64]pendingSend{}
	}
	for other, ps := range p.m {
		if now.Sub(ps.since) > pendingForget {
			delete(p.m, other)
		}
	}
	ps := pendingSend{done: make(chan struct{}), since: now}
	p.m[id] = ps
	var once sync.Once
	return func() {
		once.Do(func() {
			close(ps.done)
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.m[id].done == ps.done {
				delete(p.m, id)
			}
		})
	}
}

// wait waits until message id is recorded as sent, for at most
// pendingWait; it returns at once for a message it does not know.
func (p *pendingSends) wait(ctx context.Context, id int64) {
	p.mu.Lock()
	ps, ok := p.m[id]
	p.mu.Unlock()
	if !ok {
		return
	}
	t := time.NewTimer(pendingWait)
	defer t.Stop()
	select {
	case <-ps.done:
	case <-t.C:
	case <-ctx.Done():
	}
}
