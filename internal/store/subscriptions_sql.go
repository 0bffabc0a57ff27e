package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxTokenLen is Telegram's limit on a deep-link start parameter.
const maxTokenLen = 64

// CreateLinkToken rejects a token Telegram could not carry in a deep link
// (1 to 64 of A-Z a-z 0-9 _ -), an empty route (Unsubscribe reads "" as
// every route) and a missing expiry. A zero CreatedAt means now. UsedAt and
// UsedByChat are stored as given: a token created used cannot be redeemed.
func (s *sqlStore) CreateLinkToken(ctx context.Context, t LinkToken) error {
	switch {
	case !validToken(t.Token):
		return fmt.Errorf("store: create link token: token must be 1 to %d letters, digits, '_' or '-'", maxTokenLen)
	case t.Route == "":
		return errors.New("store: create link token: empty route")
	case t.ExpiresAt.IsZero():
		return errors.New("store: create link token: no expiry")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	var usedBy any
	if t.UsedByChat != 0 {
		usedBy = t.UsedByChat
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO link_tokens
		(token, route, matchers, group_link, created_at, expires_at, created_by, used_at, used_by_chat)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.Token, t.Route, encodeMatchers(t.Matchers), t.Group, s.d.ts(t.CreatedAt), s.d.ts(t.ExpiresAt),
		t.CreatedBy, s.d.tsOrNil(t.UsedAt), usedBy)
	return wrapErr("create link token", err) // a duplicate token fails on the primary key
}

func validToken(tok string) bool {
	if tok == "" || len(tok) > maxTokenLen {
		return false
	}
	return !strings.ContainsFunc(tok, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-') //nolint:staticcheck // QF1001: "not one of the allowed characters" reads better than five negated ranges
	})
}

// upsertSubscription creates the subscription or, for a (chat, thread,
// route) that has one, replaces it in place (same id) and reactivates it.
const upsertSubscription = `INSERT INTO subscriptions (chat_id, thread_id, route, matchers, chat_title, created_by, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (chat_id, thread_id, route) DO UPDATE SET matchers = excluded.matchers,
		chat_title = excluded.chat_title, created_by = excluded.created_by, created_at = excluded.created_at,
		deactivated_at = NULL, deactivated_reason = ''
	RETURNING ` + subscriptionColumns

// RedeemLinkToken claims the token with one guarded UPDATE, so that of
// concurrent redemptions exactly one matches the row: SQLite serialises
// writers (BEGIN IMMEDIATE, across processes too), and under PostgreSQL a
// second redeemer waits for the first one's row lock, then re-checks the
// guard against the committed row and matches nothing. Only a failed claim
// looks at why. The subscription takes the token's route and matchers and
// sub's chat, thread, title and creator; a zero sub.CreatedAt means now,
// and replacing an existing subscription replaces its CreatedAt too.
func (s *sqlStore) RedeemLinkToken(ctx context.Context, token string, now time.Time, sub Subscription) (Subscription, error) {
	if sub.ChatID == 0 {
		return Subscription{}, errors.New("store: redeem link token: no chat id")
	}
	if sub.CreatedAt.IsZero() {
		sub.CreatedAt = now
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return Subscription{}, wrapErr("redeem link token", err)
	}
	defer rollback(tx)
	var route, matchers string
	err = tx.QueryRowContext(ctx, `UPDATE link_tokens SET used_at = $2, used_by_chat = $3
		WHERE token = $1 AND used_at IS NULL AND expires_at > $2 AND group_link = $4 RETURNING route, matchers`,
		token, s.d.ts(now), sub.ChatID, sub.ChatID < 0).Scan(&route, &matchers)
	if errors.Is(err, sql.ErrNoRows) {
		return Subscription{}, unredeemable(ctx, tx, token, now)
	}
	if err != nil {
		return Subscription{}, wrapErr("redeem link token", err)
	}
	out, err := scanSubscription(tx.QueryRowContext(ctx, upsertSubscription, sub.ChatID, sub.ThreadID, route,
		matchers, sub.ChatTitle, sub.CreatedBy, s.d.ts(sub.CreatedAt)))
	if err != nil {
		return Subscription{}, fmt.Errorf("store: redeem link token: subscribe chat %d: %w", sub.ChatID, err)
	}
	if err := tx.Commit(); err != nil {
		return Subscription{}, fmt.Errorf("store: redeem link token: commit: %w", err)
	}
	return out, nil
}

// unredeemable tells why a claim matched no row, checking in the documented
// order. It reads in the claiming transaction, after any competing claim
// has committed, so a token that exists, is unused and has not expired was
// made for the other kind of chat.
func unredeemable(ctx context.Context, tx *sql.Tx, token string, now time.Time) error {
	var usedAt, expiresAt time.Time
	used := scanTime(&usedAt)
	err := tx.QueryRowContext(ctx, `SELECT used_at, expires_at FROM link_tokens WHERE token = $1`, token).
		Scan(used, scanTime(&expiresAt))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrTokenUnknown
	case err != nil:
		return wrapErr("redeem link token", err)
	case used.valid:
		return ErrTokenUsed
	case !expiresAt.After(now):
		return ErrTokenExpired
	default:
		return ErrTokenWrongChat
	}
}

// ActiveSubscriptions returns them oldest first. Routing calls it for
// every notification, so its statement is prepared (activeSubscriptionsSQL).
func (s *sqlStore) ActiveSubscriptions(ctx context.Context, route string) ([]Subscription, error) {
	rows, err := s.stmts.activeSubscriptions.QueryContext(ctx, route)
	return collectSubscriptions("active subscriptions", rows, err)
}

// ChatSubscriptions returns them by thread, then route.
func (s *sqlStore) ChatSubscriptions(ctx context.Context, chatID int64) ([]Subscription, error) {
	return s.subscriptions(ctx, "chat subscriptions", `chat_id = $1 ORDER BY thread_id, route`, chatID)
}

// subscriptionColumns are what scanSubscription reads, in its order.
const subscriptionColumns = `id, chat_id, thread_id, route, matchers, chat_title, created_by, created_at, deactivated_at`

// subscriptions returns the active subscriptions that where (conditions,
// then ORDER BY) selects.
func (s *sqlStore) subscriptions(ctx context.Context, op, where string, args ...any) ([]Subscription, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE deactivated_at IS NULL AND `+where, args...)
	return collectSubscriptions(op, rows, err)
}

// collectSubscriptions reads the subscriptions of a query that returned
// rows and err.
func collectSubscriptions(op string, rows *sql.Rows, err error) ([]Subscription, error) {
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

func scanSubscription(row interface{ Scan(...any) error }) (Subscription, error) {
	var (
		sub           Subscription
		matchers      string
		deactivatedAt time.Time
	)
	deactivated := scanTime(&deactivatedAt)
	err := row.Scan(&sub.ID, &sub.ChatID, &sub.ThreadID, &sub.Route, &matchers, &sub.ChatTitle, &sub.CreatedBy,
		scanTime(&sub.CreatedAt), deactivated)
	if err != nil {
		return Subscription{}, err
	}
	sub.Active = !deactivated.valid
	if sub.Matchers, err = decodeMatchers(matchers); err != nil {
		return Subscription{}, fmt.Errorf("subscription %d: %w", sub.ID, err)
	}
	return sub, nil
}

// encodeMatchers stores matchers as a JSON array of strings; nil is [].
func encodeMatchers(m []string) string {
	if m == nil {
		m = []string{}
	}
	b, _ := json.Marshal(m) // a []string always marshals
	return string(b)
}

// decodeMatchers reads encodeMatchers' JSON; an empty array is nil.
func decodeMatchers(s string) ([]string, error) {
	var m []string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("matchers %q: %w", s, err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// Unsubscribe switches its thread and route conditions off through its
// arguments, so that one statement serves every case.
func (s *sqlStore) Unsubscribe(ctx context.Context, chatID, threadID int64, allThreads bool, route string) (int, error) {
	return s.deactivate(ctx, "unsubscribe", "unsubscribed",
		`chat_id = $3 AND ($4 OR thread_id = $5) AND ($6 = '' OR route = $6)`, chatID, allThreads, threadID, route)
}

// DeactivateChat keeps reason with the subscriptions, for inspection.
func (s *sqlStore) DeactivateChat(ctx context.Context, chatID int64, reason string) (int, error) {
	return s.deactivate(ctx, "deactivate chat", reason, `chat_id = $3`, chatID)
}

// deactivate ends the active subscriptions that where selects, whose
// placeholders start at $3, and returns how many. The time it records is
// the store's clock: it is for inspection only.
func (s *sqlStore) deactivate(ctx context.Context, op, reason, where string, args ...any) (int, error) {
	args = append([]any{s.d.ts(time.Now()), reason}, args...)
	n, err := execCount(ctx, s.write, `UPDATE subscriptions SET deactivated_at = $1, deactivated_reason = $2
		WHERE deactivated_at IS NULL AND `+where, args...)
	return n, wrapErr(op, err)
}

// execer is what *sql.DB and *sql.Tx share for statements without rows.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// execCount runs query and returns how many rows it changed.
// deleteBefore deletes the rows of table whose column is earlier than
// before (to the microsecond) and counts them: the Prune methods.
func (s *sqlStore) deleteBefore(ctx context.Context, op, table, column string, before time.Time) (int, error) {
	n, err := execCount(ctx, s.write, `DELETE FROM `+table+` WHERE `+column+` < $1`, s.d.ts(before))
	if err != nil {
		return 0, wrapErr(op, err)
	}
	return n, nil
}

func execCount(ctx context.Context, db execer, query string, args ...any) (int, error) {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// MigrateChat moves from's subscriptions, inactive ones included, so that
// nothing stays under the dead id, and counts them all. Where to already
// has the same (thread, route), the pair merges into to's row, which keeps
// its id and settings, except that when it is inactive and from's is
// active it takes from's matchers, title and creator and becomes active:
// what was delivered keeps being delivered. A redemption for to that
// commits between the statements can fail the move on the unique key;
// nothing changes then, and the next MigrateChat finishes it.
func (s *sqlStore) MigrateChat(ctx context.Context, from, to int64) (int, error) {
	if from == to {
		return 0, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrapErr("migrate chat", err)
	}
	defer rollback(tx)
	_, err = tx.ExecContext(ctx, `UPDATE subscriptions SET matchers = f.matchers, chat_title = f.chat_title,
			created_by = f.created_by, created_at = f.created_at, deactivated_at = NULL, deactivated_reason = ''
		FROM subscriptions f
		WHERE subscriptions.chat_id = $2 AND subscriptions.deactivated_at IS NOT NULL
			AND f.chat_id = $1 AND f.thread_id = subscriptions.thread_id AND f.route = subscriptions.route
			AND f.deactivated_at IS NULL`, from, to)
	if err != nil {
		return 0, fmt.Errorf("store: migrate chat %d to %d: merge: %w", from, to, err)
	}
	merged, err := execCount(ctx, tx, `DELETE FROM subscriptions WHERE chat_id = $1 AND EXISTS (
		SELECT 1 FROM subscriptions t
		WHERE t.chat_id = $2 AND t.thread_id = subscriptions.thread_id AND t.route = subscriptions.route)`, from, to)
	if err != nil {
		return 0, fmt.Errorf("store: migrate chat %d to %d: merge: %w", from, to, err)
	}
	moved, err := execCount(ctx, tx, `UPDATE subscriptions SET chat_id = $2 WHERE chat_id = $1`, from, to)
	if err != nil {
		return 0, fmt.Errorf("store: migrate chat %d to %d: %w", from, to, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: migrate chat %d to %d: commit: %w", from, to, err)
	}
	return merged + moved, nil
}

func (s *sqlStore) UpdateHandled(ctx context.Context, updateID int64) (bool, error) {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM handled_updates WHERE update_id = $1`, updateID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrapErr("update handled", err)
	}
	return true, nil
}

// MarkUpdateHandled is one upsert, so concurrent callers marking the same id
// (PostgreSQL replicas) cannot fail on the primary key, and the record's time
// only moves forward.
func (s *sqlStore) MarkUpdateHandled(ctx context.Context, updateID int64, at time.Time) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO handled_updates (update_id, handled_at) VALUES ($1, $2)
		ON CONFLICT (update_id) DO UPDATE SET handled_at = excluded.handled_at
		WHERE handled_updates.handled_at < excluded.handled_at`,
		updateID, s.d.ts(at))
	return wrapErr("mark update handled", err)
}

func (s *sqlStore) PruneHandledUpdates(ctx context.Context, before time.Time) (int, error) {
	return s.deleteBefore(ctx, "prune handled updates", "handled_updates", "handled_at", before)
}

func (s *sqlStore) PruneLinkTokens(ctx context.Context, before time.Time) (int, error) {
	return s.deleteBefore(ctx, "prune link tokens", "link_tokens", "expires_at", before)
}

// CountSubscriptions has no key for a route without active subscriptions.
func (s *sqlStore) CountSubscriptions(ctx context.Context) (map[string]int, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT route, COUNT(*) FROM subscriptions
		WHERE deactivated_at IS NULL GROUP BY route`)
	if err != nil {
		return nil, wrapErr("count subscriptions", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			route string
			n     int
		)
		if err := rows.Scan(&route, &n); err != nil {
			return nil, wrapErr("count subscriptions", err)
		}
		out[route] = n
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("count subscriptions", err)
	}
	return out, nil
}
