package bot_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

var (
	tgAlice   = testutil.User{ID: alice.ID, FirstName: alice.FirstName, Username: alice.Username}
	tgPrivate = testutil.Chat{ID: privateChat, Type: "private"}
)

// startPoll runs the harness bot's Poll on the fake in a goroutine; stop
// cancels it and returns what Poll returned. It also runs at cleanup, so no
// Poll outlives its test.
func startPoll(t *testing.T, h *harness) (stop func() error) {
	t.Helper()
	return startPollWith(t, h.bot, h.client)
}

// startPollWith is startPoll for any bot and Bot API.
func startPollWith(t *testing.T, b *bot.Bot, api bot.UpdatesAPI) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Poll(ctx, api) }()
	var (
		once sync.Once
		err  error
	)
	stop = func() error {
		once.Do(func() {
			cancel()
			timer := time.NewTimer(waitFor)
			defer timer.Stop()
			select {
			case err = <-done:
			case <-timer.C:
				t.Errorf("Poll did not return within %v of cancel", waitFor)
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// offset is the offset a getUpdates call sent (0 when omitted).
func offset(t *testing.T, c testutil.Call) int64 {
	t.Helper()
	s, ok := c.Params["offset"]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("getUpdates offset %q: %v", s, err)
	}
	return n
}

func offsets(t *testing.T, calls []testutil.Call) []int64 {
	t.Helper()
	var out []int64
	for _, c := range calls {
		if c.Method == "getUpdates" {
			out = append(out, offset(t, c))
		}
	}
	return out
}

func TestPollConfirmsUpdatesOnlyAfterHandling(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	l := h.link(t, bot.LinkRequest{Route: "oncall"})
	stop := startPoll(t, h)

	u1 := int64(h.fake.InjectMessage(tgPrivate, tgAlice, "/start "+l.Token))
	got := h.fake.WaitMessagesIn(t, privateChat, 1, waitFor)
	if !strings.Contains(got[0].Text, `route "oncall"`) {
		t.Errorf("welcome = %q", got[0].Text)
	}
	h.fake.InjectMessage(tgPrivate, tgAlice, "/help")
	got = h.fake.WaitMessagesIn(t, privateChat, 2, waitFor)
	if !strings.Contains(got[1].Text, "/start TOKEN") {
		t.Errorf("help = %q", got[1].Text)
	}
	// The getUpdates that brought u2 confirmed u1, and came after u1 was
	// handled and recorded.
	if !h.handled(t, u1) {
		t.Errorf("u1 = %d not recorded as handled after u2 was fetched", u1)
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v, want nil after cancel", err)
	}

	calls := h.fake.Calls("")
	if len(calls) == 0 || calls[0].Method != "deleteWebhook" {
		t.Fatalf("first call %+v, want deleteWebhook", calls[:min(1, len(calls))])
	}
	offs := offsets(t, calls)
	if offs[0] != 0 {
		t.Errorf("first getUpdates offset = %d, want none: Telegram resends what is unconfirmed", offs[0])
	}
	// 0 (none) follows a poll that timed out empty; the others confirm.
	if confirming := slices.DeleteFunc(slices.Clone(offs), func(o int64) bool { return o == 0 }); !slices.IsSorted(confirming) {
		t.Errorf("getUpdates offsets went back: %v", offs)
	}
	if !slices.Contains(offs, u1+1) {
		t.Errorf("getUpdates offsets %v never confirmed u1 = %d", offs, u1)
	}
	welcome := slices.IndexFunc(calls, func(c testutil.Call) bool {
		return c.Method == "sendMessage" && strings.Contains(c.Params["text"], "Subscribed")
	})
	if welcome < 0 {
		t.Fatal("no welcome sendMessage recorded")
	}
	for _, c := range calls[:welcome] {
		if c.Method == "getUpdates" && offset(t, c) > u1 {
			t.Errorf("getUpdates confirmed u1 (offset %d) before its reply was sent", offset(t, c))
		}
	}
	for _, c := range h.fake.Calls("getUpdates") {
		if c.Params["timeout"] != strconv.Itoa(int(bot.PollTimeout/time.Second)) ||
			c.Params["allowed_updates"] != `["message","callback_query","my_chat_member"]` {
			t.Errorf("getUpdates params = %v", c.Params)
			break
		}
	}

	// A restarted poller asks for the unconfirmed updates; u1, handled and
	// recorded, is not handled again.
	before := len(h.fake.Calls("getUpdates"))
	startPoll(t, h)
	u3 := int64(h.fake.InjectMessage(tgPrivate, tgAlice, "/status"))
	// u2 may be handled again: the cancel can land between its reply and
	// its record, and then it was rightly not confirmed.
	got = waitReply(t, h, privateChat, "• oncall")
	for _, m := range got[2:] {
		if strings.Contains(m.Text, "Subscribed") || strings.Contains(m.Text, "already used") {
			t.Errorf("u1 handled again after restart: %q", m.Text)
		}
	}
	// The first poller's last getUpdates, cancelled, may be recorded after
	// before was taken; its offset is in range too.
	restarted := offsets(t, h.fake.Calls("getUpdates")[before:])
	if !slices.Contains(restarted, 0) {
		t.Errorf("restarted poller sent offsets %v, want none (0) first", restarted)
	}
	for _, o := range restarted {
		if o != 0 && (o <= u1 || o > u3+1) {
			t.Errorf("restarted poller sent offset %d, want within (%d, %d]", o, u1, u3+1)
		}
	}
}

// A process that handled updates and stopped before confirming them (a
// crash, or a stop between handling and the next getUpdates) leaves them
// unconfirmed: the next process gets them again from getUpdates without an
// offset, and skips them because the store recorded them.
func TestRestartedPollerSkipsHandledUnconfirmedUpdates(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	l := h.link(t, bot.LinkRequest{Route: "oncall"})
	var handled []int64
	for _, text := range []string{"/start " + l.Token, "/help"} {
		id := int64(h.fake.InjectMessage(tgPrivate, tgAlice, text))
		u := h.update(privateMsg(text))
		u.UpdateID = id
		if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		handled = append(handled, id)
	}
	h.fake.WaitMessagesIn(t, privateChat, 2, waitFor)

	restarted := bot.New(h.client, openStore(t, h.dbPath, nil), bot.Options{Now: h.clk.Now},
		slog.New(slog.NewTextHandler(t.Output(), nil)), nil)
	restarted.SetUsername(botName)
	stop := startPollWith(t, restarted, h.client)
	// The first getUpdates answers at once with the two unconfirmed updates.
	h.fake.WaitCalls(t, "getUpdates", 1, waitFor)
	h.fake.InjectMessage(tgPrivate, tgAlice, "/status")
	got := waitReply(t, h, privateChat, "• oncall")
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	if len(got) != 3 {
		t.Errorf("chat got %d messages, want 3 (welcome, help, status): %+v", len(got), got)
	}
	// The second getUpdates, which brought /status, confirmed them.
	if offs := offsets(t, h.fake.Calls("getUpdates")); len(offs) < 2 || offs[0] != 0 || offs[1] != handled[1]+1 {
		t.Errorf("getUpdates offsets %v, want none, then %d (confirming %v)", offs, handled[1]+1, handled)
	}
}

// waitReply waits until a message in chat contains substr and returns the
// chat's messages up to it.
func waitReply(t *testing.T, h *harness, chat int64, substr string) []testutil.Message {
	t.Helper()
	for n := 1; ; n++ {
		got := h.fake.WaitMessagesIn(t, chat, n, waitFor)
		if strings.Contains(got[n-1].Text, substr) {
			return got[:n]
		}
	}
}

func TestPollRetriesAFailedUpdate(t *testing.T) {
	var redeems atomic.Int32
	h := newHarness(t, harnessOpts{wrap: func(s store.Store) bot.Store {
		return &faultyStore{Store: s, redeem: func(ctx context.Context, token string, now time.Time, sub store.Subscription) (store.Subscription, error) {
			if redeems.Add(1) == 1 {
				return store.Subscription{}, store.ErrNotFound // a store failure, not a refusal
			}
			return s.RedeemLinkToken(ctx, token, now, sub)
		}}
	}})
	l := h.link(t, bot.LinkRequest{Route: "oncall"})
	stop := startPoll(t, h)

	u1 := int64(h.fake.InjectMessage(tgPrivate, tgAlice, "/start "+l.Token))
	got := h.fake.WaitMessagesIn(t, privateChat, 1, waitFor)
	if !strings.Contains(got[0].Text, "Subscribed") {
		t.Errorf("reply after the retry = %q, want the welcome", got[0].Text)
	}
	if n := redeems.Load(); n != 2 {
		t.Errorf("RedeemLinkToken called %d times, want 2 (fail, retry)", n)
	}
	// Both deliveries of u1 came from getUpdates calls that had not
	// confirmed it.
	var delivering int
	for _, o := range offsets(t, h.fake.Calls("getUpdates")) {
		if o <= u1 {
			delivering++
		}
	}
	if delivering < 2 {
		t.Errorf("only %d getUpdates calls left u1 unconfirmed; the failed update was confirmed", delivering)
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	if n := len(h.fake.MessagesIn(privateChat)); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
	checkSubs(t, h, privateChat, []sub{{route: "oncall"}})
}

func TestPollSurvivesAPIErrors(t *testing.T) {
	tests := []struct {
		method, description string
		code                int
		wantLog             string
	}{
		{method: "getUpdates", code: 409, wantLog: "getUpdates conflict",
			description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"},
		{method: "getUpdates", code: 502, description: "Bad Gateway", wantLog: "getUpdates failed; retrying"},
		{method: "deleteWebhook", code: 500, description: "Internal Server Error", wantLog: "deleteWebhook failed"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+strconv.Itoa(tt.code), func(t *testing.T) {
			var logs testutil.SyncBuffer
			h := newHarness(t, harnessOpts{log: io.MultiWriter(&logs, t.Output())})
			h.fake.FailNext(tt.method, tt.code, tt.description, 0)
			stop := startPoll(t, h)

			failed := h.fake.WaitCalls(t, tt.method, 1, waitFor)[0]
			if failed.Status != tt.code {
				t.Fatalf("first %s answered %d, want the canned %d", tt.method, failed.Status, tt.code)
			}
			h.fake.InjectMessage(tgPrivate, tgAlice, "/help")
			h.fake.WaitMessagesIn(t, privateChat, 1, waitFor)
			if err := stop(); err != nil {
				t.Errorf("Poll = %v", err)
			}
			out := logs.String()
			if !strings.Contains(out, tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, out)
			}
			if strings.Contains(out, h.fake.Token()) {
				t.Error("log contains the bot token")
			}
		})
	}
}

// With the store down, Poll keeps retrying the update, confirming nothing,
// until ctx ends.
func TestPollWithoutStore(t *testing.T) {
	var logs testutil.SyncBuffer
	h := newHarness(t, harnessOpts{log: io.MultiWriter(&logs, t.Output())})
	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}
	stop := startPoll(t, h)
	u := int64(h.fake.InjectMessage(tgPrivate, tgAlice, "/help"))
	// The second answered getUpdates is the retry after the first failure
	// at the latest.
	h.fake.WaitCalls(t, "getUpdates", 2, waitFor)
	if err := stop(); err != nil {
		t.Errorf("Poll = %v, want nil after cancel", err)
	}
	for _, o := range offsets(t, h.fake.Calls("getUpdates")) {
		if o > u {
			t.Errorf("getUpdates offset %d confirmed update %d, which was never handled", o, u)
		}
	}
	if got := h.fake.Messages(); len(got) != 0 {
		t.Errorf("bot replied without a store: %+v", got)
	}
	if !strings.Contains(logs.String(), "handling update failed; will retry") {
		t.Errorf("log lacks the failed update:\n%s", logs.String())
	}
}

func TestRegisterWebhook(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if err := h.bot.RegisterWebhook(t.Context(), h.client, "https://alerts.example.com/telegram/webhook", "s3cret_-X"); err != nil {
		t.Fatal(err)
	}
	c := h.fake.Calls("setWebhook")[0]
	want := map[string]string{
		"url": "https://alerts.example.com/telegram/webhook", "secret_token": "s3cret_-X", "max_connections": "1",
		"allowed_updates": `["message","callback_query","my_chat_member"]`,
	}
	for k, v := range want {
		if c.Params[k] != v {
			t.Errorf("setWebhook %s = %q, want %q", k, c.Params[k], v)
		}
	}
}

// The Bot API documents (Update.update_id) that "if there are no new
// updates for at least a week, then identifier of the next update will be
// chosen randomly instead of sequentially". A cursor of the highest id
// handled would drop every update with a lower id as a duplicate, so after
// a quiet week the bot could ignore every update (and Poll confirm them)
// until ids passed the old cursor. A quiet week is normal for an alert bot.
func TestUpdateIDsRestartAfterAQuietWeek(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	old := h.handle(t, privateMsg("/help"))
	h.clk.Set(t0.Add(8 * 24 * time.Hour))
	u := h.update(privateMsg("/status"))
	u.UpdateID = old.UpdateID - 1000 // the random restart happened to land lower
	if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	checkReply(t, h, privateChat, 0, 1, []string{"no subscriptions"}, nil)
	if !h.handled(t, u.UpdateID) {
		t.Errorf("update %d not recorded as handled", u.UpdateID)
	}
	// The ids of before the quiet week are gone, so a new id equal to
	// one of them would be handled too.
	if h.handled(t, old.UpdateID) {
		t.Errorf("update %d, handled 8 days ago, still recorded", old.UpdateID)
	}
}

// The random restart may even land on an id handled before the quiet
// week: the ids older than HandledUpdateRetention are pruned before the
// lookup, so it is still handled.
func TestUpdateIDRepeatedAfterAQuietWeek(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	old := h.handle(t, privateMsg("/help"))
	h.clk.Set(t0.Add(8 * 24 * time.Hour))
	u := h.update(privateMsg("/status"))
	u.UpdateID = old.UpdateID
	if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	checkReply(t, h, privateChat, 0, 1, []string{"no subscriptions"}, nil)
}

// docUpdates is a getUpdates server that follows the Bot API documentation
// to the letter: "an update is considered confirmed as soon as getUpdates
// is called with an offset higher than its update_id", and without an
// offset the unconfirmed updates come back. Tests choose the update ids
// (push) and end a waiting long poll empty (expire), as its timeout would.
type docUpdates struct {
	mu      sync.Mutex
	queue   []telegram.Update
	offsets []int64       // of every call, on arrival
	expired int           // expire calls so far
	changed chan struct{} // closed and replaced on every change
}

var _ bot.UpdatesAPI = (*docUpdates)(nil)

func newDocUpdates() *docUpdates { return &docUpdates{changed: make(chan struct{})} }

// notify wakes waiters; call with d.mu held.
func (d *docUpdates) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *docUpdates) GetUpdates(ctx context.Context, p telegram.GetUpdatesParams) ([]telegram.Update, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.offsets = append(d.offsets, p.Offset)
	if p.Offset != 0 {
		d.queue = slices.DeleteFunc(d.queue, func(u telegram.Update) bool { return u.UpdateID < p.Offset })
	}
	d.notify()
	expired := d.expired
	for len(d.queue) == 0 && d.expired == expired {
		changed := d.changed
		d.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
		}
		d.mu.Lock()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return slices.Clone(d.queue), nil
}

func (d *docUpdates) DeleteWebhook(context.Context, bool) error { return nil }

func (d *docUpdates) SetWebhook(context.Context, telegram.SetWebhookParams) error { return nil }

func (d *docUpdates) push(u telegram.Update) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queue = append(d.queue, u)
	d.notify()
}

// expire ends the waiting getUpdates calls with no updates.
func (d *docUpdates) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expired++
	d.notify()
}

// waitCalls waits until n getUpdates calls arrived and returns the offsets
// of every call so far.
func (d *docUpdates) waitCalls(t *testing.T, n int) []int64 {
	t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.offsets) < n {
		changed := d.changed
		d.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			d.mu.Lock()
			t.Fatalf("%d getUpdates calls within %v, want %d; offsets %v", len(d.offsets), waitFor, n, d.offsets)
		}
		d.mu.Lock()
	}
	return slices.Clone(d.offsets)
}

// A poller running through a quiet week must not confirm the restarted
// ids with the offset it had before: it polls without an offset once a
// poll came back empty.
func TestPollAcrossAQuietWeek(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	srv := newDocUpdates()
	stop := startPollWith(t, h.bot, srv)

	before := h.update(privateMsg("/help"))
	before.UpdateID = 5000
	srv.push(before)
	h.fake.WaitMessagesIn(t, privateChat, 1, waitFor)
	srv.waitCalls(t, 2) // the one that brought 5000, then one that confirms it and waits
	srv.expire()        // a week of empty polls
	offs := srv.waitCalls(t, 3)
	if want := []int64{0, 5001, 0}; !slices.Equal(offs, want) {
		t.Fatalf("getUpdates offsets %v, want %v: none at first, 5001 confirming 5000, none after an empty poll", offs, want)
	}
	h.clk.Set(t0.Add(8 * 24 * time.Hour))

	after := h.update(privateMsg("/status"))
	after.UpdateID = 17 // the random restart landed lower
	srv.push(after)
	got := waitReply(t, h, privateChat, "no subscriptions")
	offs = srv.waitCalls(t, 4)
	if err := stop(); err != nil {
		t.Errorf("Poll = %v", err)
	}
	if len(got) != 2 {
		t.Errorf("chat got %d messages, want 2 (help, status): %+v", len(got), got)
	}
	if offs[3] != 18 {
		t.Errorf("getUpdates offsets %v, want 18 fourth, confirming 17", offs)
	}
}

// Handled ids are kept HandledUpdateRetention (48 h) and then pruned, at
// most once an hour.
func TestHandledUpdatesArePruned(t *testing.T) {
	var prunes []time.Time
	var fs *faultyStore
	h := newHarness(t, harnessOpts{wrap: func(s store.Store) bot.Store {
		fs = &faultyStore{Store: s}
		fs.prune = func(ctx context.Context, before time.Time) (int, error) {
			prunes = append(prunes, before) // HandleUpdate runs on the test goroutine
			return s.PruneHandledUpdates(ctx, before)
		}
		return fs
	}})
	a := h.handle(t, privateMsg("/help")) // prunes: the first update
	h.clk.Set(t0.Add(59 * time.Minute))
	b := h.handle(t, privateMsg("/help"))
	h.clk.Set(t0.Add(time.Hour))
	c := h.handle(t, privateMsg("/help")) // prunes: an hour since the last
	h.clk.Set(t0.Add(49 * time.Hour))
	d := h.handle(t, privateMsg("/help")) // prunes what is older than t0 + 1h

	want := []time.Time{t0.Add(-48 * time.Hour), t0.Add(-47 * time.Hour), t0.Add(time.Hour)}
	if !slices.EqualFunc(prunes, want, time.Time.Equal) {
		t.Errorf("pruned before %v, want %v", prunes, want)
	}
	for _, tc := range []struct {
		u    telegram.Update
		want bool
	}{{a, false}, {b, false}, {c, true}, {d, true}} {
		if got := h.handled(t, tc.u.UpdateID); got != tc.want {
			t.Errorf("update %d recorded = %v, want %v", tc.u.UpdateID, got, tc.want)
		}
	}
	// A pruned update is handled again; the prune is not due yet.
	if err := h.bot.HandleUpdate(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if n := len(h.fake.MessagesIn(privateChat)); n != 5 {
		t.Errorf("%d replies, want 5 (a redelivery after 49 hours is a new update)", n)
	}
	if len(prunes) != 3 {
		t.Errorf("%d prunes, want 3", len(prunes))
	}
}

// A failing prune is logged, not returned: the update is handled and
// recorded, and the prune is tried again an hour later.
func TestPruneFailureIsLogged(t *testing.T) {
	var logs testutil.SyncBuffer
	var prunes int
	h := newHarness(t, harnessOpts{log: io.MultiWriter(&logs, t.Output()), wrap: func(s store.Store) bot.Store {
		return &faultyStore{Store: s, prune: func(context.Context, time.Time) (int, error) {
			prunes++
			return 0, errors.New("disk on fire")
		}}
	}})
	u := h.handle(t, privateMsg("/help"))
	checkReply(t, h, privateChat, 0, 0, []string{"/start TOKEN"}, nil)
	if !h.handled(t, u.UpdateID) {
		t.Errorf("update %d not recorded as handled", u.UpdateID)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("log lacks the prune error:\n%s", logs.String())
	}
	h.handle(t, privateMsg("/help"))
	h.clk.Set(t0.Add(time.Hour))
	h.handle(t, privateMsg("/help"))
	if prunes != 2 {
		t.Errorf("%d prunes, want 2 (at t0 and an hour later)", prunes)
	}
}

// An update handled but not recorded (the store failed at the end) is
// returned as an error, so that Telegram delivers it again.
func TestMarkFailureRetriesTheUpdate(t *testing.T) {
	injected := errors.New("disk full")
	var fs *faultyStore
	h := newHarness(t, harnessOpts{wrap: func(s store.Store) bot.Store { fs = &faultyStore{Store: s}; return fs }})
	fs.mark = func(context.Context, int64, time.Time) error { return injected }
	u := h.update(privateMsg("/status"))
	if err := h.bot.HandleUpdate(t.Context(), u); !errors.Is(err, injected) {
		t.Fatalf("HandleUpdate = %v, want the store's error", err)
	}
	if h.handled(t, u.UpdateID) {
		t.Fatalf("update %d recorded although recording failed", u.UpdateID)
	}
	fs.mark = nil
	if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if !h.handled(t, u.UpdateID) {
		t.Errorf("redelivered update %d not recorded", u.UpdateID)
	}
	if err := h.bot.HandleUpdate(t.Context(), u); err != nil { // and now it is a duplicate
		t.Fatal(err)
	}
	if n := len(h.fake.MessagesIn(privateChat)); n != 2 {
		t.Errorf("%d replies, want 2 (the failed delivery's, then the redelivery's)", n)
	}
}

// Expired link tokens are kept LinkTokenRetention, so that an old link is
// answered "expired", then pruned with the handled ids: the link is then
// unknown.
func TestExpiredLinkTokensArePruned(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	l := h.link(t, bot.LinkRequest{Route: "oncall", TTL: time.Hour})
	h.clk.Set(l.ExpiresAt.Add(bot.LinkTokenRetention)) // the first update prunes: not yet
	h.handle(t, privateMsg("/start "+l.Token))
	checkReply(t, h, privateChat, 0, 0, []string{"expired"}, nil)
	h.clk.Set(l.ExpiresAt.Add(bot.LinkTokenRetention + time.Hour)) // an hour later: prunes it
	h.handle(t, privateMsg("/start "+l.Token))
	checkReply(t, h, privateChat, 0, 1, []string{"I don't know this subscription link"}, nil)
}
