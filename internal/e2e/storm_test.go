package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

// Chats of the storm scenarios. The fake Bot API keeps its default limits
// (1/s per chat, 20/min per group, 30/s overall) and alertgram its default
// rates, so a 429 means alertgram's pacing let one through. The margin is
// raised from 50ms to stormMargin: this binary runs under the race
// detector, beside other test packages on two cores, and the margin is
// exactly the allowance for delay between a granted slot and Telegram
// receiving the request. The load tool (make load) shows zero 429s with
// the default margin on an unloaded, uninstrumented binary.
const (
	chatHA       = int64(-1001000000200)
	chatStorm    = int64(-1001000000300)
	chatKill     = int64(-1001000000400)
	firstPrivate = int64(2001)
)

const stormMargin = "300ms"

// stormWait bounds waits that a storm's pacing stretches: a group chat
// takes 20 messages a minute.
const stormWait = 2 * time.Minute

// stormRoute is one alertgram route with static chats.
type stormRoute struct {
	name  string
	chats []int64
}

// stormEnv is one alertgram wired to the fake Telegram with the given
// routes, on a database that survives restarts.
type stormEnv struct {
	fake   *testutil.Telegram
	cfg    string
	listen string
}

func newStormEnv(t *testing.T, routes ...stormRoute) *stormEnv {
	t.Helper()
	dir := t.TempDir()
	e := &stormEnv{fake: testutil.NewTelegram(t), listen: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
	var rs strings.Builder
	for _, r := range routes {
		ids := make([]string, len(r.chats))
		for i, c := range r.chats {
			ids[i] = itoa(int(c))
		}
		fmt.Fprintf(&rs, "  - name: %s\n    chats: [%s]\n", r.name, strings.Join(ids, ", "))
	}
	e.cfg = writeConfig(t, dir, fmt.Sprintf(`
listen: %q
storage: "sqlite://%s"
log: {level: debug}
delivery: {margin: %s}
telegram:
  token: "${TEST_BOT_TOKEN}"
  api_url: %q
webhook_auth:
  bearer_token: %q
routes:
%s`, e.listen, filepath.Join(dir, "alertgram.db"), stormMargin, e.fake.URL(), webhookToken, rs.String()))
	return e
}

func (e *stormEnv) start(t *testing.T) *server {
	t.Helper()
	s := startServer(t, e.cfg, e.listen, "TEST_BOT_TOKEN="+e.fake.Token())
	s.waitStatus(t, "/readyz", http.StatusOK)
	return s
}

// TestHADuplicateSentOnce: two Alertmanagers of an HA pair (here not
// clustered, so neither knows the other notified) both send the same
// notification; alertgram accepts both and sends one message.
func TestHADuplicateSentOnce(t *testing.T) {
	e := newStormEnv(t, stormRoute{name: "ha", chats: []int64{chatHA}})
	s := e.start(t)
	amCfg := amConfig(e.listen, "ha")
	ams := []*testutil.Alertmanager{testutil.StartAlertmanager(t, amCfg), testutil.StartAlertmanager(t, amCfg)}
	a := testutil.TestAlert{
		Labels:      map[string]string{"alertname": "HAPair", "instance": "db-1:9100", "severity": "critical"},
		Annotations: map[string]string{"summary": "seen by both Alertmanagers"},
		StartsAt:    time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond),
	}
	for _, am := range ams {
		am.PostAlerts(t, a)
	}

	msgs := e.fake.WaitMessagesIn(t, chatHA, 1, 30*time.Second)
	if !strings.Contains(msgs[0].ParsedText, "FIRING: HAPair") {
		t.Errorf("message %q, want the HAPair alert", msgs[0].ParsedText)
	}
	waitMetric(t, s, "alertgram_notifications_deduplicated_total 1")
	// Both Alertmanagers flushed and were answered 200.
	waitMetric(t, s, `alertgram_webhooks_received_total{result="accepted",route="ha",source="alertmanager"} 2`)
	for i, am := range ams {
		waitLog(t, fmt.Sprintf("alertmanager %d", i), am.Log, `msg="Notify success"`)
	}
	// The copy was dropped at intake, so nothing is left to be sent: the
	// outbox holds exactly the one delivered message.
	waitMetric(t, s, `alertgram_outbox_items{state="delivered"} 1`)
	m := metrics(t, s)
	for _, want := range []string{
		`alertgram_outbox_items{state="pending"} 0`,
		`alertgram_outbox_items{state="unrouted"} 0`,
		`alertgram_outbox_items{state="delivered"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("outbox: want %s:\n%s", want, grep(m, "alertgram_outbox_items"))
		}
	}
	if msgs := e.fake.MessagesIn(chatHA); len(msgs) != 1 {
		t.Errorf("chat got %d messages, want 1: %+v", len(msgs), msgs)
	}
	s.stop(t)
}

// TestStormZeroViolations: 300 alert groups for one group chat and one
// alert for 60 private chats arrive at once. Every group reaches the group
// chat, merged into digests, every private chat gets its message, and the
// fake Bot API never has to answer 429.
func TestStormZeroViolations(t *testing.T) {
	privates := make([]int64, 60)
	for i := range privates {
		privates[i] = firstPrivate + int64(i)
	}
	e := newStormEnv(t, stormRoute{name: "a", chats: []int64{chatStorm}}, stormRoute{name: "b", chats: privates})
	s := e.start(t)

	names := stormNames("Storm", 300)
	reqs := make([]webhookReq, 0, len(names)+1)
	for _, n := range names {
		reqs = append(reqs, webhookReq{s.URL + "/webhook/alertmanager/a", amWebhook(n)})
	}
	reqs = append(reqs, webhookReq{s.URL + "/webhook/alertmanager/b", amWebhook("Broadcast")})
	postAll(t, reqs)

	msgs := waitAlertnames(t, e.fake, chatStorm, names, stormWait)
	for _, chat := range privates {
		m := e.fake.WaitMessagesIn(t, chat, 1, stormWait)
		if len(m) != 1 || !strings.Contains(m[0].ParsedText, "FIRING: Broadcast") {
			t.Errorf("private chat %d got %+v, want one Broadcast message", chat, m)
		}
	}
	waitMetric(t, s, `alertgram_outbox_items{state="delivered"} 360`)
	m := metrics(t, s)
	s.stop(t)

	t.Run("delivered and coalesced", func(t *testing.T) {
		for _, want := range []string{
			`alertgram_outbox_items{state="pending"} 0`,
			`alertgram_outbox_items{state="unrouted"} 0`,
			`alertgram_outbox_items{state="failed"} 0`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("outbox: want %s:\n%s", want, grep(m, "alertgram_outbox_items"))
			}
		}
		if len(msgs) > 30 {
			t.Errorf("the group chat got %d messages for 300 groups, want at most 30: the storm was not coalesced", len(msgs))
		}
		t.Logf("300 groups reached the group chat in %d messages", len(msgs))
	})
	t.Run("no 429", func(t *testing.T) {
		if v := e.fake.Violations(); v != 0 {
			t.Errorf("the fake Bot API answered 429 %d times, want 0", v)
			logRefusals(t, e.fake)
		}
		if want := "alertgram_telegram_429_total 0"; !strings.Contains(m, want) {
			t.Errorf("metrics: want %s, got %s", want, grep(m, "alertgram_telegram_429_total"))
		}
	})
}

// TestSIGKILLDuringStorm: alertgram is killed while a storm is being
// delivered; the restarted process, on the same database, delivers the rest.
// Everything accepted reaches the chat; the only allowed harm is a message
// sent twice (Telegram accepted it, the kill came before it was recorded).
func TestSIGKILLDuringStorm(t *testing.T) {
	e := newStormEnv(t, stormRoute{name: "k", chats: []int64{chatKill}})
	s := e.start(t)
	names := stormNames("Killed", 200)
	reqs := make([]webhookReq, len(names))
	for i, n := range names {
		reqs[i] = webhookReq{s.URL + "/webhook/alertmanager/k", amWebhook(n)}
	}
	postAll(t, reqs)

	e.fake.WaitMessagesIn(t, chatKill, 2, stormWait)
	s.kill(t)
	before := len(e.fake.MessagesIn(chatKill))
	if missing := missingNames(e.fake.MessagesIn(chatKill), names); len(missing) == 0 {
		t.Logf("every group was delivered before the kill; the restart has nothing left to send")
	}

	s2 := e.start(t)
	msgs := waitAlertnames(t, e.fake, chatKill, names, stormWait)
	waitMetric(t, s2, `alertgram_outbox_items{state="delivered"} 200`)
	m := metrics(t, s2)
	for _, want := range []string{
		`alertgram_outbox_items{state="pending"} 0`,
		`alertgram_outbox_items{state="unrouted"} 0`,
		`alertgram_outbox_items{state="failed"} 0`,
		`alertgram_outbox_items{state="superseded"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("outbox: want %s:\n%s", want, grep(m, "alertgram_outbox_items"))
		}
	}
	t.Logf("%d messages before the kill, %d in all; the fake answered 429 %d times, each retried",
		before, len(msgs), e.fake.Violations())
	s2.stop(t)
}

// stormNames returns n distinct alertnames of one width, so that no name
// is a prefix of another.
func stormNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return names
}

// amWebhook is an Alertmanager webhook body for one firing alert, grouped
// by alertname. The summary is long enough that a digest holds a few dozen
// groups, so a storm takes several messages.
func amWebhook(alertname string) string {
	labels := map[string]string{"alertname": alertname, "instance": "node-1:9100", "job": "node", "severity": "warning"}
	annotations := map[string]string{"summary": "Node exporter reports the filesystem on /var/lib/data is above its " +
		"warning threshold and still filling; see the runbook before it pages"}
	body, err := json.Marshal(map[string]any{
		"version": "4", "status": "firing", "receiver": "alertgram",
		"groupKey":    `{}:{alertname="` + alertname + `"}`,
		"groupLabels": map[string]string{"alertname": alertname}, "commonLabels": labels,
		"commonAnnotations": annotations, "externalURL": "http://alertmanager.example:9093", "truncatedAlerts": 0,
		"alerts": []map[string]any{{
			"status": "firing", "labels": labels, "annotations": annotations,
			"startsAt": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "endsAt": "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus.example:9090/graph", "fingerprint": fmt.Sprintf("%016x", fingerprintOf(alertname)),
		}},
	})
	if err != nil {
		panic(err) // a map of strings always encodes
	}
	return string(body)
}

// fingerprintOf is a stable stand-in for Alertmanager's label hash.
func fingerprintOf(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := range len(s) {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// webhookReq is one webhook to post.
type webhookReq struct{ url, body string }

// postAll posts every request at once and fails the test unless each was
// accepted with 200.
func postAll(t *testing.T, reqs []webhookReq) {
	t.Helper()
	errs := make(chan error, len(reqs))
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Go(func() { errs <- postAccepted(r) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// postAccepted is post for goroutines: it returns what post would fail with.
func postAccepted(r webhookReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, strings.NewReader(r.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+webhookToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", r.url, resp.StatusCode, b.String())
	}
	return nil
}

// waitAlertnames waits until every name appears in the chat's messages
// (all of them, across digests) and returns those messages. It waits on the
// fake's accepted messages, one more at a time.
func waitAlertnames(t *testing.T, fake *testutil.Telegram, chat int64, names []string, timeout time.Duration) []testutil.Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var missing []string
	defer func() {
		if t.Failed() && len(missing) > 0 {
			t.Logf("chat %d: %d alertnames never arrived, e.g. %v", chat, len(missing), missing[:min(5, len(missing))])
		}
	}()
	for {
		msgs := fake.MessagesIn(chat)
		if missing = missingNames(msgs, names); len(missing) == 0 {
			return msgs
		}
		fake.WaitMessagesIn(t, chat, len(msgs)+1, max(time.Until(deadline), time.Millisecond))
	}
}

// missingNames returns the names no message shows.
func missingNames(msgs []testutil.Message, names []string) []string {
	var all strings.Builder
	for _, m := range msgs {
		all.WriteString(m.ParsedText + "\n")
	}
	text := all.String()
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return strings.Contains(text, n) })
}

// waitLog polls an external process's log, bounded, until it contains want.
func waitLog(t *testing.T, who string, log func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q", who, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logRefusals explains each 429 of the fake: how many sends it had
// accepted in the windows that end at the refused call.
func logRefusals(t *testing.T, fake *testutil.Telegram) {
	t.Helper()
	calls := fake.Calls("sendMessage")
	for i, c := range calls {
		if c.Status != http.StatusTooManyRequests {
			continue
		}
		var global, chat1s, chat1m int
		previous := "none"
		for _, p := range calls[:i] {
			if p.Status != http.StatusOK {
				continue
			}
			age := c.Time.Sub(p.Time)
			if age < time.Second {
				global++
			}
			if p.Params["chat_id"] == c.Params["chat_id"] {
				previous = age.String() + " earlier"
				if age < time.Second {
					chat1s++
				}
				if age < time.Minute {
					chat1m++
				}
			}
		}
		t.Logf("429 for chat %s at %s: accepted before it within 1s: %d overall, %d to the chat; %d to the chat within 1m; previous to the chat: %s",
			c.Params["chat_id"], c.Time.Format("15:04:05.000"), global, chat1s, chat1m, previous)
	}
}
