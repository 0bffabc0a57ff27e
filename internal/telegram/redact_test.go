package telegram

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestTokenNeverLeaks(t *testing.T) {
	logs := &logBuffer{}
	closed := httptest.NewServer(nil)
	closed.Close()
	tests := []struct {
		name    string
		base    string // default: the fake server
		reply   reply
		wantErr string
	}{
		{name: "connection refused", base: closed.URL, wantErr: "/bot<redacted>/sendMessage"},
		{name: "connection dropped", reply: reply{hijack: true}, wantErr: "/bot<redacted>/sendMessage"},
		{name: "5xx exhausted", reply: failReply(503, "Service Unavailable", ""), wantErr: "503"},
		{name: "4xx", reply: failReply(400, "Bad Request: chat not found", ""), wantErr: "chat not found"},
		{name: "4xx echoing the token", reply: failReply(400, "Bad Request: odd "+testToken, ""), wantErr: "odd <redacted>"},
		{name: "429", reply: failReply(429, "Too Many Requests: retry after 1", `{"retry_after":1}`), wantErr: "429"},
		{name: "undecodable body", reply: reply{status: 200, body: "<html>"}, wantErr: "decode response"},
		{name: "undecodable result", reply: okReply(`"a string"`), wantErr: "decode result"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t, tc.reply)
			base := f.srv.URL
			if tc.base != "" {
				base = tc.base
			}
			c := newTestClient(t, f, WithBaseURL(base), WithRetry(2, 0, 0), WithLogger(logs.logger()))
			_, err := c.SendMessage(t.Context(), SendMessageParams{ChatID: 1, Text: "x"})
			if err == nil || !strings.HasPrefix(err.Error(), "sendMessage: ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want sendMessage: ...%s...", err, tc.wantErr)
			}
			assertNoToken(t, err)
		})
	}
	out := logs.String()
	if leaks(out) {
		t.Errorf("token logged:\n%s", out)
	}
	for _, want := range []string{"level=DEBUG", "component=telegram", "/bot<redacted>/sendMessage"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "level=ERROR") || strings.Contains(out, "level=INFO") {
		t.Errorf("client logged above debug:\n%s", out)
	}
}

func leaks(s string) bool {
	return strings.Contains(s, testToken) || strings.Contains(s, url.QueryEscape(testToken))
}

// assertNoToken checks err and every error in its tree, including the URL
// of any *url.Error a caller could reach with errors.As.
func assertNoToken(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if leaks(err.Error()) {
		t.Errorf("error %T leaks the token: %s", err, err)
	}
	if ue, ok := err.(*url.Error); ok && leaks(ue.URL) { //nolint:errorlint // this node only: the walk below visits every node of the tree, errors.As would stop at the first *url.Error
		t.Errorf("url.Error URL leaks the token: %s", ue.URL)
	}
	switch u := err.(type) { //nolint:errorlint // walks the tree one level at a time on purpose, Unwrap() error and Unwrap() []error alike
	case interface{ Unwrap() error }:
		assertNoToken(t, u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			assertNoToken(t, e)
		}
	}
}

func TestScrubOpaqueFallback(t *testing.T) {
	c, err := New(testToken)
	if err != nil {
		t.Fatal(err)
	}
	got := c.wrap("getMe", errors.New("strange: "+testToken))
	if got.Error() != "getMe: strange: <redacted>" {
		t.Errorf("wrap = %q", got)
	}
	assertNoToken(t, got)
}
