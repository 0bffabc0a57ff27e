package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

const (
	chatButtons = int64(-1002000000001)
	chatMirror  = int64(700001) // a second chat of the route: shows what a press in chatButtons did
)

var (
	mallory = testutil.User{ID: 6666, FirstName: "Mallory", Username: "mallory"}
	oncall  = testutil.Chat{ID: chatButtons, Type: "supergroup", Title: "On-call"}
	// subscriber is chatMirror: a private chat, so that the story's later
	// presses there do not add to the group's 20 messages a minute.
	subscriber = testutil.Chat{ID: chatMirror, Type: "private", FirstName: "Alice"}
)

// amSilence is a silence as Alertmanager's API v2 lists it.
type amSilence struct {
	ID       string `json:"id"`
	Matchers []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex bool   `json:"isRegex"`
		IsEqual bool   `json:"isEqual"`
	} `json:"matchers"`
	CreatedBy string `json:"createdBy"`
	Comment   string `json:"comment"`
	EndsAt    string `json:"endsAt"`
	Status    struct {
		State string `json:"state"`
	} `json:"status"`
}

func silences(t *testing.T, am *testutil.Alertmanager) []amSilence {
	var out []amSilence
	am.Get(t, "/api/v2/silences", &out)
	return out
}

func activeSilences(t *testing.T, am *testutil.Alertmanager) []amSilence {
	return activeSilencesOf(silences(t, am))
}

// waitSilence polls Alertmanager (an external process) until cond holds
// for the silences, bounded.
func waitSilences(t *testing.T, am *testutil.Alertmanager, what string, cond func([]amSilence) bool) []amSilence {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if s := silences(t, am); cond(s) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("Alertmanager never had %s; silences: %+v", what, silences(t, am))
	return nil
}

// button waits for a callback button by its text on the message's
// current keyboard (the last edit's, or the one it was sent with).
func button(t *testing.T, fake *testutil.Telegram, chat, messageID int64, text string) string {
	t.Helper()
	var kb *testutil.InlineKeyboardMarkup
	var data string
	waitFor(t, fmt.Sprintf("a %q button on message %d", text, messageID), func() bool {
		kb = currentKeyboard(fake, chat, messageID)
		data = findButton(kb, text)
		return data != ""
	})
	return data
}

func currentKeyboard(fake *testutil.Telegram, chat, messageID int64) *testutil.InlineKeyboardMarkup {
	var kb *testutil.InlineKeyboardMarkup
	for _, m := range fake.MessagesIn(chat) {
		if m.MessageID == messageID {
			kb = m.ReplyMarkup
		}
	}
	for _, e := range fake.Edits() {
		if e.ChatID == chat && e.MessageID == messageID {
			kb = e.ReplyMarkup
		}
	}
	return kb
}

func findButton(kb *testutil.InlineKeyboardMarkup, text string) string {
	if kb == nil {
		return ""
	}
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			if strings.Contains(b.Text, text) && b.CallbackData != "" {
				return b.CallbackData
			}
		}
	}
	return ""
}

// press injects a button press and waits for its answer.
func press(t *testing.T, fake *testutil.Telegram, from testutil.User, messageID int64, data string) testutil.Answer {
	t.Helper()
	return pressIn(t, fake, oncall, from, messageID, data)
}

// pressIn is press in chat.
func pressIn(t *testing.T, fake *testutil.Telegram, chat testutil.Chat, from testutil.User, messageID int64, data string) testutil.Answer {
	t.Helper()
	id := fake.InjectCallback(chat, from, messageID, data)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range fake.Answers() {
			if a.CallbackQueryID == id {
				return a
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("press %s by %s was never answered", data, from.Username)
	return testutil.Answer{}
}

// waitEdit waits for an edit of the message whose text contains want.
// lastEditIn returns the last edit of message id in chat.
func lastEditIn(fake *testutil.Telegram, chat, id int64) (last testutil.Edit, ok bool) {
	for _, e := range fake.Edits() {
		if e.ChatID == chat && e.MessageID == id {
			last, ok = e, true
		}
	}
	return last, ok
}

// waitEditIn waits until the last edit of message id in chat contains want.
func waitEditIn(t *testing.T, fake *testutil.Telegram, chat, id int64, want string) testutil.Edit {
	t.Helper()
	var e testutil.Edit
	waitFor(t, fmt.Sprintf("message %d in chat %d edited to contain %q", id, chat, want), func() bool {
		var ok bool
		e, ok = lastEditIn(fake, chat, id)
		return ok && strings.Contains(e.ParsedText, want)
	})
	return e
}

func waitEdit(t *testing.T, fake *testutil.Telegram, messageID int64, want string) testutil.Edit {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		edits := fake.Edits()
		for i := len(edits) - 1; i >= 0; i-- {
			if e := edits[i]; e.MessageID == messageID && e.Method == "editMessageText" && strings.Contains(e.ParsedText, want) {
				return e
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("message %d never edited to contain %q; edits %+v", messageID, want, fake.Edits())
	return testutil.Edit{}
}

func suppressedBy(t *testing.T, am *testutil.Alertmanager, alertname string) []string {
	var alerts []struct {
		Status struct {
			State      string   `json:"state"`
			SilencedBy []string `json:"silencedBy"`
		} `json:"status"`
	}
	am.Get(t, "/api/v2/alerts?filter="+url.QueryEscape(fmt.Sprintf("alertname=%q", alertname)), &alerts)
	var ids []string
	for _, a := range alerts {
		if a.Status.State == "suppressed" {
			ids = append(ids, a.Status.SilencedBy...)
		}
	}
	return ids
}

// TestButtonsSilenceAckUnsilence: the whole button story with a real
// Alertmanager: Silence 1h creates a silence matching the alert's labels
// (Alertmanager then suppresses the alert), Unsilence expires it, also
// after a restart of alertgram; Ack makes a short silence that alertgram
// expires once the alert resolved; forged ids, a user the route does not
// allow, and a press while Alertmanager is down leave Alertmanager alone.
func TestButtonsSilenceAckUnsilence(t *testing.T) {
	fake := testutil.NewTelegram(t)
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	am := testutil.StartAlertmanager(t, amConfig(listen, "oncall"))
	cfg := writeConfig(t, dir, fmt.Sprintf(`
listen: %q
storage: "sqlite://%s"
log: {level: debug}
telegram:
  token: "${TEST_BOT_TOKEN}"
  api_url: %q
alertmanager:
  url: %q
webhook_auth:
  bearer_token: %q
actions:
  ack_check_interval: 200ms
routes:
  - name: oncall
    parse_mode: MarkdownV2
    chats: [%d, %d]
    buttons: [ack, silence]
    actions:
      allowed_users: [%d]
`, listen, filepath.Join(dir, "alertgram.db"), fake.URL(), am.URL, webhookToken, chatButtons, chatMirror, alice.ID))
	start := func() *server { return startServer(t, cfg, listen, "TEST_BOT_TOKEN="+fake.Token()) }
	s := start()
	s.waitStatus(t, "/readyz", http.StatusOK)

	labels := map[string]string{"alertname": "DiskFull", "instance": "db-1.prod:9100", "severity": "critical"}
	disk := testutil.TestAlert{Labels: labels, Annotations: map[string]string{"summary": "Disk almost full"}, StartsAt: time.Now().Add(-time.Minute).UTC()}
	am.PostAlerts(t, disk)
	msg := fake.WaitMessagesIn(t, chatButtons, 1, 30*time.Second)[0]
	if !strings.Contains(msg.ParsedText, "DiskFull") {
		t.Fatalf("first message: %q", msg.ParsedText)
	}
	mirror := fake.WaitMessagesIn(t, chatMirror, 1, 30*time.Second)[0]
	silenceMenu := button(t, fake, chatButtons, msg.MessageID, "Silence")
	ackButton := button(t, fake, chatButtons, msg.MessageID, "Ack")

	// A forged id, and a real id pressed by someone the route does not
	// allow: clear answers, no Alertmanager call.
	if a := press(t, fake, alice, msg.MessageID, "forged-callback-id"); !strings.Contains(a.Text, "expired") {
		t.Errorf("forged id answered %q, want it to say expired", a.Text)
	}
	if a := press(t, fake, mallory, msg.MessageID, ackButton); !a.ShowAlert || !strings.Contains(a.Text, "not allowed") {
		t.Errorf("unauthorised press answered %+v, want a 'not allowed' alert", a)
	}
	if got := silences(t, am); len(got) != 0 {
		t.Fatalf("Alertmanager has silences after refused presses: %+v", got)
	}
	if !strings.Contains(s.log.String(), "audit: press refused") {
		t.Error("refused press not audit-logged")
	}
	// /alerts lists what fires for this chat's route.
	fake.InjectMessage(oncall, alice, "/alerts")
	if m := waitMessageContaining(t, fake, chatButtons, "firing, not silenced"); !strings.Contains(m.ParsedText, "DiskFull (oncall)") {
		t.Errorf("/alerts answered:\n%s", m.ParsedText)
	}

	// Silence → the duration menu opens in place → 1h.
	press(t, fake, alice, msg.MessageID, silenceMenu)
	oneHour := button(t, fake, chatButtons, msg.MessageID, "1h")
	button(t, fake, chatButtons, msg.MessageID, "24h")
	if a := press(t, fake, alice, msg.MessageID, oneHour); a.ShowAlert || !strings.Contains(a.Text, "Silenced") {
		t.Errorf("Silence 1h answered %+v", a)
	}
	active := waitSilences(t, am, "one active silence", func(s []amSilence) bool { return len(s) == 1 && s[0].Status.State == "active" })
	sil := active[0]
	got := map[string]string{}
	for _, m := range sil.Matchers {
		if m.IsRegex || !m.IsEqual {
			t.Errorf("matcher %+v is not an equality matcher", m)
		}
		got[m.Name] = m.Value
	}
	if fmt.Sprint(got) != fmt.Sprint(labels) {
		t.Errorf("silence matchers %v, want the alert's labels %v", got, labels)
	}
	if sil.CreatedBy != "@alice" || !strings.Contains(sil.Comment, "alertgram") || !strings.Contains(sil.Comment, "On-call") {
		t.Errorf("silence createdBy %q comment %q", sil.CreatedBy, sil.Comment)
	}
	ends, _ := time.Parse(time.RFC3339, sil.EndsAt)
	if d := time.Until(ends); d < 55*time.Minute || d > 61*time.Minute {
		t.Errorf("silence ends in %v, want about 1h", d)
	}
	waitFor(t, "Alertmanager to suppress DiskFull", func() bool { return slices.Contains(suppressedBy(t, am, "DiskFull"), sil.ID) })
	edit := waitEdit(t, fake, msg.MessageID, "Silenced by @alice")
	if !strings.Contains(edit.ParsedText, "DiskFull") {
		t.Errorf("silenced message lost its alert text:\n%s", edit.ParsedText)
	}
	if e := waitEditIn(t, fake, chatMirror, mirror.MessageID, "Silenced by @alice"); findButton(e.ReplyMarkup, "Unsilence") == "" {
		t.Errorf("the other chat's message shows the silence without an Unsilence button: %+v", e.ReplyMarkup)
	}
	unsilence := button(t, fake, chatButtons, msg.MessageID, "Unsilence")
	fake.InjectMessage(oncall, alice, "/silences")
	listing := waitMessageContaining(t, fake, chatButtons, "Silences of route oncall")
	if !strings.Contains(listing.ParsedText, `alertname="DiskFull"`) || !strings.Contains(listing.ParsedText, "by @alice") || findButton(listing.ReplyMarkup, "Unsilence 1") == "" {
		t.Errorf("/silences answered %q with keyboard %+v", listing.ParsedText, listing.ReplyMarkup)
	}

	// Buttons survive a restart of alertgram.
	s.stop(t)
	s = start()
	if a := press(t, fake, alice, msg.MessageID, unsilence); a.ShowAlert || !strings.Contains(a.Text, "expired") {
		t.Errorf("Unsilence answered %+v", a)
	}
	waitSilences(t, am, "the silence expired", func(s []amSilence) bool { return len(s) == 1 && s[0].ID == sil.ID && s[0].Status.State == "expired" })
	for _, m := range []testutil.Message{msg, mirror} { // edited once the presser has the answer
		waitFor(t, fmt.Sprintf("chat %d's message restored after Unsilence", m.ChatID), func() bool {
			e, ok := lastEditIn(fake, m.ChatID, m.MessageID)
			return ok && strings.Contains(e.ParsedText, "DiskFull") && !strings.Contains(e.ParsedText, "Silenced by") &&
				findButton(e.ReplyMarkup, "Silence") != ""
		})
	}

	// Silence from the other chat, Unsilence from its /silences listing:
	// both chats' messages show the silence, then are restored.
	pressIn(t, fake, subscriber, alice, mirror.MessageID, button(t, fake, chatMirror, mirror.MessageID, "Silence"))
	pressIn(t, fake, subscriber, alice, mirror.MessageID, button(t, fake, chatMirror, mirror.MessageID, "1h"))
	waitEditIn(t, fake, chatButtons, msg.MessageID, "Silenced by @alice")
	sent := len(fake.MessagesIn(chatMirror))
	fake.InjectMessage(subscriber, alice, "/silences")
	listing = fake.WaitMessagesIn(t, chatMirror, sent+1, 20*time.Second)[sent]
	if a := pressIn(t, fake, subscriber, alice, listing.MessageID, findButton(listing.ReplyMarkup, "Unsilence 1")); !strings.Contains(a.Text, "expired") {
		t.Errorf("Unsilence from the listing answered %+v", a)
	}
	waitSilences(t, am, "no active silence", func(s []amSilence) bool { return len(activeSilencesOf(s)) == 0 })
	for _, m := range []testutil.Message{msg, mirror} {
		waitFor(t, fmt.Sprintf("chat %d's message restored after Unsilence from the listing", m.ChatID), func() bool {
			e, ok := lastEditIn(fake, m.ChatID, m.MessageID)
			return ok && !strings.Contains(e.ParsedText, "Silenced by") && findButton(e.ReplyMarkup, "Ack") != ""
		})
	}

	// Ack: a short silence, commented as an ack, that alertgram expires
	// once the alert resolved.
	ack := button(t, fake, chatButtons, msg.MessageID, "Ack")
	if a := press(t, fake, alice, msg.MessageID, ack); !strings.Contains(a.Text, "Acked") {
		t.Errorf("Ack answered %+v", a)
	}
	acks := waitSilences(t, am, "an active ack", func(s []amSilence) bool {
		return len(activeSilencesOf(s)) == 1 && strings.HasPrefix(activeSilencesOf(s)[0].Comment, "ACK")
	})
	ackSil := activeSilencesOf(acks)[0]
	ackEnds, _ := time.Parse(time.RFC3339, ackSil.EndsAt)
	if d := time.Until(ackEnds); d < 10*time.Minute || d > 16*time.Minute {
		t.Errorf("ack silence ends in %v, want about 15m", d)
	}
	waitEdit(t, fake, msg.MessageID, "Acked by @alice")
	disk.EndsAt = time.Now().Add(-time.Second).UTC()
	am.PostAlerts(t, disk)
	waitSilences(t, am, "the ack expired after the alert resolved", func(s []amSilence) bool {
		for _, x := range s {
			if x.ID == ackSil.ID {
				return x.Status.State == "expired"
			}
		}
		return false
	})

	// Alertmanager down: the presser is told, the message stays as it was.
	am.PostAlerts(t, testutil.TestAlert{Labels: map[string]string{"alertname": "CPUHot", "instance": "web-1:9100"}, StartsAt: time.Now().UTC()})
	cpu := waitMessageContaining(t, fake, chatMirror, "CPUHot")
	pressIn(t, fake, subscriber, alice, cpu.MessageID, button(t, fake, chatMirror, cpu.MessageID, "Silence"))
	fourHours := button(t, fake, chatMirror, cpu.MessageID, "4h")
	before := len(activeSilences(t, am))
	am.Stop(t)
	a := pressIn(t, fake, subscriber, alice, cpu.MessageID, fourHours)
	// The chat is told a short cause and a reference, never the internal
	// address; the log has the details under that reference.
	ref := regexp.MustCompile(`\(ref ([0-9a-f]{8})\)`).FindStringSubmatch(a.Text)
	if !a.ShowAlert || !strings.Contains(a.Text, "Alertmanager is unreachable") || ref == nil ||
		strings.Contains(a.Text, "127.0.0.1") || strings.Contains(a.Text, "dial") {
		t.Errorf("press while Alertmanager is down answered %+v, want a short cause with a reference", a)
	} else if !regexp.MustCompile(`ref=` + ref[1] + `.*connection refused|connection refused.*ref=` + ref[1]).MatchString(s.log.String()) {
		t.Errorf("the log has no line with ref %s and the error", ref[1])
	}
	for _, e := range fake.Edits() {
		if e.ChatID == chatMirror && e.MessageID == cpu.MessageID && strings.Contains(e.ParsedText, "Silenced") {
			t.Errorf("message edited although the silence failed:\n%s", e.ParsedText)
		}
	}
	if before != 0 {
		t.Errorf("%d active silences before the failed press, want 0", before)
	}
	s.stop(t)
	s.assertNoSecretsLogged(t, fake.Token(), webhookToken)
}

func activeSilencesOf(all []amSilence) []amSilence {
	var out []amSilence
	for _, s := range all {
		if s.Status.State == "active" {
			out = append(out, s)
		}
	}
	return out
}

func waitMessageContaining(t *testing.T, fake *testutil.Telegram, chat int64, want string) testutil.Message {
	t.Helper()
	var found testutil.Message
	waitFor(t, "a message containing "+want, func() bool {
		for _, m := range fake.MessagesIn(chat) {
			if strings.Contains(m.ParsedText, want) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// waitFor polls cond (state of external processes), bounded.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
