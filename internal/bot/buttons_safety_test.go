package bot_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/alertmanager"
	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

// keyButton returns the callback data of the button labelled text in kb.
func keyButton(t *testing.T, kb *testutil.InlineKeyboardMarkup, text string) string {
	t.Helper()
	if kb != nil {
		for _, row := range kb.InlineKeyboard {
			for _, b := range row {
				if strings.Contains(b.Text, text) {
					return b.CallbackData
				}
			}
		}
	}
	t.Fatalf("no %q button in %+v", text, kb)
	return ""
}

// currentKeyboard is the keyboard the message shows after the presses so
// far (their edits are done once Actions.Wait returns).
func (h *buttonsHarness) currentKeyboard(t *testing.T) *testutil.InlineKeyboardMarkup {
	t.Helper()
	h.actions.Wait()
	_, kb, ok := lastEdit(h, forumChat, h.msg.MessageID)
	if !ok {
		t.Fatal("the message was never edited")
	}
	return kb
}

// A keyboard that is replaced takes its buttons with it: a closed menu's
// durations, or the buttons of a state the message has left, answer
// "expired" and do nothing.
func TestReplacedKeyboardsRevokeTheirButtons(t *testing.T) {
	sil := &recordingSilencer{}
	h := newButtonsHarness(t, bot.RouteActions{SilenceDurations: []time.Duration{time.Hour, 4 * time.Hour}}, sil, time.Minute)
	firstAck := h.button(t, "Ack")

	h.press(t, alice, h.msg.MessageID, h.button(t, "Silence"))
	menu := h.currentKeyboard(t)
	closed4h := keyButton(t, menu, "4h")
	h.press(t, alice, h.msg.MessageID, keyButton(t, menu, "Cancel"))
	restored := h.currentKeyboard(t)

	for name, data := range map[string]string{"4h of the closed menu": closed4h, "Ack of the first keyboard": firstAck} {
		if a := h.press(t, alice, h.msg.MessageID, data); !strings.Contains(a.Text, "expired") {
			t.Errorf("%s answered %+v, want expired", name, a)
		}
	}
	if n := len(sil.created()); n != 0 {
		t.Fatalf("%d silences from revoked buttons", n)
	}

	// Silence → 1h → Unsilence: the second menu's 4h is gone too.
	h.press(t, alice, h.msg.MessageID, keyButton(t, restored, "Silence"))
	menu = h.currentKeyboard(t)
	open4h := keyButton(t, menu, "4h")
	h.press(t, alice, h.msg.MessageID, keyButton(t, menu, "1h"))
	h.press(t, alice, h.msg.MessageID, keyButton(t, h.currentKeyboard(t), "Unsilence"))
	h.actions.Wait()
	if a := h.press(t, alice, h.msg.MessageID, open4h); !strings.Contains(a.Text, "expired") {
		t.Errorf("4h of a menu closed by 1h answered %+v, want expired", a)
	}
	if got := sil.created(); len(got) != 1 || got[0].EndsAt.Sub(got[0].StartsAt) != time.Hour {
		t.Fatalf("silences %+v, want only the 1h one", got)
	}
}

// A press is checked against the route's settings of now: a route whose
// Silence button was removed, or that no longer offers a duration, refuses
// the buttons it showed before.
func TestPressCheckedAgainstCurrentConfig(t *testing.T) {
	sil := &recordingSilencer{}
	h := newButtonsHarness(t, bot.RouteActions{SilenceDurations: []time.Duration{time.Hour, 24 * time.Hour}}, sil, time.Minute)
	h.press(t, alice, h.msg.MessageID, h.button(t, "Silence"))
	menu := h.currentKeyboard(t)
	oneHour, day := keyButton(t, menu, "1h"), keyButton(t, menu, "24h")

	// Restarted with buttons: [ack].
	h.reconfigure(t, bot.RouteActions{Ack: true, AckDuration: 15 * time.Minute}, sil)
	if a := h.press(t, alice, h.msg.MessageID, day); !a.ShowAlert || !strings.Contains(a.Text, "no longer offered") {
		t.Errorf("24h after Silence was removed answered %+v", a)
	}
	// Restarted with silence_durations: [24h].
	h.reconfigure(t, bot.RouteActions{Ack: true, Silence: true, AckDuration: 15 * time.Minute,
		SilenceDurations: []time.Duration{24 * time.Hour}}, sil)
	if a := h.press(t, alice, h.msg.MessageID, oneHour); !a.ShowAlert || !strings.Contains(a.Text, "1h") {
		t.Errorf("1h after it was dropped from the durations answered %+v", a)
	}
	if n := len(sil.created()); n != 0 {
		t.Fatalf("%d silences from buttons the config no longer offers", n)
	}
	if a := h.press(t, alice, h.msg.MessageID, day); a.ShowAlert || !strings.Contains(a.Text, "Silenced for 24h") {
		t.Errorf("24h, still offered, answered %+v", a)
	}
}

// reconfigure replaces the bot's Actions with ones on route "oncall" with
// ra, on the same store: a restart with a changed config.
func (h *buttonsHarness) reconfigure(t *testing.T, ra bot.RouteActions, sil *recordingSilencer) {
	t.Helper()
	h.actions.Wait()
	h.actions = bot.NewActions(h.client, h.st, bot.ActionsConfig{
		Routes:       map[string]bot.RouteActions{"oncall": ra},
		StaticRoutes: map[int64][]string{forumChat: {"oncall"}},
		Silencer:     func(string, string) (bot.Silencer, bool) { return sil, true },
		CallbackTTL:  time.Hour,
		AnswerWithin: time.Minute,
		Now:          h.clk.Now,
	}, slogFor(t), nil)
	h.bot.UseActions(h.actions)
	t.Cleanup(h.actions.Wait)
}

var carol = telegram.User{ID: 99, FirstName: "Carol", Username: "carol"}

// /silences lists only the silences alertgram made for the chat's routes,
// from its own records; a silence whose comment merely names the route
// (typed in Alertmanager's UI, or made on route "db.prod" for a chat of
// route "db") is not listed, and an Unsilence button for a silence of
// another route is refused.
func TestSilencesListedFromRecordsAndAuthorisedByTheirRoute(t *testing.T) {
	sil := &recordingSilencer{extra: []alertmanager.Silence{{ID: "typed-by-hand", CreatedBy: "mallory",
		Comment:  `Silenced by @x from Telegram chat "Ops" (1), alertgram route db.`,
		Matchers: alertmanager.MatchersFromLabels(map[string]string{"alertname": "Typed"}), EndsAt: t0.Add(time.Hour)}}}
	h := &buttonsHarness{harness: newHarness(t, harnessOpts{}), sil: sil}
	ra := bot.RouteActions{Ack: true, Silence: true, SilenceDurations: []time.Duration{time.Hour}, AckDuration: 15 * time.Minute}
	prod := ra
	prod.AllowedUsers = []int64{carol.ID}
	h.actions = bot.NewActions(h.client, h.st, bot.ActionsConfig{
		Routes:       map[string]bot.RouteActions{"db": ra, "db.prod": prod},
		StaticRoutes: map[int64][]string{forumChat: {"db.prod"}},
		Silencer:     func(string, string) (bot.Silencer, bool) { return sil, true },
		CallbackTTL:  time.Hour, AnswerWithin: time.Minute, Now: h.clk.Now,
	}, slogFor(t), nil)
	h.bot.UseActions(h.actions)
	t.Cleanup(h.actions.Wait)
	h.subscribe(t, privateChat, 0, "db")
	pressPrivate := func(messageID int64, data string) testutil.Answer {
		t.Helper()
		return h.pressIn(t, testutil.Chat{ID: privateChat, Type: "private", FirstName: "Alice"}, alice, messageID, data, nil)
	}

	// carol silences a db.prod alert in the ops group.
	h.msg = h.sendWithButtons(t, "db.prod", forumChat, "DiskProd")
	h.press(t, carol, h.msg.MessageID, h.button(t, "Silence"))
	h.press(t, carol, h.msg.MessageID, keyButton(t, h.currentKeyboard(t), "1h"))
	h.actions.Wait()
	if got := sil.created(); len(got) != 1 {
		t.Fatalf("silences %+v, want carol's", got)
	}
	prodSilence := sil.created()[0].ID

	// alice's private chat, subscribed to db only, lists its silences.
	before := len(h.fake.MessagesIn(privateChat))
	h.handle(t, privateMsg("/silences"))
	list := h.fake.WaitMessagesIn(t, privateChat, before+1, waitFor)[before]
	if strings.Contains(list.ParsedText, "DiskProd") || strings.Contains(list.ParsedText, "Typed") || list.ReplyMarkup != nil {
		t.Fatalf("db's chat was shown another route's or a hand-typed silence: %q %+v", list.ParsedText, list.ReplyMarkup)
	}

	// An Unsilence button for carol's silence in db's chat (as the old
	// comment matching made) is refused: the silence belongs to db.prod.
	listing := store.ActionMessage{Route: "db", Source: string(alert.SourceAlertmanager), ChatID: privateChat,
		MessageID: list.MessageID, SilenceLabels: map[string]string{}, Text: list.Text, CreatedAt: t0}
	const forged = "unsilence-forged-00001"
	if _, err := h.st.SaveActionMessage(t.Context(), listing, []store.Callback{
		{ID: forged, Action: "unsilence", SilenceID: prodSilence, CreatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	a := pressPrivate(list.MessageID, forged)
	if !a.ShowAlert || !strings.Contains(a.Text, "does not belong") {
		t.Errorf("Unsilence of db.prod's silence from db's chat answered %+v", a)
	}
	h.actions.Wait()
	sil.mu.Lock()
	expired := slices.Clone(sil.expired)
	sil.mu.Unlock()
	if len(expired) != 0 {
		t.Fatalf("silences expired: %v", expired)
	}

	// alice's own db silence is listed, with a working Unsilence.
	h.msg = h.sendWithButtons(t, "db", privateChat, "Disk")
	pressPrivate(h.msg.MessageID, h.button(t, "Silence"))
	h.actions.Wait()
	_, menu, _ := lastEdit(h, privateChat, h.msg.MessageID)
	pressPrivate(h.msg.MessageID, keyButton(t, menu, "1h"))
	h.actions.Wait()
	before = len(h.fake.MessagesIn(privateChat))
	h.handle(t, privateMsg("/silences"))
	list = h.fake.WaitMessagesIn(t, privateChat, before+1, waitFor)[before]
	if !strings.Contains(list.ParsedText, "Disk") || strings.Contains(list.ParsedText, "DiskProd") || list.ReplyMarkup == nil {
		t.Fatalf("db's listing = %q %+v, want alice's silence only", list.ParsedText, list.ReplyMarkup)
	}
	a = pressPrivate(list.MessageID, keyButton(t, list.ReplyMarkup, "Unsilence"))
	if !strings.Contains(a.Text, "Silence expired") {
		t.Errorf("Unsilence of alice's own silence answered %+v", a)
	}
	h.actions.Wait()
	if again := pressPrivate(list.MessageID,
		keyButton(t, list.ReplyMarkup, "Unsilence")); !strings.Contains(again.Text, "expired") || strings.Contains(again.Text, "Silence expired") {
		t.Errorf("the pressed Unsilence button still works: %+v", again)
	}
}

// sendWithButtons sends a firing alert named alertname of route to chat,
// with the route's keyboard, as the dispatcher does.
func (h *buttonsHarness) sendWithButtons(t *testing.T, route string, chat int64, alertname string) telegram.Message {
	t.Helper()
	g := &alert.Group{Source: alert.SourceAlertmanager, Route: route, GroupKey: alertname, Status: alert.StatusFiring,
		Alerts: []alert.Alert{{Status: alert.StatusFiring, Labels: map[string]string{"alertname": alertname}}}}
	kb, onSent := h.actions.Keyboard(t.Context(), route, store.Target{ChatID: chat}, g)
	if kb == nil || onSent == nil {
		t.Fatalf("no keyboard for route %s", route)
	}
	msg, err := h.client.SendMessage(t.Context(), telegram.SendMessageParams{ChatID: chat, Text: alertname + " fires", ReplyMarkup: kb})
	if err != nil {
		t.Fatal(err)
	}
	onSent(t.Context(), msg.MessageID, renderPlain(alertname+" fires"), false, "")
	return msg
}
