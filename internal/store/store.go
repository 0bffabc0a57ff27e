// Package store persists what alertgram must not lose: the outbox of
// accepted notifications and their per-chat deliveries, and the chats
// subscribed to each route through deep links. SQLite is the
// embedded default; PostgreSQL serves HA replicas. It is a leaf: payloads are
// opaque bytes to it.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a row addressed by id does not exist.
var ErrNotFound = errors.New("store: not found")

// Notification is one accepted webhook, normalised and serialised by the
// caller (JSON of alert.Group). Accepted means it will be delivered.
type Notification struct {
	ID         int64
	Source     string
	Route      string
	GroupKey   string
	Payload    []byte
	ReceivedAt time.Time
	// DedupeKey identifies identical notifications (same group, status and
	// alert set). When set, AddNotification returns ErrDuplicate if a
	// notification with the same key was received within DedupeWindow
	// before ReceivedAt, and stores nothing.
	//
	// Precisely: a notification stored with the key at or after ReceivedAt
	// − DedupeWindow (to the microsecond) makes this one a duplicate, so
	// the window is anchored at the last notification accepted, not slid
	// by rejected duplicates. An empty key never dedupes; a zero window
	// dedupes only a copy received at the same microsecond or later. The
	// check and the insert are one transaction, so of concurrent callers
	// (replicas included) with the same key exactly one is accepted. Keys
	// are kept until PruneDedupe. Neither field is read back.
	DedupeKey    string
	DedupeWindow time.Duration
	// Routed tells that Targets are the notification's chats, decided by
	// the caller at intake: it is stored routed, with one pending delivery
	// per distinct target (due at ReceivedAt) in the same transaction, so a
	// notification costs one commit instead of two. Otherwise it is stored
	// unrouted, for UnroutedNotifications and RouteNotifications. Neither
	// field is read back.
	Routed  bool
	Targets []Target
}

// Target is one chat (and optional forum topic) a notification goes to.
type Target struct {
	ChatID   int64
	ThreadID int64 // 0: no topic
}

// RoutedNotification is a notification's id and the chats it goes to, for
// RouteNotifications.
type RoutedNotification struct {
	ID      int64
	Targets []Target
}

// Delivery states.
const (
	StatePending   = "pending"   // waiting for (another) attempt
	StateDelivered = "delivered" // Telegram accepted it
	StateFailed    = "failed"    // permanently rejected; kept for inspection
	// StateSuperseded (lifecycle.go) ends a delivery a newer state replaced.
)

// Delivery is one notification to one chat: the unit the dispatcher sends.
type Delivery struct {
	ID             int64
	NotificationID int64
	Source         string
	Route          string
	GroupKey       string
	Target         Target
	Payload        []byte // the notification's payload
	Attempts       int
	NextAttemptAt  time.Time
	AcceptedAt     time.Time // when the notification was accepted
	LastError      string
}

// Store is everything the pipeline needs from persistence. Implementations
// are safe for concurrent use. Every method commits before it returns nil.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error

	// AddNotification durably records an accepted notification and returns
	// its id; it returns only after the commit. A duplicate (see
	// Notification.DedupeKey) is (0, ErrDuplicate). Concurrent calls may
	// share a transaction (group commit), but each gets its own answer.
	// When ctx ends first it returns ctx.Err(), and the notification may
	// have been committed nonetheless. After Close it returns ErrClosed.
	AddNotification(ctx context.Context, n Notification) (int64, error)
	// UnroutedNotifications returns up to limit notifications not yet routed,
	// oldest first.
	UnroutedNotifications(ctx context.Context, limit int) ([]Notification, error)
	// RouteNotification atomically creates one pending delivery per target
	// (due now) and marks the notification routed. Routing an already routed
	// notification is a no-op that returns nil (another replica won).
	RouteNotification(ctx context.Context, id int64, targets []Target) error
	// RouteNotifications routes several notifications in one transaction,
	// each as RouteNotification would (those already routed are left
	// alone). If an id is unknown it routes none and returns ErrNotFound.
	RouteNotifications(ctx context.Context, ns []RoutedNotification) error

	// ClaimDeliveries leases up to limit pending deliveries that are due at
	// now and not leased by anyone else (or whose lease expired), marks them
	// leased by owner until leaseUntil, increments their Attempts and returns
	// them, oldest due first.
	ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]Delivery, error)
	// ReleaseClaims drops every lease held by owner (used at start-up: a
	// restarted process must not wait for its own dead leases).
	ReleaseClaims(ctx context.Context, owner string) error
	// MarkDelivered records Telegram's message id and ends the delivery.
	MarkDelivered(ctx context.Context, id int64, messageID int64, at time.Time) error
	// RetryDelivery releases the lease and schedules another attempt.
	RetryDelivery(ctx context.Context, id int64, next time.Time, lastErr string) error
	// FailDelivery ends the delivery as permanently failed.
	FailDelivery(ctx context.Context, id int64, reason string) error
	// RetargetDeliveries moves pending deliveries from one chat to another
	// (a group upgraded to a supergroup) and returns how many moved.
	RetargetDeliveries(ctx context.Context, from, to int64) (int, error)

	// Counts returns the number of deliveries per state and the number of
	// unrouted notifications under the key "unrouted". Every state
	// (StatePending, StateDelivered, StateFailed, StateSuperseded) and
	// "unrouted" is present, zero included.
	Counts(ctx context.Context) (map[string]int, error)
	// OldestPending returns the accepted time of the oldest pending delivery
	// or unrouted notification; ok is false when there is none. Ended
	// deliveries (superseded included) do not count.
	OldestPending(ctx context.Context) (t time.Time, ok bool, err error)

	Subscriptions
	Lifecycle
	Actions
	Silences
	LightClaims
}
