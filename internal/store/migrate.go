package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// migration is one step of the schema. Later features append steps; an
// applied step is never edited. Statements use type tokens that each dialect
// replaces: {{pk}} (auto-increment 64-bit primary key), {{int64}}, {{bool}}
// (written as a Go bool or TRUE/FALSE), {{blob}}, {{time}} (read with
// scanTime, written with dialect.ts), {{now}} (the current time as a
// {{time}} value) and {{strict}} at the end of CREATE TABLE (SQLite STRICT
// tables). Where the dialects cannot share a statement (SQLite cannot alter
// a constraint), byDialect holds each dialect's own, keyed by dialect name;
// they run after stmts.
type migration struct {
	version   int
	name      string
	stmts     []string
	byDialect map[string][]string
}

var migrations = []migration{
	{version: 1, name: "outbox", stmts: []string{
		`CREATE TABLE notifications (
			id {{pk}},
			source TEXT NOT NULL,
			route TEXT NOT NULL,
			group_key TEXT NOT NULL,
			payload {{blob}} NOT NULL,
			received_at {{time}} NOT NULL,
			routed_at {{time}}
		){{strict}}`,
		`CREATE INDEX notifications_unrouted ON notifications (id) WHERE routed_at IS NULL`,
		`CREATE TABLE deliveries (
			id {{pk}},
			notification_id {{int64}} NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
			chat_id {{int64}} NOT NULL,
			thread_id {{int64}} NOT NULL DEFAULT 0,
			state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
			attempts {{int64}} NOT NULL DEFAULT 0,
			next_attempt_at {{time}} NOT NULL,
			owner TEXT,
			lease_until {{time}},
			last_error TEXT NOT NULL DEFAULT '',
			message_id {{int64}},
			delivered_at {{time}},
			UNIQUE (notification_id, chat_id, thread_id)
		){{strict}}`,
		`CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 'pending'`,
		`CREATE INDEX deliveries_pending_chat ON deliveries (chat_id) WHERE state = 'pending'`,
		`CREATE INDEX deliveries_owner ON deliveries (owner) WHERE owner IS NOT NULL`,
	}},
	// Deep-link subscriptions and the bot's update cursor. Matchers are JSON
	// arrays of strings. A subscription is active while deactivated_at is
	// NULL; the unique key also serves lookups by chat.
	{version: 2, name: "subscriptions", stmts: []string{
		`CREATE TABLE link_tokens (
			token TEXT PRIMARY KEY,
			route TEXT NOT NULL CHECK (route <> ''),
			matchers TEXT NOT NULL DEFAULT '[]',
			group_link {{bool}} NOT NULL DEFAULT FALSE,
			created_at {{time}} NOT NULL,
			expires_at {{time}} NOT NULL,
			created_by TEXT NOT NULL DEFAULT '',
			used_at {{time}},
			used_by_chat {{int64}}
		){{strict}}`,
		`CREATE TABLE subscriptions (
			id {{pk}},
			chat_id {{int64}} NOT NULL,
			thread_id {{int64}} NOT NULL DEFAULT 0,
			route TEXT NOT NULL CHECK (route <> ''),
			matchers TEXT NOT NULL DEFAULT '[]',
			chat_title TEXT NOT NULL DEFAULT '',
			created_by TEXT NOT NULL DEFAULT '',
			created_at {{time}} NOT NULL,
			deactivated_at {{time}},
			deactivated_reason TEXT NOT NULL DEFAULT '',
			UNIQUE (chat_id, thread_id, route)
		){{strict}}`,
		`CREATE INDEX subscriptions_active_route ON subscriptions (route, id) WHERE deactivated_at IS NULL`,
		`CREATE TABLE bot_state (
			name TEXT PRIMARY KEY,
			value {{int64}} NOT NULL
		){{strict}}`,
		`INSERT INTO bot_state (name, value) VALUES ('last_update_id', 0)`,
	}},
	// The Telegram updates the bot handled recently, replacing the update
	// cursor of bot_state: after a week without updates Telegram restarts
	// update ids at a random value, which a cursor would take for old
	// updates. The cursor's update is carried over as handled (it may be
	// the last one handled and not yet confirmed); bot_state goes.
	{version: 3, name: "handled_updates", stmts: []string{
		`CREATE TABLE handled_updates (
			update_id {{int64}} PRIMARY KEY,
			handled_at {{time}} NOT NULL
		){{strict}}`,
		`CREATE INDEX handled_updates_handled_at ON handled_updates (handled_at)`,
		`INSERT INTO handled_updates (update_id, handled_at)
			SELECT value, {{now}} FROM bot_state WHERE name = 'last_update_id' AND value > 0`,
		`DROP TABLE bot_state`,
	}},
	// Deliveries gain the state superseded. PostgreSQL swaps the CHECK
	// constraint; SQLite rebuilds the table (its documented way to change a
	// constraint), keeping ids, the AUTOINCREMENT high-water mark (so ids
	// are still never reused) and the indexes.
	{version: 4, name: "superseded", byDialect: map[string][]string{
		"postgres": {
			`ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check`,
			`ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
				CHECK (state IN ('pending', 'delivered', 'failed', 'superseded'))`,
		},
		"sqlite": {
			`CREATE TABLE deliveries_v4 (
				id {{pk}},
				notification_id {{int64}} NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
				chat_id {{int64}} NOT NULL,
				thread_id {{int64}} NOT NULL DEFAULT 0,
				state TEXT NOT NULL DEFAULT 'pending'
					CHECK (state IN ('pending', 'delivered', 'failed', 'superseded')),
				attempts {{int64}} NOT NULL DEFAULT 0,
				next_attempt_at {{time}} NOT NULL,
				owner TEXT,
				lease_until {{time}},
				last_error TEXT NOT NULL DEFAULT '',
				message_id {{int64}},
				delivered_at {{time}},
				UNIQUE (notification_id, chat_id, thread_id)
			){{strict}}`,
			`INSERT INTO deliveries_v4 (id, notification_id, chat_id, thread_id, state, attempts, next_attempt_at,
				owner, lease_until, last_error, message_id, delivered_at)
			SELECT id, notification_id, chat_id, thread_id, state, attempts, next_attempt_at,
				owner, lease_until, last_error, message_id, delivered_at FROM deliveries`,
			`DELETE FROM sqlite_sequence WHERE name = 'deliveries_v4'`,
			`INSERT INTO sqlite_sequence (name, seq) SELECT 'deliveries_v4', seq FROM sqlite_sequence
				WHERE name = 'deliveries'`,
			`DROP TABLE deliveries`,
			`ALTER TABLE deliveries_v4 RENAME TO deliveries`,
			`CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 'pending'`,
			`CREATE INDEX deliveries_pending_chat ON deliveries (chat_id) WHERE state = 'pending'`,
			`CREATE INDEX deliveries_owner ON deliveries (owner) WHERE owner IS NOT NULL`,
		},
	}},
	// Per-chat delivery, HA dedupe and message references.
	//
	// deliveries_chat_due serves PendingChats, which finds each chat's
	// oldest due, unleased delivery in it without reading the table.
	// deliveries_chat_order serves ClaimChatDeliveries (a chat's deliveries
	// in notification order, with the columns that decide whether they are
	// due) and whatever used deliveries_pending_chat, which it replaces.
	//
	// notification_dedupe keeps, per dedupe key, when the last notification
	// accepted with that key was received (see AddNotification).
	{version: 5, name: "lifecycle", stmts: []string{
		`CREATE INDEX deliveries_chat_due ON deliveries (chat_id, next_attempt_at, lease_until)
			WHERE state = 'pending'`,
		`CREATE INDEX deliveries_chat_order ON deliveries (chat_id, notification_id, id, next_attempt_at, lease_until)
			WHERE state = 'pending'`,
		`DROP INDEX deliveries_pending_chat`,
		`CREATE TABLE notification_dedupe (
			dedupe_key TEXT PRIMARY KEY,
			received_at {{time}} NOT NULL
		){{strict}}`,
		`CREATE INDEX notification_dedupe_received_at ON notification_dedupe (received_at)`,
		`CREATE TABLE message_refs (
			chat_id {{int64}} NOT NULL,
			thread_id {{int64}} NOT NULL DEFAULT 0,
			route TEXT NOT NULL,
			group_key TEXT NOT NULL,
			message_id {{int64}} NOT NULL,
			status TEXT NOT NULL,
			digest {{bool}} NOT NULL DEFAULT FALSE,
			updated_at {{time}} NOT NULL,
			PRIMARY KEY (chat_id, thread_id, route, group_key)
		){{strict}}`,
		`CREATE INDEX message_refs_updated_at ON message_refs (updated_at)`,
	}},
	// version 6: inline buttons. action_messages is one sent message that
	// carries Ack/Silence buttons: where it is, what a silence from it
	// matches, its text (re-used when the state line is edited in) and its
	// state. callbacks are its buttons: callback_data is a random id, so
	// it cannot be forged, and each id is bound to one action.
	{version: 6, name: "actions", stmts: []string{
		`CREATE TABLE action_messages (
			id {{pk}},
			route TEXT NOT NULL,
			source TEXT NOT NULL,
			chat_id {{int64}} NOT NULL,
			thread_id {{int64}} NOT NULL DEFAULT 0,
			message_id {{int64}} NOT NULL,
			group_key TEXT NOT NULL,
			silence_labels TEXT NOT NULL,
			text TEXT NOT NULL,
			parse_mode TEXT NOT NULL,
			state TEXT NOT NULL DEFAULT '',
			silence_id TEXT NOT NULL DEFAULT '',
			actor TEXT NOT NULL DEFAULT '',
			state_until {{time}},
			created_at {{time}} NOT NULL,
			updated_at {{time}} NOT NULL
		){{strict}}`,
		`CREATE INDEX action_messages_group ON action_messages (route, group_key)`,
		`CREATE INDEX action_messages_state ON action_messages (state)`,
		`CREATE INDEX action_messages_updated_at ON action_messages (updated_at)`,
		`CREATE TABLE callbacks (
			id TEXT PRIMARY KEY,
			action_message_id {{int64}} NOT NULL REFERENCES action_messages (id) ON DELETE CASCADE,
			action TEXT NOT NULL,
			duration_ms {{int64}} NOT NULL DEFAULT 0,
			silence_id TEXT NOT NULL DEFAULT '',
			created_at {{time}} NOT NULL
		){{strict}}`,
		`CREATE INDEX callbacks_action_message ON callbacks (action_message_id)`,
	}},
	// version 7: alert images. A message sent as a photo (the alert text
	// is its caption) is edited with editMessageCaption, not
	// editMessageText, so its references say so. image_url is the image an
	// action message shows (its photo, or a text message's link preview),
	// so that a button edit keeps it.
	{version: 7, name: "images", stmts: []string{
		`ALTER TABLE message_refs ADD COLUMN photo {{bool}} NOT NULL DEFAULT FALSE`,
		`ALTER TABLE action_messages ADD COLUMN photo {{bool}} NOT NULL DEFAULT FALSE`,
		`ALTER TABLE action_messages ADD COLUMN image_url TEXT NOT NULL DEFAULT ''`,
	}},
	// version 8: silences alertgram made. /silences and Unsilence act on
	// these records (which route, chat and user made a silence), never on
	// the silence's comment, which anyone can type in Alertmanager's UI.
	{version: 8, name: "silences", stmts: []string{
		`CREATE TABLE silences (
			source TEXT NOT NULL,
			id TEXT NOT NULL,
			route TEXT NOT NULL,
			chat_id {{int64}} NOT NULL,
			kind TEXT NOT NULL,
			created_by TEXT NOT NULL,
			ends_at {{time}} NOT NULL,
			created_at {{time}} NOT NULL,
			PRIMARY KEY (source, id)
		){{strict}}`,
		`CREATE INDEX silences_route ON silences (source, route, ends_at)`,
	}},
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version {{int64}} PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at {{time}} NOT NULL
){{strict}}`

// migrate brings the schema up to date in one transaction, so a failed step
// leaves nothing behind and concurrent starters (replicas sharing a
// PostgreSQL database, or two processes on one SQLite file) take turns.
func migrate(ctx context.Context, db *sql.DB, d dialect, log *slog.Logger) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer rollback(tx) // a no-op after Commit
	if d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, d.lockMigrations); err != nil {
			return fmt.Errorf("store: migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, d.ddl.Replace(createMigrationsTable)); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("store: migrate: read version: %w", err)
	}
	if latest := migrations[len(migrations)-1].version; current > latest {
		return fmt.Errorf("store: database schema version %d is newer than this binary knows (%d); upgrade alertgram", current, latest)
	}
	for _, m := range migrations[current:] {
		if err := applyMigration(ctx, tx, d, m); err != nil {
			return err
		}
		log.Info("applied schema migration", "version", m.version, "name", m.name)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: commit: %w", err)
	}
	return nil
}

func applyMigration(ctx context.Context, tx *sql.Tx, d dialect, m migration) error {
	for _, stmt := range slices.Concat(m.stmts, m.byDialect[d.name]) {
		if _, err := tx.ExecContext(ctx, d.ddl.Replace(stmt)); err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, d.ts(time.Now()))
	if err != nil {
		return fmt.Errorf("store: record migration %d: %w", m.version, err)
	}
	return nil
}
