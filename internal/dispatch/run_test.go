package dispatch

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

const waitLimit = 10 * time.Second // a failure guard, not a synchronisation

// TestRunShutdownReleasesClaims runs the real loop: a first notification is
// delivered on Enqueue's wake-up (the poll ticker is too slow to matter);
// then shutdown is triggered right after the loop has claimed a second one,
// which must be left pending and unleased so that another owner can take it
// at once.
func TestRunShutdownReleasesClaims(t *testing.T) {
	var spy *spyOutbox
	d, st, fake, _ := newTestDispatcher(t, testOpts{
		outbox: func(s store.Store) Outbox { spy = &spyOutbox{Store: s}; return spy },
		// No ticks during the test: only Enqueue's wake-up can start a round.
		config: func(c *Config) { c.PollInterval = time.Hour },
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	enqueue(t, d, firing("First"))
	fake.WaitMessagesIn(t, chatA, 1, waitLimit)

	spy.setAfterClaim(func(ds []store.Delivery) {
		if len(ds) > 0 {
			cancel() // shutdown lands between the claim and the sends
		}
	})
	enqueue(t, d, firing("Second"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v, want nil on shutdown", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after cancel")
	}

	if msgs := fake.MessagesIn(chatA); len(msgs) != 1 {
		t.Errorf("chat A got %d messages, want only the first one", len(msgs))
	}
	wantCounts(t, st, map[string]int{store.StatePending: 1, store.StateDelivered: 1})
	ds := claimAs(t, st, "replica-2", t0)
	if len(ds) != 1 || ds[0].GroupKey != firing("Second").GroupKey {
		t.Errorf("another owner claimed %v, want the second notification: the lease was not released", brief(ds))
	}
}

// TestSendCompletedDuringShutdownIsRecorded: deliver lets a send that is
// under way finish when ctx is cancelled ("aborting a request Telegram may
// already have processed would risk a duplicate"), so the outcome must be
// recorded too; otherwise Run's ReleaseClaims makes the delivered message
// pending again and the next start sends it a second time.
func TestSendCompletedDuringShutdownIsRecorded(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	d, st, fake, _ := newTestDispatcher(t, testOpts{
		sender: func(real Sender) Sender {
			return senderFunc(func(sctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
				m, err := real.SendMessage(sctx, p)
				cancel() // shutdown arrives while Telegram's answer is on its way
				return m, err
			})
		},
	})
	enqueue(t, d, firing("DiskFull"))
	d.routePending(ctx)
	d.deliverDue(ctx)

	if msgs := fake.MessagesIn(chatA); len(msgs) != 1 {
		t.Fatalf("chat A got %d messages, want 1", len(msgs))
	}
	wantCounts(t, st, map[string]int{store.StateDelivered: 1})
	// What Run does on its way out, then what the next start does.
	if err := st.ReleaseClaims(t.Context(), testOwner); err != nil {
		t.Fatal(err)
	}
	if ds := claimAs(t, st, testOwner, t0); len(ds) != 0 {
		t.Errorf("after a restart, delivered messages would be sent again: %v", brief(ds))
	}
}

// forgetfulPacer records which chats the dispatcher asked it to forget.
type forgetfulPacer struct {
	noPacing
	mu        sync.Mutex
	forgotten []int64
}

func (p *forgetfulPacer) Forget(chat int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forgotten = append(p.forgotten, chat)
	return true
}

// TestMaintenancePrunesAndForgets: after a chat's worker ended, maintenance
// forgets its pacing state, prunes dedupe keys older than the window (a
// copy after the window is sent again), old message references, and
// finished notifications older than the retention, never pending ones.
func TestMaintenancePrunesAndForgets(t *testing.T) {
	pacer := &forgetfulPacer{}
	d, st, fake, clk := newTestDispatcher(t, testOpts{})
	d.cfg.Pacer = pacer
	d.cfg.DedupeWindow = time.Minute
	d.cfg.Retention = time.Hour
	g := group(testRoute, "Prune", alert.StatusFiring, 1)
	enqueue(t, d, g)
	d.routePending(t.Context())
	d.startWorker(t.Context(), chatA)
	d.wg.Wait()
	fake.WaitMessagesIn(t, chatA, 1, 10*time.Second)

	enqueue(t, d, g) // a copy within the window: dropped
	wantCounts(t, st, map[string]int{store.StateDelivered: 1})

	clk.Advance(2 * time.Minute)
	d.maintain(t.Context())
	pacer.mu.Lock()
	forgotten := slices.Clone(pacer.forgotten)
	pacer.mu.Unlock()
	if !slices.Contains(forgotten, chatA) {
		t.Errorf("forgotten chats %v, want %d", forgotten, chatA)
	}
	enqueue(t, d, g) // the key was pruned: accepted again
	d.routePending(t.Context())
	wantCounts(t, st, map[string]int{store.StateDelivered: 1, store.StatePending: 1}) // the delivered one is younger than the retention
	clk.Advance(messageRefRetention)
	d.maintain(t.Context())
	if _, ok, err := st.GetMessageRef(t.Context(), chatA, 0, testRoute, g.GroupKey); ok || err != nil {
		t.Errorf("message reference older than the retention survived (err %v)", err)
	}
	wantCounts(t, st, map[string]int{store.StatePending: 1}) // delivered and old: pruned; pending: kept
}

// TestBusyChatWorkerTakesWhatArrives: Enqueue does not wake the scheduler
// for a chat whose worker is running (and there is no poll during the
// test), so that worker must claim what arrives while it sends, and the
// chat must get it.
func TestBusyChatWorkerTakesWhatArrives(t *testing.T) {
	sending := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	d, _, fake, _ := newTestDispatcher(t, testOpts{
		config: func(c *Config) { c.PollInterval = time.Hour },
		sender: func(real Sender) Sender {
			return senderFunc(func(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
				once.Do(func() { close(sending); <-release }) // the first send waits for the second Enqueue
				return real.SendMessage(ctx, p)
			})
		},
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil on shutdown", err)
		}
	}()

	enqueue(t, d, firing("First"))
	select {
	case <-sending:
	case <-time.After(waitLimit):
		t.Fatal("the first notification was never sent")
	}
	if !d.allWorking([]store.Target{{ChatID: chatA}}) {
		t.Fatal("chat A has no worker while it sends")
	}
	enqueue(t, d, firing("Second"))
	close(release)
	msgs := fake.WaitMessagesIn(t, chatA, 2, waitLimit)
	if !strings.Contains(msgs[0].ParsedText, "First") || !strings.Contains(msgs[1].ParsedText, "Second") {
		t.Errorf("chat A got %q, %q; want First, then Second", msgs[0].ParsedText, msgs[1].ParsedText)
	}
}
