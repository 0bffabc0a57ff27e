package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// The checkpointer's timing and bounds.
const (
	// checkpointInterval is how often the WAL is copied back into the
	// database file when nothing else asks for it (PASSIVE). Each
	// checkpoint copies the pages committed since the last one, the hot
	// ones again each time: PASSIVE every 100 ms instead of every second
	// took ~6% of ingest's rate.
	checkpointInterval = time.Second
	// walWatchInterval is how often the checkpointer reads the WAL's size
	// in the wal-index (walIndex, one pread). Full-rate ingest appends
	// ~170 MiB/s to the WAL (a commit writes every page it changed, whole),
	// so the WAL overshoots walRestartBytes by up to ~9 MiB before the
	// checkpointer sees it, and by what restart's passes let through.
	walWatchInterval = 50 * time.Millisecond
	// walRestartBytes is the size of the WAL's content (its frames) past
	// which the checkpointer makes it start over (restart). Each restart
	// may hold writers up for a few ms, so it is as large as the overshoot
	// allows under walSizeLimit.
	walRestartBytes = 32 << 20
	// walSizeLimit is the writer's journal_size_limit: when the WAL starts
	// over, SQLite cuts a file larger than this down to it. Below it, the
	// file is reused as it is, which is cheaper than cutting and growing it
	// again (truncating 40 MiB takes 12 ms, under the write lock).
	walSizeLimit = 64 << 20
	// idleAfter is how long nothing may have been committed before the
	// checkpointer empties the WAL file (TRUNCATE).
	idleAfter = time.Second
	// walResetBusyTimeout bounds how long a RESTART or TRUNCATE waits for
	// readers to leave the WAL, and so how long it holds up writers; the
	// store's reads take a millisecond or two. One that could not finish is
	// tried again later.
	walResetBusyTimeout = 50 * time.Millisecond
	// walResetBackoffMax bounds the wait after RESTARTs or TRUNCATEs that
	// readers kept from finishing: it doubles from walWatchInterval with
	// each one (a reader descheduled on a busy machine lets go soon; one in
	// another process may not), so writers are not held up every round.
	walResetBackoffMax = time.Second
	// walBlockedWarnAfter is how long resets may keep failing before the
	// checkpointer warns (a reader in another process holding a snapshot).
	walBlockedWarnAfter = time.Minute
)

// checkpointer moves WAL pages into the database file and keeps the WAL
// small, in the background.
//
// SQLite's automatic checkpoint runs inside the COMMIT that crosses the
// threshold (1000 pages), so one webhook in a thousand waited for a
// checkpoint and its fsyncs: that was the p99 of ingest. The writer
// connection has wal_autocheckpoint(0) and the checkpointer runs PASSIVE
// checkpoints from its own connection, which take no write lock, so
// commits go on while it copies and fsyncs.
//
// PASSIVE alone does not bound the WAL: SQLite writes the WAL from its
// beginning again only when a writer finds it entirely copied and no
// reader inside it. Under sustained writes with concurrent reads that
// moment rarely comes, and the WAL grew by every page ever committed (4.7
// GB in 90 s of fan-out, issue #19). So the checkpointer reads the WAL's
// size every walWatchInterval and, past walRestartBytes, catches up with
// PASSIVE checkpoints and then runs a RESTART checkpoint (restart): it
// copies the little committed in between, waits for readers to leave the
// WAL, and the next commit writes the WAL from its start; the writer's
// journal_size_limit cuts a file that grew past walSizeLimit meanwhile.
// Once nothing has been committed for idleAfter, a TRUNCATE checkpoint
// empties the file.
//
// RESTART and TRUNCATE take the write lock, so the checkpointer holds the
// store's writer connection meanwhile: this process's writers wait in
// database/sql's pool and go on the moment it is released, instead of
// polling SQLite's lock with busy_timeout's sleeps.
type checkpointer struct {
	db       *sql.DB // the checkpointer's own connection
	writer   *sql.DB // the store's single writer connection
	walPath  string
	shm      *os.File // the wal-index (walIndex); nil if it could not be opened
	pageSize int
	track    walTrack // run's
	log      *slog.Logger
	cancel   context.CancelFunc
	done     chan struct{}
}

func startCheckpointer(ctx context.Context, db, writer *sql.DB, path string, logger *slog.Logger) (*checkpointer, error) {
	c := &checkpointer{db: db, writer: writer, walPath: path + "-wal", log: logger, done: make(chan struct{})}
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&c.pageSize); err != nil {
		return nil, fmt.Errorf("store: read page_size: %w", err)
	}
	c.openWALIndex(path + "-shm")
	ctx, c.cancel = context.WithCancel(context.Background())
	go c.run(ctx) //nolint:contextcheck // the checkpointer runs until Close (stop), outliving the open's context
	return c, nil
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(walWatchInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := c.round(ctx, time.Now())
		if ctx.Err() == nil {
			c.report(err, time.Now())
		}
	}
}

// round looks at the WAL: a PASSIVE checkpoint every checkpointInterval
// (every round when the wal-index cannot be read), then what decide says.
func (c *checkpointer) round(ctx context.Context, now time.Time) error {
	frames, known := c.walIndex()
	if !known || now.Sub(c.track.passiveAt) >= checkpointInterval {
		st, err := c.checkpoint(ctx, "PASSIVE")
		if err != nil {
			return err
		}
		c.track.passiveAt, frames = now, st.logPages
	}
	return c.decide(ctx, frames, now)
}

// report logs a failed round (a full disk: SQLITE_FULL, until space
// returns) once, then every walBlockedWarnAfter while they go on, and the
// first round that works again.
func (c *checkpointer) report(err error, now time.Time) {
	tr := &c.track
	switch {
	case err == nil && !tr.errSince.IsZero():
		c.log.Info("sqlite checkpoints work again", "failed_for", now.Sub(tr.errSince).Round(time.Millisecond))
		tr.errSince = time.Time{}
	case err == nil:
	case tr.errSince.IsZero():
		c.log.Warn("sqlite checkpoint failed; will retry", "err", err)
		tr.errSince, tr.errWarned = now, now
	case now.Sub(tr.errWarned) >= walBlockedWarnAfter:
		c.log.Warn("sqlite checkpoints still failing; will retry", "err", err, "since", tr.errSince)
		tr.errWarned = now
	}
}

// walTrack is what the checkpointer's loop remembers between rounds.
type walTrack struct {
	frames    int           // in the WAL at the last round
	changed   time.Time     // when that last changed
	passiveAt time.Time     // the last PASSIVE
	failing   time.Time     // since when resets have been failing; zero: they have not
	retryAt   time.Time     // no reset before, after one failed
	backoff   time.Duration // the last wait before retryAt

	errSince, errWarned time.Time // rounds failing since, last warned; zero: they work
}

// decide starts the WAL over when it has grown past walRestartBytes since
// the last round, and empties it once it has not changed for idleAfter.
func (c *checkpointer) decide(ctx context.Context, frames int, now time.Time) error {
	tr := &c.track
	grew := frames != tr.frames
	tr.frames = frames
	if grew {
		tr.changed = now
	}
	switch {
	case now.Before(tr.retryAt):
		return nil
	case grew && frames*(c.pageSize+walFrameHeader) >= walRestartBytes:
		return c.reset(ctx, "RESTART", now)
	case !grew && frames > 0 && now.Sub(tr.changed) >= idleAfter:
		return c.reset(ctx, "TRUNCATE", now)
	}
	return nil
}

// reset starts the WAL over (RESTART, see restart) or empties it
// (TRUNCATE). When readers keep it from finishing, the next reset waits
// (see walResetBackoffMax: one that times out has held writers up for
// walResetBusyTimeout), and a warning says so once that has lasted
// walBlockedWarnAfter.
func (c *checkpointer) reset(ctx context.Context, mode string, now time.Time) error {
	var (
		st  walState
		err error
	)
	if mode == "RESTART" {
		st, err = c.restart(ctx, c.track.frames)
	} else {
		st, err = c.holdWriter(ctx, mode)
	}
	tr := &c.track
	switch {
	case err == nil && st.busy == 0:
		tr.failing, tr.retryAt, tr.backoff = time.Time{}, time.Time{}, 0
		return nil
	case tr.failing.IsZero():
		tr.failing = now
	case now.Sub(tr.failing) >= walBlockedWarnAfter:
		c.log.Warn("sqlite WAL cannot be started over: a reader keeps a snapshot open (another process?)",
			"since", tr.failing, "wal_bytes", c.size())
		tr.failing = now
	}
	tr.backoff = min(max(2*tr.backoff, walWatchInterval), walResetBackoffMax)
	tr.retryAt = now.Add(tr.backoff)
	return err
}

// walFrameHeader is the bytes in front of each page in the WAL.
const walFrameHeader = 24

// restart's catching up: at most walCatchUpPasses PASSIVE checkpoints,
// until one finds fewer than walCatchUpPages (1 MiB) committed since the
// one before.
const (
	walCatchUpPasses = 3
	walCatchUpPages  = 256
)

// walIndex returns the number of frames in the WAL, read from the
// wal-index header at the start of the -shm file: a pread of 96 bytes
// instead of a checkpoint. The header's layout is SQLite's documented file
// format (https://www.sqlite.org/walformat.html, "The WAL-Index Header"):
// in native byte order, iVersion (3007000) at 0, isInit at 12, mxFrame at
// 16, and a second copy of the 48 bytes at 48. SQLite writes the copies in
// turn, so they differ only while a commit updates them: known is false
// then, and whenever the header is not what this expects.
func (c *checkpointer) walIndex() (frames int, known bool) {
	if c.shm == nil {
		return 0, false
	}
	var h [96]byte
	if _, err := c.shm.ReadAt(h[:], 0); err != nil || !bytes.Equal(h[:48], h[48:]) {
		return 0, false
	}
	if binary.NativeEndian.Uint32(h[0:]) != walIndexVersion || h[12] != 1 {
		return 0, false
	}
	return int(binary.NativeEndian.Uint32(h[16:])), true
}

// openWALIndex opens the -shm file for walIndex and checks that it reads
// as expected; if not, rounds checkpoint instead, which costs ingest ~6%.
func (c *checkpointer) openWALIndex(path string) {
	shm, err := os.Open(path)
	if err != nil {
		c.log.Warn("sqlite wal-index unreadable; checkpointing every round instead", "err", err)
		return
	}
	c.shm = shm
	if _, known := c.walIndex(); !known {
		c.log.Warn("sqlite wal-index not in the expected format; checkpointing every round instead", "path", path)
		shm.Close()
		c.shm = nil
	}
}

// walIndexVersion is the wal-index format's version, the same since 3.7.0.
const walIndexVersion = 3007000

// walState is what PRAGMA wal_checkpoint reports: whether it was blocked,
// the pages in the WAL, and how many of them are now in the database file.
type walState struct{ busy, logPages, checkpointed int }

// checkpoint runs one checkpoint of the given mode (PASSIVE, RESTART or
// TRUNCATE) on the checkpointer's connection.
func (c *checkpointer) checkpoint(ctx context.Context, mode string) (walState, error) {
	var st walState
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&st.busy, &st.logPages, &st.checkpointed)
	if err != nil {
		return st, fmt.Errorf("store: wal_checkpoint(%s): %w", mode, err)
	}
	return st, nil
}

// holdWriter runs a RESTART or TRUNCATE checkpoint while it holds the
// store's writer connection. A reader that stays in the WAL longer than
// walResetBusyTimeout makes it give up: the result has busy set.
func (c *checkpointer) holdWriter(ctx context.Context, mode string) (walState, error) {
	writer, err := c.writer.Conn(ctx)
	if err != nil {
		return walState{}, fmt.Errorf("store: wal_checkpoint(%s): hold the writer: %w", mode, err)
	}
	defer writer.Close()
	return c.checkpoint(ctx, mode)
}

// restart makes the WAL, which holds frames frames, start over.
//
// Under the hold, RESTART copies and fsyncs what was committed since the
// last PASSIVE, and the fsync of the growing database file commits the
// file system's journal: holds took 1–15 ms under full ingest on the
// project's VM. So PASSIVE checkpoints, which writers do not wait for,
// first copy what they can, each one what was committed during the one
// before, until one finds little new (walCatchUpPages) or after
// walCatchUpPasses. When one of them finds the WAL started over, SQLite
// did it by itself (a commit found the WAL entirely copied and no reader
// in it) and no hold is needed.
func (c *checkpointer) restart(ctx context.Context, frames int) (walState, error) {
	prev := walState{logPages: frames}
	for range walCatchUpPasses {
		st, err := c.checkpoint(ctx, "PASSIVE")
		switch {
		case err != nil:
			return st, err
		case st.logPages < prev.logPages:
			return st, nil
		case st.logPages-prev.logPages < walCatchUpPages:
			return c.holdWriter(ctx, "RESTART")
		}
		prev = st
	}
	return c.holdWriter(ctx, "RESTART")
}

// size is the WAL file's size in bytes, 0 when there is none.
func (c *checkpointer) size() int64 {
	fi, err := os.Stat(c.walPath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Debug("stat WAL", "err", err)
		}
		return 0
	}
	return fi.Size()
}

// stop ends the loop and, once the writer is idle, folds the whole WAL
// into the database file and truncates it, so a stopped alertgram leaves
// one self-contained file. It tries for up to 10 s while readers keep the
// WAL busy (each attempt waits walResetBusyTimeout for them).
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	if c.shm != nil {
		defer c.shm.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		st, err := c.holdWriter(ctx, "TRUNCATE")
		switch {
		case err != nil:
			return err
		case st.busy == 0:
			return nil
		case ctx.Err() != nil:
			return errors.New("store: wal_checkpoint(TRUNCATE): readers kept the WAL busy")
		}
	}
}
