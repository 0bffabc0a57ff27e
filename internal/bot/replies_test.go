package bot_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

// gatePacer is a fake pacer whose slots the test hands out: a wait blocks
// until its chat's gate (or every gate) is opened, or its context ends. It
// records the waits as they block, so tests synchronise on them.
type gatePacer struct {
	mu      sync.Mutex
	all     bool           // every gate is open
	open    map[int64]bool // open gates
	blocked map[int64]int  // waits blocked, by chat
	normal  int            // calls of Wait (alerts); answers use WaitLow
	changed chan struct{}  // closed and replaced on every change
}

var _ bot.Pacer = (*gatePacer)(nil)

func newGatePacer() *gatePacer {
	return &gatePacer{open: map[int64]bool{}, blocked: map[int64]int{}, changed: make(chan struct{})}
}

func (p *gatePacer) Wait(ctx context.Context, chatID int64) error {
	p.mu.Lock()
	p.normal++
	p.mu.Unlock()
	return p.WaitLow(ctx, chatID)
}

func (p *gatePacer) WaitLow(ctx context.Context, chatID int64) error {
	p.mu.Lock()
	p.blocked[chatID]++
	p.notify()
	defer func() {
		p.blocked[chatID]--
		p.notify()
		p.mu.Unlock()
	}()
	for !p.all && !p.open[chatID] {
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			p.mu.Lock()
			return ctx.Err()
		case <-changed:
		}
		p.mu.Lock()
	}
	return nil
}

// notify wakes everyone waiting for a change; call with p.mu held.
func (p *gatePacer) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// openAll opens every gate; openChat opens one.
func (p *gatePacer) openAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all = true
	p.notify()
}

func (p *gatePacer) openChat(chatID int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open[chatID] = true
	p.notify()
}

// waitBlocked waits until n waits for chatID block at its gate.
func (p *gatePacer) waitBlocked(t *testing.T, chatID int64, n int) {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		got, changed := p.blocked[chatID], p.changed
		p.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%d waits blocked for chat %d after %v, want %d", got, chatID, waitFor, n)
		}
	}
}

// answered returns the answer to the callback query id, if any.
func answered(h *harness, id string) (testutil.Answer, bool) {
	for _, a := range h.fake.Answers() {
		if a.CallbackQueryID == id {
			return a, true
		}
	}
	return testutil.Answer{}, false
}

// Issue #19 item 2: a stranger's 40 /help in a private chat, then a button
// press in the ops group. The press is answered while the flood's first
// answer still waits for its pacing slot; the flood gets 5 answers and one
// request to slow down, once the slots come.
func TestCommandFloodDoesNotHoldUpPresses(t *testing.T) {
	const strangerChat = int64(777001)
	pacer := newGatePacer()
	h := newHarness(t, harnessOpts{opts: bot.Options{Pacer: pacer, ReplyWorkers: bot.DefaultReplyWorkers, UserCommands: 5}})
	stranger := testutil.User{ID: strangerChat, FirstName: "Stranger"}
	for range 40 {
		h.fake.InjectMessage(testutil.Chat{ID: strangerChat, Type: "private"}, stranger, "/help")
	}
	press := h.fake.InjectCallback(testutil.Chat{ID: groupChat, Type: "group", Title: "Oncall"},
		testutil.User{ID: bob.ID, FirstName: bob.FirstName}, 1, "ack:0123456789abcdef")
	stop := startPoll(t, h)

	h.fake.WaitCalls(t, "answerCallbackQuery", 1, waitFor)
	if _, ok := answered(h, press); !ok {
		t.Fatalf("the press was not answered: %+v", h.fake.Calls("answerCallbackQuery"))
	}
	pacer.waitBlocked(t, strangerChat, 1) // the flood's first answer waits for its slot
	if got := h.fake.MessagesIn(strangerChat); len(got) != 0 {
		t.Fatalf("%d answers to the flood went out before its first slot was granted", len(got))
	}

	pacer.openAll()
	h.fake.WaitMessagesIn(t, strangerChat, 6, waitFor)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	h.bot.Stop(t.Context()) // every queued answer is sent or dropped
	got := h.fake.MessagesIn(strangerChat)
	if len(got) != 6 {
		t.Fatalf("the flood got %d messages, want 5 answers and 1 slow-down", len(got))
	}
	for i, m := range got {
		if want := i == 5; strings.Contains(m.Text, "slow down") != want {
			t.Errorf("message %d = %q; want the slow-down only last", i, m.Text)
		}
	}
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	if pacer.normal != 0 {
		t.Errorf("%d answers waited at alert priority, want all at low", pacer.normal)
	}
}

// One chat's answers waiting for their slot hold up no other chat's.
func TestRepliesOfOneChatDoNotHoldUpAnother(t *testing.T) {
	pacer := newGatePacer()
	h := newHarness(t, harnessOpts{opts: bot.Options{Pacer: pacer, ReplyWorkers: 2}})
	h.handle(t, privateMsg("/help"))
	h.handle(t, privateMsg("/status"))
	pacer.waitBlocked(t, privateChat, 1)
	h.handle(t, groupMsg("/help"))
	pacer.openChat(groupChat)
	h.fake.WaitMessagesIn(t, groupChat, 1, waitFor)
	if got := h.fake.MessagesIn(privateChat); len(got) != 0 {
		t.Fatalf("private chat got %d answers with its gate shut", len(got))
	}
	pacer.openChat(privateChat)
	got := h.fake.WaitMessagesIn(t, privateChat, 2, waitFor)
	if !strings.Contains(got[0].Text, "/start TOKEN") || !strings.Contains(got[1].Text, "no subscriptions") {
		t.Errorf("private chat's answers out of order: %q, %q", got[0].Text, got[1].Text)
	}
}

// HandleUpdate never blocks on a full queue: the answer is dropped, logged
// and counted, and the update is handled.
func TestReplyQueueFullDropsTheReply(t *testing.T) {
	pacer := newGatePacer()
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOpts{reg: reg, opts: bot.Options{Pacer: pacer, ReplyWorkers: 1, ReplyQueue: 2}})
	chats := []int64{1001, 1002, 1003, 1004}
	msg := func(chat int64) telegram.Message {
		m := privateMsg("/help")
		m.Chat.ID, m.From = chat, &telegram.User{ID: chat, FirstName: "U"}
		return m
	}
	h.handle(t, msg(chats[0]))
	pacer.waitBlocked(t, chats[0], 1) // taken by the worker: the queue is empty
	var last telegram.Update
	for _, c := range chats[1:] {
		last = h.handle(t, msg(c)) // the third finds the queue full
	}
	if !h.handled(t, last.UpdateID) {
		t.Errorf("update %d, whose answer was dropped, not recorded as handled", last.UpdateID)
	}
	if got := counter(t, reg, "alertgram_bot_replies_dropped_total", map[string]string{"reason": "queue_full"}); got != 1 {
		t.Errorf("replies dropped for a full queue = %v, want 1", got)
	}
	pacer.openAll()
	h.bot.Stop(t.Context())
	for i, c := range chats {
		if n, want := len(h.fake.MessagesIn(c)), min(1, 3-i); n != want {
			t.Errorf("chat %d got %d answers, want %d", c, n, want)
		}
	}
}

// Stop cancels the answer under way, drops the queued ones, and answers
// nothing afterwards; updates are still handled.
func TestStopDropsPendingReplies(t *testing.T) {
	pacer := newGatePacer()
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOpts{reg: reg, opts: bot.Options{Pacer: pacer, ReplyWorkers: 1}})
	h.handle(t, privateMsg("/help"))
	pacer.waitBlocked(t, privateChat, 1)
	h.handle(t, groupMsg("/help"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no time to drain
	h.bot.Stop(ctx)
	after := h.handle(t, groupMsg("/status"))
	pacer.openAll()
	checkNoMessages(t, h)
	if !h.handled(t, after.UpdateID) {
		t.Errorf("update %d handled after Stop not recorded", after.UpdateID)
	}
	if got := counter(t, reg, "alertgram_bot_replies_dropped_total", map[string]string{"reason": "shutdown"}); got != 2 {
		t.Errorf("replies dropped at shutdown = %v, want 2 (one queued, one after Stop)", got)
	}
}

// With reply workers a store failure still returns the error, answers
// nothing and leaves the update unrecorded, so it is delivered again.
func TestStoreFailureWithReplyWorkers(t *testing.T) {
	var fs *faultyStore
	h := newHarness(t, harnessOpts{opts: bot.Options{ReplyWorkers: 1},
		wrap: func(s store.Store) bot.Store { fs = &faultyStore{Store: s}; return fs }})
	l := h.link(t, bot.LinkRequest{Route: "oncall"})
	injected := errors.New("disk on fire")
	fs.redeem = func(context.Context, string, time.Time, store.Subscription) (store.Subscription, error) {
		return store.Subscription{}, injected
	}
	u := h.update(privateMsg("/start " + l.Token))
	if err := h.bot.HandleUpdate(t.Context(), u); !errors.Is(err, injected) {
		t.Fatalf("HandleUpdate = %v, want the store's error", err)
	}
	if h.handled(t, u.UpdateID) {
		t.Error("failed update recorded as handled")
	}
	fs.redeem = nil
	if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	h.bot.Stop(t.Context())
	checkReply(t, h, privateChat, 0, 0, []string{"✅ Subscribed"}, nil)
}
