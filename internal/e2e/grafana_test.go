package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

const (
	grafanaToken  = "glsa_e2eServiceAccountToken_0123abcd"
	grafanaAPI    = "/api/alertmanager/grafana/api/v2"
	grafanaSilID1 = "b7c1e0a4-5c2f-4e9a-9d3b-0f6a2c1d8e01"
	grafanaSilID2 = "b7c1e0a4-5c2f-4e9a-9d3b-0f6a2c1d8e02"
)

// grafanaRequest is one request the fake Grafana received.
type grafanaRequest struct {
	Method, Path, Auth string
	Body               []byte
}

// fakeGrafana mimics Grafana's Alertmanager-compatible API for
// Grafana-managed alerts (PROTOCOLS.md §2.6): POST silences answers 202
// with the new id, DELETE answers 200 with a message, every request needs
// the service account token.
type fakeGrafana struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []grafanaRequest
	ids  []string // ids handed out, in order
}

func newFakeGrafana(t *testing.T) *fakeGrafana {
	g := &fakeGrafana{ids: []string{grafanaSilID1, grafanaSilID2}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+grafanaAPI+"/silences", func(w http.ResponseWriter, _ *http.Request) {
		g.mu.Lock()
		id := g.ids[0]
		if len(g.ids) > 1 {
			g.ids = g.ids[1:]
		}
		g.mu.Unlock()
		grafanaReply(w, http.StatusAccepted, map[string]string{"silenceID": id})
	})
	mux.HandleFunc("GET "+grafanaAPI+"/silences", func(w http.ResponseWriter, _ *http.Request) { grafanaReply(w, http.StatusOK, []any{}) })
	mux.HandleFunc("GET "+grafanaAPI+"/alerts", func(w http.ResponseWriter, _ *http.Request) { grafanaReply(w, http.StatusOK, []any{}) })
	mux.HandleFunc("DELETE "+grafanaAPI+"/silence/{id}", func(w http.ResponseWriter, _ *http.Request) {
		grafanaReply(w, http.StatusOK, map[string]string{"message": "silence deleted"})
	})
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.reqs = append(g.reqs, grafanaRequest{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: body})
		g.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+grafanaToken {
			grafanaReply(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func grafanaReply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// requests returns the requests received with method (all if "").
func (g *fakeGrafana) requests(method string) []grafanaRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []grafanaRequest
	for _, r := range g.reqs {
		if method == "" || r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// postedSilence is a POST /silences body; pointers tell absent from false.
type postedSilence struct {
	ID       string `json:"id"`
	Matchers []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex *bool  `json:"isRegex"`
		IsEqual *bool  `json:"isEqual"`
	} `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

// wantSilencePost checks one POST /silences: the token, equality matchers
// exactly on labels, created by @alice, ending about an hour from now.
func wantSilencePost(t *testing.T, r grafanaRequest, labels map[string]string) {
	t.Helper()
	if r.Auth != "Bearer "+grafanaToken {
		t.Errorf("POST silences Authorization %q, want the service account token", r.Auth)
	}
	var s postedSilence
	if err := json.Unmarshal(r.Body, &s); err != nil {
		t.Fatalf("POST silences body %s: %v", r.Body, err)
	}
	got := map[string]string{}
	for _, m := range s.Matchers {
		if m.IsRegex == nil || *m.IsRegex || (m.IsEqual != nil && !*m.IsEqual) {
			t.Errorf("matcher %s=%q: isRegex %v, isEqual %v; want isRegex false (present) and equality", m.Name, m.Value, m.IsRegex, m.IsEqual)
		}
		got[m.Name] = m.Value
	}
	if fmt.Sprint(got) != fmt.Sprint(labels) {
		t.Errorf("silence matchers %v\nwant %v", got, labels)
	}
	if s.CreatedBy != "@alice" || !strings.Contains(s.Comment, "alertgram") || s.ID != "" {
		t.Errorf("silence id %q createdBy %q comment %q; want a new silence by @alice from alertgram", s.ID, s.CreatedBy, s.Comment)
	}
	if d := time.Until(s.EndsAt); d < 55*time.Minute || d > 61*time.Minute {
		t.Errorf("silence ends in %v, want about 1h", d)
	}
}

// waitEditBy waits for an edit by method (editMessageText or
// editMessageCaption) of the message whose text contains want.
func waitEditBy(t *testing.T, fake *testutil.Telegram, method string, messageID int64, want string) testutil.Edit {
	t.Helper()
	var found testutil.Edit
	waitFor(t, fmt.Sprintf("%s of message %d containing %q", method, messageID, want), func() bool {
		for _, e := range fake.Edits() {
			if e.MessageID == messageID && e.Method == method && strings.Contains(e.ParsedText, want) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// pressFresh presses a button of a message that was just sent: alertgram
// stores its buttons right after Telegram accepted the message, so a press
// in between is answered "expired"; it is pressed again then, bounded.
func pressFresh(t *testing.T, fake *testutil.Telegram, from testutil.User, messageID int64, data string) testutil.Answer {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a := press(t, fake, from, messageID, data)
		if !strings.Contains(a.Text, "expired") || time.Now().After(deadline) {
			return a
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGrafanaSilenceButton: a Grafana-managed alert posted to
// /webhook/grafana/<route> arrives with buttons; Silence → 1h creates a
// silence through Grafana's Alertmanager-compatible API (bearer token,
// the alert's labels plus the rule's __alert_rule_uid__), Unsilence
// deletes it. An alert with an image arrives as one photo with the message
// as its caption, and its buttons edit the caption.
func TestGrafanaSilenceButton(t *testing.T) {
	fake := testutil.NewTelegram(t)
	grafana := newFakeGrafana(t)
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := writeConfig(t, dir, fmt.Sprintf(`
listen: %q
storage: "sqlite://%s"
log: {level: debug}
telegram:
  token: "${TEST_BOT_TOKEN}"
  api_url: %q
grafana:
  url: %q
  token: "${TEST_GRAFANA_TOKEN}"
webhook_auth:
  bearer_token: %q
routes:
  - name: infra
    parse_mode: HTML
    chats: [%d]
    buttons: [ack, silence]
    actions:
      allowed_users: [%d]
`, listen, filepath.Join(dir, "alertgram.db"), fake.URL(), grafana.srv.URL, webhookToken, chatButtons, alice.ID))
	s := startServer(t, cfg, listen, "TEST_BOT_TOKEN="+fake.Token(), "TEST_GRAFANA_TOKEN="+grafanaToken)
	s.waitStatus(t, "/readyz", http.StatusOK)

	if code, body := post(t, s.URL+"/webhook/grafana/infra", webhookToken, fixture(t, "grafana-firing.json")); code != http.StatusOK {
		t.Fatalf("POST grafana-firing.json: %d %s", code, body)
	}
	msg := fake.WaitMessagesIn(t, chatButtons, 1, 30*time.Second)[0]
	if msg.Method != "sendMessage" || !strings.Contains(msg.ParsedText, "HighCPUUsage") {
		t.Fatalf("first message: %s %q", msg.Method, msg.ParsedText)
	}

	// Silence → 1h: one POST to Grafana.
	pressFresh(t, fake, alice, msg.MessageID, button(t, fake, chatButtons, msg.MessageID, "Silence"))
	if a := press(t, fake, alice, msg.MessageID, button(t, fake, chatButtons, msg.MessageID, "1h")); a.ShowAlert || !strings.Contains(a.Text, "Silenced") {
		t.Errorf("Silence 1h answered %+v", a)
	}
	edit := waitEdit(t, fake, msg.MessageID, "Silenced by @alice")
	if !strings.Contains(edit.ParsedText, "HighCPUUsage") {
		t.Errorf("silenced message lost its alert text:\n%s", edit.ParsedText)
	}
	posts := grafana.requests(http.MethodPost)
	if len(posts) != 1 || posts[0].Path != grafanaAPI+"/silences" {
		t.Fatalf("Grafana got POSTs %+v, want exactly one to %s/silences", posts, grafanaAPI)
	}
	wantSilencePost(t, posts[0], map[string]string{
		"alertname": "HighCPUUsage", "grafana_folder": "Infrastructure", "instance": "node-1.prod.example.com:9100",
		"severity": "critical", "team": "infra", "__alert_rule_uid__": "fe3k2l5mxq9s0a",
	})

	// Unsilence → DELETE of that silence.
	if a := press(t, fake, alice, msg.MessageID, button(t, fake, chatButtons, msg.MessageID, "Unsilence")); a.ShowAlert || !strings.Contains(a.Text, "expired") {
		t.Errorf("Unsilence answered %+v", a)
	}
	var del []grafanaRequest
	waitFor(t, "a DELETE of the silence", func() bool { del = grafana.requests(http.MethodDelete); return len(del) > 0 })
	if len(del) != 1 || del[0].Path != grafanaAPI+"/silence/"+grafanaSilID1 || del[0].Auth != "Bearer "+grafanaToken {
		t.Errorf("Grafana got DELETEs %+v, want one of %s/silence/%s with the token", del, grafanaAPI, grafanaSilID1)
	}
	waitFor(t, "the message to show no silence", func() bool {
		text := lastEdit(fake, chatButtons, msg.MessageID)
		return strings.Contains(text, "HighCPUUsage") && !strings.Contains(text, "Silenced by")
	})

	// An alert with an image: one photo, the message its caption, with
	// the buttons; a silence edits the caption. Its rule UID comes from
	// the silence link (this payload has no ruleUID).
	if code, body := post(t, s.URL+"/webhook/grafana/infra", webhookToken, fixture(t, "grafana-image.json")); code != http.StatusOK {
		t.Fatalf("POST grafana-image.json: %d %s", code, body)
	}
	photo := fake.WaitMessagesIn(t, chatButtons, 2, 30*time.Second)[1]
	const image = "https://grafana.example.com/public/img/attachments/Jx3kQ9mZ1vT0bR7s.png"
	if photo.Method != "sendPhoto" || photo.Photo != image || photo.ParseMode != "HTML" || !strings.Contains(photo.ParsedText, "Checkout API is slow") {
		t.Fatalf("image alert: %s of %q (parse_mode %q) with caption %q; want one sendPhoto of the image with the alert as caption",
			photo.Method, photo.Photo, photo.ParseMode, photo.ParsedText)
	}
	if n := len(fake.Calls("sendMessage")); n != 1 {
		t.Errorf("%d sendMessage calls, want only the first alert's: the image alert is one photo", n)
	}
	pressFresh(t, fake, alice, photo.MessageID, button(t, fake, chatButtons, photo.MessageID, "Silence"))
	press(t, fake, alice, photo.MessageID, button(t, fake, chatButtons, photo.MessageID, "1h"))
	caption := waitEditBy(t, fake, "editMessageCaption", photo.MessageID, "Silenced by @alice")
	if !strings.Contains(caption.ParsedText, "Checkout API is slow") {
		t.Errorf("silenced caption lost its alert text:\n%s", caption.ParsedText)
	}
	posts = grafana.requests(http.MethodPost)
	if len(posts) != 2 {
		t.Fatalf("Grafana got %d POSTs, want 2", len(posts))
	}
	wantSilencePost(t, posts[1], map[string]string{
		"alertname": "API latency p99 > 500ms", "env": "prod", "grafana_folder": "API", "service": "checkout",
		"__alert_rule_uid__": "edz1xq8a7c4e8b",
	})
	for _, c := range fake.Calls("editMessageText") {
		if c.Params["message_id"] == fmt.Sprint(photo.MessageID) {
			t.Errorf("editMessageText on the photo: %+v", c)
		}
	}
	s.stop(t)
	s.assertNoSecretsLogged(t, fake.Token(), webhookToken, grafanaToken)
}
