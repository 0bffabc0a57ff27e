package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/httpapi"
)

// A full disk, for real: the child process gets a mount namespace of its
// own (and a user namespace when not root) and mounts an 8 MiB tmpfs over
// its directory, where it opens the store; when the child exits, the
// mount goes with it. Filling the tmpfs makes write(2) fail with ENOSPC,
// which SQLite reports as SQLITE_FULL.
const (
	fullDiskChildEnv    = "ALERTGRAM_STORE_FULL_DISK_DIR"
	fullDiskUnavailable = "FULL-DISK-UNAVAILABLE: "
)

// While the disk is full, webhooks are answered 503 (Alertmanager retries
// 5xx) and nothing is stored for them; reads go on. Once space returns, the
// same store, not reopened, accepts webhooks and checkpoints again, and
// nothing accepted before, during or after was lost or half-written.
func TestSQLiteFullDisk(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSQLiteFullDiskChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fullDiskChildEnv+"="+t.TempDir())
	cmd.SysProcAttr = privateMountNamespace()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		fullDiskUnavailableNow(t, "cannot start a process in a new mount namespace: "+err.Error())
	}
	err := cmd.Wait()
	if _, reason, ok := strings.Cut(out.String(), fullDiskUnavailable); ok {
		fullDiskUnavailableNow(t, strings.TrimSpace(strings.SplitN(reason, "\n", 2)[0]))
	}
	if err != nil || !strings.Contains(out.String(), "--- PASS: TestSQLiteFullDiskChild") {
		t.Fatalf("full-disk child: %v\n%s", err, out.String())
	}
	t.Log(out.String())
}

// fullDiskUnavailableNow skips, or fails under CI=true: CI runs as root,
// which can always mount a tmpfs in a namespace of its own.
func fullDiskUnavailableNow(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("full-disk test cannot run (CI=true): %s", reason)
	}
	t.Skipf("full-disk test needs root or unprivileged user namespaces to mount a tmpfs: %s", reason)
}

// privateMountNamespace: Go makes the new namespace's mounts private, so
// nothing the child mounts shows outside it.
func privateMountNamespace() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if os.Geteuid() != 0 {
		attr.Cloneflags = syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	return attr
}

// TestSQLiteFullDiskChild is TestSQLiteFullDisk's child process.
func TestSQLiteFullDiskChild(t *testing.T) {
	dir := os.Getenv(fullDiskChildEnv)
	if dir == "" {
		t.Skip("helper process for TestSQLiteFullDisk")
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m,mode=0700"); err != nil {
		fmt.Printf("%smount tmpfs on %s: %v\n", fullDiskUnavailable, dir, err)
		return
	}
	ctx := t.Context()
	path := filepath.Join(dir, "alertgram.db")
	st, err := Open(ctx, "sqlite://"+path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*sqlStore)
	defer s.Close()
	stopCheckpointLoop(s) // checkpoints when the test says: what needs space is then known
	h := intake(s)

	h.post(t, "Before", http.StatusOK)
	if st, err := s.wal.holdWriter(ctx, "TRUNCATE"); err != nil || st.busy != 0 {
		t.Fatalf("TRUNCATE: %+v, %v", st, err)
	}
	// In the WAL only: copying it into the database file needs space.
	big := bytes.Repeat([]byte("b"), 256<<10)
	if _, err := s.AddNotification(ctx, Notification{Source: "alertmanager", Route: "oncall", GroupKey: "big",
		Payload: big, Routed: true, Targets: []Target{{ChatID: 42}}}); err != nil {
		t.Fatal(err)
	}

	filler := fillDisk(t, dir)
	h.post(t, "DuringFull", http.StatusServiceUnavailable)
	_, err = s.AddNotification(ctx, Notification{Source: "alertmanager", Route: "oncall", GroupKey: "direct", Payload: []byte("{}")})
	wantFull(t, "AddNotification", err)
	_, err = s.wal.checkpoint(ctx, "PASSIVE")
	wantFull(t, "PASSIVE checkpoint", err)
	_, err = s.ClaimDeliveries(ctx, "w", time.Now(), time.Now().Add(time.Minute), 10)
	wantFull(t, "ClaimDeliveries", err)
	if counts, err := s.Counts(ctx); err != nil || counts[StatePending] != 2 {
		t.Fatalf("while full, Counts = %v, %v; want the 2 pending deliveries accepted before", counts, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if st, err := s.wal.checkpoint(ctx, "PASSIVE"); err != nil || st.busy != 0 || st.checkpointed != st.logPages {
		t.Fatalf("PASSIVE once space returned: %+v, %v", st, err)
	}
	h.post(t, "After", http.StatusOK)
	ds, err := s.ClaimDeliveries(ctx, "w", time.Now(), time.Now().Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, d := range ds {
		got[d.GroupKey]++
		if err := s.MarkDelivered(ctx, d.ID, d.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{`{}:{alertname="Before"}`: 1, "big": 1, `{}:{alertname="After"}`: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("claimed the deliveries of %v, want %v (nothing for the 503)", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	reopened := openSQLiteAt(t.Context(), t, path).(*sqlStore)
	wantIntegrity(t, reopened)
	var payload []byte
	if err := reopened.read.QueryRowContext(ctx, `SELECT payload FROM notifications WHERE group_key = 'big'`).Scan(&payload); err != nil || !bytes.Equal(payload, big) {
		t.Fatalf("the notification committed before the disk filled: %d bytes, %v; want its %d bytes", len(payload), err, len(big))
	}
}

// fillDisk writes a file into dir until the file system has no space
// left and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{64 << 10, 1} {
		buf := make([]byte, chunk)
		for {
			if _, err = f.Write(buf); err != nil {
				break
			}
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("filling the disk: %v, want ENOSPC", err)
		}
	}
	return path
}

func wantFull(t *testing.T, op string, err error) {
	t.Helper()
	var e *sqlite.Error
	if !errors.As(err, &e) || e.Code()&0xff != sqlite3.SQLITE_FULL {
		t.Fatalf("%s on a full disk: %v, want SQLITE_FULL", op, err)
	}
}

// storeIntake is the webhook intake (httpapi's router) in front of the
// store, with an Enqueuer that stores as dispatch.Dispatcher.Enqueue does.
type storeIntake struct{ router http.Handler }

func intake(s Store) storeIntake {
	return storeIntake{router: httpapi.NewRouter(httpapi.Deps{
		Logger:       slog.New(slog.DiscardHandler),
		Enqueuer:     enqueuer{s},
		Routes:       func(name string) bool { return name == "oncall" },
		MaxBodyBytes: 1 << 20,
		Ready:        func(context.Context) error { return nil },
		Registerer:   prometheus.NewRegistry(),
	})}
}

type enqueuer struct{ s Store }

var _ httpapi.Enqueuer = enqueuer{}

func (e enqueuer) Enqueue(ctx context.Context, g *alert.Group) error {
	payload, err := json.Marshal(g)
	if err != nil {
		return err
	}
	_, err = e.s.AddNotification(ctx, Notification{Source: string(g.Source), Route: g.Route, GroupKey: g.GroupKey,
		Payload: payload, Routed: true, Targets: []Target{{ChatID: 42}}})
	return err
}

// post sends an Alertmanager webhook for one alert named alertname and
// checks the status.
func (h storeIntake) post(t *testing.T, alertname string, want int) {
	t.Helper()
	body := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"alertgram","groupKey":"{}:{alertname=\"%[1]s\"}",
		"groupLabels":{"alertname":"%[1]s"},"commonLabels":{"alertname":"%[1]s"},"externalURL":"http://am",
		"alerts":[{"status":"firing","labels":{"alertname":"%[1]s"},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}`,
		alertname)
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/webhook/alertmanager/oncall", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	if rec.Code != want {
		b, _ := io.ReadAll(rec.Body)
		t.Fatalf("webhook %s: %d %s, want %d", alertname, rec.Code, b, want)
	}
}
