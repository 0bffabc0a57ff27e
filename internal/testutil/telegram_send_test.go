package testutil

import (
	"net/http"
	"strings"
	"testing"

	"github.com/alertgram/alertgram/internal/tgmarkup"
)

func keyboard(buttons ...map[string]any) map[string]any {
	row := make([]any, len(buttons))
	for i, b := range buttons {
		row[i] = b
	}
	return map[string]any{"inline_keyboard": []any{row}}
}

func TestSendMessageValidation(t *testing.T) {
	const group, supergroup = int64(-4001), int64(-1001234567890)
	f := unlimited(t)
	f.Block(77)
	f.Block(group)
	f.Block(supergroup)
	f.Migrate(-5, -1009999)
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": 1, "text": "first"}, nil)
	bad := func(s string) string { return "Bad Request: " + s }
	tests := []struct {
		name   string
		params map[string]any
		code   int
		want   string
	}{
		{"no chat_id", map[string]any{"text": "x"}, 400, bad("chat_id is empty")},
		{"chat_id not a number", map[string]any{"chat_id": "abc", "text": "x"}, 400, bad("chat not found")},
		{"no text", map[string]any{"chat_id": 1}, 400, bad("message text is empty")},
		{"empty after parsing", map[string]any{"chat_id": 1, "text": "<b> </b>", "parse_mode": "HTML"}, 400, bad("message text is empty")},
		{"only spaces", map[string]any{"chat_id": 1, "text": " \n "}, 400, bad("message text is empty")},
		{"MarkdownV2 reserved", map[string]any{"chat_id": 1, "text": "a-b", "parse_mode": "MarkdownV2"}, 400,
			bad("can't parse entities: Character '-' is reserved and must be escaped with the preceding '\\'")},
		{"MarkdownV2 unclosed", map[string]any{"chat_id": 1, "text": "text *bold", "parse_mode": "MarkdownV2"}, 400,
			bad("can't parse entities: Can't find end of Bold entity at byte offset 5")},
		{"HTML br", map[string]any{"chat_id": 1, "text": "a<br>b", "parse_mode": "HTML"}, 400,
			bad(`can't parse entities: Unsupported start tag "br" at byte offset 1`)},
		{"unsupported parse_mode", map[string]any{"chat_id": 1, "text": "x", "parse_mode": "BBCode"}, 400, bad("unsupported parse_mode")},
		{"too long", map[string]any{"chat_id": 1, "text": strings.Repeat("&lt;", 4097), "parse_mode": "HTML"}, 400, bad("message is too long")},
		{"too long in code points", map[string]any{"chat_id": 1, "text": strings.Repeat("я", 4097)}, 400, bad("message is too long")},
		{"bad reply_markup JSON", map[string]any{"chat_id": 1, "text": "x", "reply_markup": "{"}, 400,
			bad("can't parse reply keyboard markup JSON object")},
		{"inline_keyboard not rows", map[string]any{"chat_id": 1, "text": "x", "reply_markup": map[string]any{"inline_keyboard": []any{1}}}, 400,
			bad(`field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays`)},
		{"text button", map[string]any{"chat_id": 1, "text": "x", "reply_markup": keyboard(map[string]any{"text": "a"})}, 400,
			bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")},
		{"callback_data 65 bytes", map[string]any{"chat_id": 1, "text": "x",
			"reply_markup": keyboard(map[string]any{"text": "a", "callback_data": strings.Repeat("d", 65)})}, 400, bad("BUTTON_DATA_INVALID")},
		{"callback_data 33 two-byte runes", map[string]any{"chat_id": 1, "text": "x",
			"reply_markup": keyboard(map[string]any{"text": "a", "callback_data": strings.Repeat("ж", 33)})}, 400, bad("BUTTON_DATA_INVALID")},
		{"empty callback_data", map[string]any{"chat_id": 1, "text": "x",
			"reply_markup": keyboard(map[string]any{"text": "a", "callback_data": ""})}, 400, bad("BUTTON_DATA_INVALID")},
		{"single-label URL button", map[string]any{"chat_id": 1, "text": "x",
			"reply_markup": keyboard(map[string]any{"text": "a", "url": "http://prometheus:9090/graph"})}, 400, bad("BUTTON_URL_INVALID")},
		{"localhost URL button", map[string]any{"chat_id": 1, "text": "x",
			"reply_markup": keyboard(map[string]any{"text": "a", "url": "https://localhost/x"})}, 400, bad("BUTTON_URL_INVALID")},
		{"ftp URL button", map[string]any{"chat_id": 1, "text": "x",
			"reply_markup": keyboard(map[string]any{"text": "a", "url": "ftp://files.example.com"})}, 400, bad("BUTTON_URL_INVALID")},
		{"schemeless URL button", map[string]any{"chat_id": 1, "text": "x",
			"reply_markup": keyboard(map[string]any{"text": "a", "url": "example.com"})}, 400, bad("BUTTON_URL_INVALID")},
		{"parse error before button error", map[string]any{"chat_id": 1, "text": "a.b", "parse_mode": "MarkdownV2",
			"reply_markup": keyboard(map[string]any{"text": "a", "callback_data": ""})}, 400,
			bad("can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'")},
		{"unknown thread", map[string]any{"chat_id": -1001, "text": "x", "message_thread_id": 7}, 400, bad("message thread not found")},
		{"reply to missing", map[string]any{"chat_id": 1, "text": "x", "reply_parameters": map[string]any{"message_id": 99}}, 400,
			bad("message to be replied not found")},
		{"legacy reply to missing", map[string]any{"chat_id": 1, "text": "x", "reply_to_message_id": 99}, 400,
			bad("message to be replied not found")},
		{"blocked user", map[string]any{"chat_id": 77, "text": "x"}, 403, "Forbidden: bot was blocked by the user"},
		{"kicked from group", map[string]any{"chat_id": group, "text": "x"}, 403, "Forbidden: bot was kicked from the group chat"},
		{"kicked from supergroup", map[string]any{"chat_id": supergroup, "text": "x"}, 403, "Forbidden: bot was kicked from the supergroup chat"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { mustFail(t, f, "sendMessage", tc.params, tc.code, tc.want) })
	}
	env := mustFail(t, f, "sendMessage", map[string]any{"chat_id": -5, "text": "x"}, 400,
		"Bad Request: group chat was upgraded to a supergroup chat")
	if env.Parameters == nil || env.Parameters.MigrateToChatID != -1009999 {
		t.Errorf("parameters = %+v, want migrate_to_chat_id -1009999", env.Parameters)
	}
	if n := len(f.Messages()); n != 1 {
		t.Errorf("%d messages accepted, want only the first", n)
	}
}

func TestSendMessageAccepted(t *testing.T) {
	f := unlimited(t)
	f.AddTopic(-1001, 7)
	var first struct {
		MessageID int64 `json:"message_id"`
	}
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": -1001, "text": "first"}, &first)
	var res struct {
		MessageID       int64          `json:"message_id"`
		MessageThreadID int64          `json:"message_thread_id"`
		Chat            Chat           `json:"chat"`
		From            User           `json:"from"`
		Text            string         `json:"text"`
		Entities        []any          `json:"entities"`
		ReplyTo         map[string]any `json:"reply_to_message"`
	}
	mustOK(t, f, "sendMessage", map[string]any{
		"chat_id": -1001, "message_thread_id": 7, "parse_mode": "MarkdownV2", "text": "*Привет* 🔥 _x_ \n",
		"disable_notification": true, "reply_parameters": map[string]any{"message_id": first.MessageID},
		"reply_markup": keyboard(map[string]any{"text": "Silence", "callback_data": strings.Repeat("d", 64)},
			map[string]any{"text": "Graph", "url": "http://10.0.0.1:9090/graph"},
			map[string]any{"text": "Grafana", "url": "https://grafana.example.com/d/x"}),
	}, &res)
	if res.MessageID != first.MessageID+1 || res.MessageThreadID != 7 || res.Chat.ID != -1001 || !res.From.IsBot ||
		res.Text != "Привет 🔥 x" || len(res.Entities) != 2 || res.ReplyTo["message_id"] != float64(first.MessageID) {
		t.Errorf("result = %+v", res)
	}
	m := f.MessagesIn(-1001)[1]
	want := []tgmarkup.Entity{{Type: "bold", Offset: 0, Length: 6}, {Type: "italic", Offset: 10, Length: 1}}
	if m.ThreadID != 7 || !m.DisableNotification || m.ReplyTo != first.MessageID || m.ParsedText != "Привет 🔥 x" ||
		m.ParseMode != "MarkdownV2" || len(m.Entities) != 2 || m.Entities[0] != want[0] || m.Entities[1] != want[1] ||
		len(m.ReplyMarkup.InlineKeyboard[0]) != 3 || m.Time.IsZero() {
		t.Errorf("recorded = %+v", m)
	}
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": 2, "text": strings.Repeat("я", 4096)}, nil)
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": 2, "text": "x", "reply_to_message_id": 50,
		"allow_sending_without_reply": true}, nil)
	if got := f.MessagesIn(2); len(got) != 2 || got[0].MessageID != 1 || got[1].ReplyTo != 0 {
		t.Errorf("chat 2 = %+v", got)
	}
}

func TestSendMessageUsernameChat(t *testing.T) {
	f := unlimited(t)
	f.AddChat(Chat{ID: -1005, Type: "channel", Title: "Alerts", Username: "alerts"})
	var res struct {
		Chat Chat `json:"chat"`
	}
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": "@alerts", "text": "x"}, &res)
	if res.Chat.ID != -1005 || res.Chat.Type != "channel" || len(f.MessagesIn(-1005)) != 1 {
		t.Errorf("chat = %+v", res.Chat)
	}
}

func TestSendPhoto(t *testing.T) {
	f := unlimited(t)
	var res struct {
		Photo   []map[string]any `json:"photo"`
		Caption string           `json:"caption"`
	}
	mustOK(t, f, "sendPhoto", map[string]any{"chat_id": 1, "photo": "https://example.com/graph.png",
		"caption": "<b>CPU</b>", "parse_mode": "HTML"}, &res)
	if len(res.Photo) == 0 || res.Caption != "CPU" {
		t.Errorf("result = %+v", res)
	}
	mustOK(t, f, "sendPhoto", map[string]any{"chat_id": 1, "photo": "AgACAgIAAxkBAAI"}, nil)
	mustFail(t, f, "sendPhoto", map[string]any{"chat_id": 1}, 400, "Bad Request: there is no photo in the request")
	mustFail(t, f, "sendPhoto", map[string]any{"chat_id": 1, "photo": "x", "caption": strings.Repeat("a", 1025)}, 400,
		"Bad Request: message caption is too long")
	mustOK(t, f, "sendPhoto", map[string]any{"chat_id": 1, "photo": "x", "caption": strings.Repeat("&amp;", 1024),
		"parse_mode": "HTML"}, nil)
	got := f.MessagesIn(1)
	if len(got) != 3 || got[0].Method != "sendPhoto" || got[0].Photo != "https://example.com/graph.png" || got[1].ParsedText != "" {
		t.Errorf("messages = %+v", got)
	}
	mustFail(t, f, "editMessageText", map[string]any{"chat_id": 1, "message_id": 1, "text": "y"}, 400,
		"Bad Request: there is no text in the message to edit")

	// A caption is edited with editMessageCaption, within the caption limit.
	mustOK(t, f, "editMessageCaption", map[string]any{"chat_id": 1, "message_id": 1, "caption": "<b>CPU</b> ok", "parse_mode": "HTML"}, &res)
	if res.Caption != "CPU ok" {
		t.Errorf("edited caption = %q", res.Caption)
	}
	mustFail(t, f, "editMessageCaption", map[string]any{"chat_id": 1, "message_id": 1, "caption": "<b>CPU</b> ok", "parse_mode": "HTML"}, 400,
		"Bad Request: "+notModified)
	mustFail(t, f, "editMessageCaption", map[string]any{"chat_id": 1, "message_id": 1, "caption": strings.Repeat("a", 1025)}, 400,
		"Bad Request: message caption is too long")
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": 1, "text": "text"}, nil)
	mustFail(t, f, "editMessageCaption", map[string]any{"chat_id": 1, "message_id": 4, "caption": "y"}, 400,
		"Bad Request: there is no caption in the message to edit")
	if e := f.Edits(); len(e) != 1 || e[0].Method != "editMessageCaption" || e[0].ParsedText != "CPU ok" {
		t.Errorf("edits = %+v", e)
	}
}

func TestEdits(t *testing.T) {
	f := unlimited(t)
	kb := keyboard(map[string]any{"text": "Ack", "callback_data": "ack"})
	mustOK(t, f, "sendMessage", map[string]any{"chat_id": 1, "text": "*firing*", "parse_mode": "MarkdownV2", "reply_markup": kb}, nil)
	f.InjectMessage(Chat{ID: 1}, User{ID: 1, FirstName: "Ann"}, "hello")
	const notMod = "Bad Request: message is not modified: specified new message content and reply markup are " +
		"exactly the same as a current content and reply markup of the message"
	steps := []struct {
		name, method string
		params       map[string]any
		code         int
		want         string
	}{
		{"same text and markup", "editMessageText", map[string]any{"chat_id": 1, "message_id": 1, "text": "<b>firing</b>",
			"parse_mode": "HTML", "reply_markup": kb}, 400, notMod},
		{"unknown message", "editMessageText", map[string]any{"chat_id": 1, "message_id": 9, "text": "x"}, 400,
			"Bad Request: message to edit not found"},
		{"user message", "editMessageText", map[string]any{"chat_id": 1, "message_id": 2, "text": "x"}, 400,
			"Bad Request: message can't be edited"},
		{"no message_id", "editMessageText", map[string]any{"chat_id": 1, "text": "x"}, 400,
			"Bad Request: message identifier is not specified"},
		{"empty text", "editMessageText", map[string]any{"chat_id": 1, "message_id": 1, "text": ""}, 400,
			"Bad Request: message text is empty"},
		{"new text drops keyboard", "editMessageText", map[string]any{"chat_id": 1, "message_id": 1, "text": "resolved"}, 200, ""},
		{"same text, keyboard already gone", "editMessageText", map[string]any{"chat_id": 1, "message_id": 1, "text": "resolved"}, 400, notMod},
		{"add keyboard", "editMessageReplyMarkup", map[string]any{"chat_id": 1, "message_id": 1, "reply_markup": kb}, 200, ""},
		{"same keyboard", "editMessageReplyMarkup", map[string]any{"chat_id": 1, "message_id": 1, "reply_markup": kb}, 400, notMod},
		{"remove keyboard", "editMessageReplyMarkup", map[string]any{"chat_id": 1, "message_id": 1}, 200, ""},
		{"delete", "deleteMessage", map[string]any{"chat_id": 1, "message_id": 1}, 200, ""},
		{"delete again", "deleteMessage", map[string]any{"chat_id": 1, "message_id": 1}, 400, "Bad Request: message to delete not found"},
		{"edit deleted", "editMessageReplyMarkup", map[string]any{"chat_id": 1, "message_id": 1, "reply_markup": kb}, 400,
			"Bad Request: message to edit not found"},
	}
	for _, s := range steps {
		status, env := call(t, f, s.method, s.params)
		if status != s.code || env.Description != s.want {
			t.Fatalf("%s: got %d %q, want %d %q", s.name, status, env.Description, s.code, s.want)
		}
	}
	edits := f.Edits()
	if len(edits) != 3 || edits[0].ParsedText != "resolved" || edits[0].ReplyMarkup != nil ||
		edits[1].ReplyMarkup == nil || edits[2].ReplyMarkup != nil || edits[2].Method != "editMessageReplyMarkup" {
		t.Errorf("edits = %+v", edits)
	}
}

func TestFailNext(t *testing.T) {
	f := unlimited(t)
	f.FailNext("sendMessage", 500, "Internal Server Error", 0)
	f.FailNext("sendMessage", 429, "Too Many Requests: retry after 7", 7)
	params := map[string]any{"chat_id": 1, "text": "x"}
	mustFail(t, f, "sendMessage", params, 500, "Internal Server Error")
	env := mustFail(t, f, "sendMessage", params, 429, "Too Many Requests: retry after 7")
	if env.Parameters == nil || env.Parameters.RetryAfter != 7 {
		t.Errorf("parameters = %+v", env.Parameters)
	}
	mustOK(t, f, "sendMessage", params, nil)
	calls := f.Calls("sendMessage")
	if len(calls) != 3 || calls[0].Status != 500 || calls[1].Status != 429 || calls[2].Status != http.StatusOK {
		t.Errorf("calls = %+v", calls)
	}
	if f.Violations() != 0 {
		t.Errorf("canned errors counted as violations")
	}
}
