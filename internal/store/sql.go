package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sqlStore implements Store over database/sql for both dialects. Writes go
// to write and reads to read: the same pool for PostgreSQL; for SQLite a
// single-connection writer (so this process never contends with itself for
// the write lock) and a pool of readers, which WAL lets run beside it.
type sqlStore struct {
	write, read *sql.DB
	d           dialect
	log         *slog.Logger
	stmts       *prepared
	adds        *committer    // AddNotification's group commit
	wal         *checkpointer // SQLite only: background WAL checkpoints
	walDB       *sql.DB       // the checkpointer's connection
}

var _ Store = (*sqlStore)(nil)

// newSQLStore prepares the statements and starts the committer, which
// Close stops. On error the caller still owns, and closes, the pools.
func newSQLStore(ctx context.Context, write, read *sql.DB, d dialect, logger *slog.Logger) (*sqlStore, error) {
	stmts, err := prepare(ctx, write, read)
	if err != nil {
		return nil, err
	}
	s := &sqlStore{write: write, read: read, d: d, log: logger, stmts: stmts}
	s.adds = startCommitter(s.commitBatch)
	return s, nil
}

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	if s.read != s.write {
		if err := s.read.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping readers: %w", err)
		}
	}
	return nil
}

// Close answers every AddNotification under way (committing those queued)
// before it closes the database.
func (s *sqlStore) Close() error {
	s.adds.stop()
	err := s.stmts.close()
	if s.wal != nil {
		err = errors.Join(err, s.wal.stop(), s.walDB.Close())
	}
	if s.read == s.write {
		return errors.Join(err, s.write.Close())
	}
	return errors.Join(err, s.read.Close(), s.write.Close())
}

// AddNotification hands n to the committer (groupcommit.go), which commits
// it together with those of concurrent callers. An error is n's own: its
// duplicate key, the failure of a statement for n alone, or the failure of
// the transaction holding it. If ctx ends first, it returns ctx.Err() and n
// may still be committed, as when a caller gives up during a commit.
func (s *sqlStore) AddNotification(ctx context.Context, n Notification) (int64, error) {
	if n.ReceivedAt.IsZero() {
		n.ReceivedAt = time.Now()
	}
	if n.Payload == nil {
		n.Payload = []byte{}
	}
	if n.DedupeKey != "" && n.DedupeWindow < 0 {
		return 0, errors.New("store: add notification: negative dedupe window")
	}
	return s.adds.add(ctx, n)
}

// commitBatch adds the notifications of batch in one transaction and
// answers each request; a duplicate is answered ErrDuplicate, and of two
// copies in one batch the first wins, as if they came one after the other.
// When a statement fails, nothing is committed (PostgreSQL cannot go on
// after a failed statement anyway), and the batch is retried one
// notification per transaction, so that a notification the database
// rejects fails only its own caller. A failed commit fails every caller in
// the batch: whether it committed is unknown, and retrying could store the
// notifications twice.
func (s *sqlStore) commitBatch(batch []*addRequest) {
	batch = live(batch)
	if len(batch) == 0 {
		return
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	ids, stmtFailed, err := s.addBatch(ctx, batch)
	switch {
	case err == nil:
		for i, r := range batch {
			if ids[i] == 0 {
				r.answer(0, ErrDuplicate)
			} else {
				r.answer(ids[i], nil)
			}
		}
	case stmtFailed && len(batch) > 1:
		s.log.Debug("group commit failed, retrying one by one", "notifications", len(batch), "err", err)
		for _, r := range batch {
			s.commitBatch([]*addRequest{r})
		}
	default:
		for _, r := range batch {
			r.answer(0, err)
		}
	}
}

// addBatch adds batch's notifications in one transaction and returns their
// ids, 0 for a duplicate. stmtFailed tells that a statement failed, before
// the commit was attempted.
//
// It claims the dedupe keys first, in key order: under PostgreSQL a claim
// locks the key's row until the commit, and replicas claiming the same keys
// (Alertmanager HA peers send each notification to every replica) must lock
// them in the same order or deadlock. The sort is stable, so copies of one
// key are decided in the batch's order. Then it inserts the accepted
// notifications in the batch's order, which their ids follow, each routed
// one with its deliveries.
func (s *sqlStore) addBatch(ctx context.Context, batch []*addRequest) (ids []int64, stmtFailed bool, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, wrapErr("add notification", err)
	}
	defer rollback(tx)
	dup := make([]bool, len(batch))
	if keyed := byDedupeKey(batch); len(keyed) > 0 {
		claim := tx.StmtContext(ctx, s.stmts.claimDedupeKey)
		for _, i := range keyed {
			switch err := s.claimDedupeKey(ctx, claim, batch[i].n); {
			case errors.Is(err, ErrDuplicate):
				dup[i] = true
			case err != nil:
				return nil, true, err
			}
		}
	}
	insert := tx.StmtContext(ctx, s.stmts.insertNotification)
	var deliver *sql.Stmt // bound on the first routed notification
	ids = make([]int64, len(batch))
	for i, r := range batch {
		if dup[i] {
			continue
		}
		if ids[i], err = s.insertNotification(ctx, insert, r.n); err != nil {
			return nil, true, err
		}
		if !r.n.Routed {
			continue
		}
		if deliver == nil {
			deliver = tx.StmtContext(ctx, s.stmts.insertDelivery)
		}
		if err := s.insertDeliveries(ctx, deliver, ids[i], r.n.ReceivedAt, r.n.Targets); err != nil {
			return nil, true, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("store: add notification: commit: %w", err)
	}
	return ids, false, nil
}

// byDedupeKey returns the indexes of the requests in batch that have a
// dedupe key, ordered by key, each key's in the batch's order.
func byDedupeKey(batch []*addRequest) []int {
	var keyed []int
	for i, r := range batch {
		if r.n.DedupeKey != "" {
			keyed = append(keyed, i)
		}
	}
	slices.SortStableFunc(keyed, func(a, b int) int { return strings.Compare(batch[a].n.DedupeKey, batch[b].n.DedupeKey) })
	return keyed
}

// claimDedupeKey records n's DedupeKey as received at n.ReceivedAt unless a
// notification with the key was received at or after the window's start,
// in which case it returns ErrDuplicate. It is one upsert whose update is
// conditional, so it is atomic in both databases: SQLite serialises
// writers, and under PostgreSQL a racing transaction waits for the row the
// first one inserted or updated, then evaluates the condition against the
// committed row and changes nothing.
func (s *sqlStore) claimDedupeKey(ctx context.Context, claim *sql.Stmt, n Notification) error {
	var changed int64
	res, err := claim.ExecContext(ctx, n.DedupeKey, s.d.ts(n.ReceivedAt), s.d.ts(n.ReceivedAt.Add(-n.DedupeWindow)))
	if err == nil {
		changed, err = res.RowsAffected()
	}
	switch {
	case err != nil:
		return wrapErr("add notification: dedupe", err)
	case changed == 0:
		return ErrDuplicate
	}
	return nil
}

func (s *sqlStore) insertNotification(ctx context.Context, insert *sql.Stmt, n Notification) (int64, error) {
	var id int64
	var routedAt any // NULL: unrouted
	if n.Routed {
		routedAt = s.d.ts(n.ReceivedAt)
	}
	err := insert.QueryRowContext(ctx, n.Source, n.Route, n.GroupKey, n.Payload, s.d.ts(n.ReceivedAt), routedAt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: add notification: %w", err)
	}
	return id, nil
}

func (s *sqlStore) UnroutedNotifications(ctx context.Context, limit int) ([]Notification, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.stmts.unrouted.QueryContext(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("store: unrouted notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		if err := rows.Scan(&n.ID, &n.Source, &n.Route, &n.GroupKey, &n.Payload, scanTime(&n.ReceivedAt)); err != nil {
			return nil, fmt.Errorf("store: unrouted notifications: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unrouted notifications: %w", err)
	}
	return out, nil
}

// RouteNotification is RouteNotifications for one notification.
func (s *sqlStore) RouteNotification(ctx context.Context, id int64, targets []Target) error {
	return s.RouteNotifications(ctx, []RoutedNotification{{ID: id, Targets: targets}})
}

// RouteNotifications makes each notification's deliveries due at its
// acceptance time, which is never later than now by the caller's clock
// (ClaimDeliveries takes the caller's now, so the store's own clock must not
// decide when a delivery becomes due). The guard routed_at IS NULL makes
// routing idempotent: under PostgreSQL a racing replica blocks on the row,
// then sees it routed and leaves it. The rows are updated in ascending id
// order, so that replicas routing overlapping batches lock them in the same
// order and cannot deadlock.
func (s *sqlStore) RouteNotifications(ctx context.Context, ns []RoutedNotification) error {
	if len(ns) == 0 {
		return nil
	}
	ns = slices.SortedStableFunc(slices.Values(ns), func(a, b RoutedNotification) int { return cmp.Compare(a.ID, b.ID) })
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr("route notifications", err)
	}
	defer rollback(tx)
	st := routeStmts{tx: tx, markRouted: tx.StmtContext(ctx, s.stmts.markRouted),
		deliver: tx.StmtContext(ctx, s.stmts.insertDelivery)}
	now := s.d.ts(time.Now())
	for _, n := range ns {
		if err := s.routeInTx(ctx, st, n, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: route notifications: commit: %w", err)
	}
	return nil
}

// routeStmts are RouteNotifications' statements, bound to tx.
type routeStmts struct {
	tx                  *sql.Tx
	markRouted, deliver *sql.Stmt
}

// routeInTx marks n routed at now and adds its deliveries, unless it is
// routed already. An unknown id is ErrNotFound.
func (s *sqlStore) routeInTx(ctx context.Context, st routeStmts, n RoutedNotification, now any) error {
	var due time.Time
	err := st.markRouted.QueryRowContext(ctx, n.ID, now).Scan(scanTime(&due))
	if errors.Is(err, sql.ErrNoRows) {
		return s.routedAlready(ctx, st.tx, n.ID)
	}
	if err != nil {
		return fmt.Errorf("store: route notification %d: %w", n.ID, err)
	}
	return s.insertDeliveries(ctx, st.deliver, n.ID, due, n.Targets)
}

// routedAlready returns nil if notification id exists (so it was routed
// before) and ErrNotFound if it does not.
func (s *sqlStore) routedAlready(ctx context.Context, tx *sql.Tx, id int64) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM notifications WHERE id = $1`, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: route notification %d: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: route notification %d: %w", id, err)
	}
	s.log.Debug("notification already routed", "notification_id", id)
	return nil
}

// insertDeliveries adds one pending delivery per distinct target.
func (s *sqlStore) insertDeliveries(ctx context.Context, deliver *sql.Stmt, id int64, due time.Time, targets []Target) error {
	for _, t := range uniqueTargets(targets) {
		_, err := deliver.ExecContext(ctx, id, t.ChatID, t.ThreadID, s.d.ts(due))
		if err != nil {
			return fmt.Errorf("store: route notification %d to chat %d: %w", id, t.ChatID, err)
		}
	}
	return nil
}

func uniqueTargets(targets []Target) []Target {
	seen := make(map[Target]bool, len(targets))
	out := make([]Target, 0, len(targets))
	for _, t := range targets {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// exists returns nil when the row exists and ErrNotFound when it does not.
func (s *sqlStore) exists(ctx context.Context, table string, id int64, op string) error {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = $1`, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: %s %d: %w", op, id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: %s %d: %w", op, id, err)
	}
	return nil
}

// claimSQL leases due rows of a claimScope; its last verb is the dialect's
// skipLocked. Its arguments are owner, lease end, now, limit, then the
// scope's. The selection is MATERIALIZED so that PostgreSQL evaluates it
// (and takes its row locks) exactly once, whatever plan it picks for the
// UPDATE.
const claimSQL = `WITH due AS MATERIALIZED (
	SELECT d.id FROM %s
	WHERE d.state = 'pending' AND d.next_attempt_at <= $3 AND (d.lease_until IS NULL OR d.lease_until <= $3)%s
	ORDER BY %s LIMIT $4 %s)
UPDATE deliveries SET owner = $1, lease_until = $2, attempts = attempts + 1
WHERE id IN (SELECT id FROM due)
RETURNING id`

// claimScope narrows a claim: from is deliveries as d (with an index hint
// where a dialect needs one), where adds conditions (" AND …", whose
// placeholders start at $5) and order is the selection order, in which
// the claim also returns the deliveries.
type claimScope struct{ from, where, order string }

// selectDeliveries reads deliveries with their notification, in the order
// of the Scan in deliveriesByID.
const selectDeliveries = `SELECT d.id, d.notification_id, n.source, n.route, n.group_key, d.chat_id, d.thread_id,
	n.payload, d.attempts, d.next_attempt_at, n.received_at, d.last_error
	FROM deliveries d JOIN notifications n ON n.id = d.notification_id`

// Orders of claims: oldest due first, or (for one chat) the order the
// notifications were accepted in, so that a chat sees them in that order
// even when an older one waited for a retry.
const (
	dueOrder          = "d.next_attempt_at, d.id"
	notificationOrder = "d.notification_id, d.id"
)

func (s *sqlStore) ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]Delivery, error) {
	return s.claim(ctx, "claim deliveries", claimScope{from: "deliveries d", order: dueOrder}, owner, now, leaseUntil, limit)
}

// claim leases up to limit due rows of scope, whose conditions take args,
// and returns them in the scope's order.
func (s *sqlStore) claim(ctx context.Context, op string, scope claimScope, owner string, now, leaseUntil time.Time,
	limit int, args ...any) ([]Delivery, error) {
	if owner == "" {
		return nil, fmt.Errorf("store: %s: empty owner", op)
	}
	if limit <= 0 {
		return nil, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rollback(tx)
	query := fmt.Sprintf(claimSQL, scope.from, scope.where, scope.order, s.d.skipLocked)
	ids, err := queryIDs(ctx, tx, query, append([]any{owner, s.d.ts(leaseUntil), s.d.ts(now), limit}, args...)...)
	if err != nil || len(ids) == 0 {
		return nil, wrapErr(op, err)
	}
	out, err := s.deliveriesByID(ctx, tx, ids, scope.order)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: %s: commit: %w", op, err)
	}
	return out, nil
}

func queryIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// deliveriesByID reads the given deliveries with their notification in
// order (columns of deliveries d).
func (s *sqlStore) deliveriesByID(ctx context.Context, tx *sql.Tx, ids []int64, order string) ([]Delivery, error) {
	in, args := inList(1, ids)
	rows, err := tx.QueryContext(ctx, selectDeliveries+` WHERE d.id IN (`+in+`) ORDER BY `+order, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read deliveries: %w", err)
	}
	defer rows.Close()
	out := make([]Delivery, 0, len(ids))
	for rows.Next() {
		var d Delivery
		err := rows.Scan(&d.ID, &d.NotificationID, &d.Source, &d.Route, &d.GroupKey, &d.Target.ChatID,
			&d.Target.ThreadID, &d.Payload, &d.Attempts, scanTime(&d.NextAttemptAt), scanTime(&d.AcceptedAt), &d.LastError)
		if err != nil {
			return nil, fmt.Errorf("store: read deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read deliveries: %w", err)
	}
	return out, nil
}

// inList returns the placeholders $first… for ids, comma-separated, and
// ids as arguments.
func inList(first int, ids []int64) (string, []any) {
	var in strings.Builder
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			in.WriteString(", ")
		}
		in.WriteString("$" + strconv.Itoa(first+i))
		args[i] = id
	}
	return in.String(), args
}

func (s *sqlStore) ReleaseClaims(ctx context.Context, owner string) error {
	_, err := s.write.ExecContext(ctx, `UPDATE deliveries SET owner = NULL, lease_until = NULL WHERE owner = $1`, owner)
	return wrapErr("release claims", err)
}

// MarkDelivered records the delivery whatever its state: if a lease expired
// and the delivery was failed or delivered elsewhere meanwhile, Telegram has
// still accepted this copy.
func (s *sqlStore) MarkDelivered(ctx context.Context, id int64, messageID int64, at time.Time) error {
	return s.updateDelivery(ctx, "mark delivered", id, `UPDATE deliveries
		SET state = 'delivered', message_id = $2, delivered_at = $3, owner = NULL, lease_until = NULL
		WHERE id = $1`, id, messageID, s.d.ts(at))
}

// RetryDelivery and FailDelivery change only pending deliveries, so that a
// late answer from a sender whose lease expired cannot reopen or fail a
// delivery that ended elsewhere; for an ended delivery they do nothing.
func (s *sqlStore) RetryDelivery(ctx context.Context, id int64, next time.Time, lastErr string) error {
	return s.updateDelivery(ctx, "retry delivery", id, `UPDATE deliveries
		SET next_attempt_at = $2, last_error = $3, owner = NULL, lease_until = NULL
		WHERE id = $1 AND state = 'pending'`, id, s.d.ts(next), lastErr)
}

func (s *sqlStore) FailDelivery(ctx context.Context, id int64, reason string) error {
	return s.updateDelivery(ctx, "fail delivery", id, `UPDATE deliveries
		SET state = 'failed', last_error = $2, owner = NULL, lease_until = NULL
		WHERE id = $1 AND state = 'pending'`, id, reason)
}

func (s *sqlStore) updateDelivery(ctx context.Context, op string, id int64, query string, args ...any) error {
	res, err := s.write.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: %s %d: %w", op, id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return wrapErr(op, err)
	}
	return s.exists(ctx, "deliveries", id, op)
}

// RetargetDeliveries moves pending deliveries to the new chat id. Where the
// same notification already has a delivery to the new chat (the chat was
// listed under both ids), the old one is failed instead of sent twice.
func (s *sqlStore) RetargetDeliveries(ctx context.Context, from, to int64) (int, error) {
	if from == to {
		return 0, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: retarget deliveries: %w", err)
	}
	defer rollback(tx)
	_, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = 'failed', last_error = $3, owner = NULL, lease_until = NULL
		WHERE chat_id = $1 AND state = 'pending' AND EXISTS (SELECT 1 FROM deliveries o
			WHERE o.notification_id = deliveries.notification_id AND o.chat_id = $2 AND o.thread_id = deliveries.thread_id)`,
		from, to, fmt.Sprintf("chat migrated to %d, which already has this notification", to))
	if err != nil {
		return 0, fmt.Errorf("store: retarget deliveries: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE deliveries SET chat_id = $2 WHERE chat_id = $1 AND state = 'pending'`, from, to)
	if err != nil {
		return 0, fmt.Errorf("store: retarget deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: retarget deliveries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: retarget deliveries: commit: %w", err)
	}
	return int(n), nil
}

// Counts reads everything in one statement, hence from one snapshot.
func (s *sqlStore) Counts(ctx context.Context) (map[string]int, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT state, COUNT(*) FROM deliveries GROUP BY state
		UNION ALL SELECT 'unrouted', COUNT(*) FROM notifications WHERE routed_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{StatePending: 0, StateDelivered: 0, StateFailed: 0, StateSuperseded: 0, "unrouted": 0}
	for rows.Next() {
		var (
			key string
			n   int
		)
		if err := rows.Scan(&key, &n); err != nil {
			return nil, fmt.Errorf("store: counts: %w", err)
		}
		out[key] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	return out, nil
}

func (s *sqlStore) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var t time.Time
	col := scanTime(&t)
	err := s.read.QueryRowContext(ctx, `SELECT MIN(t) FROM (
		SELECT MIN(n.received_at) AS t FROM deliveries d JOIN notifications n ON n.id = d.notification_id
			WHERE d.state = 'pending'
		UNION ALL
		SELECT MIN(received_at) AS t FROM notifications WHERE routed_at IS NULL) AS oldest`).Scan(col)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: oldest pending: %w", err)
	}
	return t, col.valid, nil
}

// rollback is deferred right after BeginTx. After Commit it does nothing
// (it returns sql.ErrTxDone); before it, the caller is already returning the
// error that stopped the transaction, which says more than the rollback's
// would. So its error is deliberately dropped.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }

// wrapErr prefixes a non-nil error with the operation; nil stays nil.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
