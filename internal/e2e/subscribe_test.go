package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

const webhookSecret = "tg-webhook-secret_0123456789"

// Chats of the subscription scenario.
var (
	privateChat = testutil.Chat{ID: 5001, Type: "private", FirstName: "Alice"}
	groupChat   = testutil.Chat{ID: -5002, Type: "group", Title: "Ops group"}
	forumChat   = testutil.Chat{ID: -1005003, Type: "supergroup", Title: "Ops forum", IsForum: true}
	expiredChat = testutil.Chat{ID: 5004, Type: "private", FirstName: "Late"}
	reusedChat  = testutil.Chat{ID: 5005, Type: "private", FirstName: "Copycat"}
	filterChat  = testutil.Chat{ID: 5006, Type: "private", FirstName: "CriticalOnly"}
	alice       = testutil.User{ID: 7001, FirstName: "Alice", Username: "alice"}
)

const forumTopic = 5

// subEnv is an alertgram with one route, "oncall", and no static chats:
// only subscriptions receive its alerts.
type subEnv struct {
	fake   *testutil.Telegram
	cfg    string
	listen string
}

func newSubEnv(t *testing.T, updates string) *subEnv {
	t.Helper()
	fake := testutil.NewTelegram(t)
	fake.AddTopic(forumChat.ID, forumTopic)
	dir := t.TempDir()
	e := &subEnv{fake: fake, listen: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
	webhook := ""
	if updates == "webhook" {
		webhook = fmt.Sprintf("\n  webhook_url: http://%s/telegram/webhook\n  webhook_secret: %q", e.listen, webhookSecret)
	}
	e.cfg = writeConfig(t, dir, fmt.Sprintf(`
listen: %q
storage: "sqlite://%s"
log: {level: debug}
telegram:
  token: "${TEST_BOT_TOKEN}"
  api_url: %q
  updates: %s%s
webhook_auth:
  bearer_token: %q
routes:
  - name: oncall
    parse_mode: HTML
`, e.listen, filepath.Join(dir, "alertgram.db"), fake.URL(), updates, webhook, webhookToken))
	return e
}

func (e *subEnv) start(t *testing.T) *server {
	t.Helper()
	s := startServer(t, e.cfg, e.listen, "TEST_BOT_TOKEN="+e.fake.Token())
	s.waitStatus(t, "/readyz", http.StatusOK)
	return s
}

// link runs `alertgram link` as an operator would and returns the URL and
// its token.
func (e *subEnv) link(t *testing.T, args ...string) (url, token string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, append([]string{"link", "--config", e.cfg, "--route", "oncall"}, args...)...)
	cmd.Env = append(cmd.Environ(), "TEST_BOT_TOKEN="+e.fake.Token())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("alertgram link %v: %v", args, err)
	}
	url = strings.TrimSpace(string(out))
	param := "?start="
	if strings.Contains(strings.Join(args, " "), "--group") {
		param = "?startgroup="
	}
	prefix := "https://t.me/alertgram_test_bot" + param
	if !strings.HasPrefix(url, prefix) {
		t.Fatalf("link %q does not start with %q", url, prefix)
	}
	return url, strings.TrimPrefix(url, prefix)
}

// startInTopic injects "/start@bot token" sent inside a forum topic.
func (e *subEnv) startInTopic(token string) {
	e.fake.InjectUpdate(map[string]any{"message": map[string]any{
		"message_id": 900, "date": time.Now().Unix(), "text": "/start@alertgram_test_bot " + token,
		"chat": forumChat, "from": alice, "message_thread_id": forumTopic, "is_topic_message": true,
		"entities": []map[string]any{{"type": "bot_command", "offset": 0, "length": len("/start@alertgram_test_bot")}},
	}})
}

// waitReply waits for the n-th message in chat and checks it contains want.
func (e *subEnv) waitReply(t *testing.T, chat int64, n int, want string) testutil.Message {
	t.Helper()
	msgs := e.fake.WaitMessagesIn(t, chat, n, 30*time.Second)
	if got := msgs[n-1].ParsedText; !strings.Contains(got, want) {
		t.Fatalf("chat %d message %d: %q does not contain %q", chat, n, got, want)
	}
	return msgs[n-1]
}

// TestDeepLinkSubscriptions, in both update modes: links made with the CLI
// subscribe a private chat, a group (startgroup) and a forum topic; an
// alert posted to a real Alertmanager reaches exactly those chats, not one
// whose token expired, was already used, or whose matcher excludes it.
// Restarts between making links and using them, and between subscribing and
// alerting, change nothing.
func TestDeepLinkSubscriptions(t *testing.T) {
	for _, mode := range []string{"polling", "webhook"} {
		t.Run(mode, func(t *testing.T) { testDeepLinks(t, mode) })
	}
}

func testDeepLinks(t *testing.T, mode string) {
	e := newSubEnv(t, mode)
	s := e.start(t)
	e.fake.WaitCalls(t, "setMyCommands", 1, 20*time.Second)
	var menu []string
	for _, c := range e.fake.Commands("default", "") {
		menu = append(menu, c.Command)
	}
	if got := strings.Join(menu, " "); got != "start stop status alerts silences help" {
		t.Errorf("command menu %q", got)
	}
	_, privateTok := e.link(t)
	_, groupTok := e.link(t, "--group")
	_, topicTok := e.link(t, "--group", "--ttl", "1h")
	_, expiredTok := e.link(t, "--ttl", "1ms")
	_, filterTok := e.link(t, "--match", "severity=critical")
	s.stop(t) // restart between making the links and using them
	s = e.start(t)

	if mode == "webhook" {
		assertWebhookRejectsWrongSecret(t, s, privateTok)
	}
	e.fake.InjectMessage(privateChat, alice, "/start "+privateTok)
	e.waitReply(t, privateChat.ID, 1, `Subscribed: alerts for route "oncall"`)
	e.fake.InjectMessage(groupChat, alice, "/start@alertgram_test_bot "+groupTok)
	e.waitReply(t, groupChat.ID, 1, "Subscribed")
	e.startInTopic(topicTok)
	if m := e.waitReply(t, forumChat.ID, 1, "(in this topic)"); m.ThreadID != forumTopic {
		t.Errorf("topic reply went to thread %d", m.ThreadID)
	}
	e.fake.InjectMessage(expiredChat, alice, "/start "+expiredTok)
	e.waitReply(t, expiredChat.ID, 1, "expired")
	e.fake.InjectMessage(reusedChat, alice, "/start "+privateTok)
	e.waitReply(t, reusedChat.ID, 1, "already used")
	e.fake.InjectMessage(filterChat, alice, "/start "+filterTok)
	e.waitReply(t, filterChat.ID, 1, `severity="critical"`)
	waitMetric(t, s, `alertgram_subscriptions{route="oncall"} 4`)

	s.stop(t) // restart between subscribing and alerting
	s = e.start(t)
	am := testutil.StartAlertmanager(t, amConfig(e.listen, "oncall"))
	am.PostAlerts(t, testutil.TestAlert{Labels: map[string]string{"alertname": "QueueBacklog", "severity": "warning"}, StartsAt: time.Now().Add(-time.Minute)})

	e.waitReply(t, privateChat.ID, 2, "FIRING: QueueBacklog")
	e.waitReply(t, groupChat.ID, 2, "FIRING: QueueBacklog")
	if m := e.waitReply(t, forumChat.ID, 2, "FIRING: QueueBacklog"); m.ThreadID != forumTopic {
		t.Errorf("alert in the forum went to thread %d, want %d", m.ThreadID, forumTopic)
	}
	// Routing creates every delivery of a notification at once: three
	// delivered and none pending means no other chat was chosen.
	waitMetric(t, s, `alertgram_outbox_items{state="delivered"} 3`)
	if m := metrics(t, s); !strings.Contains(m, `alertgram_outbox_items{state="pending"} 0`) {
		t.Errorf("unexpected pending deliveries:\n%s", grep(m, "alertgram_outbox_items"))
	}
	for _, c := range []testutil.Chat{expiredChat, reusedChat, filterChat} {
		if n := len(e.fake.MessagesIn(c.ID)); n != 1 {
			t.Errorf("chat %d has %d messages, want only the bot's reply", c.ID, n)
		}
	}
	s.stop(t)
	s.assertNoSecretsLogged(t, e.fake.Token(), webhookToken, webhookSecret)
}

// assertWebhookRejectsWrongSecret posts a /start update with a missing and a
// wrong secret: 401, and the token stays unused.
func assertWebhookRejectsWrongSecret(t *testing.T, s *server, token string) {
	t.Helper()
	update := fmt.Sprintf(`{"update_id": 999999, "message": {"message_id": 1, "date": 1, "text": "/start %s",
		"chat": {"id": 6666, "type": "private"}, "from": {"id": 6666, "is_bot": false, "first_name": "Mallory"}}}`, token)
	for _, secret := range []string{"", "wrong-secret"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/telegram/webhook", strings.NewReader(update))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("secret %q: status %d, want 401", secret, resp.StatusCode)
		}
	}
}
