package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

const (
	chatMarkdown = int64(-1001000000001)
	chatHTML     = int64(-1001000000002)
	chatTopic    = int64(-1001000000003)
	topicID      = int64(77)
	webhookToken = "e2e-webhook-secret"
)

// env is one alertgram binary wired to the fake Telegram and, optionally,
// a real Alertmanager.
type env struct {
	fake   *testutil.Telegram
	cfg    string
	listen string
	dir    string
}

func newEnv(t *testing.T, apiURL string, fake *testutil.Telegram) *env {
	t.Helper()
	fake.AddTopic(chatTopic, topicID)
	e := &env{fake: fake, dir: t.TempDir(), listen: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
	if apiURL == "" {
		apiURL = fake.URL()
	}
	e.cfg = writeConfig(t, e.dir, fmt.Sprintf(`
listen: %q
storage: "sqlite://%s"
log: {level: debug}
telegram:
  token: "${TEST_BOT_TOKEN}"
  api_url: %q
webhook_auth:
  bearer_token: %q
routes:
  - name: md
    parse_mode: MarkdownV2
    chats: [%d, "%d:%d"]
  - name: html
    parse_mode: HTML
    chats: [%d]
`, e.listen, filepath.Join(e.dir, "alertgram.db"), apiURL, webhookToken, chatMarkdown, chatTopic, topicID, chatHTML))
	return e
}

func (e *env) start(t *testing.T) *server {
	return startServer(t, e.cfg, e.listen, "TEST_BOT_TOKEN="+e.fake.Token())
}

// amConfig is an Alertmanager config that sends every alert group, with
// small group_wait/group_interval, to each of alertgram's routes.
func amConfig(listen string, routes ...string) string {
	var hooks strings.Builder
	for _, r := range routes {
		fmt.Fprintf(&hooks, `
      - url: http://%s/webhook/alertmanager/%s
        send_resolved: true
        http_config: {authorization: {credentials: %s}}`, listen, r, webhookToken)
	}
	return `
route:
  receiver: alertgram
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: alertgram
    webhook_configs:` + hooks.String() + "\n"
}

const nasty = "db-1.prod_(eu)*[x]~`>#+-=|{}.!\\ <b>&amp;</b> 'q' \"dq\" ||s|| ёжик 🔥"

// TestAlertmanagerToTelegram: alerts posted to a real Alertmanager arrive
// through alertgram in the fake Telegram, in both parse modes: one firing
// alert, then a group of several, then their resolution.
func TestAlertmanagerToTelegram(t *testing.T) {
	fake := testutil.NewTelegram(t)
	e := newEnv(t, "", fake)
	s := e.start(t)
	s.waitStatus(t, "/readyz", http.StatusOK) // store up and getMe answered
	am := testutil.StartAlertmanager(t, amConfig(e.listen, "md", "html"))
	start := time.Now().Add(-time.Minute).UTC()

	// 1. A single firing alert whose labels hold every special character.
	am.PostAlerts(t, testutil.TestAlert{
		Labels:      map[string]string{"alertname": "DiskFull", "instance": nasty, "severity": "critical"},
		Annotations: map[string]string{"summary": "Disk < 5% free on " + nasty, "description": "*not bold* _not italic_ <i>not italic</i>"},
		StartsAt:    start, GeneratorURL: "http://prometheus:9090/graph?g0.expr=x",
	})
	first := waitChats(t, fake, 1, chatMarkdown, chatHTML, chatTopic)
	for chat, m := range first {
		for _, want := range []string{"FIRING: DiskFull", nasty, "Disk < 5% free on " + nasty, "*not bold* _not italic_ <i>not italic</i>"} {
			if !strings.Contains(m[0].ParsedText, want) {
				t.Errorf("chat %d: message lacks %q:\n%s", chat, want, m[0].ParsedText)
			}
		}
	}
	if got := first[chatTopic][0].ThreadID; got != topicID {
		t.Errorf("topic chat: thread %d, want %d", got, topicID)
	}

	// 2. A group of three alerts under one alertname. They start now:
	// Alertmanager flushes at once for an alert older than group_wait,
	// which could split the group across two notifications.
	groupStart := time.Now().UTC()
	var group []testutil.TestAlert
	for i := range 3 {
		group = append(group, testutil.TestAlert{
			Labels:      map[string]string{"alertname": "HighLatency", "instance": fmt.Sprintf("web-%d:8080", i), "severity": "warning"},
			Annotations: map[string]string{"summary": fmt.Sprintf("p99 > 2s on web-%d", i)},
			StartsAt:    groupStart,
		})
	}
	am.PostAlerts(t, group...)
	second := waitChats(t, fake, 2, chatMarkdown, chatHTML, chatTopic)
	for chat, m := range second {
		text := m[1].ParsedText
		if !strings.Contains(text, "FIRING: HighLatency (3 firing)") || strings.Count(text, "p99 > 2s on web-") != 3 {
			t.Errorf("chat %d: group message:\n%s", chat, text)
		}
	}

	// 3. Resolve the group: endsAt in the past.
	for i := range group {
		group[i].EndsAt = time.Now().Add(-time.Second).UTC()
	}
	am.PostAlerts(t, group...)
	// The group's message is edited in place to its resolved form, and a
	// short, silent reply is threaded to it.
	third := waitChats(t, fake, 3, chatMarkdown, chatHTML, chatTopic)
	for chat, m := range third {
		original := m[1]
		reply := m[2]
		if !strings.Contains(reply.ParsedText, "RESOLVED: HighLatency") || reply.ReplyTo != original.MessageID || !reply.DisableNotification {
			t.Errorf("chat %d: resolved reply %q (reply to %d, silent %v), want a silent reply to %d",
				chat, reply.ParsedText, reply.ReplyTo, reply.DisableNotification, original.MessageID)
		}
		edit := lastEdit(fake, chat, original.MessageID)
		if !strings.Contains(edit, "RESOLVED: HighLatency") || strings.Count(edit, "Resolved ") != 3 {
			t.Errorf("chat %d: original message %d edited to:\n%s", chat, original.MessageID, edit)
		}
	}
	s.stop(t)
	s.assertNoSecretsLogged(t, fake.Token(), webhookToken)
	if v := fake.Violations(); v != 0 {
		t.Logf("the fake answered %d sends with 429 (pacing arrives with issue #4); all were retried", v)
	}
}

// waitChats waits until each chat has at least n messages and returns them.
func waitChats(t *testing.T, fake *testutil.Telegram, n int, chats ...int64) map[int64][]testutil.Message {
	t.Helper()
	out := map[int64][]testutil.Message{}
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range chats {
		out[c] = fake.WaitMessagesIn(t, c, n, time.Until(deadline))
	}
	return out
}

// lastEdit returns the parsed text of the last edit of a message ("" if none).
func lastEdit(fake *testutil.Telegram, chat, messageID int64) string {
	text := ""
	for _, e := range fake.Edits() {
		if e.ChatID == chat && e.MessageID == messageID {
			text = e.ParsedText
		}
	}
	return text
}
