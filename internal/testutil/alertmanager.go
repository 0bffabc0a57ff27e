package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Alertmanager is a real Alertmanager process (Debian package
// prometheus-alertmanager) listening on a loopback port, with no clustering.
type Alertmanager struct {
	URL string
	cmd *exec.Cmd
	log *SyncBuffer
}

// SyncBuffer is a bytes.Buffer safe for the process's output copier and
// the test reading it at once.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// AlertmanagerBinary returns the path of the Alertmanager binary. Outside CI
// a missing binary skips the test with a message that says how to install
// it; in CI (CI=true) it fails the test, so CI can never silently skip.
func AlertmanagerBinary(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "Alertmanager binary not found: install it with `apt-get install -y prometheus-alertmanager`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartAlertmanager starts Alertmanager with the given configuration YAML
// and waits until it is ready. It is stopped when the test ends.
func StartAlertmanager(t testing.TB, configYAML string) *Alertmanager {
	t.Helper()
	bin := AlertmanagerBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	am := &Alertmanager{URL: url, log: &SyncBuffer{}}
	am.cmd = exec.CommandContext(t.Context(), bin,
		"--config.file="+cfgPath,
		"--storage.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--web.external-url="+url,
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	am.cmd.Stdout, am.cmd.Stderr = am.log, am.log
	if err := am.cmd.Start(); err != nil {
		t.Fatalf("starting alertmanager: %v", err)
	}
	t.Cleanup(func() {
		_ = am.cmd.Process.Kill()
		_ = am.cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", am.log.String())
		}
	})
	am.waitReady(t, 15*time.Second)
	return am
}

// waitReady polls /-/ready: the process is external, so there is no event
// to wait on; the loop is bounded.
func (am *Alertmanager) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := am.getReady(t.Context())
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("alertmanager not ready after %v; log:\n%s", timeout, am.log.String())
}

func (am *Alertmanager) getReady(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, am.URL+"/-/ready", nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// TestAlert is an alert to post to Alertmanager's API v2.
type TestAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitempty"`
	EndsAt       time.Time         `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// PostAlerts posts alerts to /api/v2/alerts. To resolve an alert, post it
// again with EndsAt in the past.
func (am *Alertmanager) PostAlerts(t testing.TB, alerts ...TestAlert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	am.do(t, http.MethodPost, "/api/v2/alerts", body, nil)
}

// Get decodes the JSON answer of a GET on an API path into v.
func (am *Alertmanager) Get(t testing.TB, path string, v any) {
	t.Helper()
	am.do(t, http.MethodGet, path, nil, v)
}

func (am *Alertmanager) do(t testing.TB, method, path string, body []byte, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, am.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
}

// Log returns what Alertmanager logged so far.
func (am *Alertmanager) Log() string { return am.log.String() }

// Stop kills Alertmanager now (tests of "Alertmanager is down").
func (am *Alertmanager) Stop(t testing.TB) {
	t.Helper()
	if err := am.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = am.cmd.Wait()
}
