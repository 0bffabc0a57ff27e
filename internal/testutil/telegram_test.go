package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const waitTimeout = 5 * time.Second

// envelope is the Bot API response.
type envelope struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

func (f *Telegram) methodURL(method string) string {
	return f.URL() + "/bot" + f.Token() + "/" + method
}

// call POSTs params as JSON and decodes the envelope.
func call(t *testing.T, f *Telegram, method string, params map[string]any) (int, envelope) {
	t.Helper()
	return callCtx(t, context.Background(), f, method, params)
}

func callCtx(t *testing.T, ctx context.Context, f *Telegram, method string, params map[string]any) (int, envelope) {
	t.Helper()
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.methodURL(method), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, envelope) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", req.URL.Path, err)
	}
	defer resp.Body.Close()
	var env envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	if !env.OK && env.ErrorCode != resp.StatusCode {
		t.Errorf("error_code %d != HTTP status %d", env.ErrorCode, resp.StatusCode)
	}
	return resp.StatusCode, env
}

// mustOK calls and fails unless the call succeeded; it decodes the result.
func mustOK(t *testing.T, f *Telegram, method string, params map[string]any, result any) {
	t.Helper()
	status, env := call(t, f, method, params)
	if status != http.StatusOK || !env.OK {
		t.Fatalf("%s: %d %s", method, status, env.Description)
	}
	if result != nil {
		if err := json.Unmarshal(env.Result, result); err != nil {
			t.Fatalf("%s result: %v", method, err)
		}
	}
}

// mustFail calls and checks the exact error.
func mustFail(t *testing.T, f *Telegram, method string, params map[string]any, code int, description string) envelope {
	t.Helper()
	status, env := call(t, f, method, params)
	if status != code || env.OK || env.Description != description {
		t.Fatalf("%s: got %d %q, want %d %q", method, status, env.Description, code, description)
	}
	return env
}

// unlimited is a fake without flood limits, for tests of other rules.
func unlimited(t *testing.T, opts ...TelegramOption) *Telegram {
	return NewTelegram(t, append([]TelegramOption{WithLimits(Limits{})}, opts...)...)
}

func TestTelegramAuthAndRouting(t *testing.T) {
	f := unlimited(t)
	tests := []struct {
		name, path string
		code       int
		want       string
	}{
		{"wrong token", "/bot123456:wrong/getMe", 401, "Unauthorized"},
		{"no token", "/getMe", 404, "Not Found"},
		{"unknown method", "/bot" + f.Token() + "/sendSticker", 404, "Not Found"},
		{"empty method", "/bot" + f.Token() + "/", 404, "Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL()+tc.path, nil)
			status, env := do(t, req)
			if status != tc.code || env.OK || env.ErrorCode != tc.code || env.Description != tc.want {
				t.Errorf("got %d %+v, want %d %q", status, env, tc.code, tc.want)
			}
		})
	}
}

func TestTelegramGetMe(t *testing.T) {
	f := unlimited(t, WithToken("42:abc"), WithBotUsername("my_bot"))
	var me map[string]any
	mustOK(t, f, "GETME", nil, &me) // methods are case-insensitive
	want := map[string]any{"id": 42.0, "is_bot": true, "username": "my_bot", "can_join_groups": true,
		"can_read_all_group_messages": false, "supports_inline_queries": false}
	for k, v := range want {
		if me[k] != v {
			t.Errorf("getMe %s = %v, want %v", k, me[k], v)
		}
	}
	if got := f.Calls("getMe"); len(got) != 1 || got[0].Status != 200 {
		t.Errorf("Calls(getMe) = %+v", got)
	}
}

func TestTelegramBodyEncodings(t *testing.T) {
	f := unlimited(t)
	form := url.Values{"chat_id": {"1"}, "text": {"form"}, "reply_markup": {`{"inline_keyboard":[[{"text":"a","callback_data":"x"}]]}`}}
	formReq, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, f.methodURL("sendMessage"), strings.NewReader(form.Encode()))
	formReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	queryReq, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.methodURL("sendMessage")+"?chat_id=2&text=query", nil)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("chat_id", "3")
	_ = mw.WriteField("text", "multipart")
	_ = mw.Close()
	multiReq, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, f.methodURL("sendMessage"), &buf)
	multiReq.Header.Set("Content-Type", mw.FormDataContentType())
	for _, req := range []*http.Request{formReq, queryReq, multiReq} {
		if status, env := do(t, req); status != 200 || !env.OK {
			t.Fatalf("%s: %d %s", req.Header.Get("Content-Type"), status, env.Description)
		}
	}
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": "4", "text": "json string id"}, nil)
	got := f.Messages()
	if len(got) != 4 || got[0].Text != "form" || got[1].ChatID != 2 || got[2].Text != "multipart" || got[3].ChatID != 4 {
		t.Fatalf("messages = %+v", got)
	}
	if got[0].ReplyMarkup == nil || got[0].ReplyMarkup.InlineKeyboard[0][0].CallbackData != "x" {
		t.Errorf("form reply_markup not decoded: %+v", got[0].ReplyMarkup)
	}
	var markup InlineKeyboardMarkup
	if err := f.Calls("sendMessage")[0].Decode("reply_markup", &markup); err != nil || markup.InlineKeyboard[0][0].Text != "a" {
		t.Errorf("Call.Decode = %+v, %v", markup, err)
	}
}

func TestTelegramWaitMessages(t *testing.T) {
	f := unlimited(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.NewReader(`{"chat_id": 5, "text": "hi"}`)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, f.methodURL("sendMessage"), body)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	got := f.WaitMessages(t, 3, waitTimeout)
	wg.Wait()
	if len(got) != 3 || len(f.MessagesIn(5)) != 3 || len(f.MessagesIn(6)) != 0 {
		t.Fatalf("messages = %+v", got)
	}
	ids := map[int64]bool{}
	for _, m := range got {
		ids[m.MessageID] = true
	}
	if !ids[1] || !ids[2] || !ids[3] {
		t.Errorf("message ids = %v, want 1..3", ids)
	}
	if calls := f.WaitCalls(t, "sendMessage", 3, waitTimeout); len(calls) != 3 {
		t.Errorf("calls = %d", len(calls))
	}
}
