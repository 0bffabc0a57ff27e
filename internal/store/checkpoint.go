package store

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
)

// checkpointInterval is how often the checkpointer copies the SQLite WAL
// into the database file.
const checkpointInterval = 200 * time.Millisecond

// checkpointer runs SQLite's WAL checkpoints on a connection of its own, in
// place of the automatic checkpoint (switched off on the writer, see
// sqliteWriter). That one runs inside the COMMIT that takes the WAL past
// 1000 pages, so every caller in that commit's batch waited for the copy
// and its two fsyncs, and so did every writer queued behind it: under load
// it decided the tail latency of AddNotification. A PASSIVE checkpoint
// takes no write lock, so commits go on beside it; the WAL starts over
// from its beginning at the first commit after a complete checkpoint.
type checkpointer struct {
	db     *sql.DB
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// startCheckpointer checkpoints through db, which it closes when stopped.
func startCheckpointer(db *sql.DB, l *slog.Logger) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, log: l, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(checkpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, _, err := c.checkpoint(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("wal checkpoint failed", "err", err)
			}
		}
	}
}

// checkpoint copies what it can of the WAL into the database without
// waiting for readers or writers, and returns how many frames the WAL holds
// and how many of them are in the database now.
func (c *checkpointer) checkpoint(ctx context.Context) (frames, copied int, err error) {
	var busy int
	err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	return frames, copied, wrapErr("wal checkpoint", err)
}

// stop interrupts a checkpoint under way (the next one resumes it) and
// closes the connection.
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
