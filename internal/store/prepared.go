package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The statements that run once per notification (in a batch of group
// commit or RouteNotifications, and the recipients' lookup when routing)
// or once per round of the dispatcher (also pendingChatsSQL).
//
// A prepared statement's LIMIT is written CAST($n AS INTEGER): SQLite plans
// a LIMIT $n for the value bound, so it prepares the statement again
// whenever $n is bound anew, which made parsing most of PendingChats' cost.
const (
	insertNotificationSQL = `INSERT INTO notifications (source, route, group_key, payload, received_at, routed_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`
	// claimDedupeKeySQL: see claimDedupeKey.
	claimDedupeKeySQL = `INSERT INTO notification_dedupe (dedupe_key, received_at) VALUES ($1, $2)
		ON CONFLICT (dedupe_key) DO UPDATE SET received_at = excluded.received_at
		WHERE notification_dedupe.received_at < $3`
	markRoutedSQL = `UPDATE notifications SET routed_at = $2 WHERE id = $1 AND routed_at IS NULL
		RETURNING received_at`
	insertDeliverySQL = `INSERT INTO deliveries (notification_id, chat_id, thread_id, next_attempt_at)
		VALUES ($1, $2, $3, $4)`
	activeSubscriptionsSQL = `SELECT ` + subscriptionColumns + ` FROM subscriptions
		WHERE deactivated_at IS NULL AND route = $1 ORDER BY id`
	unroutedSQL = `SELECT id, source, route, group_key, payload, received_at
		FROM notifications WHERE routed_at IS NULL ORDER BY id LIMIT CAST($1 AS INTEGER)`
)

// prepared holds those statements, prepared once (parsing them for every
// row was a quarter of a group commit's time on SQLite): the writes on the
// writer, the reads on the readers. A transaction binds a write with
// tx.StmtContext. database/sql prepares a statement again on a connection
// that lacks it (a reconnect, another connection of the pool).
type prepared struct {
	insertNotification, claimDedupeKey, markRouted, insertDelivery *sql.Stmt // write
	activeSubscriptions, unrouted, pendingChats                    *sql.Stmt // read
}

func prepare(ctx context.Context, write, read *sql.DB) (*prepared, error) {
	p := &prepared{}
	for _, st := range []struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&p.insertNotification, write, insertNotificationSQL},
		{&p.claimDedupeKey, write, claimDedupeKeySQL},
		{&p.markRouted, write, markRoutedSQL},
		{&p.insertDelivery, write, insertDeliverySQL},
		{&p.activeSubscriptions, read, activeSubscriptionsSQL},
		{&p.unrouted, read, unroutedSQL},
		{&p.pendingChats, read, pendingChatsSQL},
	} {
		var err error
		if *st.dst, err = st.db.PrepareContext(ctx, st.query); err != nil {
			p.close()
			return nil, fmt.Errorf("store: prepare statements: %w", err)
		}
	}
	return p, nil
}

func (p *prepared) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{p.insertNotification, p.claimDedupeKey, p.markRouted, p.insertDelivery,
		p.activeSubscriptions, p.unrouted, p.pendingChats} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
