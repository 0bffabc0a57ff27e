package store

import "testing"

// WALBytes is the WAL file's size for SQLite (0 once emptied) and not
// available for PostgreSQL.
func TestWALBytes(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s, path := openSQLiteStore(t)
		stopCheckpointLoop(s)
		addRouted(t, s, t0, 1)
		if n, ok := WALBytes(s); !ok || n == 0 || n != walSize(t, path) {
			t.Fatalf("WALBytes = %d, %v; want the WAL file's %d bytes", n, ok, walSize(t, path))
		}
		if st, err := s.wal.holdWriter(t.Context(), "TRUNCATE"); err != nil || st.busy != 0 {
			t.Fatalf("TRUNCATE: %+v, %v", st, err)
		}
		if n, ok := WALBytes(s); !ok || n != 0 {
			t.Fatalf("after TRUNCATE WALBytes = %d, %v; want 0, true", n, ok)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		s := openPostgresStore(t, postgresSchema(t), discardLogger())
		if n, ok := WALBytes(s); ok || n != 0 {
			t.Fatalf("WALBytes = %d, %v; want 0, false", n, ok)
		}
	})
}
