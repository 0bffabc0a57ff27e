package store

import (
	"errors"
	"path/filepath"
	"testing"
)

// Close while callers wait for the writer (held here): whoever was queued
// before Close is committed and told so, whoever came later gets ErrClosed,
// and no caller is left waiting or told something untrue.
func TestSQLiteCloseWithWaiters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	s, err := Open(t.Context(), "sqlite://"+path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // a second Close does nothing
	ss := s.(*sqlStore)
	writer, err := ss.write.Conn(t.Context()) // the only one: commits wait for it
	if err != nil {
		t.Fatal(err)
	}
	const callers = maxBatch + 50
	outcomes := addAll(t.Context(), s.AddNotification, callers)
	waitFor(t, "callers to queue behind the held writer", func() bool { return ss.adds.queued() > 0 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	waitFor(t, "Close to begin", ss.adds.isClosed)
	writer.Close()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	committed := map[int64]bool{}
	for range callers {
		switch o := <-outcomes; {
		case o.err == nil && o.id > 0:
			committed[o.id] = true
		case !errors.Is(o.err, ErrClosed):
			t.Errorf("caller got %d, %v; want an id or ErrClosed", o.id, o.err)
		}
	}
	if len(committed) == 0 {
		t.Fatal("no waiting caller was committed")
	}
	stored, err := openSQLiteAt(t.Context(), t, path).UnroutedNotifications(t.Context(), 2*callers)
	if err != nil || len(stored) != len(committed) {
		t.Fatalf("after Close %d stored, %v; want the %d committed", len(stored), err, len(committed))
	}
	for _, n := range stored {
		if !committed[n.ID] {
			t.Errorf("notification %d is stored, but its caller was not told", n.ID)
		}
	}
}
