package telegram

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

type methodCase struct {
	name     string
	call     func(context.Context, *Client) (any, error)
	method   string
	wantBody string // compared as JSON
	result   string
	want     any
}

const (
	bigChat    = -1001234567890123 // needs int64
	messageRes = `{"message_id":7,"message_thread_id":3,"from":{"id":99,"is_bot":true,"first_name":"bot"},` +
		`"chat":{"id":-1001234567890123,"type":"supergroup","title":"ops","is_forum":true},"date":1700000000,` +
		`"text":"hi","entities":[{"type":"bold","offset":0,"length":2}],"is_topic_message":true}`
)

var wantMessage = Message{
	MessageID: 7, MessageThreadID: 3,
	From:           &User{ID: 99, IsBot: true, FirstName: "bot"},
	Chat:           Chat{ID: bigChat, Type: ChatSupergroup, Title: "ops", IsForum: true},
	Date:           1700000000,
	Text:           "hi",
	Entities:       []MessageEntity{{Type: "bold", Offset: 0, Length: 2}},
	IsTopicMessage: true,
}

func TestMethods(t *testing.T) {
	for _, tc := range append(sendCases(), receiveCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t, okReply(tc.result))
			got, err := tc.call(t.Context(), newTestClient(t, f))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 || reqs[0].method != tc.method {
				t.Fatalf("requests = %+v, want one %s", reqs, tc.method)
			}
			assertJSONEqual(t, reqs[0].body, tc.wantBody)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("result = %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func sendCases() []methodCase {
	keyboard := &InlineKeyboardMarkup{InlineKeyboard: [][]InlineKeyboardButton{{
		{Text: "Silence 1h", CallbackData: "sil:0123456789abcdef", Style: StyleDanger},
		{Text: "Graph", URL: "https://prom.example.com/graph"},
	}}}
	return []methodCase{{
		name: "sendMessage minimal omits optional fields", method: "sendMessage",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.SendMessage(ctx, SendMessageParams{ChatID: 1, Text: "hi"})
		},
		wantBody: `{"chat_id":1,"text":"hi"}`, result: messageRes, want: wantMessage,
	}, {
		name: "sendMessage all fields", method: "sendMessage",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.SendMessage(ctx, SendMessageParams{
				ChatID: bigChat, MessageThreadID: 3, Text: "<b>hi</b>", ParseMode: ParseModeHTML,
				ReplyMarkup: keyboard, DisableNotification: true, ProtectContent: true,
				ReplyParameters:    &ReplyParameters{MessageID: 5, AllowSendingWithoutReply: true},
				LinkPreviewOptions: &LinkPreviewOptions{IsDisabled: true},
			})
		},
		wantBody: `{"chat_id":-1001234567890123,"message_thread_id":3,"text":"<b>hi</b>","parse_mode":"HTML",
			"reply_markup":{"inline_keyboard":[[{"text":"Silence 1h","callback_data":"sil:0123456789abcdef","style":"danger"},
			{"text":"Graph","url":"https://prom.example.com/graph"}]]},"disable_notification":true,"protect_content":true,
			"reply_parameters":{"message_id":5,"allow_sending_without_reply":true},"link_preview_options":{"is_disabled":true}}`,
		result: messageRes, want: wantMessage,
	}, {
		name: "sendPhoto", method: "sendPhoto",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.SendPhoto(ctx, SendPhotoParams{ChatID: 1, Photo: "https://img.example.com/a.png", Caption: "cpu", ParseMode: ParseModeMarkdownV2})
		},
		wantBody: `{"chat_id":1,"photo":"https://img.example.com/a.png","caption":"cpu","parse_mode":"MarkdownV2"}`,
		result:   messageRes, want: wantMessage,
	}, {
		name: "editMessageText", method: "editMessageText",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.EditMessageText(ctx, EditMessageTextParams{ChatID: bigChat, MessageID: 7, Text: "hi", ReplyMarkup: keyboard})
		},
		wantBody: `{"chat_id":-1001234567890123,"message_id":7,"text":"hi","reply_markup":{"inline_keyboard":[[
			{"text":"Silence 1h","callback_data":"sil:0123456789abcdef","style":"danger"},{"text":"Graph","url":"https://prom.example.com/graph"}]]}}`,
		result: messageRes, want: wantMessage,
	}, {
		name: "editMessageText inline returns true", method: "editMessageText",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.EditMessageText(ctx, EditMessageTextParams{InlineMessageID: "abc", Text: "hi"})
		},
		wantBody: `{"inline_message_id":"abc","text":"hi"}`, result: `true`, want: Message{},
	}, {
		name: "editMessageCaption", method: "editMessageCaption",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.EditMessageCaption(ctx, EditMessageCaptionParams{ChatID: bigChat, MessageID: 7, Caption: "<b>ok</b>", ParseMode: ParseModeHTML, ReplyMarkup: keyboard})
		},
		wantBody: `{"chat_id":-1001234567890123,"message_id":7,"caption":"<b>ok</b>","parse_mode":"HTML","reply_markup":{"inline_keyboard":[[
			{"text":"Silence 1h","callback_data":"sil:0123456789abcdef","style":"danger"},{"text":"Graph","url":"https://prom.example.com/graph"}]]}}`,
		result: messageRes, want: wantMessage,
	}, {
		name: "editMessageReplyMarkup nil removes keyboard", method: "editMessageReplyMarkup",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.EditMessageReplyMarkup(ctx, EditMessageReplyMarkupParams{ChatID: 1, MessageID: 7})
		},
		wantBody: `{"chat_id":1,"message_id":7}`, result: messageRes, want: wantMessage,
	}, {
		name: "editMessageReplyMarkup empty keyboard encodes []", method: "editMessageReplyMarkup",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.EditMessageReplyMarkup(ctx, EditMessageReplyMarkupParams{ChatID: 1, MessageID: 7, ReplyMarkup: &InlineKeyboardMarkup{}})
		},
		wantBody: `{"chat_id":1,"message_id":7,"reply_markup":{"inline_keyboard":[]}}`, result: messageRes, want: wantMessage,
	}, {
		name: "deleteMessage", method: "deleteMessage",
		call: func(ctx context.Context, c *Client) (any, error) {
			return nil, c.DeleteMessage(ctx, bigChat, 7)
		},
		wantBody: `{"chat_id":-1001234567890123,"message_id":7}`, result: `true`,
	}, {
		name: "answerCallbackQuery", method: "answerCallbackQuery",
		call: func(ctx context.Context, c *Client) (any, error) {
			return nil, c.AnswerCallbackQuery(ctx, AnswerCallbackQueryParams{CallbackQueryID: "q1", Text: "Silenced", ShowAlert: true, CacheTime: 5})
		},
		wantBody: `{"callback_query_id":"q1","text":"Silenced","show_alert":true,"cache_time":5}`, result: `true`,
	}}
}

func receiveCases() []methodCase {
	return []methodCase{{
		name: "getMe sends empty object", method: "getMe",
		call:     func(ctx context.Context, c *Client) (any, error) { return c.GetMe(ctx) },
		wantBody: `{}`,
		result:   `{"id":8000000001,"is_bot":true,"first_name":"Alerts","username":"alert_bot","can_join_groups":true}`,
		want:     User{ID: 8000000001, IsBot: true, FirstName: "Alerts", Username: "alert_bot", CanJoinGroups: true},
	}, {
		name: "getUpdates nil allowed_updates omitted", method: "getUpdates",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.GetUpdates(ctx, GetUpdatesParams{Offset: 10, Limit: 100, Timeout: 30})
		},
		wantBody: `{"offset":10,"limit":100,"timeout":30}`,
		result: `[{"update_id":10,"callback_query":{"id":"q1","from":{"id":5,"is_bot":false,"first_name":"Ann"},` +
			`"message":` + messageRes + `,"chat_instance":"ci","data":"ack:0123456789abcdef"}},` +
			`{"update_id":11,"my_chat_member":{"chat":{"id":-5,"type":"group","title":"g"},"from":{"id":5,"is_bot":false,"first_name":"Ann"},` +
			`"date":1700000001,"old_chat_member":{"status":"left","user":{"id":99,"is_bot":true,"first_name":"bot"}},` +
			`"new_chat_member":{"status":"member","user":{"id":99,"is_bot":true,"first_name":"bot"}}}}]`,
		want: []Update{{
			UpdateID: 10,
			CallbackQuery: &CallbackQuery{ID: "q1", From: User{ID: 5, FirstName: "Ann"}, Message: &wantMessage,
				ChatInstance: "ci", Data: "ack:0123456789abcdef"},
		}, {
			UpdateID: 11,
			MyChatMember: &ChatMemberUpdated{
				Chat: Chat{ID: -5, Type: ChatGroup, Title: "g"}, From: User{ID: 5, FirstName: "Ann"}, Date: 1700000001,
				OldChatMember: ChatMember{Status: MemberLeft, User: User{ID: 99, IsBot: true, FirstName: "bot"}},
				NewChatMember: ChatMember{Status: MemberMember, User: User{ID: 99, IsBot: true, FirstName: "bot"}},
			},
		}},
	}, {
		name: "getUpdates empty allowed_updates sent", method: "getUpdates",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.GetUpdates(ctx, GetUpdatesParams{AllowedUpdates: []string{}})
		},
		wantBody: `{"allowed_updates":[]}`, result: `[]`, want: []Update{},
	}, {
		name: "setWebhook", method: "setWebhook",
		call: func(ctx context.Context, c *Client) (any, error) {
			return nil, c.SetWebhook(ctx, SetWebhookParams{URL: "https://bridge.example.com/tg", SecretToken: "s3cr3t",
				AllowedUpdates: []string{"message", "callback_query", "my_chat_member"}, DropPendingUpdates: true})
		},
		wantBody: `{"url":"https://bridge.example.com/tg","secret_token":"s3cr3t",
			"allowed_updates":["message","callback_query","my_chat_member"],"drop_pending_updates":true}`,
		result: `true`,
	}, {
		name: "deleteWebhook", method: "deleteWebhook",
		call:     func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteWebhook(ctx, true) },
		wantBody: `{"drop_pending_updates":true}`, result: `true`,
	}, {
		name: "setMyCommands default scope", method: "setMyCommands",
		call: func(ctx context.Context, c *Client) (any, error) {
			return nil, c.SetMyCommands(ctx, []BotCommand{{Command: "start", Description: "Subscribe"}}, nil)
		},
		wantBody: `{"commands":[{"command":"start","description":"Subscribe"}]}`, result: `true`,
	}, {
		name: "setMyCommands chat scope, nil list", method: "setMyCommands",
		call: func(ctx context.Context, c *Client) (any, error) {
			return nil, c.SetMyCommands(ctx, nil, &BotCommandScope{Type: ScopeChat, ChatID: bigChat})
		},
		wantBody: `{"commands":[],"scope":{"type":"chat","chat_id":-1001234567890123}}`, result: `true`,
	}, {
		name: "getChatMember", method: "getChatMember",
		call: func(ctx context.Context, c *Client) (any, error) {
			return c.GetChatMember(ctx, bigChat, 5)
		},
		wantBody: `{"chat_id":-1001234567890123,"user_id":5}`,
		result:   `{"status":"administrator","user":{"id":5,"is_bot":false,"first_name":"Ann"}}`,
		want:     ChatMember{Status: MemberAdministrator, User: User{ID: 5, FirstName: "Ann"}},
	}}
}

func assertJSONEqual(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("request body %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want body %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("request body = %s\nwant %s", got, want)
	}
}
