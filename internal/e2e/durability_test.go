package e2e

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

// TestAcceptedSurvivesSIGKILL: a webhook answered 200 is in the outbox; a
// SIGKILL before Telegram could be reached loses nothing, and the restarted
// process delivers it. Invalid payloads before it are refused and leave
// nothing behind.
func TestAcceptedSurvivesSIGKILL(t *testing.T) {
	fake := testutil.NewTelegram(t)
	unreachable := "http://127.0.0.1:" + itoa(testutil.FreePort(t)) // nothing listens: Telegram is "down"
	e := newEnv(t, unreachable, fake)
	s := e.start(t)
	if body := s.waitStatus(t, "/readyz", http.StatusServiceUnavailable); !strings.Contains(body, "getMe") {
		t.Errorf("readyz while Telegram is down: %s", body)
	}
	url := s.URL + "/webhook/alertmanager/md"
	body := fixture(t, "am-webhook-firing.json")

	for _, bad := range []struct {
		name, body, token string
		code              int
	}{
		{"malformed", `{"version":"4",`, webhookToken, 400},
		{"wrong version", strings.Replace(body, `"version": "4"`, `"version": "5"`, 1), webhookToken, 400},
		{"empty alerts", `{"version":"4","status":"firing","alerts":[]}`, webhookToken, 400},
		{"bad auth", body, "wrong", 401},
	} {
		if code, resp := post(t, url, bad.token, bad.body); code != bad.code || !strings.Contains(resp, `"error"`) {
			t.Errorf("%s: %d %s, want %d with a JSON error", bad.name, code, resp, bad.code)
		}
	}
	if code, resp := post(t, url, webhookToken, body); code != http.StatusOK {
		t.Fatalf("valid webhook: %d %s", code, resp)
	}
	// Route md has two chats: exactly two pending deliveries, nothing else.
	waitMetric(t, s, `alertgram_outbox_items{state="pending"} 2`)
	if m := metrics(t, s); !strings.Contains(m, `alertgram_outbox_items{state="unrouted"} 0`) || !strings.Contains(m, `alertgram_outbox_items{state="delivered"} 0`) {
		t.Fatalf("unexpected outbox state:\n%s", grep(m, "alertgram_outbox_items"))
	}

	s.kill(t)
	s.assertNoSecretsLogged(t, fake.Token(), webhookToken)
	// Telegram is back; restart on the same database.
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.cfg, []byte(strings.Replace(string(cfg), unreachable, fake.URL(), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := e.start(t)
	for _, chat := range []int64{chatMarkdown, chatTopic} {
		msgs := fake.WaitMessagesIn(t, chat, 1, 30*time.Second)
		if !strings.Contains(msgs[0].ParsedText, "FIRING: Disk_Full*[prod](eu).1!") {
			t.Errorf("chat %d got %q", chat, msgs[0].ParsedText)
		}
	}
	waitMetric(t, s2, `alertgram_outbox_items{state="delivered"} 2`)
	s2.stop(t)
	s2.assertNoSecretsLogged(t, fake.Token(), webhookToken)
}

func metrics(t *testing.T, s *server) string {
	t.Helper()
	resp, err := get(t, s.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// waitMetric polls /metrics of the external process until line appears.
func waitMetric(t *testing.T, s *server, line string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if last = metrics(t, s); strings.Contains(last, line) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("metric %q not seen; last:\n%s", line, grep(last, strings.SplitN(line, "{", 2)[0]))
}

func grep(text, prefix string) string {
	re := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(prefix) + ".*$")
	return strings.Join(re.FindAllString(text, -1), "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }
