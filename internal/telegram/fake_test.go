package telegram

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const testToken = "123456789:AAH-SeCrEt_token-0123456789abcdefXYZ"

// reply is one canned answer of fakeAPI.
type reply struct {
	status int
	body   string
	header http.Header
	hijack bool        // drop the connection without answering
	before func(n int) // runs before answering; n counts attempts from 1
}

func okReply(result string) reply {
	return reply{status: 200, body: `{"ok":true,"result":` + result + `}`}
}

func failReply(status int, desc, params string) reply {
	body := `{"ok":false,"error_code":` + strconv.Itoa(status) + `,"description":"` + desc + `"`
	if params != "" {
		body += `,"parameters":` + params
	}
	return reply{status: status, body: body + "}"}
}

type request struct {
	method string
	body   string
}

// fakeAPI is a loopback Bot API that answers with replies in order,
// repeating the last one, and records every request.
type fakeAPI struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	reqs    []request
}

func newFakeAPI(t *testing.T, replies ...reply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	method, found := strings.CutPrefix(r.URL.Path, "/bot"+testToken+"/")
	if !found || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		f.t.Errorf("unexpected request %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(r.Body)
	n, rep := f.record(request{method: method, body: string(body)})
	if rep.before != nil {
		rep.before(n)
	}
	if rep.hijack {
		hijackAndClose(f.t, w)
		return
	}
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeAPI) record(req request) (int, reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	n := len(f.reqs)
	return n, f.replies[min(n, len(f.replies))-1]
}

func hijackAndClose(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	_ = conn.Close()
}

func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// newTestClient returns a client for f without retry waits.
func newTestClient(t *testing.T, f *fakeAPI, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{WithBaseURL(f.srv.URL), WithRetry(3, 0, 0)}, opts...)
	c, err := New(testToken, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// logBuffer is a goroutine-safe sink for a debug-level text logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
