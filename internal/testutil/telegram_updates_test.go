package testutil

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// newClock is the manual clock the fake's tests pass to WithClock.
func newClock() *ManualClock { return NewManualClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) }

func TestRateLimits(t *testing.T) {
	type send struct {
		advance time.Duration
		method  string
		chat    int64
		retry   int // 0: accepted
	}
	tests := []struct {
		name   string
		limits Limits
		sends  []send
	}{
		{"per chat", Limits{PerChat: Window{1, time.Second}}, []send{
			{0, "sendMessage", 1, 0}, {0, "sendMessage", 1, 1}, {0, "sendMessage", 2, 0},
			{999 * time.Millisecond, "sendMessage", 1, 1}, {time.Millisecond, "sendMessage", 1, 0}}},
		{"burst and rounding up", Limits{PerChat: Window{2, 1500 * time.Millisecond}}, []send{
			{0, "sendMessage", 1, 0}, {0, "sendMessage", 1, 0}, {0, "sendMessage", 1, 2},
			{600 * time.Millisecond, "sendMessage", 1, 1}, {900 * time.Millisecond, "sendMessage", 1, 0}}},
		{"per group only for negative ids", Limits{PerGroup: Window{2, time.Minute}}, []send{
			{0, "sendMessage", -1, 0}, {0, "sendMessage", -1, 0}, {0, "sendMessage", -1, 60},
			{0, "sendMessage", 1, 0}, {0, "sendMessage", 1, 0}, {0, "sendMessage", 1, 0},
			{30 * time.Second, "sendMessage", -1, 30}, {30 * time.Second, "sendPhoto", -1, 0}}},
		{"global", Limits{Global: Window{2, time.Second}}, []send{
			{0, "sendMessage", 1, 0}, {0, "sendPhoto", 2, 0}, {0, "sendMessage", 3, 1}, {time.Second, "sendMessage", 3, 0}}},
		{"edits count per chat", Limits{PerChat: Window{1, time.Second}, Global: Window{1, time.Second}}, []send{
			{0, "sendMessage", 1, 0}, {time.Second, "editMessageText", 1, 0}, {0, "editMessageText", 1, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			f := NewTelegram(t, WithLimits(tc.limits), WithClock(clk.Now))
			violations := 0
			for i, s := range tc.sends {
				clk.Advance(s.advance)
				params := map[string]any{"chat_id": s.chat, "text": "m" + string(rune('a'+i)), "photo": "x", "message_id": 1}
				status, env := call(t, f, s.method, params)
				if s.retry == 0 {
					if status != 200 {
						t.Fatalf("send %d: %d %s", i, status, env.Description)
					}
					continue
				}
				violations++
				want := "Too Many Requests: retry after " + strconv.Itoa(s.retry)
				if status != 429 || env.Description != want || env.Parameters == nil || env.Parameters.RetryAfter != s.retry {
					t.Fatalf("send %d: got %d %q %+v, want 429 %q", i, status, env.Description, env.Parameters, want)
				}
			}
			if f.Violations() != violations {
				t.Errorf("Violations() = %d, want %d", f.Violations(), violations)
			}
		})
	}
}

func TestDefaultLimits(t *testing.T) {
	f := NewTelegram(t, WithClock(newClock().Now))
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": 1, "text": "a"}, nil)
	mustFail(t, f, "sendMessage", map[string]any{"chat_id": 1, "text": "b"}, 429, "Too Many Requests: retry after 1")
	if f.Violations() != 1 {
		t.Errorf("Violations() = %d", f.Violations())
	}
}

func TestGetUpdatesLongPoll(t *testing.T) {
	f := unlimited(t)
	type result struct {
		status int
		env    envelope
	}
	done := make(chan result, 1)
	go func() {
		status, env := call(t, f, "getUpdates", map[string]any{"timeout": 30})
		done <- result{status, env}
	}()
	f.waitFor(t, waitTimeout, "a waiting getUpdates", func() bool { return f.pollGen == 1 })
	id := f.InjectMessage(Chat{ID: 10, Type: "private"}, User{ID: 10, FirstName: "Ann"}, "/start@alertgram_test_bot abc")
	r := <-done
	var ups []struct {
		UpdateID int `json:"update_id"`
		Message  struct {
			MessageID int              `json:"message_id"`
			Text      string           `json:"text"`
			Chat      Chat             `json:"chat"`
			From      User             `json:"from"`
			Entities  []map[string]any `json:"entities"`
		} `json:"message"`
	}
	if err := json.Unmarshal(r.env.Result, &ups); err != nil || r.status != 200 || len(ups) != 1 {
		t.Fatalf("getUpdates = %d %s %v", r.status, r.env.Result, err)
	}
	m := ups[0].Message
	if ups[0].UpdateID != id || m.MessageID != 1 || m.Chat.FirstName != "Ann" || m.From.ID != 10 || len(m.Entities) != 1 ||
		m.Entities[0]["type"] != "bot_command" || m.Entities[0]["length"] != 25.0 {
		t.Errorf("update = %+v", ups[0])
	}
}

func TestGetUpdatesOffset(t *testing.T) {
	f := unlimited(t)
	var ids []int
	for i := range 4 {
		ids = append(ids, f.InjectUpdate(map[string]any{"message": map[string]any{"text": string(rune('a' + i))}}))
	}
	steps := []struct {
		params map[string]any
		want   []int
	}{
		{map[string]any{}, ids},
		{map[string]any{"limit": 2}, ids[:2]},
		{map[string]any{"offset": ids[1]}, ids[1:]},
		{map[string]any{"offset": 0}, ids[1:]}, // ids[0] was confirmed
		{map[string]any{"offset": -1}, ids[3:]},
		{map[string]any{"offset": ids[3] + 1}, nil},
	}
	for i, s := range steps {
		var ups []struct {
			UpdateID int `json:"update_id"`
		}
		mustOK(t, f, "getUpdates", s.params, &ups)
		got := make([]int, 0, len(ups))
		for _, u := range ups {
			got = append(got, u.UpdateID)
		}
		if len(got) != len(s.want) || len(got) > 0 && (got[0] != s.want[0] || got[len(got)-1] != s.want[len(s.want)-1]) {
			t.Fatalf("step %d %v: got %v, want %v", i, s.params, got, s.want)
		}
	}
}

func TestReadPollCapsTimeout(t *testing.T) {
	req := &request{params: map[string]string{"timeout": "3600", "limit": "500"}}
	p, aerr := readPoll(req)
	if aerr != nil || p.timeout != 50*time.Second || p.limit != 100 {
		t.Errorf("readPoll = %+v, %v", p, aerr)
	}
	req.params["timeout"] = "-5"
	if p, _ := readPoll(req); p.timeout != 0 {
		t.Errorf("negative timeout = %v", p.timeout)
	}
}

func TestGetUpdatesTerminatedByNewerPoll(t *testing.T) {
	f := unlimited(t)
	done := make(chan envelope, 1)
	go func() {
		_, env := call(t, f, "getUpdates", map[string]any{"timeout": 30})
		done <- env
	}()
	f.waitFor(t, waitTimeout, "a waiting getUpdates", func() bool { return f.pollGen == 1 })
	mustOK(t, f, "getUpdates", map[string]any{}, nil)
	if env := <-done; env.ErrorCode != 409 ||
		env.Description != "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running" {
		t.Errorf("older poll = %+v", env)
	}
}

func TestGetUpdatesHonoursCancellation(t *testing.T) {
	f := unlimited(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.methodURL("getUpdates")+"?timeout=50", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	f.waitFor(t, waitTimeout, "a waiting getUpdates", func() bool { return f.pollGen == 1 })
	cancel()
	f.WaitCalls(t, "getUpdates", 1, waitTimeout) // the handler returned
}

func TestGetUpdatesConflictWithWebhook(t *testing.T) {
	f := unlimited(t)
	done := make(chan envelope, 1)
	go func() {
		_, env := call(t, f, "getUpdates", map[string]any{"timeout": 30})
		done <- env
	}()
	f.waitFor(t, waitTimeout, "a waiting getUpdates", func() bool { return f.pollGen == 1 })
	var set envelope
	_, set = call(t, f, "setWebhook", map[string]any{"url": "https://bot.example.com/hook"})
	if !set.OK || set.Description != "Webhook was set" {
		t.Fatalf("setWebhook = %+v", set)
	}
	if env := <-done; env.ErrorCode != 409 || env.Description != "Conflict: terminated by setWebhook request" {
		t.Errorf("waiting poll = %+v", env)
	}
	mustFail(t, f, "getUpdates", nil, 409,
		"Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
	_, del := call(t, f, "deleteWebhook", nil)
	if !del.OK || del.Description != "Webhook was deleted" {
		t.Fatalf("deleteWebhook = %+v", del)
	}
	mustOK(t, f, "getUpdates", nil, nil)
}

func TestAnswerCallbackQuery(t *testing.T) {
	f := unlimited(t)
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": -100, "text": "alert",
		"reply_markup": keyboard(map[string]any{"text": "Ack", "callback_data": "ack:1"})}, nil)
	id := f.InjectCallback(Chat{ID: -100}, User{ID: 5, FirstName: "Bob"}, 1, "ack:1")
	var ups []struct {
		CallbackQuery struct {
			ID      string `json:"id"`
			Data    string `json:"data"`
			Message struct {
				MessageID   int                  `json:"message_id"`
				Text        string               `json:"text"`
				ReplyMarkup InlineKeyboardMarkup `json:"reply_markup"`
			} `json:"message"`
		} `json:"callback_query"`
	}
	mustOK(t, f, "getUpdates", nil, &ups)
	if q := ups[0].CallbackQuery; q.ID != id || q.Data != "ack:1" || q.Message.Text != "alert" ||
		q.Message.ReplyMarkup.InlineKeyboard[0][0].CallbackData != "ack:1" {
		t.Errorf("callback = %+v", q)
	}
	tooOld := "Bad Request: query is too old and response timeout expired or query ID is invalid"
	mustFail(t, f, "answerCallbackQuery", map[string]any{"callback_query_id": "nope"}, 400, tooOld)
	mustFail(t, f, "answerCallbackQuery", map[string]any{"callback_query_id": id, "text": strings.Repeat("я", 201)}, 400,
		"Bad Request: MESSAGE_TOO_LONG")
	mustOK(t, f, "answerCallbackQuery", map[string]any{"callback_query_id": id, "text": strings.Repeat("я", 200), "show_alert": true}, nil)
	mustFail(t, f, "answerCallbackQuery", map[string]any{"callback_query_id": id}, 400, tooOld)
	if a := f.Answers(); len(a) != 1 || a[0].CallbackQueryID != id || !a[0].ShowAlert {
		t.Errorf("answers = %+v", a)
	}
}

func TestWebhookDelivery(t *testing.T) {
	type hit struct {
		secret string
		update map[string]any
	}
	var mu sync.Mutex
	var hits []hit
	fails := 1
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u map[string]any
		_ = json.NewDecoder(r.Body).Decode(&u)
		mu.Lock()
		defer mu.Unlock()
		hits = append(hits, hit{r.Header.Get("X-Telegram-Bot-Api-Secret-Token"), u})
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer hook.Close()
	f := unlimited(t)
	mustOK(t, f, "setWebhook", map[string]any{"url": hook.URL + "/tg", "secret_token": "s3cr3t_-X"}, nil)
	id := f.InjectMessage(Chat{ID: 3}, User{ID: 3, FirstName: "C"}, "hi")
	d := f.WaitDeliveries(t, 2, waitTimeout)
	if d[0].Status != 500 || d[1].Status != 200 || d[1].Attempt != 2 || d[1].UpdateID != id {
		t.Errorf("deliveries = %+v", d)
	}
	mu.Lock()
	if len(hits) != 2 || hits[1].secret != "s3cr3t_-X" || hits[1].update["update_id"] != float64(id) {
		t.Errorf("hits = %+v", hits)
	}
	fails = 100
	mu.Unlock()
	f.InjectMessage(Chat{ID: 3}, User{ID: 3, FirstName: "C"}, "again")
	d = f.WaitDeliveries(t, 2+maxWebhookAttempts, waitTimeout)
	var info map[string]any
	mustOK(t, f, "getWebhookInfo", nil, &info)
	if info["url"] != hook.URL+"/tg" || info["pending_update_count"] != 0.0 ||
		info["last_error_message"] != "Wrong response from the webhook: 500 Internal Server Error" {
		t.Errorf("deliveries = %+v, info = %v", d, info)
	}
}

func TestSetWebhookValidation(t *testing.T) {
	f := unlimited(t)
	bad := func(s string) string { return "Bad Request: " + s }
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"secret too long", map[string]any{"url": "https://e.com/h", "secret_token": strings.Repeat("a", 257)}, bad("secret token is too long")},
		{"secret characters", map[string]any{"url": "https://e.com/h", "secret_token": "a+b/c="}, bad("secret token contains unallowed characters")},
		{"plain HTTP", map[string]any{"url": "http://e.com/h"}, bad("bad webhook: An HTTPS URL must be provided for webhook")},
		{"not a URL", map[string]any{"url": "::"}, bad("bad webhook: invalid webhook URL specified")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { mustFail(t, f, "setWebhook", tc.params, 400, tc.want) })
	}
	mustOK(t, f, "setWebhook", map[string]any{"url": "https://e.com/h", "secret_token": strings.Repeat("a", 256)}, nil)
	_, env := call(t, f, "setWebhook", map[string]any{"url": ""})
	if env.Description != "Webhook was deleted" {
		t.Errorf("empty url = %+v", env)
	}
}

func TestSetMyCommands(t *testing.T) {
	f := unlimited(t)
	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = map[string]any{"command": "c", "description": "d"}
	}
	bad := func(s string) string { return "Bad Request: " + s }
	tests := []struct {
		name     string
		commands any
		want     string
	}{
		{"too many", many, bad("BOT_COMMANDS_TOO_MUCH")},
		{"empty command", []map[string]any{{"command": " / ", "description": "d"}}, bad("command must be non-empty")},
		{"long command", []map[string]any{{"command": strings.Repeat("a", 33), "description": "d"}}, bad("command length must not exceed 32")},
		{"uppercase", []map[string]any{{"command": "Start", "description": "d"}}, bad("BOT_COMMAND_INVALID")},
		{"dash", []map[string]any{{"command": "a-b", "description": "d"}}, bad("BOT_COMMAND_INVALID")},
		{"empty description", []map[string]any{{"command": "a", "description": " "}}, bad("command description must be non-empty")},
		{"long description", []map[string]any{{"command": "a", "description": strings.Repeat("я", 257)}},
			bad("command description length must not exceed 256")},
		{"not JSON", "nope", bad("can't parse commands JSON object")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustFail(t, f, "setMyCommands", map[string]any{"commands": tc.commands}, 400, tc.want)
		})
	}
	mustFail(t, f, "setMyCommands", map[string]any{"commands": []any{}, "language_code": "EN"}, 400, bad("invalid language code specified"))
	cmds := []map[string]any{{"command": "/subscribe", "description": "Subscribe"}, {"command": strings.Repeat("z", 32), "description": strings.Repeat("я", 256)}}
	mustOK(t, f, "setMyCommands", map[string]any{"commands": cmds}, nil)
	mustOK(t, f, "setMyCommands", map[string]any{"commands": cmds[:1], "scope": map[string]any{"type": "chat", "chat_id": -100}, "language_code": "de"}, nil)
	if got := f.Commands("default", ""); len(got) != 2 || got[0].Command != "subscribe" {
		t.Errorf("default commands = %+v", got)
	}
	if got := f.Commands("chat:-100", "de"); len(got) != 1 {
		t.Errorf("chat commands = %+v", got)
	}
}

func TestInjectMessageEntities(t *testing.T) {
	tests := []struct {
		text   string
		offset []float64
		length []float64
	}{
		{"/start", []float64{0}, []float64{6}},
		{"/start@alertgram_test_bot abc", []float64{0}, []float64{25}},
		{"hi /help and /list", []float64{3, 13}, []float64{5, 5}},
		{"Привет /status", []float64{7}, []float64{7}},
		{"🔥 /ack", []float64{3}, []float64{4}},
		{"a/b and /x/y and /c@ab", nil, nil},
		{"no commands", nil, nil},
	}
	for _, tc := range tests {
		got := botCommandEntities(tc.text)
		if len(got) != len(tc.offset) {
			t.Errorf("%q: %v", tc.text, got)
			continue
		}
		for i, e := range got {
			if float64(e["offset"].(int)) != tc.offset[i] || float64(e["length"].(int)) != tc.length[i] {
				t.Errorf("%q entity %d = %v", tc.text, i, e)
			}
		}
	}
}

func TestGetChatAndMember(t *testing.T) {
	f := unlimited(t)
	f.AddChat(Chat{ID: -1001, Type: "supergroup", Title: "Ops", IsForum: true})
	f.SetChatMember(-1001, User{ID: 9}, "administrator")
	var chat map[string]any
	mustOK(t, f, "getChat", map[string]any{"chat_id": -1001}, &chat)
	if chat["title"] != "Ops" || chat["type"] != "supergroup" || chat["is_forum"] != true {
		t.Errorf("chat = %v", chat)
	}
	var member struct {
		Status string `json:"status"`
		User   User   `json:"user"`
	}
	mustOK(t, f, "getChatMember", map[string]any{"chat_id": -1001, "user_id": 9}, &member)
	if member.Status != "administrator" || member.User.ID != 9 {
		t.Errorf("member = %+v", member)
	}
	mustOK(t, f, "getChatMember", map[string]any{"chat_id": -1001, "user_id": 10}, &member)
	if member.Status != "member" {
		t.Errorf("default member = %+v", member)
	}
	mustFail(t, f, "getChatMember", map[string]any{"chat_id": -1001}, 400, "Bad Request: invalid user_id specified")
	f.Block(-1001)
	mustFail(t, f, "getChat", map[string]any{"chat_id": -1001}, 403, "Forbidden: bot was kicked from the supergroup chat")
}
