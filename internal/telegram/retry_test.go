package telegram

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryPolicy(t *testing.T) {
	gone := reply{hijack: true}
	tests := []struct {
		name         string
		replies      []reply
		retries      int
		wantAttempts int
		wantCode     int // 0: no *APIError expected
		wantErr      string
	}{
		{name: "5xx retried then success", replies: []reply{failReply(502, "Bad Gateway", ""), {status: 503}, okReply(messageRes)},
			retries: 3, wantAttempts: 3},
		{name: "5xx exhausted", replies: []reply{failReply(500, "Internal Server Error", "")},
			retries: 2, wantAttempts: 3, wantCode: 500},
		{name: "network error retried then success", replies: []reply{gone, okReply(messageRes)},
			retries: 3, wantAttempts: 2},
		{name: "network error exhausted", replies: []reply{gone},
			retries: 2, wantAttempts: 3, wantErr: "giving up after 3 attempt(s)"},
		{name: "400 not retried", replies: []reply{failReply(400, "Bad Request: chat not found", ""), okReply(messageRes)},
			retries: 3, wantAttempts: 1, wantCode: 400},
		{name: "403 not retried", replies: []reply{failReply(403, "Forbidden: bot was kicked", ""), okReply(messageRes)},
			retries: 3, wantAttempts: 1, wantCode: 403},
		{name: "429 returned, not retried", replies: []reply{failReply(429, "Too Many Requests: retry after 5", `{"retry_after":5}`), okReply(messageRes)},
			retries: 3, wantAttempts: 1, wantCode: 429},
		{name: "no retries configured", replies: []reply{failReply(500, "Internal Server Error", ""), okReply(messageRes)},
			retries: 0, wantAttempts: 1, wantCode: 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t, tc.replies...)
			c := newTestClient(t, f, WithRetry(tc.retries, 0, 0))
			_, err := c.SendMessage(t.Context(), SendMessageParams{ChatID: 1, Text: "x"})
			if got := len(f.requests()); got != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", got, tc.wantAttempts)
			}
			checkRetryErr(t, err, tc.wantCode, tc.wantErr)
		})
	}
}

func checkRetryErr(t *testing.T, err error, wantCode int, wantErr string) {
	t.Helper()
	apiErr, isAPI := errors.AsType[*APIError](err)
	switch {
	case wantCode == 0 && wantErr == "" && err != nil:
		t.Fatalf("err = %v, want success", err)
	case wantCode != 0 && (!isAPI || apiErr.Code != wantCode):
		t.Fatalf("err = %v, want *APIError %d", err, wantCode)
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Fatalf("err = %v, want it to contain %q", err, wantErr)
	}
	if wantCode == 429 && apiErr.RetryAfter != 5*time.Second {
		t.Errorf("RetryAfter = %v, want 5s", apiErr.RetryAfter)
	}
}

func TestContextStopsRetries(t *testing.T) {
	tests := []struct {
		name      string
		inHandler bool // cancel while answering attempt 1, else once it was seen
	}{
		{name: "cancelled during attempt", inHandler: true},
		// The client is then checking the 500 or waiting out an hour of backoff.
		{name: "cancelled during backoff", inHandler: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			seen := make(chan struct{})
			r := failReply(500, "Internal Server Error", "")
			r.before = func(n int) {
				if n == 1 && tc.inHandler {
					cancel()
				}
				if n == 1 {
					close(seen)
				}
			}
			f := newFakeAPI(t, r)
			c := newTestClient(t, f, WithRetry(5, time.Hour, time.Hour))
			go func() { <-seen; cancel() }()
			_, err := c.SendMessage(ctx, SendMessageParams{ChatID: 1, Text: "x"})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if got := len(f.requests()); got != 1 {
				t.Errorf("attempts = %d, want 1", got)
			}
		})
	}
}

func TestContextAlreadyDone(t *testing.T) {
	f := newFakeAPI(t, failReply(500, "Internal Server Error", ""))
	c := newTestClient(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.GetMe(ctx)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "getMe: ") {
		t.Errorf("err = %v, want getMe: ... context.Canceled", err)
	}
	if got := len(f.requests()); got > 1 {
		t.Errorf("attempts = %d, want at most 1", got)
	}
}

// deadlineRecorder records the context deadline each request carries.
type deadlineRecorder struct {
	base      http.RoundTripper
	deadlines chan time.Time
}

func (d deadlineRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	dl, _ := r.Context().Deadline()
	d.deadlines <- dl
	return d.base.RoundTrip(r)
}

func TestGetUpdatesOutlivesHTTPClientTimeout(t *testing.T) {
	f := newFakeAPI(t, okReply(`[]`), okReply(`{"id":1,"is_bot":true,"first_name":"bot"}`))
	rec := deadlineRecorder{base: http.DefaultTransport, deadlines: make(chan time.Time, 2)}
	hc := &http.Client{Timeout: time.Second, Transport: rec}
	c := newTestClient(t, f, WithHTTPClient(hc))

	before := time.Now()
	if _, err := c.GetUpdates(t.Context(), GetUpdatesParams{Timeout: 50}); err != nil {
		t.Fatalf("GetUpdates: %v", err)
	}
	if dl := <-rec.deadlines; dl.Before(before.Add(50*time.Second + longPollGrace)) {
		t.Errorf("getUpdates deadline %v is not past the 50s poll plus grace", dl.Sub(before))
	}
	if _, err := c.GetMe(t.Context()); err != nil {
		t.Fatalf("GetMe: %v", err)
	}
	if dl := <-rec.deadlines; dl.IsZero() || dl.After(time.Now().Add(time.Second)) {
		t.Errorf("getMe deadline %v, want the HTTP client's 1s timeout", dl)
	}
	if hc.Timeout != time.Second {
		t.Errorf("caller's http.Client was modified: Timeout = %v", hc.Timeout)
	}
}

func TestBackoff(t *testing.T) {
	const lo, hi = 250 * time.Millisecond, 5 * time.Second
	for attempt, ceiling := range []time.Duration{lo, 2 * lo, 4 * lo, 8 * lo, 16 * lo, hi, hi, hi} {
		for range 50 {
			if d := backoff(lo, hi, attempt, nil); d < ceiling/2 || d > ceiling {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, ceiling/2, ceiling)
			}
		}
	}
	if d := backoff(time.Hour, math.MaxInt64, 200, nil); d < math.MaxInt64/2 {
		t.Errorf("overflow: backoff = %v", d)
	}
	if d := backoff(0, 0, 3, nil); d != 0 {
		t.Errorf("zero waits: backoff = %v", d)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name  string
		token string
		opts  []Option
	}{
		{"empty token", "", nil},
		{"token with slash", "123:abc/def", nil},
		{"token with space", "123:abc def", nil},
		{"relative base URL", testToken, []Option{WithBaseURL("api.telegram.org")}},
		{"non-http base URL", testToken, []Option{WithBaseURL("ftp://api.telegram.org")}},
		{"base URL with query", testToken, []Option{WithBaseURL("https://api.telegram.org?x=1")}},
		{"nil HTTP client", testToken, []Option{WithHTTPClient(nil)}},
		{"negative retries", testToken, []Option{WithRetry(-1, 0, 0)}},
		{"min wait above max", testToken, []Option{WithRetry(3, time.Second, time.Millisecond)}},
	}
	for _, tc := range tests {
		c, err := New(tc.token, tc.opts...)
		if err == nil || c != nil {
			t.Errorf("%s: New = %v, %v; want error", tc.name, c, err)
			continue
		}
		if tc.token != "" && strings.Contains(err.Error(), tc.token) {
			t.Errorf("%s: error %q quotes the token", tc.name, err)
		}
	}
	if _, err := New(testToken, WithBaseURL("http://127.0.0.1:8081/"), WithLogger(nil)); err != nil {
		t.Errorf("valid options: %v", err)
	}
}
