package bot_test

import (
	"context"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/testutil"
)

var (
	tgAlice   = testutil.User{ID: alice.ID, FirstName: alice.FirstName, Username: alice.Username}
	tgPrivate = testutil.Chat{ID: privateChat, Type: "private"}
)

// startPoll runs Poll in a goroutine; stop cancels it and returns what Poll
// returned. It also runs at cleanup, so no Poll outlives its test.
func startPoll(t *testing.T, h *harness) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.bot.Poll(ctx, h.client) }()
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
	// handled, cursor included.
	if c := h.cursor(t); c < u1 {
		t.Errorf("cursor = %d after u1 = %d was handled and u2 fetched", c, u1)
	}
	if err := stop(); err != nil {
		t.Errorf("Poll = %v, want nil after cancel", err)
	}

	calls := h.fake.Calls("")
	if len(calls) == 0 || calls[0].Method != "deleteWebhook" {
		t.Fatalf("first call %+v, want deleteWebhook", calls[:min(1, len(calls))])
	}
	offs := offsets(t, calls)
	if offs[0] != 1 {
		t.Errorf("first getUpdates offset = %d, want 1 (empty cursor + 1)", offs[0])
	}
	if !slices.IsSorted(offs) {
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

	// A restarted poller resumes from the stored cursor: u1 is not handled
	// again.
	before := len(h.fake.Calls("getUpdates"))
	startPoll(t, h)
	u3 := int64(h.fake.InjectMessage(tgPrivate, tgAlice, "/status"))
	// u2 may come again: the cancel can land between its reply and the
	// cursor write, and then it was rightly not confirmed.
	got = waitReply(t, h, privateChat, "• oncall")
	for _, m := range got[2:] {
		if strings.Contains(m.Text, "Subscribed") || strings.Contains(m.Text, "already used") {
			t.Errorf("u1 handled again after restart: %q", m.Text)
		}
	}
	for _, o := range offsets(t, h.fake.Calls("getUpdates")[before:]) {
		if o <= u1 || o > u3+1 {
			t.Errorf("restarted poller sent offset %d, want within (%d, %d]", o, u1, u3+1)
		}
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

func TestPollWithoutStore(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.bot.Poll(t.Context(), h.client); err == nil || !strings.Contains(err.Error(), "update cursor") {
		t.Errorf("Poll with a closed store = %v, want the cursor error", err)
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
