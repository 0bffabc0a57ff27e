package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// defaultPostgresURL is the project's test server (trust auth);
// ALERTGRAM_TEST_POSTGRES_URL points the tests elsewhere. Each test gets a
// schema of its own, dropped afterwards.
const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func testPostgresURL() string {
	if u := os.Getenv("ALERTGRAM_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultPostgresURL
}

// postgresAdmin connects to the test server, or skips the test when it is
// unreachable (fails instead when CI=true).
func postgresAdmin(t *testing.T) *sql.DB {
	t.Helper()
	dsn := testPostgresURL()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL for tests is unreachable: %v", err)
		}
		t.Skipf("skipping: PostgreSQL for tests is unreachable (%v); with CI=true this fails", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// postgresSchema creates a fresh schema and returns a DSN whose search_path
// is it.
func postgresSchema(t *testing.T) string {
	t.Helper()
	admin := postgresAdmin(t)
	schema := "alertgram_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(testPostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgresStore(t *testing.T, dsn string, logger *slog.Logger) Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, logger)
	if err != nil {
		t.Fatalf("Open(postgres): %v", err)
	}
	t.Cleanup(func() { s.Close() }) // runs before the schema is dropped
	return s
}

func TestPostgres(t *testing.T) {
	postgresAdmin(t)
	testStore(t, func(t *testing.T) Store {
		return openPostgresStore(t, postgresSchema(t), discardLogger())
	})
}

func TestPostgresReopenAndConcurrentMigrations(t *testing.T) {
	dsn := postgresSchema(t)
	stores := make([]Store, 4)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := Open(t.Context(), dsn, discardLogger())
			if err != nil {
				t.Errorf("concurrent Open: %v", err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	addRouted(t, stores[0], t0, 1)
	wantCounts(t, stores[3], 1, 0, 0, 0)

	var n int
	admin := postgresAdmin(t)
	schema, _ := url.Parse(dsn)
	err := admin.QueryRowContext(t.Context(), fmt.Sprintf("SELECT COUNT(*) FROM %s.schema_migrations",
		schema.Query().Get("search_path"))).Scan(&n)
	if err != nil || n != len(migrations) {
		t.Fatalf("schema_migrations rows = %d, %v; want %d", n, err, len(migrations))
	}
}

func TestPostgresUpgradeCarriesOverUpdateCursor(t *testing.T) {
	dsn := postgresSchema(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testUpgradeCarriesOverUpdateCursor(t, db, postgresDialect,
		func() Store { return openPostgresStore(t, dsn, discardLogger()) },
		`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'bot_state'`)
}

func TestPostgresUpgradeToLifecycle(t *testing.T) {
	dsn := postgresSchema(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testUpgradeToLifecycle(t, db, postgresDialect, func() Store { return openPostgresStore(t, dsn, discardLogger()) },
		`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'deliveries'`)
}

// Two stores on one schema stand for two replicas accepting the same
// notification from two Alertmanager peers.
func TestPostgresDedupeAcrossStores(t *testing.T) {
	dsn := postgresSchema(t)
	testDedupeRace(t, openPostgresStore(t, dsn, discardLogger()), openPostgresStore(t, dsn, discardLogger()))
}

// Two stores on one schema stand for two replicas.
func TestPostgresRedeemAcrossStores(t *testing.T) {
	dsn := postgresSchema(t)
	testRedeemRace(t, openPostgresStore(t, dsn, discardLogger()), openPostgresStore(t, dsn, discardLogger()))
}

func TestPostgresNeverLogsPassword(t *testing.T) {
	const secret = "s3cr3t-pw"
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// Nothing listens on port 1: the error must still not carry the password.
	for _, dsn := range []string{
		"postgres://alertgram:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=5",
		"postgresql://alertgram@127.0.0.1:1/db?sslmode=disable&connect_timeout=5&password=" + secret,
		"postgres://alertgram:" + secret + "@127.0.0.1:notaport/db",
		"postgres://alertgram:" + secret + "@[::1/db",
	} {
		_, err := Open(t.Context(), dsn, logger)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the password: %v", err)
		}
	}

	// Trust auth ignores the password, so this opens.
	u, _ := url.Parse(postgresSchema(t))
	u.User = url.UserPassword("postgres", secret)
	openPostgresStore(t, u.String(), logger)
	if !strings.Contains(logs.String(), "store opened") {
		t.Errorf("no open log in %q", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("logs leak the password: %s", logs.String())
	}
}
