package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/httpapi"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

const (
	webhookPath   = "/telegram/webhook"
	webhookSecret = "wh_Secret-0123456789"
	secretHeader  = "X-Telegram-Bot-Api-Secret-Token"
)

// updateHandlerFunc is an httpapi.UpdateHandler made of a function.
type updateHandlerFunc func(ctx context.Context, u telegram.Update) error

var _ httpapi.UpdateHandler = updateHandlerFunc(nil)

func (f updateHandlerFunc) HandleUpdate(ctx context.Context, u telegram.Update) error {
	return f(ctx, u)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// serve runs one request through the real router.
func serve(t *testing.T, d httpapi.Deps, method, path string, header map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	httpapi.NewRouter(d).ServeHTTP(rec, req)
	return rec
}

// errorOf is the "error" field of a JSON error answer.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("answer %q is not JSON: %v", rec.Body.String(), err)
	}
	return body.Error
}

// topicStart is an update as Telegram sends it: /start in a forum topic.
const topicStart = `{"update_id":100000007,"message":{"message_id":5,"date":1773480413,
	"chat":{"id":-1002003004005,"type":"supergroup","title":"Ops","is_forum":true},
	"from":{"id":42,"is_bot":false,"first_name":"Alice","username":"alice"},
	"is_topic_message":true,"message_thread_id":7,"text":"/start@alertgram_test_bot abc_DEF-123",
	"entities":[{"type":"bot_command","offset":0,"length":25}]}}`

func TestTelegramWebhook(t *testing.T) {
	secret := func(s string) map[string]string { return map[string]string{secretHeader: s} }
	tests := []struct {
		name       string
		noHandler  bool   // Deps.Updates nil: polling mode
		secret     string // Deps.WebhookSecret
		method     string // default POST
		header     map[string]string
		body       string
		handlerErr error
		wantCode   int
		wantError  string // substring of the JSON error
		wantCalled bool
	}{
		{name: "polling mode", noHandler: true, secret: webhookSecret, header: secret(webhookSecret), body: topicStart,
			wantCode: 404, wantError: "webhook mode is off"},
		{name: "missing secret", secret: webhookSecret, body: topicStart,
			wantCode: 401, wantError: "X-Telegram-Bot-Api-Secret-Token"},
		{name: "wrong secret", secret: webhookSecret, header: secret("wrong"), body: topicStart, wantCode: 401},
		{name: "secret with a suffix", secret: webhookSecret, header: secret(webhookSecret + "x"), body: topicStart, wantCode: 401},
		{name: "secret prefix", secret: webhookSecret, header: secret(webhookSecret[:5]), body: topicStart, wantCode: 401},
		{name: "secret in another header", secret: webhookSecret,
			header: map[string]string{"Authorization": "Bearer " + webhookSecret}, body: topicStart, wantCode: 401},
		{name: "no secret configured, none sent", body: topicStart, wantCode: 401},
		{name: "no secret configured, empty one sent", header: secret(""), body: topicStart, wantCode: 401},
		{name: "not JSON", secret: webhookSecret, header: secret(webhookSecret), body: "update_id=1",
			wantCode: 400, wantError: "not a Telegram update"},
		{name: "empty body", secret: webhookSecret, header: secret(webhookSecret), wantCode: 400},
		{name: "JSON without update_id", secret: webhookSecret, header: secret(webhookSecret),
			body: `{"message":{"text":"hi"}}`, wantCode: 400},
		{name: "JSON array", secret: webhookSecret, header: secret(webhookSecret), body: `[{"update_id":1}]`, wantCode: 400},
		{name: "body over 1 MiB", secret: webhookSecret, header: secret(webhookSecret),
			body: `{"update_id":1,"message":{"text":"` + strings.Repeat("a", 1<<20) + `"}}`, wantCode: 400},
		{name: "update handled", secret: webhookSecret, header: secret(webhookSecret), body: topicStart,
			wantCode: 200, wantCalled: true},
		{name: "handler fails: Telegram must redeliver", secret: webhookSecret, header: secret(webhookSecret), body: topicStart,
			handlerErr: errors.New("database is locked"), wantCode: 500, wantError: "retry", wantCalled: true},
		{name: "GET", method: http.MethodGet, secret: webhookSecret, header: secret(webhookSecret), wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []telegram.Update
			d := httpapi.Deps{Logger: discardLogger(), WebhookSecret: tt.secret}
			if !tt.noHandler {
				d.Updates = updateHandlerFunc(func(_ context.Context, u telegram.Update) error {
					got = append(got, u)
					return tt.handlerErr
				})
			}
			method := cmpOr(tt.method, http.MethodPost)
			rec := serve(t, d, method, webhookPath, tt.header, tt.body)
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode != 200 {
				if e := errorOf(t, rec); !strings.Contains(e, tt.wantError) {
					t.Errorf("error = %q, want it to mention %q", e, tt.wantError)
				}
			} else if strings.TrimSpace(rec.Body.String()) != `{"ok":true}` {
				t.Errorf("body = %s, want {\"ok\":true}", rec.Body)
			}
			if called := len(got) > 0; called != tt.wantCalled {
				t.Fatalf("handler called = %v, want %v", called, tt.wantCalled)
			}
			if tt.wantCalled {
				checkTopicStart(t, got)
			}
		})
	}
}

func checkTopicStart(t *testing.T, got []telegram.Update) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("handler called %d times, want once", len(got))
	}
	u := got[0]
	if u.UpdateID != 100000007 || u.Message == nil {
		t.Fatalf("decoded update = %+v", u)
	}
	m := u.Message
	if m.Chat.ID != -1002003004005 || !m.IsTopicMessage || m.MessageThreadID != 7 ||
		m.Text != "/start@alertgram_test_bot abc_DEF-123" || m.From == nil || m.From.ID != 42 {
		t.Errorf("decoded message = %+v", m)
	}
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// flakyStore is the real store whose first n RedeemLinkToken calls fail.
type flakyStore struct {
	store.Store
	failures atomic.Int32
}

var _ bot.Store = (*flakyStore)(nil)

func (s *flakyStore) RedeemLinkToken(ctx context.Context, token string, now time.Time, sub store.Subscription) (store.Subscription, error) {
	if s.failures.Add(-1) >= 0 {
		return store.Subscription{}, errors.New("database is locked")
	}
	return s.Store.RedeemLinkToken(ctx, token, now, sub)
}

// TestTelegramWebhookFlow runs the webhook end to end on loopback: the fake
// Bot API POSTs updates with its secret header to the real router, whose
// handler is the real bot on a real SQLite store, replying through the real
// client.
func TestTelegramWebhookFlow(t *testing.T) {
	tests := []struct {
		name          string
		routerSecret  string
		storeFailures int32
		wantStatuses  []int // of the delivery attempts
		wantReply     bool
	}{
		{name: "delivered and answered", routerSecret: webhookSecret, wantStatuses: []int{200}, wantReply: true},
		{name: "a 500 makes Telegram redeliver", routerSecret: webhookSecret, storeFailures: 1,
			wantStatuses: []int{500, 200}, wantReply: true},
		{name: "wrong secret is refused every time", routerSecret: "another_secret",
			wantStatuses: []int{401, 401, 401}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			logger := slog.New(slog.NewTextHandler(t.Output(), nil))
			st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), logger)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			fake := testutil.NewTelegram(t, testutil.WithLimits(testutil.Limits{}))
			client, err := telegram.New(fake.Token(), telegram.WithBaseURL(fake.URL()), telegram.WithRetry(0, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			fs := &flakyStore{Store: st}
			fs.failures.Store(tt.storeFailures)
			b := bot.New(client, fs, bot.Options{}, logger, nil)
			b.SetUsername(fake.Bot().Username)
			srv := httptest.NewServer(httpapi.NewRouter(httpapi.Deps{
				Logger: logger, Updates: b, WebhookSecret: tt.routerSecret,
			}))
			t.Cleanup(srv.Close)
			if err := b.RegisterWebhook(ctx, client, srv.URL+webhookPath, webhookSecret); err != nil {
				t.Fatal(err)
			}
			l, err := bot.CreateLink(ctx, st, fake.Bot().Username, bot.LinkRequest{Route: "oncall"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}

			chat := testutil.Chat{ID: 42, Type: "private"}
			fake.InjectMessage(chat, testutil.User{ID: 42, FirstName: "Alice"}, "/start "+l.Token)
			deliveries := fake.WaitDeliveries(t, len(tt.wantStatuses), 10*time.Second)
			for i, want := range tt.wantStatuses {
				if deliveries[i].Status != want {
					t.Errorf("delivery %d: status %d (%s), want %d", i+1, deliveries[i].Status, deliveries[i].Err, want)
				}
			}
			subs, err := st.ChatSubscriptions(ctx, 42)
			if err != nil {
				t.Fatal(err)
			}
			replies := fake.MessagesIn(42)
			if !tt.wantReply {
				if len(replies) != 0 || len(subs) != 0 {
					t.Errorf("refused deliveries still had effects: replies %+v, subscriptions %+v", replies, subs)
				}
				return
			}
			if len(replies) != 1 || !strings.Contains(replies[0].Text, `route "oncall"`) {
				t.Errorf("replies = %+v, want one welcome", replies)
			}
			if len(subs) != 1 || subs[0].Route != "oncall" {
				t.Errorf("subscriptions = %+v, want oncall", subs)
			}
		})
	}
}
