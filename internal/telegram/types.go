package telegram

import "encoding/json"

// User is a Telegram user or bot. CanJoinGroups, CanReadAllGroupMessages
// and SupportsInlineQueries are set only by getMe.
type User struct {
	ID                      int64  `json:"id"`
	IsBot                   bool   `json:"is_bot"`
	FirstName               string `json:"first_name"`
	LastName                string `json:"last_name,omitempty"`
	Username                string `json:"username,omitempty"`
	LanguageCode            string `json:"language_code,omitempty"`
	CanJoinGroups           bool   `json:"can_join_groups,omitempty"`
	CanReadAllGroupMessages bool   `json:"can_read_all_group_messages,omitempty"`
	SupportsInlineQueries   bool   `json:"supports_inline_queries,omitempty"`
}

// Chat types.
const (
	ChatPrivate    = "private"
	ChatGroup      = "group"
	ChatSupergroup = "supergroup"
	ChatChannel    = "channel"
)

// Chat is a private chat, group, supergroup or channel.
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	IsForum   bool   `json:"is_forum,omitempty"`
}

// Message is a message. A CallbackQuery's inaccessible message decodes with
// Date 0.
type Message struct {
	MessageID         int64                 `json:"message_id"`
	MessageThreadID   int64                 `json:"message_thread_id,omitempty"`
	From              *User                 `json:"from,omitempty"`
	SenderChat        *Chat                 `json:"sender_chat,omitempty"`
	Chat              Chat                  `json:"chat"`
	Date              int64                 `json:"date"`
	EditDate          int64                 `json:"edit_date,omitempty"`
	IsTopicMessage    bool                  `json:"is_topic_message,omitempty"`
	ReplyToMessage    *Message              `json:"reply_to_message,omitempty"`
	Text              string                `json:"text,omitempty"`
	Entities          []MessageEntity       `json:"entities,omitempty"`
	Caption           string                `json:"caption,omitempty"`
	CaptionEntities   []MessageEntity       `json:"caption_entities,omitempty"`
	Photo             []PhotoSize           `json:"photo,omitempty"`
	ReplyMarkup       *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
	MigrateToChatID   int64                 `json:"migrate_to_chat_id,omitempty"`
	MigrateFromChatID int64                 `json:"migrate_from_chat_id,omitempty"`
}

// MessageEntity is a formatting entity. Offset and Length are in UTF-16
// code units.
type MessageEntity struct {
	Type          string `json:"type"`
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	URL           string `json:"url,omitempty"`
	User          *User  `json:"user,omitempty"`
	Language      string `json:"language,omitempty"`
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// PhotoSize is one size of a photo.
type PhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Update is one incoming update; exactly one of the pointers is set for the
// update types alertgram subscribes to.
type Update struct {
	UpdateID      int64              `json:"update_id"`
	Message       *Message           `json:"message,omitempty"`
	EditedMessage *Message           `json:"edited_message,omitempty"`
	CallbackQuery *CallbackQuery     `json:"callback_query,omitempty"`
	MyChatMember  *ChatMemberUpdated `json:"my_chat_member,omitempty"`
}

// CallbackQuery is an inline button press. Always answer it with
// AnswerCallbackQuery.
type CallbackQuery struct {
	ID              string   `json:"id"`
	From            User     `json:"from"`
	Message         *Message `json:"message,omitempty"`
	InlineMessageID string   `json:"inline_message_id,omitempty"`
	ChatInstance    string   `json:"chat_instance"`
	Data            string   `json:"data,omitempty"`
}

// ChatMemberUpdated reports a change of a chat member's status; as
// my_chat_member it is the bot's own status.
type ChatMemberUpdated struct {
	Chat          Chat       `json:"chat"`
	From          User       `json:"from"`
	Date          int64      `json:"date"`
	OldChatMember ChatMember `json:"old_chat_member"`
	NewChatMember ChatMember `json:"new_chat_member"`
}

// Chat member statuses.
const (
	MemberCreator       = "creator"
	MemberAdministrator = "administrator"
	MemberMember        = "member"
	MemberRestricted    = "restricted"
	MemberLeft          = "left"
	MemberKicked        = "kicked"
)

// ChatMember is a user's membership of a chat. IsMember is meaningful only
// for Status "restricted".
type ChatMember struct {
	Status   string `json:"status"`
	User     User   `json:"user"`
	IsMember bool   `json:"is_member,omitempty"`
}

// InlineKeyboardMarkup is an inline keyboard: rows of buttons.
type InlineKeyboardMarkup struct {
	InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
}

// MarshalJSON encodes a nil keyboard as [] (the field is required).
func (m InlineKeyboardMarkup) MarshalJSON() ([]byte, error) {
	type plain InlineKeyboardMarkup
	if m.InlineKeyboard == nil {
		m.InlineKeyboard = [][]InlineKeyboardButton{}
	}
	return json.Marshal(plain(m))
}

// Button styles.
const (
	StyleDanger  = "danger"
	StyleSuccess = "success"
	StylePrimary = "primary"
)

// InlineKeyboardButton is a callback button (CallbackData, 1–64 bytes) or a
// URL button (URL).
type InlineKeyboardButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
	Style        string `json:"style,omitempty"`
}

// ReplyParameters makes a message a reply.
type ReplyParameters struct {
	MessageID                int64 `json:"message_id"`
	ChatID                   int64 `json:"chat_id,omitempty"`
	AllowSendingWithoutReply bool  `json:"allow_sending_without_reply,omitempty"`
}

// LinkPreviewOptions controls the link preview.
type LinkPreviewOptions struct {
	IsDisabled       bool   `json:"is_disabled,omitempty"`
	URL              string `json:"url,omitempty"`
	PreferSmallMedia bool   `json:"prefer_small_media,omitempty"`
	PreferLargeMedia bool   `json:"prefer_large_media,omitempty"`
	ShowAboveText    bool   `json:"show_above_text,omitempty"`
}

// ImagePreview is the link preview of an alert's text message: its image,
// large, or none (never a preview of some other link in the text).
func ImagePreview(image string) *LinkPreviewOptions {
	if image == "" {
		return &LinkPreviewOptions{IsDisabled: true}
	}
	return &LinkPreviewOptions{URL: image, PreferLargeMedia: true}
}

// BotCommand is one entry of the bot's command menu.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// Bot command scope types.
const (
	ScopeDefault               = "default"
	ScopeAllPrivateChats       = "all_private_chats"
	ScopeAllGroupChats         = "all_group_chats"
	ScopeAllChatAdministrators = "all_chat_administrators"
	ScopeChat                  = "chat"
	ScopeChatAdministrators    = "chat_administrators"
	ScopeChatMember            = "chat_member"
)

// BotCommandScope selects where a command list applies. ChatID is set for
// the chat scopes, UserID for chat_member.
type BotCommandScope struct {
	Type   string `json:"type"`
	ChatID int64  `json:"chat_id,omitempty"`
	UserID int64  `json:"user_id,omitempty"`
}
