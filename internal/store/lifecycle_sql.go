package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

var _ Lifecycle = (*sqlStore)(nil)

// pendingChatsSQL finds the chats with due, unleased pending deliveries in
// time proportional to the number of chats with pending deliveries, not of
// the deliveries: chats walks their distinct ids (a loose index scan, one
// index seek per chat), and for each chat one more seek in
// deliveries_chat_due finds its oldest due delivery, skipping only the
// leased ones (what workers hold in flight), without reading the table.
// due is MATERIALIZED so that PostgreSQL computes each chat's oldest once.
// With 200,000 pending deliveries to 200 chats it takes 0.9 ms on SQLite
// and 2.6 ms on PostgreSQL, where a GROUP BY over the index takes 35 and 56
// ms. Arguments: now, limit (see prepared.go for the CAST).
const pendingChatsSQL = `WITH RECURSIVE chats (chat_id) AS (
	SELECT (SELECT d.chat_id FROM deliveries d WHERE d.state = 'pending' ORDER BY d.chat_id LIMIT 1)
	UNION ALL
	SELECT (SELECT d.chat_id FROM deliveries d WHERE d.state = 'pending' AND d.chat_id > c.chat_id
		ORDER BY d.chat_id LIMIT 1)
	FROM chats c WHERE c.chat_id IS NOT NULL
), due (chat_id, oldest) AS MATERIALIZED (
	SELECT c.chat_id, (SELECT d.next_attempt_at FROM deliveries d
		WHERE d.state = 'pending' AND d.chat_id = c.chat_id AND d.next_attempt_at <= $1
			AND (d.lease_until IS NULL OR d.lease_until <= $1)
		ORDER BY d.next_attempt_at LIMIT 1)
	FROM chats c WHERE c.chat_id IS NOT NULL
)
SELECT chat_id FROM due WHERE oldest IS NOT NULL ORDER BY oldest, chat_id LIMIT CAST($2 AS INTEGER)`

// PendingChats reads from the readers (SQLite) without a transaction: it
// is advice, and the claim that follows decides.
func (s *sqlStore) PendingChats(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.stmts.pendingChats.QueryContext(ctx, s.d.ts(now), limit)
	if err != nil {
		return nil, wrapErr("pending chats", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var chat int64
		if err := rows.Scan(&chat); err != nil {
			return nil, wrapErr("pending chats", err)
		}
		out = append(out, chat)
	}
	return out, wrapErr("pending chats", rows.Err())
}

// ClaimChatDeliveries walks deliveries_chat_order, which holds every column
// its selection reads (see dialect.chatClaimHint).
func (s *sqlStore) ClaimChatDeliveries(ctx context.Context, owner string, chatID int64, now, leaseUntil time.Time,
	limit int) ([]Delivery, error) {
	scope := claimScope{from: "deliveries d" + s.d.chatClaimHint, where: " AND d.chat_id = $5", order: notificationOrder}
	return s.claim(ctx, "claim chat deliveries", scope, owner, now, leaseUntil, limit, chatID)
}

// maxIDsPerStatement bounds the placeholders of one IN list, well below
// SQLite's (32766) and PostgreSQL's (65535) limits.
const maxIDsPerStatement = 1000

// SupersedeDeliveries counts an id listed twice once: the second time the
// delivery is no longer pending.
func (s *sqlStore) SupersedeDeliveries(ctx context.Context, ids []int64, reason string) (int, error) {
	n, err := s.updateIDs(ctx, ids, false, `UPDATE deliveries
		SET state = 'superseded', last_error = $1, owner = NULL, lease_until = NULL
		WHERE state = 'pending' AND id IN (%s)`, reason)
	return n, wrapErr("supersede deliveries", err)
}

// MarkDeliveredBatch compares the rows changed with the ids, so it drops
// repeated ids first: in different chunks one would change its row twice.
func (s *sqlStore) MarkDeliveredBatch(ctx context.Context, ids []int64, messageID int64, at time.Time) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	_, err := s.updateIDs(ctx, ids, true, `UPDATE deliveries
		SET state = 'delivered', message_id = $1, delivered_at = $2, owner = NULL, lease_until = NULL
		WHERE id IN (%s)`, messageID, s.d.ts(at))
	return wrapErr("mark delivered batch", err)
}

// updateIDs runs query over ids in one transaction and returns how many
// rows it changed. The %s of query takes an IN list of ids (in chunks, to
// bound the placeholders of a statement) and its own placeholders are args.
// With all, every id must change a row: otherwise nothing changes and the
// error is ErrNotFound.
func (s *sqlStore) updateIDs(ctx context.Context, ids []int64, all bool, query string, args ...any) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer rollback(tx)
	changed := 0
	for chunk := range slices.Chunk(ids, maxIDsPerStatement) {
		in, idArgs := inList(len(args)+1, chunk)
		n, err := execCount(ctx, tx, fmt.Sprintf(query, in), slices.Concat(args, idArgs)...)
		if err != nil {
			return 0, err
		}
		changed += n
	}
	if all && changed < len(ids) {
		return 0, fmt.Errorf("%d of %d deliveries: %w", len(ids)-changed, len(ids), ErrNotFound)
	}
	return changed, tx.Commit()
}

func (s *sqlStore) PutMessageRef(ctx context.Context, ref MessageRef) error {
	if ref.ChatID == 0 || ref.MessageID == 0 {
		return errors.New("store: put message ref: no chat or message id")
	}
	if ref.UpdatedAt.IsZero() {
		ref.UpdatedAt = time.Now()
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO message_refs
		(chat_id, thread_id, route, group_key, message_id, status, digest, photo, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (chat_id, thread_id, route, group_key) DO UPDATE SET message_id = excluded.message_id,
			status = excluded.status, digest = excluded.digest, photo = excluded.photo, updated_at = excluded.updated_at`,
		ref.ChatID, ref.ThreadID, ref.Route, ref.GroupKey, ref.MessageID, ref.Status, ref.Digest, ref.Photo,
		s.d.ts(ref.UpdatedAt))
	return wrapErr("put message ref", err)
}

func (s *sqlStore) GetMessageRef(ctx context.Context, chatID, threadID int64, route, groupKey string) (MessageRef, bool, error) {
	ref := MessageRef{ChatID: chatID, ThreadID: threadID, Route: route, GroupKey: groupKey}
	err := s.read.QueryRowContext(ctx, `SELECT message_id, status, digest, photo, updated_at FROM message_refs
		WHERE chat_id = $1 AND thread_id = $2 AND route = $3 AND group_key = $4`, chatID, threadID, route, groupKey).
		Scan(&ref.MessageID, &ref.Status, &ref.Digest, &ref.Photo, scanTime(&ref.UpdatedAt))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return MessageRef{}, false, nil
	case err != nil:
		return MessageRef{}, false, wrapErr("get message ref", err)
	}
	return ref, true, nil
}

func (s *sqlStore) PruneMessageRefs(ctx context.Context, before time.Time) (int, error) {
	return s.deleteBefore(ctx, "prune message refs", "message_refs", "updated_at", before)
}

func (s *sqlStore) PruneDedupe(ctx context.Context, before time.Time) (int, error) {
	return s.deleteBefore(ctx, "prune dedupe", "notification_dedupe", "received_at", before)
}

// pruneNotificationsSQL deletes one batch of PruneNotifications; deliveries
// go with their notification (ON DELETE CASCADE). Ids follow acceptance, so
// the walk in id order stops at the first notification received at the cut
// or later instead of reading the whole table (there is no index on
// received_at, which every insert would pay for); a notification committed
// a moment out of order is left for the next prune. Arguments: before,
// limit.
const pruneNotificationsSQL = `DELETE FROM notifications WHERE id IN (
	SELECT n.id FROM notifications n
	WHERE n.id < COALESCE((SELECT m.id FROM notifications m WHERE m.received_at >= $1 ORDER BY m.id LIMIT 1),
			9223372036854775807)
		AND n.received_at < $1 AND n.routed_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id AND d.state = 'pending')
	ORDER BY n.id LIMIT CAST($2 AS INTEGER))`

// pruneBatch bounds the notifications one PruneNotifications transaction
// deletes.
const pruneBatch = 500

func (s *sqlStore) PruneNotifications(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		n, err := execCount(ctx, s.write, pruneNotificationsSQL, s.d.ts(before), pruneBatch)
		total += n
		if err != nil {
			return total, wrapErr("prune notifications", err)
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}
