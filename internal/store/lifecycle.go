package store

import (
	"context"
	"errors"
	"time"
)

// ErrDuplicate is returned by AddNotification when a notification with the
// same DedupeKey was accepted within DedupeWindow: Alertmanager HA peers
// and webhook retries deliver the same notification more than once.
var ErrDuplicate = errors.New("store: duplicate notification")

// StateSuperseded ends a delivery that a newer state of the same alert
// group (same chat, thread, route and group key) replaced before it was
// sent.
const StateSuperseded = "superseded"

// MessageRef remembers which Telegram message shows an alert group in a
// chat, so a later state of the group edits it in place.
type MessageRef struct {
	ChatID    int64
	ThreadID  int64
	Route     string
	GroupKey  string
	MessageID int64
	Status    string // the group status the message shows: firing | resolved
	Digest    bool   // the message is a digest of several groups
	Photo     bool   // the message is a photo: its text is a caption
	UpdatedAt time.Time
}

// Lifecycle is what storm-proof delivery needs beyond the outbox: per-chat
// claiming for one worker per chat, superseding, batch completion and
// message references.
type Lifecycle interface {
	// PendingChats returns up to limit distinct chat ids that have pending
	// deliveries due at now and not leased (or lease expired), ordered by
	// their oldest due delivery (fairness: the longest-waiting chat first),
	// ties by chat id. It locks nothing: a chat may be claimed by the time
	// the caller claims it.
	PendingChats(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// ClaimChatDeliveries is ClaimDeliveries restricted to one chat: it
	// leases up to limit due, unleased pending deliveries of chatID to owner,
	// increments their attempts and returns them oldest notification first.
	// It also selects in that order: when more than limit are due, the
	// oldest notifications are leased, even one due later than newer ones
	// after a retry, so a chat sees notifications in the order accepted.
	// Ties (one notification to several topics) go by delivery id.
	ClaimChatDeliveries(ctx context.Context, owner string, chatID int64, now, leaseUntil time.Time, limit int) ([]Delivery, error)
	// SupersedeDeliveries ends the given pending deliveries as superseded
	// and returns how many it changed (already finished ones are left alone).
	// Leased ones are superseded too and lose their lease; reason becomes
	// their LastError. Unknown ids are not counted; a superseded delivery
	// is never claimed again, and RetryDelivery and FailDelivery leave it.
	SupersedeDeliveries(ctx context.Context, ids []int64, reason string) (int, error)
	// MarkDeliveredBatch records one Telegram message id (a digest) for
	// several deliveries at once, in one transaction. Like MarkDelivered it
	// ends them whatever their state (a superseded one that was sent after
	// all counts as delivered). If any id is unknown it changes nothing and
	// returns ErrNotFound.
	MarkDeliveredBatch(ctx context.Context, ids []int64, messageID int64, at time.Time) error
	// PutMessageRef inserts or replaces the reference for (chat, thread,
	// route, group key), whatever the stored one's UpdatedAt. ChatID and
	// MessageID must be set; a zero UpdatedAt means now.
	PutMessageRef(ctx context.Context, ref MessageRef) error
	// GetMessageRef returns the reference for (chat, thread, route, group
	// key); ok is false when there is none.
	GetMessageRef(ctx context.Context, chatID, threadID int64, route, groupKey string) (ref MessageRef, ok bool, err error)
	// PruneMessageRefs deletes references not updated since before (to the
	// microsecond) and returns how many it deleted.
	PruneMessageRefs(ctx context.Context, before time.Time) (int, error)
	// PruneDedupe forgets the dedupe keys of notifications received before
	// before (to the microsecond) and returns how many it forgot. The
	// store keeps one row per distinct DedupeKey until pruned; call it
	// periodically with a time no later than now minus the longest
	// DedupeWindow in use, since a key pruned too early lets a duplicate
	// through.
	PruneDedupe(ctx context.Context, before time.Time) (int, error)
	// PruneNotifications deletes the notifications received before before
	// (to the microsecond) that were routed and have no pending delivery,
	// with their deliveries, and returns how many it deleted. Unrouted and
	// pending work is never deleted. It deletes in small transactions, so
	// intake never waits long for the write lock.
	PruneNotifications(ctx context.Context, before time.Time) (int, error)
}
