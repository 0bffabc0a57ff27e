package store

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// openSQLiteStore opens an SQLite store in a new directory and returns it
// with its file's path.
func openSQLiteStore(t *testing.T) (*sqlStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "alertgram.db")
	st, err := Open(t.Context(), "sqlite://"+path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqlStore), path
}

// stopCheckpointLoop stops the background loop so that the test decides
// when checkpoints run; Close still empties the WAL.
func stopCheckpointLoop(s *sqlStore) {
	s.wal.cancel()
	<-s.wal.done
}

// walSize is the size of the store's WAL file, 0 if there is none.
func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func pragmaInt(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, pragma string) int64 {
	t.Helper()
	var v int64
	if err := q.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", pragma, err)
	}
	return v
}

// The numbers written into the connection strings are the constants the
// checkpointer reasons with.
func TestSQLiteConnectionSettings(t *testing.T) {
	s, _ := openSQLiteStore(t)
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"writer wal_autocheckpoint", pragmaInt(t, s.write, "wal_autocheckpoint"), 0},
		{"writer journal_size_limit", pragmaInt(t, s.write, "journal_size_limit"), walSizeLimit},
		{"checkpointer busy_timeout (ms)", pragmaInt(t, s.walDB, "busy_timeout"), walResetBusyTimeout.Milliseconds()},
		{"reader busy_timeout (ms)", pragmaInt(t, s.read, "busy_timeout"), 10000},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// Commits never checkpoint (that would stall a webhook); the checkpointer's
// connection folds every committed page into the database file, and Close
// leaves the WAL empty.
func TestSQLiteCheckpointsOffTheCommitPath(t *testing.T) {
	s, path := openSQLiteStore(t)
	stopCheckpointLoop(s)
	for i := range 50 {
		add(t, s, Notification{Source: "alertmanager", Route: "r", GroupKey: string(rune('a' + i%26)), Payload: []byte("p"), ReceivedAt: t0})
	}
	wal, err := s.wal.checkpoint(t.Context(), "PASSIVE")
	if err != nil {
		t.Fatal(err)
	}
	if wal.busy != 0 || wal.logPages == 0 || wal.checkpointed != wal.logPages {
		t.Fatalf("PASSIVE checkpoint = %+v, want every WAL page checkpointed", wal)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := walSize(t, path); n != 0 {
		t.Fatalf("WAL is %d bytes after Close, want truncated", n)
	}
	reopened := openSQLiteAt(t.Context(), t, path)
	got, err := reopened.UnroutedNotifications(t.Context(), 100)
	if err != nil || len(got) != 50 {
		t.Fatalf("after reopen: %d unrouted notifications (%v), want 50", len(got), err)
	}
}

// rewriter commits WAL volume without growing the database: each call
// rewrites one notification's payload (size bytes, different from the
// last) and returns the bytes committed.
type rewriter struct {
	s    *sqlStore
	id   int64
	size int
	n    byte
}

func newRewriter(t *testing.T, s *sqlStore, size int) *rewriter {
	return &rewriter{s: s, id: add(t, s, Notification{Source: "alertmanager", Route: "r", GroupKey: "g", Payload: []byte("{}"), ReceivedAt: t0}), size: size}
}

func (w *rewriter) commit(t *testing.T) int64 {
	t.Helper()
	w.n++
	_, err := w.s.write.ExecContext(t.Context(), `UPDATE notifications SET payload = $1 WHERE id = $2`,
		bytes.Repeat([]byte{w.n}, w.size), w.id)
	if err != nil {
		t.Fatal(err)
	}
	return int64(w.size)
}

// readLoop runs the store's reads (as routing, the dispatcher and
// /metrics do) until stop is closed.
func readLoop(t *testing.T, s *sqlStore, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.ActiveSubscriptions(t.Context(), "r"); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.PendingChats(t.Context(), t0, 10); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.Counts(t.Context()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	return wg.Wait
}

// Issue #19: a reader holding a snapshot makes the WAL grow past any
// bound (nothing can be checkpointed behind it), and before the fix it
// stayed that size for good, since PASSIVE checkpoints never start the WAL
// over and nothing cut the file. Now, once the reader is gone and writes
// go on beside the store's usual readers, the WAL starts over and the file
// is cut back to walSizeLimit (TestSQLiteCheckpointerRounds shows it
// emptied once writes stop).
//
// The background checkpointer runs as in production. The test waits for
// what it must see (the file shrinking) while it writes, and gives up
// after 8 × walSizeLimit more bytes committed: the next rounds (50 ms
// apart, or the backoff after those that failed behind the reader) let
// far less through. Before the fix it gave up: 595 MiB and growing.
func TestSQLiteWALShrinksOnceAReaderLetGo(t *testing.T) {
	s, path := openSQLiteStore(t)
	w := newRewriter(t, s, 256<<10)

	reader, err := s.read.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM notifications`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	for walSize(t, path) <= walSizeLimit+8<<20 {
		w.commit(t)
	}
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	grown := walSize(t, path)

	stop := make(chan struct{})
	waitReads := readLoop(t, s, stop)
	var written int64
	w.size = 64 << 10 // less written while a backoff lasts
	for walSize(t, path) > walSizeLimit && written < 8*walSizeLimit {
		written += w.commit(t)
	}
	close(stop)
	waitReads()
	if got := walSize(t, path); got > walSizeLimit {
		t.Fatalf("WAL grew to %d MiB behind a reader and is still %d MiB after %d MiB more commits without it; want ≤ %d MiB",
			grown>>20, got>>20, written>>20, walSizeLimit>>20)
	}
	t.Logf("WAL: %d MiB behind the reader, ≤ %d MiB after %d MiB of commits without it", grown>>20, walSizeLimit>>20, written>>20)

	wantIntegrity(t, s)
}

// The wal-index header says how many frames the WAL holds, as a
// checkpoint does, and follows the WAL when it starts over.
func TestSQLiteWALIndex(t *testing.T) {
	s, _ := openSQLiteStore(t)
	stopCheckpointLoop(s)
	c := s.wal
	w := newRewriter(t, s, 64<<10)
	for i := range 3 {
		for range 5 {
			w.commit(t)
		}
		frames, known := c.walIndex()
		st, err := c.checkpoint(t.Context(), "PASSIVE")
		if err != nil {
			t.Fatal(err)
		}
		if !known || frames != st.logPages || frames == 0 {
			t.Fatalf("round %d: wal-index says %d frames (known %v), PASSIVE %d", i, frames, known, st.logPages)
		}
		if i == 1 {
			if st, err := c.holdWriter(t.Context(), "RESTART"); err != nil || st.busy != 0 {
				t.Fatalf("RESTART: %+v, %v", st, err)
			}
		}
	}
}

// The checkpointer's decisions, round by round, without its clock:
// nothing while the WAL is small, RESTART once the pages in it pass
// walRestartBytes (the next commit writes the WAL from its start), and
// TRUNCATE once nothing changed for idleAfter.
func TestSQLiteCheckpointerRounds(t *testing.T) {
	s, path := openSQLiteStore(t)
	stopCheckpointLoop(s)
	c := s.wal
	round := func(now time.Time) {
		t.Helper()
		if err := c.round(t.Context(), now); err != nil {
			t.Fatal(err)
		}
	}
	frames := func() int {
		t.Helper()
		n, known := c.walIndex()
		if !known {
			t.Fatal("wal-index unreadable")
		}
		return n
	}
	frame := c.pageSize + walFrameHeader
	w := newRewriter(t, s, 64<<10)
	for range 4 {
		w.commit(t)
	}
	// Rounds at now read the wal-index and do not checkpoint: a PASSIVE
	// that copied everything lets SQLite start the WAL over by itself.
	now := time.Now()
	c.track.passiveAt = now
	small := frames()
	if small*frame >= walRestartBytes {
		t.Fatalf("setup: %d frames is not below walRestartBytes", small)
	}
	round(now)
	w.commit(t)
	if got := frames(); got <= small {
		t.Fatalf("a small WAL was started over: %d frames after %d", got, small)
	}

	for walSize(t, path) < walRestartBytes {
		w.commit(t)
	}
	big := frames()
	round(now) // RESTART
	w.commit(t)
	if got := frames(); got >= big/4 {
		t.Fatalf("after RESTART a commit left %d frames in the WAL (%d before): it did not start over", got, big)
	}
	round(now) // it grew, but is small

	fileBefore := walSize(t, path)
	round(now.Add(idleAfter)) // no commit for idleAfter: PASSIVE, TRUNCATE
	if got := walSize(t, path); got != 0 {
		t.Fatalf("WAL is %d bytes after an idle round (%d before), want 0", got, fileBefore)
	}
	wantIntegrity(t, s)
}

// A reader that stays in the WAL stops a RESTART, which gives up after
// walResetBusyTimeout instead of holding writers up; once the reader is
// gone, the next one completes. The writer works meanwhile and after.
func TestSQLiteRestartWaitsForReaders(t *testing.T) {
	s, _ := openSQLiteStore(t)
	stopCheckpointLoop(s)
	w := newRewriter(t, s, 64<<10)
	w.commit(t)
	reader, err := s.read.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM notifications`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	w.commit(t)
	st, err := s.wal.holdWriter(t.Context(), "RESTART")
	if err != nil || st.busy == 0 {
		t.Fatalf("RESTART beside a reader = %+v, %v; want busy", st, err)
	}
	w.commit(t) // the writer was released
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	if st, err := s.wal.holdWriter(t.Context(), "RESTART"); err != nil || st.busy != 0 {
		t.Fatalf("RESTART without readers = %+v, %v; want done", st, err)
	}
	w.commit(t)
}

// The store's reads leave no transaction open: right after each one, a
// TRUNCATE checkpoint that waits for no reader completes. A reader kept
// open (rows not closed while the caller does other work) would hold the
// WAL for as long as that.
func TestSQLiteReadsLeaveNoSnapshot(t *testing.T) {
	s, _ := openSQLiteStore(t)
	stopCheckpointLoop(s)
	ctx := t.Context()
	addRouted(t, s, t0, 1, 2)
	subscribe(t, s, 5, 0, "oncall")
	if _, err := s.walDB.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func() error{
		"UnroutedNotifications": func() error { _, err := s.UnroutedNotifications(ctx, 10); return err },
		"ActiveSubscriptions":   func() error { _, err := s.ActiveSubscriptions(ctx, "oncall"); return err },
		"ChatSubscriptions":     func() error { _, err := s.ChatSubscriptions(ctx, 5); return err },
		"CountSubscriptions":    func() error { _, err := s.CountSubscriptions(ctx); return err },
		"PendingChats":          func() error { _, err := s.PendingChats(ctx, t0, 10); return err },
		"Counts":                func() error { _, err := s.Counts(ctx); return err },
		"OldestPending":         func() error { _, _, err := s.OldestPending(ctx); return err },
		"UpdateHandled":         func() error { _, err := s.UpdateHandled(ctx, 1); return err },
	} {
		addRouted(t, s, t0, 3) // something in the WAL to hold on to
		if err := read(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st, err := s.wal.checkpoint(ctx, "TRUNCATE"); err != nil || st.busy != 0 {
			t.Errorf("after %s, TRUNCATE = %+v, %v: a reader is still in the WAL", name, st, err)
		}
	}
}

func wantIntegrity(t *testing.T, s *sqlStore) {
	t.Helper()
	var res string
	if err := s.read.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
}
