package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

// TestChatHygiene: /stop stops delivery, a chat that blocked the bot is
// deactivated, and a group upgraded to a supergroup keeps receiving alerts
// under its new id.
func TestChatHygiene(t *testing.T) {
	e := newSubEnv(t, "polling")
	s := e.start(t)
	stopper := testutil.Chat{ID: 6001, Type: "private", FirstName: "Stopper"}
	blocker := testutil.Chat{ID: 6002, Type: "private", FirstName: "Blocker"}
	oldGroup := testutil.Chat{ID: -6003, Type: "group", Title: "Soon a supergroup"}
	const newGroupID = int64(-1006003)
	for _, c := range []testutil.Chat{stopper, blocker, oldGroup} {
		var args []string
		if c.ID < 0 {
			args = append(args, "--group") // a private link does not subscribe a group
		}
		_, tok := e.link(t, args...)
		e.fake.InjectMessage(c, alice, "/start "+tok)
		e.waitReply(t, c.ID, 1, "Subscribed")
	}
	hook := s.URL + "/webhook/alertmanager/oncall"
	postOK := func(fixtureName string) {
		t.Helper()
		if code, body := post(t, hook, webhookToken, fixture(t, fixtureName)); code != http.StatusOK {
			t.Fatalf("%s: %d %s", fixtureName, code, body)
		}
	}

	postOK("am-webhook-firing.json")
	for _, c := range []testutil.Chat{stopper, blocker, oldGroup} {
		e.waitReply(t, c.ID, 2, "FIRING")
	}
	e.fake.InjectMessage(stopper, alice, "/stop")
	e.waitReply(t, stopper.ID, 3, "Unsubscribed (1 subscription(s) ended)")
	waitMetric(t, s, `alertgram_subscriptions{route="oncall"} 2`)

	e.fake.Block(blocker.ID)
	e.fake.Migrate(oldGroup.ID, newGroupID)
	postOK("am-webhook-group.json")
	if got := e.fake.WaitMessagesIn(t, newGroupID, 1, 30*time.Second)[0].ParsedText; !strings.Contains(got, "FIRING: HighLatency") {
		t.Errorf("migrated group got %q", got)
	}
	waitMetric(t, s, `alertgram_outbox_items{state="failed"} 1`)  // the blocked chat's delivery
	waitMetric(t, s, `alertgram_subscriptions{route="oncall"} 1`) // blocked chat deactivated; group moved

	postOK("am-webhook-resolved.json")
	e.fake.WaitMessagesIn(t, newGroupID, 2, 30*time.Second)
	// 3 (first alert) + 1 (migrated group) + 1 (resolved, new id directly).
	waitMetric(t, s, `alertgram_outbox_items{state="delivered"} 5`)
	if m := metrics(t, s); !strings.Contains(m, `alertgram_outbox_items{state="pending"} 0`) || !strings.Contains(m, `alertgram_outbox_items{state="failed"} 1`) {
		t.Errorf("outbox after the resolve:\n%s", grep(m, "alertgram_outbox_items"))
	}
	if n := len(e.fake.MessagesIn(stopper.ID)); n != 3 {
		t.Errorf("the chat that sent /stop has %d messages, want 3 (welcome, alert, goodbye)", n)
	}
	s.stop(t)
}
