package store

// WALBytes returns the size in bytes of the SQLite write-ahead log file of
// s (0 when there is none), for alertgram_store_wal_bytes. ok is false for
// a store without one: PostgreSQL, whose WAL is the server's. It is one
// stat(2), cheap enough for every scrape, and safe after Close.
func WALBytes(s Store) (n int64, ok bool) {
	ss, isSQL := s.(*sqlStore)
	if !isSQL || ss.wal == nil {
		return 0, false
	}
	return ss.wal.size(), true
}
