package bot_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/alertmanager"
	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

// recordingSilencer is an in-memory Alertmanager API for the bot's unit
// tests; the end-to-end tests use the real Alertmanager. create may
// replace CreateSilence (to fail or block).
type recordingSilencer struct {
	mu       sync.Mutex
	silences []alertmanager.Silence
	expired  []string
	firing   []alertmanager.Alert // what Alerts lists
	extra    []alertmanager.Silence
	create   func(ctx context.Context, s alertmanager.Silence) (string, error)
}

func (r *recordingSilencer) CreateSilence(ctx context.Context, s alertmanager.Silence) (string, error) {
	if r.create != nil {
		return r.create(ctx, s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s.ID = fmt.Sprintf("sil-%d", len(r.silences)+1)
	r.silences = append(r.silences, s)
	return s.ID, nil
}

func (r *recordingSilencer) ExpireSilence(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expired = append(r.expired, id)
	return nil
}

func (r *recordingSilencer) GetSilence(_ context.Context, id string) (alertmanager.Silence, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.silences {
		if s.ID == id {
			s.State = alertmanager.StateActive
			return s, nil
		}
	}
	return alertmanager.Silence{}, alertmanager.ErrSilenceNotFound
}

// Silences lists what was created, active until expired, and the
// silences typed in "by hand" (extra).
func (r *recordingSilencer) Silences(context.Context, []string) ([]alertmanager.Silence, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []alertmanager.Silence
	for _, s := range slices.Concat(r.silences, r.extra) {
		s.State = alertmanager.StateActive
		if slices.Contains(r.expired, s.ID) {
			s.State = alertmanager.StateExpired
		}
		out = append(out, s)
	}
	return out, nil
}

func (r *recordingSilencer) Alerts(context.Context, alertmanager.AlertsQuery) ([]alertmanager.Alert, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firing, nil
}

func (r *recordingSilencer) created() []alertmanager.Silence {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alertmanager.Silence(nil), r.silences...)
}

// buttonsHarness is a bot with Actions on route "oncall", a message with
// buttons already sent to forumChat.
type buttonsHarness struct {
	*harness
	sil     *recordingSilencer
	actions *bot.Actions
	msg     telegram.Message
}

func newButtonsHarness(t *testing.T, ra bot.RouteActions, sil *recordingSilencer, answerWithin time.Duration) *buttonsHarness {
	t.Helper()
	h := &buttonsHarness{harness: newHarness(t, harnessOpts{}), sil: sil}
	ra.Ack, ra.Silence = true, true
	if ra.SilenceDurations == nil {
		ra.SilenceDurations = []time.Duration{time.Hour}
	}
	ra.AckDuration = 15 * time.Minute
	h.actions = bot.NewActions(h.client, h.st, bot.ActionsConfig{
		Routes:       map[string]bot.RouteActions{"oncall": ra},
		StaticRoutes: map[int64][]string{forumChat: {"oncall"}},
		Silencer:     func(string, string) (bot.Silencer, bool) { return sil, true },
		CallbackTTL:  time.Hour,
		AnswerWithin: answerWithin,
		Now:          h.clk.Now,
	}, slogFor(t), nil)
	h.bot.UseActions(h.actions)
	t.Cleanup(h.actions.Wait)

	g := &alert.Group{Source: alert.SourceAlertmanager, Route: "oncall", GroupKey: "g", Status: alert.StatusFiring,
		Alerts: []alert.Alert{{Status: alert.StatusFiring, Labels: map[string]string{"alertname": "Disk", "instance": "db-1"}}}}
	kb, onSent := h.actions.Keyboard(t.Context(), "oncall", store.Target{ChatID: forumChat}, g)
	if kb == nil || onSent == nil {
		t.Fatal("no keyboard for a firing alert on a route with buttons")
	}
	msg, err := h.client.SendMessage(t.Context(), telegram.SendMessageParams{ChatID: forumChat, Text: "Disk on db-1", ReplyMarkup: kb})
	if err != nil {
		t.Fatal(err)
	}
	onSent(t.Context(), msg.MessageID, renderPlain("Disk on db-1"), false, "")
	h.msg = msg
	return h
}

// press delivers a press by user on message messageID of the forum chat,
// whose keyboard is h.msg's, and returns the answer.
func (h *buttonsHarness) press(t *testing.T, user telegram.User, messageID int64, data string) testutil.Answer {
	t.Helper()
	chat := testutil.Chat{ID: forumChat, Type: "supergroup", Title: "Ops", IsForum: true}
	return h.pressIn(t, chat, user, messageID, data, h.msg.ReplyMarkup)
}

// pressIn delivers a press by user on message messageID of chat, showing
// markup, and returns the answer.
func (h *buttonsHarness) pressIn(t *testing.T, chat testutil.Chat, user telegram.User, messageID int64, data string,
	markup *telegram.InlineKeyboardMarkup) testutil.Answer {
	t.Helper()
	id := h.fake.InjectCallback(chat, testutil.User{ID: user.ID, FirstName: user.FirstName, Username: user.Username}, messageID, data)
	u := h.nextUpdate()
	u.CallbackQuery = &telegram.CallbackQuery{ID: id, From: user, Data: data,
		Message: &telegram.Message{MessageID: messageID, Chat: telegram.Chat{ID: chat.ID, Type: chat.Type, Title: chat.Title}, ReplyMarkup: markup}}
	before := len(h.fake.Calls("answerCallbackQuery"))
	if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
		t.Fatalf("HandleUpdate: %v", err)
	}
	h.fake.WaitCalls(t, "answerCallbackQuery", before+1, waitFor)
	for _, a := range h.fake.Answers() {
		if a.CallbackQueryID == id {
			return a
		}
	}
	t.Fatalf("press %q was not answered successfully; calls %+v", data, h.fake.Calls("answerCallbackQuery"))
	return testutil.Answer{}
}

func (h *buttonsHarness) button(t *testing.T, text string) string {
	t.Helper()
	for _, row := range h.msg.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if strings.Contains(b.Text, text) {
				return b.CallbackData
			}
		}
	}
	t.Fatalf("no %q button in %+v", text, h.msg.ReplyMarkup)
	return ""
}

func TestButtonsChatAdminsOnly(t *testing.T) {
	sil := &recordingSilencer{}
	h := newButtonsHarness(t, bot.RouteActions{ChatAdmins: true}, sil, time.Minute)
	h.fake.SetChatMember(forumChat, testutil.User{ID: alice.ID, FirstName: alice.FirstName, Username: alice.Username}, "administrator")
	h.fake.SetChatMember(forumChat, testutil.User{ID: bob.ID, FirstName: bob.FirstName}, "member")

	if a := h.press(t, bob, h.msg.MessageID, h.button(t, "Ack")); !a.ShowAlert || !strings.Contains(a.Text, "not allowed") {
		t.Errorf("a plain member's press answered %+v, want 'not allowed'", a)
	}
	if n := len(sil.created()); n != 0 {
		t.Fatalf("%d silences after a refused press", n)
	}
	if a := h.press(t, alice, h.msg.MessageID, h.button(t, "Ack")); a.ShowAlert || !strings.Contains(a.Text, "Acked") {
		t.Errorf("the admin's press answered %+v", a)
	}
	got := sil.created()
	if len(got) != 1 || got[0].CreatedBy != "@alice" || !strings.HasPrefix(got[0].Comment, "ACK") ||
		fmt.Sprint(got[0].Matchers) != fmt.Sprint(alertmanager.MatchersFromLabels(map[string]string{"alertname": "Disk", "instance": "db-1"})) {
		t.Errorf("silences %+v", got)
	}
	if calls := h.fake.Calls("getChatMember"); len(calls) != 2 {
		t.Errorf("getChatMember called %d times, want once per user (cached)", len(calls))
	}
}

func TestButtonsExpiredForeignAndFailures(t *testing.T) {
	amDown := &url.Error{Op: "Post", URL: "http://127.0.0.1:19093/api/v2/silences",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}
	sil := &recordingSilencer{create: func(context.Context, alertmanager.Silence) (string, error) { return "", amDown }}
	h := newButtonsHarness(t, bot.RouteActions{}, sil, time.Minute)
	ack := h.button(t, "Ack")

	// An id used on another message is refused as if unknown.
	if a := h.press(t, alice, h.msg.MessageID+1, ack); !strings.Contains(a.Text, "expired") {
		t.Errorf("button on another message answered %+v", a)
	}
	// Alertmanager failing: the presser sees a short cause and a reference,
	// not the internal address; the message is unchanged.
	if a := h.press(t, alice, h.msg.MessageID, ack); !a.ShowAlert || !strings.Contains(a.Text, "Alertmanager is unreachable") ||
		!strings.Contains(a.Text, "ref ") || strings.Contains(a.Text, "127.0.0.1") || strings.Contains(a.Text, "dial") {
		t.Errorf("press with Alertmanager down answered %+v", a)
	}
	if edits := h.fake.Edits(); len(edits) != 0 {
		t.Errorf("message edited after a failed action: %+v", edits)
	}
	// After the callback lifetime every button answers "expired".
	h.clk.Advance(2 * time.Hour)
	if a := h.press(t, alice, h.msg.MessageID, ack); !strings.Contains(a.Text, "expired") {
		t.Errorf("old button answered %+v", a)
	}
}

// A slow Alertmanager does not keep the presser waiting: the press is
// answered first, the outcome then shows in the message.
func TestButtonsSlowAlertmanagerAnsweredFirst(t *testing.T) {
	release := make(chan struct{})
	inner := &recordingSilencer{}
	sil := &recordingSilencer{create: func(ctx context.Context, s alertmanager.Silence) (string, error) {
		<-release
		return inner.CreateSilence(ctx, s)
	}}
	h := newButtonsHarness(t, bot.RouteActions{}, sil, time.Millisecond)
	if a := h.press(t, alice, h.msg.MessageID, h.button(t, "Ack")); !strings.Contains(a.Text, "Working") {
		t.Fatalf("slow press answered %+v, want 'Working on it'", a)
	}
	close(release)
	h.fake.WaitCalls(t, "editMessageText", 1, waitFor)
	var edited string
	for _, e := range h.fake.Edits() {
		if e.Method == "editMessageText" {
			edited = e.ParsedText
		}
	}
	if !strings.Contains(edited, "Acked by @alice") || !strings.Contains(edited, "Disk on db-1") {
		t.Errorf("message after the slow ack:\n%s", edited)
	}
}

func slogFor(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func renderPlain(text string) render.Message {
	return render.Message{Text: text, ParseMode: render.Plain}
}

// An ack lives as long as its alert fires: extended when less than half is
// left, expired (and the message says so) once Alertmanager stops listing
// the alert.
func TestAckExtendedWhileFiringExpiredWhenResolved(t *testing.T) {
	sil := &recordingSilencer{firing: []alertmanager.Alert{{Labels: map[string]string{"alertname": "Disk", "instance": "db-1"}}}}
	h := newButtonsHarness(t, bot.RouteActions{}, sil, time.Minute)
	h.press(t, alice, h.msg.MessageID, h.button(t, "Ack"))
	h.actions.Wait()                   // the message shows the ack
	h.actions.RefreshAcks(t.Context()) // 15 minutes left: nothing to do
	if n := len(sil.created()); n != 1 {
		t.Fatalf("%d silences after a refresh with time left, want 1", n)
	}
	h.clk.Advance(10 * time.Minute)
	h.actions.RefreshAcks(t.Context())
	got := sil.created()
	if len(got) != 2 {
		t.Fatalf("after 10 minutes: silences %+v, want the ack updated to end at now+15m", got)
	}
	if !got[1].EndsAt.Equal(t0.Add(25 * time.Minute)) {
		t.Errorf("extended ack ends %v, want %v", got[1].EndsAt, t0.Add(25*time.Minute))
	}
	sil.mu.Lock()
	sil.firing = nil
	sil.mu.Unlock()
	h.actions.RefreshAcks(t.Context())
	sil.mu.Lock()
	expired := append([]string(nil), sil.expired...)
	sil.mu.Unlock()
	if len(expired) != 1 || expired[0] != "sil-2" {
		t.Fatalf("expired %v, want the extended ack sil-2", expired)
	}
	var last string
	for _, e := range h.fake.Edits() {
		last = e.ParsedText
	}
	if !strings.Contains(last, "resolved; ack ended") {
		t.Errorf("message after the ack ended:\n%s", last)
	}
	h.actions.RefreshAcks(t.Context()) // nothing acked any more
	if n := len(sil.expired); n != 1 {
		t.Errorf("expired %d times, want once", n)
	}
}

// lastEdit returns the text of the last edit of message id in chat.
func lastEdit(h *buttonsHarness, chat, id int64) (text string, kb *testutil.InlineKeyboardMarkup, ok bool) {
	for _, e := range h.fake.Edits() {
		if e.ChatID == chat && e.MessageID == id {
			text, kb, ok = e.ParsedText, e.ReplyMarkup, true
		}
	}
	return text, kb, ok
}

// An ack pressed in one chat shows in every chat the group was sent to,
// with that chat's own buttons, and stays one ack: extended once and
// expired once for all of them.
func TestAckShownInEveryChatOfTheGroup(t *testing.T) {
	sil := &recordingSilencer{firing: []alertmanager.Alert{{Labels: map[string]string{"alertname": "Disk", "instance": "db-1"}}}}
	h := newButtonsHarness(t, bot.RouteActions{}, sil, time.Minute)
	g := &alert.Group{Source: alert.SourceAlertmanager, Route: "oncall", GroupKey: "g", Status: alert.StatusFiring,
		Alerts: []alert.Alert{{Status: alert.StatusFiring, Labels: map[string]string{"alertname": "Disk", "instance": "db-1"}}}}
	kb, onSent := h.actions.Keyboard(t.Context(), "oncall", store.Target{ChatID: privateChat}, g)
	private, err := h.client.SendMessage(t.Context(), telegram.SendMessageParams{ChatID: privateChat, Text: "Disk on db-1", ReplyMarkup: kb})
	if err != nil {
		t.Fatal(err)
	}
	onSent(t.Context(), private.MessageID, renderPlain("Disk on db-1"), false, "")

	h.press(t, alice, h.msg.MessageID, h.button(t, "Ack"))
	h.actions.Wait() // the messages are edited after the presser has the answer
	text, mirrored, ok := lastEdit(h, privateChat, private.MessageID)
	if !ok || !strings.Contains(text, "Acked by @alice") {
		t.Fatalf("the private chat's message was not edited to show the ack: %q", text)
	}
	var ids []string
	for _, row := range mirrored.InlineKeyboard {
		for _, b := range row {
			ids = append(ids, b.CallbackData)
			if strings.Contains(b.Text, "Ack") && !strings.Contains(b.Text, "Unack") {
				t.Errorf("acked message in the other chat still offers %q", b.Text)
			}
		}
	}
	if len(ids) == 0 {
		t.Fatal("the mirrored message has no buttons")
	}
	for _, own := range h.msg.ReplyMarkup.InlineKeyboard[0] {
		if slices.Contains(ids, own.CallbackData) {
			t.Errorf("button %q is shared between the two messages", own.CallbackData)
		}
	}

	h.clk.Advance(10 * time.Minute)
	h.actions.RefreshAcks(t.Context())
	if n := len(sil.created()); n != 2 {
		t.Fatalf("%d silences after the refresh, want 2 (the ack, extended once for both messages)", n)
	}
	sil.mu.Lock()
	sil.firing = nil
	sil.mu.Unlock()
	h.actions.RefreshAcks(t.Context())
	sil.mu.Lock()
	expired := slices.Clone(sil.expired)
	sil.mu.Unlock()
	if !slices.Equal(expired, []string{"sil-2"}) {
		t.Fatalf("expired %v, want the extended ack sil-2, once", expired)
	}
	for _, m := range []telegram.Message{h.msg, private} {
		if text, _, _ := lastEdit(h, m.Chat.ID, m.MessageID); !strings.Contains(text, "resolved; ack ended") {
			t.Errorf("chat %d after the ack ended: %q", m.Chat.ID, text)
		}
	}
}
