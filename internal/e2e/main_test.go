// Package e2e runs the alertgram binary the way an operator does: built
// from cmd/alertgram, started with a config file, fed by a real Alertmanager,
// delivering to the project's fake Telegram Bot API.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

var binary string // built once by TestMain

func TestMain(m *testing.M) {
	// The race detector stays on in the binary: the e2e runs find races in
	// the real process, not only in unit tests.
	path, cleanup, err := testutil.BuildAlertgram("-race")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// server is one alertgram process.
type server struct {
	URL string
	cmd *exec.Cmd
	log *testutil.SyncBuffer
}

// writeConfig writes an alertgram config into dir and returns its path.
func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "alertgram.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServer runs `alertgram serve --config path` and waits for /healthz.
func startServer(t *testing.T, cfgPath, listen string, env ...string) *server {
	t.Helper()
	s := &server{URL: "http://" + listen, log: &testutil.SyncBuffer{}}
	// Not the test's context: that would SIGKILL alertgram as the test ends,
	// before the cleanup below stops it with SIGTERM; tests stop, kill and
	// restart it themselves.
	s.cmd = exec.CommandContext(context.Background(), binary, "serve", "--config", cfgPath)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			_ = s.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("alertgram log:\n%s", s.log.String())
		}
	})
	s.waitHealthy(t)
	return s
}

// waitHealthy polls /healthz of the external process, bounded.
func (s *server) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := get(t, s.URL+"/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if s.cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("alertgram did not become healthy; log:\n%s", s.log.String())
}

// waitStatus polls GET path of the external process until it answers code.
func (s *server) waitStatus(t *testing.T, path string, code int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := get(t, s.URL+path)
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			last = b.String()
			if resp.StatusCode == code {
				return last
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET %s never answered %d; last body %q", path, code, last)
	return ""
}

// assertNoSecretsLogged fails if a secret appears anywhere in the log.
func (s *server) assertNoSecretsLogged(t *testing.T, secrets ...string) {
	t.Helper()
	log := s.log.String()
	if len(log) == 0 {
		t.Fatal("alertgram logged nothing; the check would be vacuous")
	}
	for _, secret := range secrets {
		if strings.Contains(log, secret) {
			t.Errorf("a secret (%d chars) appears in alertgram's log", len(secret))
		}
	}
}

// kill sends SIGKILL: no shutdown code runs.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("alertgram exited with %v; log:\n%s", err, s.log.String())
	}
}

// get sends GET url under the test's context.
func get(t *testing.T, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

func post(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "httpapi", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
