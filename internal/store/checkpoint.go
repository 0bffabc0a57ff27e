package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// checkpointInterval is how often the WAL is copied back into the database
// file. Between two checkpoints the WAL grows by what was committed meanwhile
// (a few MiB at thousands of webhooks per second).
const checkpointInterval = time.Second

// checkpointer moves WAL pages into the database file from its own
// connection, in the background. SQLite's automatic checkpoint runs inside
// the COMMIT that crosses the threshold (1000 pages), so one webhook in a
// thousand waited for a checkpoint and its fsyncs: that was the p99 of
// ingest. A PASSIVE checkpoint takes no write lock, so commits go on while it
// runs; the writer connection has wal_autocheckpoint(0).
type checkpointer struct {
	db     *sql.DB
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

func startCheckpointer(db *sql.DB, every time.Duration, logger *slog.Logger) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, log: logger, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx, every)
	return c
}

func (c *checkpointer) run(ctx context.Context, every time.Duration) {
	defer close(c.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := c.checkpoint(ctx, "PASSIVE"); err != nil && ctx.Err() == nil {
				c.log.Warn("sqlite checkpoint failed; will retry", "err", err)
			}
		}
	}
}

// walState is what PRAGMA wal_checkpoint reports: whether it was blocked,
// the pages in the WAL, and how many of them are now in the database file.
type walState struct{ busy, logPages, checkpointed int }

// checkpoint runs one checkpoint of the given mode (PASSIVE or TRUNCATE).
func (c *checkpointer) checkpoint(ctx context.Context, mode string) (walState, error) {
	var st walState
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&st.busy, &st.logPages, &st.checkpointed)
	if err != nil {
		return st, fmt.Errorf("store: wal_checkpoint(%s): %w", mode, err)
	}
	return st, nil
}

// stop ends the loop and, once the writer is idle, folds the whole WAL
// into the database file and truncates it, so a stopped alertgram leaves
// one self-contained file.
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.checkpoint(ctx, "TRUNCATE")
	return err
}
