// Package loadtest is alertgram's load tool: it runs the real binary against
// the project's fake Telegram Bot API with Telegram's real limits and prints
// the figures the README quotes. It is a test package so it can use the fake;
// it only runs with -load:
//
//	make load   # go test ./internal/loadtest -run TestLoad -load -v -timeout 30m
//
// Each scenario is a subtest (idle, storm, fanout, ingest, wal); -run
// selects some, and the table then holds their figures only:
//
//	go test ./internal/loadtest -run 'TestLoad/^wal$' -load -v -count=1
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

var (
	load    = flag.Bool("load", false, "run the load scenarios (minutes; prints the README figures)")
	senders = flag.Int("senders", 32, "concurrent webhook senders in the ingest scenario")
	binary  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !*load {
		os.Exit(m.Run()) // everything skips
	}
	path, cleanup, err := testutil.BuildRelease()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// proc is one alertgram process under load.
type proc struct {
	url string
	db  string // the SQLite database file
	cmd *exec.Cmd
	log *testutil.SyncBuffer
}

// start runs alertgram with routes (YAML list items) against fake.
func start(t *testing.T, fake *testutil.Telegram, routes string) *proc {
	t.Helper()
	return startIn(t, fake, t.TempDir(), routes)
}

// startIn is start with its config and database (alertgram.db) in dir,
// which may hold a database prepared by the scenario.
func startIn(t *testing.T, fake *testutil.Telegram, dir, routes string) *proc {
	t.Helper()
	listen := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := fmt.Sprintf("listen: %q\nstorage: \"sqlite://%s\"\nlog: {level: warn}\ntelegram:\n  token: %q\n  api_url: %q\nroutes:\n%s",
		listen, filepath.Join(dir, "alertgram.db"), fake.Token(), fake.URL(), routes)
	path := filepath.Join(dir, "alertgram.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &proc{url: "http://" + listen, db: filepath.Join(dir, "alertgram.db"), log: &testutil.SyncBuffer{}}
	// Not the test's context: that would SIGKILL alertgram as the test ends,
	// before the cleanup below stops it with SIGTERM.
	p.cmd = exec.CommandContext(context.Background(), binary, "serve", "--config", path)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
		if t.Failed() {
			log := p.log.String()
			t.Logf("alertgram log (last 4 KiB):\n%s", log[max(0, len(log)-4096):])
		}
	})
	until(t, 20*time.Second, "alertgram ready", func() bool {
		resp, err := get(t.Context(), p.url+"/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// rss returns the process's current and peak resident set size in MiB.
func (p *proc) rss(t *testing.T) (cur, peak float64) {
	st := p.memory(t)
	return st["VmRSS"], st["VmHWM"]
}

// memory returns the memory fields of /proc/PID/status (VmRSS, VmHWM,
// RssAnon, RssFile, ...) in MiB.
func (p *proc) memory(t *testing.T) map[string]float64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[2] == "kB" {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			out[strings.TrimSuffix(fields[0], ":")] = kb / 1024
		}
	}
	return out
}

// until polls cond (state of another process or of the fake) until it holds;
// the tool measures wall time, so a 20ms poll bounds its resolution.
func until(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
	return time.Time{}
}

// webhook builds an Alertmanager webhook body for one alert group.
func webhook(alertname, severity string, startsAt time.Time) []byte {
	body, _ := json.Marshal(map[string]any{
		"version": "4", "status": "firing", "receiver": "alertgram",
		"groupKey":     fmt.Sprintf(`{}:{alertname=%q}`, alertname),
		"groupLabels":  map[string]string{"alertname": alertname},
		"commonLabels": map[string]string{"alertname": alertname, "severity": severity},
		"externalURL":  "https://alertmanager.example.com",
		"alerts": []map[string]any{{
			"status": "firing", "startsAt": startsAt.Format(time.RFC3339Nano), "endsAt": "0001-01-01T00:00:00Z",
			"labels":      map[string]string{"alertname": alertname, "severity": severity, "instance": "node-1.example.com:9100"},
			"annotations": map[string]string{"summary": alertname + " is firing on node-1"},
		}},
	})
	return body
}

// get sends GET url under ctx with the default client.
func get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}

// post sends one webhook and returns its latency; any non-200 fails the run.
func post(ctx context.Context, url string, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	begin := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, b.String())
	}
	return time.Since(begin), nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
