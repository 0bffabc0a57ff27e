package store

import (
	"fmt"
	"strings"
	"time"
)

// dialect is what differs between SQLite and PostgreSQL. Everything else,
// queries included, is shared: both accept $N placeholders, RETURNING,
// partial indexes and WITH ... AS MATERIALIZED in front of an UPDATE.
type dialect struct {
	name string
	// ddl replaces the type tokens used in migrations, see migrate.go.
	ddl *strings.Replacer
	// skipLocked ends the row selection of the claims (claimSQL). SQLite needs
	// nothing: its writer transactions are serialised (BEGIN IMMEDIATE).
	skipLocked string
	// chatClaimHint follows the table in ClaimChatDeliveries' selection.
	// SQLite has no statistics unless ANALYZE runs, and without them it
	// prefers deliveries_chat_due, which matches more of the conditions,
	// then sorts every due delivery of the chat (87 ms a claim for a chat
	// with 200,000; 0.7 ms in notification order). PostgreSQL, analysed by
	// autovacuum, picks deliveries_chat_order by itself.
	chatClaimHint string
	// lockMigrations runs first in the migration transaction to serialise
	// migrating processes; "" when BEGIN already does.
	lockMigrations string
	// timeArg turns a UTC, microsecond-truncated time into a query argument.
	timeArg func(time.Time) any
}

// migrationLockKey is "alertgra" read as a big-endian int64.
const migrationLockKey = 0x616c657274677261

var sqliteDialect = dialect{
	name: "sqlite",
	ddl: strings.NewReplacer(
		"{{pk}}", "INTEGER PRIMARY KEY AUTOINCREMENT", // ids are never reused
		"{{int64}}", "INTEGER",
		"{{bool}}", "INTEGER", // 0 or 1; TRUE and FALSE are 1 and 0
		"{{blob}}", "BLOB",
		"{{time}}", "INTEGER", // Unix microseconds, UTC
		"{{now}}", "CAST(unixepoch('subsec') * 1000000 AS INTEGER)",
		"{{strict}}", " STRICT",
	),
	chatClaimHint: " INDEXED BY deliveries_chat_order",
	timeArg:       func(t time.Time) any { return t.UnixMicro() },
}

var postgresDialect = dialect{
	name: "postgres",
	ddl: strings.NewReplacer(
		"{{pk}}", "BIGSERIAL PRIMARY KEY",
		"{{int64}}", "BIGINT",
		"{{bool}}", "BOOLEAN",
		"{{blob}}", "BYTEA",
		"{{time}}", "TIMESTAMPTZ",
		"{{now}}", "now()",
		"{{strict}}", "",
	),
	skipLocked:     "FOR UPDATE SKIP LOCKED",
	lockMigrations: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
	timeArg:        func(t time.Time) any { return t },
}

// ts is the query argument for t. Both databases keep microseconds
// (PostgreSQL would round, so truncate first to store the same value).
func (d dialect) ts(t time.Time) any {
	return d.timeArg(t.UTC().Truncate(time.Microsecond))
}

// tsOrNil is ts, or NULL for the zero time.
func (d dialect) tsOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.ts(t)
}

// timeCol scans a time column of either dialect into a UTC time: SQLite
// yields Unix microseconds, PostgreSQL a time.Time. NULL leaves the zero
// time and valid false.
type timeCol struct {
	t     *time.Time
	valid bool
}

func scanTime(t *time.Time) *timeCol { return &timeCol{t: t} }

func (c *timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t, c.valid = time.Time{}, false
	case int64:
		*c.t, c.valid = time.UnixMicro(v).UTC(), true
	case time.Time:
		*c.t, c.valid = v.UTC(), true
	default:
		return fmt.Errorf("store: cannot scan %T as a time", src)
	}
	return nil
}
