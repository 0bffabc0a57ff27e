package testutil

import (
	"encoding/json"
	"time"

	"github.com/alertgram/alertgram/internal/tgmarkup"
)

// Chat is a Telegram chat as the fake reports it. A zero Type is inferred
// from the id: positive ids are private chats, -100… ids supergroups,
// other negative ids basic groups.
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	IsForum   bool   `json:"is_forum,omitempty"`
}

// User is a Telegram user.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// InlineKeyboardMarkup is the only reply markup the fake records.
type InlineKeyboardMarkup struct {
	InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
}

// InlineKeyboardButton is one inline button.
type InlineKeyboardButton struct {
	Text                         string          `json:"text"`
	URL                          string          `json:"url,omitempty"`
	CallbackData                 string          `json:"callback_data,omitempty"`
	Style                        string          `json:"style,omitempty"`
	WebApp                       json.RawMessage `json:"web_app,omitempty"`
	LoginURL                     json.RawMessage `json:"login_url,omitempty"`
	SwitchInlineQuery            *string         `json:"switch_inline_query,omitempty"`
	SwitchInlineQueryCurrentChat *string         `json:"switch_inline_query_current_chat,omitempty"`
	CopyText                     json.RawMessage `json:"copy_text,omitempty"`
}

// BotCommand is one entry of setMyCommands.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// Message is a message the fake accepted from sendMessage or sendPhoto,
// as it was sent (later edits are in Edits).
type Message struct {
	Method              string // sendMessage or sendPhoto
	ChatID              int64
	ThreadID            int64
	MessageID           int64
	Text                string // text or caption, as sent
	ParseMode           string
	ParsedText          string // the text Telegram shows, after parsing
	Entities            []tgmarkup.Entity
	ReplyMarkup         *InlineKeyboardMarkup
	DisableNotification bool
	ProtectContent      bool
	ReplyTo             int64  // message id replied to, 0 if none
	Photo               string // sendPhoto: URL, file_id or uploaded file name
	Time                time.Time
}

// Edit is an accepted editMessageText, editMessageCaption or
// editMessageReplyMarkup.
type Edit struct {
	Method      string
	ChatID      int64
	MessageID   int64
	Text        string // editMessageText, editMessageCaption: text or caption as sent
	ParseMode   string
	ParsedText  string
	Entities    []tgmarkup.Entity
	ReplyMarkup *InlineKeyboardMarkup // nil: keyboard removed
	Time        time.Time
}

// Call is one request to the fake, successful or not.
type Call struct {
	Method      string
	Params      map[string]string // as telegram-bot-api sees them: non-string JSON values as JSON text
	Status      int               // HTTP status; 200 on success
	Description string            // error description; "" on success
	Time        time.Time
}

// Decode unmarshals a JSON-serialized parameter (reply_markup, ...) of c.
func (c Call) Decode(key string, v any) error { return json.Unmarshal([]byte(c.Params[key]), v) }

// Answer is an accepted answerCallbackQuery.
type Answer struct {
	CallbackQueryID string
	Text            string
	ShowAlert       bool
	URL             string
	CacheTime       int
	Time            time.Time
}

// Delivery is one attempt to POST an update to the webhook.
type Delivery struct {
	UpdateID int
	URL      string
	Attempt  int
	Status   int    // HTTP status, 0 on a transport error
	Err      string // transport error
}

// Window is a sliding-window rate limit: at most Max sends per Per. A zero
// Window disables the limit.
type Window struct {
	Max int
	Per time.Duration
}

// Limits are the fake's flood limits (Bot FAQ, PROTOCOLS.md §4.9).
type Limits struct {
	PerChat  Window // every chat; edits count too
	PerGroup Window // negative chat ids
	Global   Window // all sends
}

// DefaultLimits are about 1 message per second per chat, 20 per minute per
// group and 30 per second overall.
func DefaultLimits() Limits {
	return Limits{
		PerChat:  Window{Max: 1, Per: time.Second},
		PerGroup: Window{Max: 20, Per: time.Minute},
		Global:   Window{Max: 30, Per: time.Second},
	}
}

// cannedError is a FailNext entry.
type cannedError struct {
	code        int
	description string
	retryAfter  int
}
