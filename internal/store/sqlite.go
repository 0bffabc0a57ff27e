package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// SQLite connection settings, applied by the driver to every connection.
//
// journal_mode=WAL with synchronous=NORMAL: a commit appends the transaction
// to the WAL file with write(2) before COMMIT returns, and only checkpoints
// fsync. Once write(2) has returned, the data is in the kernel's page cache,
// which outlives the process, so a committed transaction survives a SIGKILL
// or crash of alertgram (TestSQLiteCommitSurvivesSIGKILL kills a writer to
// prove it). What NORMAL gives up is the last commits before a power loss or
// kernel crash; the database stays consistent even then.
//
// wal_autocheckpoint(0) on the writer: checkpoints run in the background
// from their own connection (checkpoint.go), not inside a webhook's commit.
// journal_size_limit: when the writer starts the WAL over, it cuts a file
// larger than walSizeLimit down to it. The checkpointer's connection waits
// at most walResetBusyTimeout for readers (its only waits).
//
// busy_timeout makes a connection wait for a lock held by another process
// (say `alertgram link` beside `serve`) instead of failing with SQLITE_BUSY.
// Within this process there is one writer connection, and _txlock=immediate
// takes the write lock at BEGIN, so a transaction never has to upgrade a
// read lock to a write lock: the upgrade is what fails with SQLITE_BUSY
// without consulting busy_timeout.
//
// The numbers in journal_size_limit and the checkpointer's busy_timeout are
// walSizeLimit and walResetBusyTimeout (TestSQLiteConnectionSettings).
const (
	sqliteCommon = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	sqliteWriter = sqliteCommon + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)" +
		"&_pragma=journal_size_limit(67108864)&_txlock=immediate"
	sqliteReader       = sqliteCommon + "&_pragma=query_only(1)"
	sqliteCheckpointer = "_pragma=busy_timeout(50)"
)

func openSQLite(ctx context.Context, path string, logger *slog.Logger) (*sqlStore, error) {
	switch {
	case path == "":
		return nil, errors.New("store: sqlite:// needs a file path, as in sqlite://alertgram.db")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("store: sqlite %q: only a plain file path is supported", path)
	case strings.Contains(path, "?"):
		return nil, fmt.Errorf("store: sqlite %q: a path with '?' is not supported", path)
	}
	write, err := openSQLitePool(ctx, path, sqliteWriter)
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	if err := checkWAL(ctx, write, path); err != nil {
		write.Close()
		return nil, err
	}
	if err := migrate(ctx, write, sqliteDialect, logger); err != nil {
		write.Close()
		return nil, err
	}
	// Readers open after the writer has switched the file to WAL.
	read, err := openSQLitePool(ctx, path, sqliteReader)
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	walDB, err := openSQLitePool(ctx, path, sqliteCheckpointer)
	if err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	walDB.SetMaxOpenConns(1)
	s, err := newSQLStore(ctx, write, read, sqliteDialect, logger)
	if err != nil {
		walDB.Close()
		read.Close()
		write.Close()
		return nil, err
	}
	if s.wal, err = startCheckpointer(ctx, walDB, write, path, logger); err != nil {
		s.Close() //nolint:contextcheck // Close takes no context by design, and s.wal is nil here, so no final checkpoint runs
		walDB.Close()
		return nil, err
	}
	s.walDB = walDB
	logger.Info("store opened", "driver", "sqlite", "path", path)
	return s, nil
}

func openSQLitePool(ctx context.Context, path, params string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path+"?"+params)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %q: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite %q: %w", path, err)
	}
	return db, nil
}

// checkWAL fails when the file could not be switched to WAL (for example on
// a file system without shared memory), since durability relies on it.
func checkWAL(ctx context.Context, db *sql.DB, path string) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("store: sqlite %q: read journal_mode: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: sqlite %q: journal_mode is %q, want wal", path, mode)
	}
	return nil
}
