package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// DeliveryHeader is a claimed delivery without its notification's payload:
// what a consumer holding many claims keeps of each. Payload is nil and
// LastError is empty (both can be large and neither is needed to plan the
// messages); PayloadSize tells what reading the payload will cost.
type DeliveryHeader struct {
	Delivery
	PayloadSize int // bytes of the notification's payload
}

// LightClaims claims deliveries without their payloads and reads payloads
// separately, so that a consumer holding thousands of claims (one chat
// worker each) does not hold thousands of payloads.
type LightClaims interface {
	// ClaimChatDeliveryHeaders is ClaimChatDeliveries (same selection, same
	// lease, same order) returning headers instead of whole deliveries.
	ClaimChatDeliveryHeaders(ctx context.Context, owner string, chatID int64, now, leaseUntil time.Time, limit int) ([]DeliveryHeader, error)
	// NotificationPayloads returns the payloads of the notifications ids,
	// by id; unknown ids are left out. A notification with a pending
	// delivery is never pruned, so a claimed delivery's payload is there.
	NotificationPayloads(ctx context.Context, ids []int64) (map[int64][]byte, error)
}

var _ LightClaims = (*sqlStore)(nil)

// selectDeliveryHeaders reads deliveries with their notification, as
// selectDeliveries without the payload and the last error. LENGTH is the
// payload's size in bytes for a BLOB (SQLite, which does not read the blob
// for it) and a BYTEA (PostgreSQL) alike.
const selectDeliveryHeaders = `SELECT d.id, d.notification_id, n.source, n.route, n.group_key, d.chat_id, d.thread_id,
	LENGTH(n.payload), d.attempts, d.next_attempt_at, n.received_at
	FROM deliveries d JOIN notifications n ON n.id = d.notification_id`

// ClaimChatDeliveryHeaders takes the leases as ClaimChatDeliveries does,
// in one transaction with the read of the headers.
func (s *sqlStore) ClaimChatDeliveryHeaders(ctx context.Context, owner string, chatID int64, now, leaseUntil time.Time,
	limit int) ([]DeliveryHeader, error) {
	const op = "claim chat delivery headers"
	if owner == "" {
		return nil, fmt.Errorf("store: %s: empty owner", op)
	}
	if limit <= 0 {
		return nil, nil
	}
	scope := claimScope{from: "deliveries d" + s.d.chatClaimHint, where: " AND d.chat_id = $5", order: notificationOrder}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rollback(tx)
	query := fmt.Sprintf(claimSQL, scope.from, scope.where, scope.order, s.d.skipLocked)
	ids, err := queryIDs(ctx, tx, query, owner, s.d.ts(leaseUntil), s.d.ts(now), limit, chatID)
	if err != nil || len(ids) == 0 {
		return nil, wrapErr(op, err)
	}
	out, err := deliveryHeadersByID(ctx, tx, ids, scope.order)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: %s: commit: %w", op, err)
	}
	return out, nil
}

func deliveryHeadersByID(ctx context.Context, tx *sql.Tx, ids []int64, order string) ([]DeliveryHeader, error) {
	in, args := inList(1, ids)
	rows, err := tx.QueryContext(ctx, selectDeliveryHeaders+` WHERE d.id IN (`+in+`) ORDER BY `+order, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]DeliveryHeader, 0, len(ids))
	for rows.Next() {
		var h DeliveryHeader
		d := &h.Delivery
		err := rows.Scan(&d.ID, &d.NotificationID, &d.Source, &d.Route, &d.GroupKey, &d.Target.ChatID,
			&d.Target.ThreadID, &h.PayloadSize, &d.Attempts, scanTime(&d.NextAttemptAt), scanTime(&d.AcceptedAt))
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// NotificationPayloads reads from the readers (SQLite), in statements of
// at most maxIDsPerStatement ids.
func (s *sqlStore) NotificationPayloads(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(ids))
	for chunk := range slices.Chunk(ids, maxIDsPerStatement) {
		if err := s.readPayloads(ctx, chunk, out); err != nil {
			return nil, wrapErr("notification payloads", err)
		}
	}
	return out, nil
}

func (s *sqlStore) readPayloads(ctx context.Context, ids []int64, into map[int64][]byte) error {
	in, args := inList(1, ids)
	rows, err := s.read.QueryContext(ctx, `SELECT id, payload FROM notifications WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id      int64
			payload []byte
		)
		if err := rows.Scan(&id, &payload); err != nil {
			return err
		}
		into[id] = payload
	}
	return rows.Err()
}
