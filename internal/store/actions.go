package store

import (
	"context"
	"time"
)

// States of an ActionMessage.
const (
	ActionStateNone     = ""         // firing, nobody acted
	ActionStateAcked    = "acked"    // an ack silence is active
	ActionStateSilenced = "silenced" // a silence is active
	ActionStateResolved = "resolved" // the group resolved; buttons are gone
)

// ActionMessage is one Telegram message that carries action buttons. It is
// stored with its buttons before the message is sent, so that no press can
// come before its record, and completed by MarkActionMessageSent once
// Telegram accepted it; until then MessageID is 0 (pending).
type ActionMessage struct {
	ID        int64
	Route     string
	Source    string // alertmanager | grafana: which API a silence goes to
	ChatID    int64
	ThreadID  int64
	MessageID int64 // 0 while pending
	GroupKey  string
	// SilenceLabels are what a silence made from this message matches
	// (one equality matcher per label), fixed when the message was sent.
	SilenceLabels map[string]string
	// Text and ParseMode are the message as sent, so that a state line can
	// be added to it without rendering the group again.
	Text      string
	ParseMode string
	// Photo: the message is a photo and Text its caption (edited with
	// editMessageCaption). ImageURL is the image it shows, as the photo or
	// as a text message's link preview; "" for none.
	Photo    bool
	ImageURL string
	// State, and the silence, actor and end time behind it.
	State     string
	SilenceID string
	Actor     string
	Until     time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Callback is the record behind one inline button: callback_data is its ID.
type Callback struct {
	ID              string // random, 1–64 bytes (Telegram's callback_data limit)
	ActionMessageID int64
	Action          string        // ack, silence_menu, silence, cancel, unsilence, unack
	Duration        time.Duration // silence: how long
	SilenceID       string        // unsilence from a /silences listing
	CreatedAt       time.Time
}

// SentMessage is what Telegram accepted for a pending ActionMessage.
type SentMessage struct {
	MessageID int64
	Text      string
	ParseMode string
	Photo     bool
	ImageURL  string
}

// ActionState is a state change of an ActionMessage.
type ActionState struct {
	State     string
	SilenceID string
	Actor     string
	Until     time.Time
	At        time.Time
}

// Actions is the persistence behind inline buttons.
type Actions interface {
	// SaveActionMessage stores a message (sent, or pending with MessageID
	// 0) and its buttons (their ActionMessageID is set to the new
	// message's id) and returns its id.
	SaveActionMessage(ctx context.Context, m ActionMessage, buttons []Callback) (int64, error)
	// MarkActionMessageSent completes a pending message with what Telegram
	// accepted; ErrNotFound if unknown.
	MarkActionMessageSent(ctx context.Context, id int64, sent SentMessage) error
	// AddCallbacks stores more buttons of existing messages.
	AddCallbacks(ctx context.Context, buttons []Callback) error
	// ReplaceCallbacks makes buttons the only live buttons of the action
	// message id: the records of its earlier keyboards are revoked in the
	// same transaction, so a button of a keyboard that was replaced (a
	// closed menu, a state left behind) answers "expired". Empty buttons
	// revoke them all.
	ReplaceCallbacks(ctx context.Context, id int64, buttons []Callback) error
	// RevokeCallbacks deletes the records of the buttons ids (one button
	// removed from a keyboard); unknown ids are ignored.
	RevokeCallbacks(ctx context.Context, ids ...string) error
	// LookupCallback returns a button and its message, or ErrNotFound.
	LookupCallback(ctx context.Context, id string) (Callback, ActionMessage, error)
	// SetActionState records a message's new state; ErrNotFound if unknown.
	SetActionState(ctx context.Context, id int64, st ActionState) error
	// ActionMessagesInState returns the messages in state, oldest first.
	ActionMessagesInState(ctx context.Context, state string) ([]ActionMessage, error)
	// ActionMessagesForGroup returns the sent messages showing a route's
	// alert group, in every chat, oldest first.
	ActionMessagesForGroup(ctx context.Context, route, groupKey string) ([]ActionMessage, error)
	// PruneActionMessages deletes messages (and their buttons) not updated
	// since before and returns how many.
	PruneActionMessages(ctx context.Context, before time.Time) (int, error)
}
