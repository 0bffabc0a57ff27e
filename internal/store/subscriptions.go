package store

import (
	"context"
	"errors"
	"time"
)

// Errors of RedeemLinkToken. They are distinct so the bot can tell the
// user why a link did not work.
var (
	ErrTokenUnknown = errors.New("store: link token unknown")
	ErrTokenExpired = errors.New("store: link token expired")
	ErrTokenUsed    = errors.New("store: link token already used")
	// ErrTokenWrongChat: a group link (?startgroup=) opened in a private
	// chat, or a private link in a group. The token stays unused.
	ErrTokenWrongChat = errors.New("store: link token is for another kind of chat")
)

// LinkToken is a single-use deep-link token that subscribes the chat that
// redeems it to Route, filtered by Matchers.
type LinkToken struct {
	Token     string // random, URL-safe, ≤ 64 chars; the primary key
	Route     string
	Matchers  []string // Alertmanager matcher strings, e.g. severity="critical"; empty = all alerts
	Group     bool     // made for ?startgroup=
	CreatedAt time.Time
	ExpiresAt time.Time
	CreatedBy string // "cli", "api", ...
	// Set once redeemed.
	UsedAt     time.Time
	UsedByChat int64
}

// Subscription delivers a route's notifications to a chat (and topic).
type Subscription struct {
	ID        int64
	ChatID    int64
	ThreadID  int64 // 0: no forum topic
	Route     string
	Matchers  []string
	ChatTitle string // for /status and logs
	CreatedBy string // Telegram user who redeemed the link ("@name (id)")
	CreatedAt time.Time
	Active    bool
}

// Subscriptions is the persistence of deep-link subscriptions and of the
// Telegram updates the bot handled recently. A (chat, thread, route) has at
// most one subscription: subscribing again replaces its matchers and
// reactivates it.
type Subscriptions interface {
	// CreateLinkToken stores a new token.
	CreateLinkToken(ctx context.Context, t LinkToken) error
	// RedeemLinkToken atomically checks that token exists, is unused, not
	// expired at now and made for sub's kind of chat (a group link for a
	// group, supergroup or channel, whose ids are negative; a private link
	// for a private chat, whose id is the user's, positive), marks it used
	// by sub.ChatID and upserts the subscription for (sub.ChatID,
	// sub.ThreadID, token's route) with the token's matchers, active. It
	// returns the stored subscription, or ErrTokenUnknown, ErrTokenUsed,
	// ErrTokenExpired or ErrTokenWrongChat (nothing changed).
	RedeemLinkToken(ctx context.Context, token string, now time.Time, sub Subscription) (Subscription, error)
	// ActiveSubscriptions returns the active subscriptions of route.
	ActiveSubscriptions(ctx context.Context, route string) ([]Subscription, error)
	// ChatSubscriptions returns the active subscriptions of a chat (all its
	// topics).
	ChatSubscriptions(ctx context.Context, chatID int64) ([]Subscription, error)
	// Unsubscribe deactivates the chat's subscriptions in thread (only that
	// topic, or every topic when allThreads) to route ("" = every route) and
	// returns how many it deactivated.
	Unsubscribe(ctx context.Context, chatID, threadID int64, allThreads bool, route string) (int, error)
	// DeactivateChat deactivates every subscription of a chat (bot blocked,
	// kicked, chat deleted) and returns how many.
	DeactivateChat(ctx context.Context, chatID int64, reason string) (int, error)
	// MigrateChat moves every subscription of a group to its new supergroup
	// id and returns how many moved.
	MigrateChat(ctx context.Context, from, to int64) (int, error)
	// UpdateHandled reports whether MarkUpdateHandled recorded the Telegram
	// update updateID (and PruneHandledUpdates has not deleted it since).
	UpdateHandled(ctx context.Context, updateID int64) (bool, error)
	// MarkUpdateHandled records the update updateID as handled at at.
	// Recording an id again is not an error; the record keeps the later of
	// the two times.
	MarkUpdateHandled(ctx context.Context, updateID int64, at time.Time) error
	// PruneHandledUpdates deletes the records of updates handled before
	// before (to the microsecond) and returns how many it deleted.
	PruneHandledUpdates(ctx context.Context, before time.Time) (int, error)
	// PruneLinkTokens deletes the link tokens that expired before before
	// (to the microsecond), used or not, and returns how many it deleted.
	PruneLinkTokens(ctx context.Context, before time.Time) (int, error)
	// CountSubscriptions returns the number of active subscriptions per route.
	CountSubscriptions(ctx context.Context) (map[string]int, error)
}
