package bot_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

// botName is the username the fake Bot API's getMe reports.
const botName = "alertgram_test_bot"

// waitFor bounds every wait on the fake; it is a failure deadline, not a
// synchronisation delay.
const waitFor = 10 * time.Second

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

var (
	alice = telegram.User{ID: 42, FirstName: "Alice", Username: "alice"}
	bob   = telegram.User{ID: 43, FirstName: "Bob", LastName: "Builder"}
)

// Chats of the tests: a private chat with alice, a basic group, a forum
// supergroup with topics 7 and 9.
const (
	privateChat = int64(42)
	groupChat   = int64(-4001)
	forumChat   = int64(-1002003004005)
	topicA      = int64(7)
	topicB      = int64(9)
)

// faultyStore is the real store with RedeemLinkToken, MarkUpdateHandled and
// PruneHandledUpdates replaceable, to fail a store call after the update
// was looked up, or to observe the calls.
type faultyStore struct {
	store.Store
	redeem func(ctx context.Context, token string, now time.Time, sub store.Subscription) (store.Subscription, error)
	mark   func(ctx context.Context, updateID int64, at time.Time) error
	prune  func(ctx context.Context, before time.Time) (int, error)
}

var _ bot.Store = (*faultyStore)(nil)

func (f *faultyStore) RedeemLinkToken(ctx context.Context, token string, now time.Time, sub store.Subscription) (store.Subscription, error) {
	if f.redeem != nil {
		return f.redeem(ctx, token, now, sub)
	}
	return f.Store.RedeemLinkToken(ctx, token, now, sub)
}

func (f *faultyStore) MarkUpdateHandled(ctx context.Context, updateID int64, at time.Time) error {
	if f.mark != nil {
		return f.mark(ctx, updateID, at)
	}
	return f.Store.MarkUpdateHandled(ctx, updateID, at)
}

func (f *faultyStore) PruneHandledUpdates(ctx context.Context, before time.Time) (int, error) {
	if f.prune != nil {
		return f.prune(ctx, before)
	}
	return f.Store.PruneHandledUpdates(ctx, before)
}

type harnessOpts struct {
	opts bot.Options
	wrap func(store.Store) bot.Store // the store the bot sees
	log  io.Writer                   // default t.Output()
	reg  prometheus.Registerer       // the bot's metrics; default none
}

// harness is a bot wired to a real SQLite store and the real Telegram
// client talking to the fake Bot API, on an injected clock.
type harness struct {
	st     store.Store
	dbPath string
	fake   *testutil.Telegram
	client *telegram.Client
	clk    *testutil.ManualClock
	bot    *bot.Bot
	nextID int64
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	if o.log == nil {
		o.log = t.Output()
	}
	logger := slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &harness{dbPath: filepath.Join(t.TempDir(), "a.db"), clk: testutil.NewManualClock(t0), nextID: 500}
	h.st = openStore(t, h.dbPath, logger)
	h.fake = testutil.NewTelegram(t, testutil.WithLimits(testutil.Limits{}))
	client, err := telegram.New(h.fake.Token(), telegram.WithBaseURL(h.fake.URL()),
		telegram.WithRetry(0, time.Millisecond, time.Millisecond), telegram.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	h.client = client
	var st bot.Store = h.st
	if o.wrap != nil {
		st = o.wrap(h.st)
	}
	if o.opts.Now == nil {
		o.opts.Now = h.clk.Now
	}
	h.bot = bot.New(client, st, o.opts, logger, o.reg)
	t.Cleanup(func() { h.bot.Stop(context.Background()) }) // no reply worker outlives the test
	h.bot.SetUsername(botName)
	h.fake.AddChat(testutil.Chat{ID: forumChat, Type: "supergroup", Title: "Ops", IsForum: true})
	h.fake.AddTopic(forumChat, topicA)
	h.fake.AddTopic(forumChat, topicB)
	return h
}

func openStore(t *testing.T, path string, logger *slog.Logger) store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite://"+path, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// link creates a subscription token for route at the clock's time.
func (h *harness) link(t *testing.T, req bot.LinkRequest) bot.Link {
	t.Helper()
	l, err := bot.CreateLink(t.Context(), h.st, botName, req, h.clk.Now())
	if err != nil {
		t.Fatalf("CreateLink(%+v): %v", req, err)
	}
	return l
}

// subscribe subscribes (chat, thread) to route through the store, as a
// redeemed link does, without a bot reply. Groups (negative ids) get a
// group link.
func (h *harness) subscribe(t *testing.T, chat, thread int64, route string, matchers ...string) {
	t.Helper()
	l := h.link(t, bot.LinkRequest{Route: route, Matchers: matchers, Group: chat < 0})
	_, err := h.st.RedeemLinkToken(t.Context(), l.Token, h.clk.Now(), store.Subscription{
		ChatID: chat, ThreadID: thread, CreatedBy: "@alice (42)"})
	if err != nil {
		t.Fatalf("redeeming %s for chat %d thread %d: %v", route, chat, thread, err)
	}
}

// nextUpdate is an empty update with the next id.
func (h *harness) nextUpdate() telegram.Update {
	h.nextID++
	return telegram.Update{UpdateID: h.nextID}
}

// update wraps m in an update with the next id.
func (h *harness) update(m telegram.Message) telegram.Update {
	u := h.nextUpdate()
	u.Message = &m
	return u
}

// handle delivers m as the next update and fails the test on an error.
func (h *harness) handle(t *testing.T, m telegram.Message) telegram.Update {
	t.Helper()
	u := h.update(m)
	if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
		t.Fatalf("HandleUpdate(%d %q): %v", u.UpdateID, m.Text, err)
	}
	return u
}

// subs is what store.ChatSubscriptions reports, reduced to comparable keys.
func (h *harness) subs(t *testing.T, chat int64) []sub {
	t.Helper()
	got, err := h.st.ChatSubscriptions(t.Context(), chat)
	if err != nil {
		t.Fatal(err)
	}
	out := []sub{}
	for _, s := range got {
		out = append(out, sub{thread: s.ThreadID, route: s.Route, matchers: slices.Clone(s.Matchers)})
	}
	return out
}

// handled reports whether the store recorded update id as handled.
func (h *harness) handled(t *testing.T, id int64) bool {
	t.Helper()
	ok, err := h.st.UpdateHandled(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// redeemable reports whether token is still unused and unexpired, by
// redeeming it for an unrelated chat.
func (h *harness) redeemable(t *testing.T, token string) bool {
	t.Helper()
	_, err := h.st.RedeemLinkToken(t.Context(), token, h.clk.Now(), store.Subscription{ChatID: 777})
	return err == nil
}

type sub struct {
	thread   int64
	route    string
	matchers []string
}

func sameSubs(a, b []sub) bool {
	return slices.EqualFunc(a, b, func(x, y sub) bool {
		return x.thread == y.thread && x.route == y.route && slices.Equal(x.matchers, y.matchers)
	})
}

// Message builders.

func privateMsg(text string) telegram.Message {
	return telegram.Message{MessageID: 1, From: &alice, Date: t0.Unix(), Text: text,
		Chat: telegram.Chat{ID: privateChat, Type: telegram.ChatPrivate, FirstName: "Alice", Username: "alice"}}
}

func groupMsg(text string) telegram.Message {
	return telegram.Message{MessageID: 1, From: &bob, Date: t0.Unix(), Text: text,
		Chat: telegram.Chat{ID: groupChat, Type: telegram.ChatGroup, Title: "Oncall"}}
}

// forumMsg is a message in the forum outside topics (thread 0) or, with a
// thread, in that topic.
func forumMsg(thread int64, text string) telegram.Message {
	m := telegram.Message{MessageID: 1, From: &alice, Date: t0.Unix(), Text: text,
		Chat: telegram.Chat{ID: forumChat, Type: telegram.ChatSupergroup, Title: "Ops", IsForum: true}}
	if thread != 0 {
		m.IsTopicMessage, m.MessageThreadID = true, thread
	}
	return m
}
