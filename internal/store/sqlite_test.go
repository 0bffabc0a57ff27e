package store

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func openSQLiteAt(ctx context.Context, t testing.TB, path string) Store {
	t.Helper()
	s, err := Open(ctx, "sqlite://"+path, discardLogger())
	if err != nil {
		t.Fatalf("Open(sqlite://%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		return openSQLiteAt(t.Context(), t, filepath.Join(t.TempDir(), "alertgram.db"))
	})
}

func TestSQLiteRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s := openSQLiteAt(t.Context(), t, "alertgram.db")
	add(t, s, Notification{Source: "alertmanager", Route: "r", ReceivedAt: t0})
	if _, err := os.Stat("alertgram.db"); err != nil {
		t.Fatalf("database not created at the relative path: %v", err)
	}
}

func TestSQLiteReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	s, err := Open(t.Context(), "sqlite://"+path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	addRouted(t, s, t0, 1, 2, 3)
	unrouted := add(t, s, Notification{Source: "grafana", Route: "ops", GroupKey: "k", Payload: []byte("p"), ReceivedAt: t0.Add(time.Second)})
	ds := claim(t, s, "a", t0, t0.Add(time.Hour), 3)
	if err := s.MarkDelivered(t.Context(), ds[0].ID, 10, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.FailDelivery(t.Context(), ds[1].ID, "blocked"); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryDelivery(t.Context(), ds[2].ID, t0.Add(time.Minute), "flood"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openSQLiteAt(t.Context(), t, path)
	wantCounts(t, s, 1, 1, 1, 1)
	wantOldest(t, s, utc(t0), true)
	un, err := s.UnroutedNotifications(t.Context(), 10)
	if err != nil || len(un) != 1 || un[0].ID != unrouted || string(un[0].Payload) != "p" || !un[0].ReceivedAt.Equal(utc(t0.Add(time.Second))) {
		t.Fatalf("unrouted after reopen = %+v, %v", un, err)
	}
	again := claim(t, s, "b", t0.Add(time.Minute), t0.Add(time.Hour), 10)
	if len(again) != 1 || again[0].ID != ds[2].ID || again[0].Attempts != 2 || again[0].LastError != "flood" {
		t.Fatalf("claim after reopen = %+v", again)
	}
	if n := countRows(t, path, "schema_migrations"); n != len(migrations) {
		t.Errorf("schema_migrations has %d rows, want %d (migrations applied once)", n, len(migrations))
	}
}

func TestSQLiteReopenKeepsSubscriptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	s, err := Open(t.Context(), "sqlite://"+path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	unused := createToken(t, s, LinkToken{Route: "ops", Matchers: []string{`team="db"`}})
	used := createToken(t, s, LinkToken{Group: true})
	expired := createToken(t, s, LinkToken{ExpiresAt: redeemAt})
	sub := redeem(t, s, used.Token, Subscription{ChatID: -100, ThreadID: 3, ChatTitle: "Ops", CreatedBy: "@alice (1)"})
	gone := subscribe(t, s, 9, 0, "oncall")
	unsubscribe(t, s, 9, 0, true, "")
	markHandled(t, s, 77, t0)
	markHandled(t, s, 5, t0.Add(-time.Hour))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openSQLiteAt(t.Context(), t, path)
	wantHandled(t, s, 77, true)
	wantHandled(t, s, 5, true)
	wantHandled(t, s, 76, false)
	wantPruned(t, s, t0, 1) // the times survived too
	wantHandled(t, s, 5, false)
	wantHandled(t, s, 77, true)
	wantActive(t, s, "oncall", sub)
	wantSubCounts(t, s, map[string]int{"oncall": 1})
	for token, want := range map[string]error{used.Token: ErrTokenUsed, expired.Token: ErrTokenExpired, "nope": ErrTokenUnknown} {
		if _, err := s.RedeemLinkToken(t.Context(), token, redeemAt, Subscription{ChatID: 1}); !errors.Is(err, want) {
			t.Errorf("RedeemLinkToken after reopen = %v, want %v", err, want)
		}
	}
	got := redeem(t, s, unused.Token, Subscription{ChatID: 1})
	if got.Route != "ops" || len(got.Matchers) != 1 || got.Matchers[0] != `team="db"` {
		t.Errorf("unused token after reopen subscribed %+v", got)
	}
	if back := subscribe(t, s, 9, 0, "oncall"); back.ID != gone.ID {
		t.Errorf("inactive subscription lost: resubscribed as %d, want %d", back.ID, gone.ID)
	}
}

// A database made by a binary that knew only the outbox gains the
// subscription tables and keeps its notifications.
func TestSQLiteUpgradeFromOutboxSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), sqliteDialect.ddl.Replace(createMigrationsTable)); err != nil {
		t.Fatal(err)
	}
	if err := applyMigration(t.Context(), tx, sqliteDialect, migrations[0]); err != nil {
		t.Fatal(err)
	}
	_, err = tx.ExecContext(t.Context(), `INSERT INTO notifications (source, route, group_key, payload, received_at)
		VALUES ('alertmanager', 'oncall', 'g', X'7b7d', $1)`, sqliteDialect.ts(t0))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openSQLiteAt(t.Context(), t, path)
	wantCounts(t, s, 0, 0, 0, 1)
	wantHandled(t, s, 0, false) // the fresh cursor carried nothing over
	wantPruned(t, s, time.Now().Add(time.Hour), 0)
	subscribe(t, s, 1, 0, "oncall")
	wantSubCounts(t, s, map[string]int{"oncall": 1})
	if n := countRows(t, path, "schema_migrations"); n != len(migrations) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations))
	}
}

func TestSQLiteUpgradeCarriesOverUpdateCursor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testUpgradeCarriesOverUpdateCursor(t, db, sqliteDialect, func() Store { return openSQLiteAt(t.Context(), t, path) },
		`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'bot_state'`)
}

// Two stores on one file stand for two processes (say `alertgram link`
// beside `serve`): their writers contend for the file's lock.
func TestSQLiteRedeemAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	testRedeemRace(t, openSQLiteAt(t.Context(), t, path), openSQLiteAt(t.Context(), t, path))
}

func countRows(t *testing.T, path, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSQLiteRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	s := openSQLiteAt(t.Context(), t, path)
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(t.Context(), "sqlite://"+path, discardLogger())
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open with schema version 999 = %v, want an error about a newer schema", err)
	}
}

func TestSQLiteUpgradeToLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testUpgradeToLifecycle(t, db, sqliteDialect, func() Store { return openSQLiteAt(t.Context(), t, path) },
		`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'deliveries'`)
}

// Two stores on one file stand for two processes accepting the same
// notification.
func TestSQLiteDedupeAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	testDedupeRace(t, openSQLiteAt(t.Context(), t, path), openSQLiteAt(t.Context(), t, path))
}

func TestMigrationsCoverEveryDialect(t *testing.T) {
	dialects := []dialect{sqliteDialect, postgresDialect}
	for _, m := range migrations {
		if len(m.stmts) == 0 && len(m.byDialect) == 0 {
			t.Errorf("migration %d has no statements", m.version)
		}
		if m.byDialect == nil {
			continue
		}
		for _, d := range dialects {
			if len(m.byDialect[d.name]) == 0 {
				t.Errorf("migration %d has no statements for %s", m.version, d.name)
			}
		}
		if len(m.byDialect) != len(dialects) {
			t.Errorf("migration %d names dialects %v, want only sqlite and postgres", m.version, slices.Collect(maps.Keys(m.byDialect)))
		}
	}
}

func TestMigrationsAreNumberedInOrder(t *testing.T) {
	for i, m := range migrations {
		if m.version != i+1 {
			t.Errorf("migrations[%d] has version %d, want %d", i, m.version, i+1)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ dsn, want string }{
		{"mysql://u:pw@host/db", `"mysql"`},
		{"alertgram.db", "no scheme"},
		{"sqlite://", "needs a file path"},
		{"sqlite://:memory:", "plain file path"},
		{"sqlite://" + filepath.Join(dir, "missing", "dir", "x.db"), filepath.Join(dir, "missing")},
	} {
		s, err := Open(t.Context(), tc.dsn, nil)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tc.dsn)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want it to mention %s", tc.dsn, err, tc.want)
		}
		if strings.Contains(err.Error(), "pw") {
			t.Errorf("Open(%q) error leaks the password: %v", tc.dsn, err)
		}
	}
}

// The child half of TestSQLiteCommitSurvivesSIGKILL: it commits, says so on
// stdout, then waits to be killed.
const killChildEnv = "ALERTGRAM_STORE_KILL_CHILD_DB"

func TestSQLiteKillChild(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("helper process for TestSQLiteCommitSurvivesSIGKILL")
	}
	s, err := Open(context.Background(), "sqlite://"+path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	id := addRouted(t, s, t0, 1, 2)
	fmt.Printf("committed %d\n", id)
	_, _ = bufio.NewReader(os.Stdin).ReadByte() // blocks until the parent kills us; nothing to check
}

func TestSQLiteCommitSurvivesSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertgram.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSQLiteKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var id int64
	for sc := bufio.NewScanner(stdout); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			id, _ = strconv.ParseInt(v, 10, 64)
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait() // reaps the child; its error is the SIGKILL just sent
	if id == 0 {
		t.Fatal("child never reported a commit")
	}
	s := openSQLiteAt(t.Context(), t, path)
	wantCounts(t, s, 2, 0, 0, 0)
	ds := claim(t, s, "a", t0, t0.Add(time.Minute), 10)
	if len(ds) != 2 || ds[0].NotificationID != id {
		t.Fatalf("after SIGKILL claimed %+v, want 2 deliveries of notification %d", ds, id)
	}
}

// BenchmarkAddNotificationDedupe measures accepts with a dedupe key on
// SQLite from parallel callers: every key new (check, insert and the key's
// row, one transaction), every key twice (two Alertmanager HA peers: half
// rejected) and one key over and over (all but the first rejected, nothing
// stored).
func BenchmarkAddNotificationDedupe(b *testing.B) {
	payload := []byte(strings.Repeat(`{"labels":{"alertname":"HighLatency"}}`, 25))
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		key  func(seq int64) string
	}{
		{"new", func(seq int64) string { return strconv.FormatInt(seq, 10) }},
		{"pairs", func(seq int64) string { return strconv.FormatInt(seq/2, 10) }},
		{"repeat", func(int64) string { return "same" }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openSQLiteAt(ctx, b, filepath.Join(b.TempDir(), "alertgram.db"))
			var seq atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := Notification{Source: "alertmanager", Route: "oncall", GroupKey: "g", Payload: payload,
						ReceivedAt: time.Now(), DedupeKey: bc.key(seq.Add(1)), DedupeWindow: time.Hour}
					if _, err := s.AddNotification(ctx, n); err != nil && !errors.Is(err, ErrDuplicate) {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkAddNotification measures durable accepts on SQLite from parallel
// callers (all funnelled through the single writer connection): as many
// callers as CPUs, and 16 times as many (the load tool's 32 senders on two
// CPUs), whose notifications the group commit shares transactions among.
func BenchmarkAddNotification(b *testing.B) {
	payload := []byte(strings.Repeat(`{"labels":{"alertname":"HighLatency"}}`, 25))
	ctx := context.Background()
	for _, perCPU := range []int{1, 16} {
		b.Run(fmt.Sprintf("callers=%dxCPU", perCPU), func(b *testing.B) {
			s := openSQLiteAt(ctx, b, filepath.Join(b.TempDir(), "alertgram.db"))
			b.ReportAllocs()
			b.SetParallelism(perCPU)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := Notification{Source: "alertmanager", Route: "oncall", GroupKey: "g", Payload: payload, ReceivedAt: time.Now()}
					if _, err := s.AddNotification(ctx, n); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPruneNotifications measures the dispatcher's minute maintenance
// on a SQLite outbox of 200,000 finished notifications: "none-due" when
// none is older than the retention (the usual minute: the walk must stop
// at the first recent one, not read the table), "all-due" when 100,000
// of them are (deleted in transactions of pruneBatch).
func BenchmarkPruneNotifications(b *testing.B) {
	const rows = 200000
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fill := func(b *testing.B, s *sqlStore, from int) {
		b.Helper()
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }() // ErrTxDone once committed; otherwise it only undoes a failed benchmark's work
		for i := from; i < rows; i++ {
			at := s.d.ts(base.Add(time.Duration(i) * time.Millisecond))
			if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (source, route, group_key, payload, received_at, routed_at)
				VALUES ('alertmanager', 'oncall', 'g', x'7b7d', $1, $1)`, at); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("none-due", func(b *testing.B) {
		s := openSQLiteAt(ctx, b, filepath.Join(b.TempDir(), "alertgram.db")).(*sqlStore)
		fill(b, s, 0)
		b.ResetTimer()
		for b.Loop() {
			if n, err := s.PruneNotifications(ctx, base); err != nil || n != 0 {
				b.Fatalf("PruneNotifications = %d, %v; want 0", n, err)
			}
		}
	})
	b.Run("all-due", func(b *testing.B) {
		s := openSQLiteAt(ctx, b, filepath.Join(b.TempDir(), "alertgram.db")).(*sqlStore)
		cut := base.Add(rows / 2 * time.Millisecond)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			fill(b, s, 0)
			b.StartTimer()
			if n, err := s.PruneNotifications(ctx, cut); err != nil || n != rows/2 {
				b.Fatalf("PruneNotifications = %d, %v; want %d", n, err, rows/2)
			}
			b.StopTimer()
			if _, err := s.write.ExecContext(ctx, `DELETE FROM notifications`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}
