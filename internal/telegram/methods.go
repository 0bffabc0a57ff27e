package telegram

import (
	"context"
	"encoding/json"
	"time"
)

// Parse modes.
const (
	ParseModeHTML       = "HTML"
	ParseModeMarkdownV2 = "MarkdownV2"
)

// longPollGrace is how much longer than its long-poll timeout a getUpdates
// call may take before its context gives up.
const longPollGrace = 15 * time.Second

// GetMe returns the bot's own user.
func (c *Client) GetMe(ctx context.Context) (User, error) {
	var u User
	err := c.call(ctx, "getMe", nil, &u)
	return u, err
}

// SendMessageParams are the sendMessage parameters alertgram uses.
type SendMessageParams struct {
	ChatID              int64                 `json:"chat_id"`
	MessageThreadID     int64                 `json:"message_thread_id,omitempty"`
	Text                string                `json:"text"`
	ParseMode           string                `json:"parse_mode,omitempty"`
	Entities            []MessageEntity       `json:"entities,omitempty"`
	ReplyMarkup         *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
	DisableNotification bool                  `json:"disable_notification,omitempty"`
	ProtectContent      bool                  `json:"protect_content,omitempty"`
	ReplyParameters     *ReplyParameters      `json:"reply_parameters,omitempty"`
	LinkPreviewOptions  *LinkPreviewOptions   `json:"link_preview_options,omitempty"`
}

// SendMessage sends a text message.
func (c *Client) SendMessage(ctx context.Context, p SendMessageParams) (Message, error) {
	var m Message
	err := c.call(ctx, "sendMessage", p, &m)
	return m, err
}

// SendPhotoParams are the sendPhoto parameters alertgram uses. Photo is an
// HTTP URL (or a file_id); Caption is at most 1024 characters after parsing.
type SendPhotoParams struct {
	ChatID              int64                 `json:"chat_id"`
	MessageThreadID     int64                 `json:"message_thread_id,omitempty"`
	Photo               string                `json:"photo"`
	Caption             string                `json:"caption,omitempty"`
	ParseMode           string                `json:"parse_mode,omitempty"`
	CaptionEntities     []MessageEntity       `json:"caption_entities,omitempty"`
	ReplyMarkup         *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
	DisableNotification bool                  `json:"disable_notification,omitempty"`
	ProtectContent      bool                  `json:"protect_content,omitempty"`
	ReplyParameters     *ReplyParameters      `json:"reply_parameters,omitempty"`
}

// SendPhoto sends a photo.
func (c *Client) SendPhoto(ctx context.Context, p SendPhotoParams) (Message, error) {
	var m Message
	err := c.call(ctx, "sendPhoto", p, &m)
	return m, err
}

// EditMessageTextParams identify the message by ChatID+MessageID or by
// InlineMessageID.
type EditMessageTextParams struct {
	ChatID             int64                 `json:"chat_id,omitempty"`
	MessageID          int64                 `json:"message_id,omitempty"`
	InlineMessageID    string                `json:"inline_message_id,omitempty"`
	Text               string                `json:"text"`
	ParseMode          string                `json:"parse_mode,omitempty"`
	Entities           []MessageEntity       `json:"entities,omitempty"`
	LinkPreviewOptions *LinkPreviewOptions   `json:"link_preview_options,omitempty"`
	ReplyMarkup        *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// EditMessageText replaces a message's text. For an inline message Telegram
// returns no message, and the zero Message is returned. An identical edit
// fails with an error for which IsNotModified is true.
func (c *Client) EditMessageText(ctx context.Context, p EditMessageTextParams) (Message, error) {
	var m messageOrTrue
	err := c.call(ctx, "editMessageText", p, &m)
	return m.Message, err
}

// EditMessageCaptionParams identify the message as in
// EditMessageTextParams. Caption is at most 1024 characters after parsing;
// a nil ReplyMarkup removes the keyboard, as with editMessageText.
type EditMessageCaptionParams struct {
	ChatID          int64                 `json:"chat_id,omitempty"`
	MessageID       int64                 `json:"message_id,omitempty"`
	InlineMessageID string                `json:"inline_message_id,omitempty"`
	Caption         string                `json:"caption"`
	ParseMode       string                `json:"parse_mode,omitempty"`
	CaptionEntities []MessageEntity       `json:"caption_entities,omitempty"`
	ReplyMarkup     *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// EditMessageCaption replaces the caption of a photo (or other media)
// message; editMessageText cannot edit those. Results and errors are as
// for EditMessageText.
func (c *Client) EditMessageCaption(ctx context.Context, p EditMessageCaptionParams) (Message, error) {
	var m messageOrTrue
	err := c.call(ctx, "editMessageCaption", p, &m)
	return m.Message, err
}

// EditMessageReplyMarkupParams identify the message as in
// EditMessageTextParams. A nil ReplyMarkup removes the keyboard.
type EditMessageReplyMarkupParams struct {
	ChatID          int64                 `json:"chat_id,omitempty"`
	MessageID       int64                 `json:"message_id,omitempty"`
	InlineMessageID string                `json:"inline_message_id,omitempty"`
	ReplyMarkup     *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// EditMessageReplyMarkup replaces or removes a message's inline keyboard.
func (c *Client) EditMessageReplyMarkup(ctx context.Context, p EditMessageReplyMarkupParams) (Message, error) {
	var m messageOrTrue
	err := c.call(ctx, "editMessageReplyMarkup", p, &m)
	return m.Message, err
}

// messageOrTrue decodes the result of the edit methods: a Message, or true
// for inline messages.
type messageOrTrue struct{ Message }

func (m *messageOrTrue) UnmarshalJSON(b []byte) error {
	if string(b) == "true" {
		return nil
	}
	return json.Unmarshal(b, &m.Message)
}

// DeleteMessage deletes a message.
func (c *Client) DeleteMessage(ctx context.Context, chatID, messageID int64) error {
	p := struct {
		ChatID    int64 `json:"chat_id"`
		MessageID int64 `json:"message_id"`
	}{chatID, messageID}
	return c.call(ctx, "deleteMessage", p, nil)
}

// AnswerCallbackQueryParams answer a button press. Text (0–200 characters)
// is a toast, or a modal alert with ShowAlert.
type AnswerCallbackQueryParams struct {
	CallbackQueryID string `json:"callback_query_id"`
	Text            string `json:"text,omitempty"`
	ShowAlert       bool   `json:"show_alert,omitempty"`
	URL             string `json:"url,omitempty"`
	CacheTime       int    `json:"cache_time,omitempty"`
}

// AnswerCallbackQuery stops the client's progress spinner for a button press.
func (c *Client) AnswerCallbackQuery(ctx context.Context, p AnswerCallbackQueryParams) error {
	return c.call(ctx, "answerCallbackQuery", p, nil)
}

// GetUpdatesParams are the getUpdates parameters. Timeout is the long-poll
// timeout in seconds (the server caps it at 50). A nil AllowedUpdates keeps
// the previous setting; an empty non-nil one asks for the default set.
type GetUpdatesParams struct {
	Offset         int64    `json:"offset,omitempty"`
	Limit          int      `json:"limit,omitempty"`
	Timeout        int      `json:"timeout,omitempty"`
	AllowedUpdates []string `json:"allowed_updates,omitzero"`
}

// GetUpdates long-polls for updates. The HTTP client's own timeout does not
// apply; the call is bounded by ctx and by Timeout plus a grace period.
func (c *Client) GetUpdates(ctx context.Context, p GetUpdatesParams) ([]Update, error) {
	wait := time.Duration(max(p.Timeout, 0))*time.Second + longPollGrace
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var u []Update
	err := c.call(ctx, methodGetUpdates, p, &u)
	return u, err
}

// SetWebhookParams are the setWebhook parameters. SecretToken (1–256 of
// A-Z a-z 0-9 _ -) comes back in the X-Telegram-Bot-Api-Secret-Token header.
// AllowedUpdates follows GetUpdatesParams.
type SetWebhookParams struct {
	URL                string   `json:"url"`
	SecretToken        string   `json:"secret_token,omitempty"`
	AllowedUpdates     []string `json:"allowed_updates,omitzero"`
	DropPendingUpdates bool     `json:"drop_pending_updates,omitempty"`
	MaxConnections     int      `json:"max_connections,omitempty"`
}

// SetWebhook makes Telegram push updates to p.URL.
func (c *Client) SetWebhook(ctx context.Context, p SetWebhookParams) error {
	return c.call(ctx, "setWebhook", p, nil)
}

// DeleteWebhook removes the webhook, e.g. before switching to GetUpdates.
func (c *Client) DeleteWebhook(ctx context.Context, dropPendingUpdates bool) error {
	p := struct {
		DropPendingUpdates bool `json:"drop_pending_updates,omitempty"`
	}{dropPendingUpdates}
	return c.call(ctx, "deleteWebhook", p, nil)
}

// SetMyCommands sets the bot's command menu for scope (nil: the default
// scope). At most 100 commands.
func (c *Client) SetMyCommands(ctx context.Context, commands []BotCommand, scope *BotCommandScope) error {
	p := struct {
		Commands []BotCommand     `json:"commands"`
		Scope    *BotCommandScope `json:"scope,omitempty"`
	}{commands, scope}
	if p.Commands == nil {
		p.Commands = []BotCommand{}
	}
	return c.call(ctx, "setMyCommands", p, nil)
}

// GetChatMember returns a user's membership of a chat.
func (c *Client) GetChatMember(ctx context.Context, chatID, userID int64) (ChatMember, error) {
	p := struct {
		ChatID int64 `json:"chat_id"`
		UserID int64 `json:"user_id"`
	}{chatID, userID}
	var m ChatMember
	err := c.call(ctx, "getChatMember", p, &m)
	return m, err
}
