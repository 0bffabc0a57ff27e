package store

import (
	"os"
	"path/filepath"
	"testing"
)

// Commits never checkpoint (that would stall a webhook); the background
// checkpointer's connection folds every committed page into the database
// file, and Close leaves the WAL empty.
func TestSQLiteCheckpointsOffTheCommitPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	st, err := Open(t.Context(), "sqlite://"+path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*sqlStore)
	var auto int
	if err := s.write.QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Fatalf("writer wal_autocheckpoint = %d, want 0 (checkpoints belong to the background connection)", auto)
	}
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
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Fatalf("WAL is %d bytes after Close, want truncated", fi.Size())
	}
	reopened := openSQLiteAt(t, path)
	got, err := reopened.UnroutedNotifications(t.Context(), 100)
	if err != nil || len(got) != 50 {
		t.Fatalf("after reopen: %d unrouted notifications (%v), want 50", len(got), err)
	}
}
