package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"

	"github.com/alertgram/alertgram/internal/testutil"
)

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{"one url", Config{URLs: []string{"http://127.0.0.1:9093"}}, ""},
		{"prefix", Config{URLs: []string{"https://am.example.com/alertmanager/"}}, ""},
		{"none", Config{}, "at least one URL"},
		{"scheme", Config{URLs: []string{"http://ok:9093", "ftp://am:hunter2@x"}}, `URLs[1]: "ftp://am:xxxxx@x": scheme must be http or https`},
		{"no host", Config{URLs: []string{"http:///path"}}, "no host"},
		{"query", Config{URLs: []string{"http://am:9093/?x=1"}}, "query"},
		{"unparsable", Config{URLs: []string{"http://am:hunter2@[::1"}}, "not a valid URL"},
		{"http config", Config{URLs: []string{"http://am:9093"}, HTTP: commoncfg.HTTPClientConfig{
			BearerToken: "hunter2", BasicAuth: &commoncfg.BasicAuth{Username: "u", Password: "hunter2"},
		}}, "at most one of basic_auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want == "":
				c.Close()
			case err == nil || !strings.Contains(err.Error(), tt.want):
				t.Fatalf("New error = %v, want it to contain %q", err, tt.want)
			case strings.Contains(err.Error(), "hunter2"):
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

func TestMatcherString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		m    Matcher
		want string
	}{
		{Matcher{Name: "a", Value: "b", IsEqual: true}, `a="b"`},
		{Matcher{Name: "a", Value: "b"}, `a!="b"`},
		{Matcher{Name: "a", Value: "b.*", IsRegex: true, IsEqual: true}, `a=~"b.*"`},
		{Matcher{Name: "a", Value: "b.*", IsRegex: true}, `a!~"b.*"`},
		{Matcher{Name: "a", Value: "say \"hi\"\n\\", IsEqual: true}, `a="say \"hi\"\n\\"`},
		{Matcher{Name: "a", Value: "ünï", IsEqual: true}, `a="ünï"`},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%#v.String() = %s, want %s", tt.m, got, tt.want)
		}
	}
}

func TestMatchersFromLabels(t *testing.T) {
	t.Parallel()
	got := MatchersFromLabels(map[string]string{"severity": "warning", "alertname": "X", "instance": "web-1"})
	want := []Matcher{
		{Name: "alertname", Value: "X", IsEqual: true},
		{Name: "instance", Value: "web-1", IsEqual: true},
		{Name: "severity", Value: "warning", IsEqual: true},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := MatchersFromLabels(nil); len(got) != 0 {
		t.Errorf("no labels: %v", got)
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400) // 800 bytes
	tests := []struct {
		name, body, want string
	}{
		{"alertmanager string", `"Failed to create silence: end time can't be in the past"` + "\n", "Failed to create silence: end time can't be in the past"},
		{"schema error", `{"code":602,"message":"matchers.0.isRegex in body is required"}`, "matchers.0.isRegex in body is required"},
		{"grafana", `{"message":"silence not found","traceID":""}`, "silence not found"},
		{"error field", `{"error":"bad token"}`, "bad token"},
		{"plain text", "  upstream connect error\r\n  or disconnect ", "upstream connect error or disconnect"},
		{"html", "<html><body>502 Bad Gateway</body></html>", "<html><body>502 Bad Gateway</body></html>"},
		{"empty", "", ""},
		{"long", long, strings.Repeat("é", 254) + "…"},
		{"invalid utf-8", "bad \xff byte", "bad \uFFFD byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorMessage([]byte(tt.body))
			if got != tt.want {
				t.Errorf("errorMessage(%q) = %q, want %q", tt.body, got, tt.want)
			}
			if len(got) > maxMessageBytes {
				t.Errorf("message is %d bytes, more than %d", len(got), maxMessageBytes)
			}
		})
	}
}

func TestAPIErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *APIError
		want string
	}{
		{&APIError{Status: 400, Message: "Failed to create silence: x"}, "alertmanager: 400 Failed to create silence: x"},
		{&APIError{Status: 502}, "alertmanager: 502 Bad Gateway"},
		{&APIError{Status: 403, Message: "permission denied", service: "grafana"}, "grafana: 403 permission denied"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	for _, tt := range []struct {
		err  *APIError
		want bool
	}{
		{&APIError{Status: 404}, true},
		{&APIError{Status: 500, Message: "silence not found"}, true},
		{&APIError{Status: 500, Message: "internal error"}, false},
		{&APIError{Status: 400, Message: "silence not found"}, false},
	} {
		if got := errors.Is(fmt.Errorf("wrapped: %w", tt.err), ErrSilenceNotFound); got != tt.want {
			t.Errorf("errors.Is(%v, ErrSilenceNotFound) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// recorder is an httptest server that records requests and answers each
// with the next canned response (the last one repeats).
type recorder struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []recorded
	answers  []answer
}

type recorded struct {
	method, path, rawQuery, auth string
	body                         []byte
	user, pass                   string
	hasBasic                     bool
}

type answer struct {
	status int
	body   string
}

func newRecorder(t *testing.T, answers ...answer) *recorder {
	rec := &recorder{answers: answers}
	rec.srv = httptest.NewServer(http.HandlerFunc(rec.serve))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	user, pass, ok := r.BasicAuth()
	rec.mu.Lock()
	n := len(rec.requests)
	rec.requests = append(rec.requests, recorded{
		method: r.Method, path: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery,
		auth: r.Header.Get("Authorization"), body: body, user: user, pass: pass, hasBasic: ok,
	})
	a := rec.answers[min(n, len(rec.answers)-1)]
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body) // a failed write is the client gone, which its side of the test sees
}

func (rec *recorder) got() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.requests...)
}

func TestGrafanaFlavor(t *testing.T) {
	t.Parallel()
	const token = "glsa_0123456789abcdefABCDEF_deadbeef"
	rec := newRecorder(t,
		answer{http.StatusAccepted, `{"silenceID":"5bd2ab0b-8d7c-4b3c-9a8e-1f7d2c3b4a59"}`},
		answer{http.StatusOK, `{"message":"silence deleted"}`},
		answer{http.StatusForbidden, `{"message":"user is not authorized to create silences","traceID":""}`},
	)
	httpCfg, err := WithBearerToken(commoncfg.HTTPClientConfig{}, token)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	c := newTestClient(t, Config{URLs: []string{rec.srv.URL + "/grafana/"}, HTTP: httpCfg, Flavor: Grafana, Logger: newLogger(logs)})
	ctx := testContext(t)

	s := testSilence(map[string]string{"__alert_rule_uid__": "ddx3fk1", "team": "db"})
	s.Matchers = append(s.Matchers, Matcher{Name: "instance", Value: "db-.*", IsRegex: true})
	id, err := c.CreateSilence(ctx, s)
	if err != nil || id != "5bd2ab0b-8d7c-4b3c-9a8e-1f7d2c3b4a59" {
		t.Fatalf("CreateSilence = %q, %v; want the id from the 202 answer", id, err)
	}
	if err := c.ExpireSilence(ctx, id); err != nil {
		t.Fatalf("ExpireSilence: %v", err)
	}
	_, err = c.CreateSilence(ctx, s)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || err.Error() != "grafana: 403 user is not authorized to create silences" {
		t.Errorf("error = %v, want the Grafana message", err)
	}

	reqs := rec.got()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	const base = "/grafana/api/alertmanager/grafana/api/v2/"
	for i, want := range []struct{ method, path string }{
		{http.MethodPost, base + "silences"},
		{http.MethodDelete, base + "silence/5bd2ab0b-8d7c-4b3c-9a8e-1f7d2c3b4a59"},
	} {
		if reqs[i].method != want.method || reqs[i].path != want.path {
			t.Errorf("request %d: %s %s, want %s %s", i, reqs[i].method, reqs[i].path, want.method, want.path)
		}
	}
	for i, r := range reqs {
		if r.auth != "Bearer "+token {
			t.Errorf("request %d: Authorization %q, want the bearer token", i, r.auth)
		}
	}
	checkSilenceBody(t, reqs[0].body, s)
	if strings.Contains(err.Error(), token) || strings.Contains(logs.String(), token) {
		t.Errorf("the token leaked into an error or the log")
	}
}

// checkSilenceBody checks the JSON of a POST silences body field by field,
// including that isRegex and isEqual are present even when false.
func checkSilenceBody(t *testing.T, body []byte, s Silence) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	for _, key := range []string{"matchers", "startsAt", "endsAt", "createdBy", "comment"} {
		if _, ok := got[key]; !ok {
			t.Errorf("body has no %q: %s", key, body)
		}
	}
	if _, ok := got["id"]; ok {
		t.Errorf("a new silence has an id: %s", body)
	}
	if got["createdBy"] != s.CreatedBy || got["comment"] != s.Comment {
		t.Errorf("createdBy/comment: %s", body)
	}
	if ends, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(got["endsAt"])); !ends.Equal(s.EndsAt) {
		t.Errorf("endsAt %v, want %v", got["endsAt"], s.EndsAt)
	}
	ms, _ := got["matchers"].([]any)
	if len(ms) != len(s.Matchers) {
		t.Fatalf("%d matchers in %s, want %d", len(ms), body, len(s.Matchers))
	}
	for i, m := range s.Matchers {
		want := map[string]any{"name": m.Name, "value": m.Value, "isRegex": m.IsRegex, "isEqual": m.IsEqual}
		if fmt.Sprint(ms[i]) != fmt.Sprint(want) {
			t.Errorf("matcher %d = %v, want %v", i, ms[i], want)
		}
	}
}

func TestUpstreamPathsAndQueries(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, answer{http.StatusOK, `[]`})
	c := newTestClient(t, Config{URLs: []string{rec.srv.URL + "/am"}})
	ctx := testContext(t)
	if _, err := c.Silences(ctx, []string{`alertname="A b"`, `team=~"db|web"`}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Alerts(ctx, AlertsQuery{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Alerts(ctx, AlertsQuery{Filters: []string{`a="b"`}, Active: true, Receiver: "tele.*"}); err != nil {
		t.Fatal(err)
	}
	reqs := rec.got()
	want := []struct{ path, query string }{
		{"/am/api/v2/silences", "filter=alertname%3D%22A+b%22&filter=team%3D~%22db%7Cweb%22"},
		{"/am/api/v2/alerts", ""},
		{"/am/api/v2/alerts", "active=true&filter=a%3D%22b%22&inhibited=false&receiver=tele.%2A&silenced=false&unprocessed=false"},
	}
	for i, w := range want {
		if reqs[i].path != w.path || reqs[i].rawQuery != w.query {
			t.Errorf("request %d: %s?%s, want %s?%s", i, reqs[i].path, reqs[i].rawQuery, w.path, w.query)
		}
	}
}

func TestBadSilenceID(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, answer{http.StatusOK, ``})
	c := newTestClient(t, Config{URLs: []string{rec.srv.URL}})
	for _, id := range []string{"", "..", "a/b", "x?y"} {
		if err := c.ExpireSilence(testContext(t), id); err == nil {
			t.Errorf("ExpireSilence(%q) = nil, want an error", id)
		}
	}
	if n := len(rec.got()); n != 0 {
		t.Errorf("%d requests sent for bad ids", n)
	}
}

// TestCredentialsReachServerNotErrors sends basic auth and a bearer token
// from the http config, to peers that fail, and checks that the server sees
// them while no error text or log line does.
func TestCredentialsReachServerNotErrors(t *testing.T) {
	t.Parallel()
	const password, token = "s3cr3t-basic-password", "s3cr3t-bearer-token"
	tests := []struct {
		name  string
		http  commoncfg.HTTPClientConfig
		check func(recorded) bool
	}{
		{"basic auth", commoncfg.HTTPClientConfig{BasicAuth: &commoncfg.BasicAuth{Username: "alertgram", Password: password}},
			func(r recorded) bool { return r.hasBasic && r.user == "alertgram" && r.pass == password }},
		{"authorization", commoncfg.HTTPClientConfig{Authorization: &commoncfg.Authorization{Type: "Bearer", Credentials: token}},
			func(r recorded) bool { return r.auth == "Bearer "+token }},
		{"bearer_token", commoncfg.HTTPClientConfig{BearerToken: token},
			func(r recorded) bool { return r.auth == "Bearer "+token }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newRecorder(t, answer{http.StatusInternalServerError, `"something broke"`})
			b := newRecorder(t, answer{http.StatusUnauthorized, `"unauthorized"`})
			logs := &testutil.SyncBuffer{}
			c := newTestClient(t, Config{URLs: []string{a.srv.URL, b.srv.URL}, HTTP: tt.http, Logger: newLogger(logs)})
			err := c.ExpireSilence(testContext(t), "5bd2ab0b-8d7c-4b3c-9a8e-1f7d2c3b4a59")
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
				t.Fatalf("error = %v, want the second peer's 401", err)
			}
			for _, rec := range []*recorder{a, b} {
				if reqs := rec.got(); len(reqs) != 1 || !tt.check(reqs[0]) {
					t.Errorf("server got %+v, want one request with the credentials", reqs)
				}
			}
			for what, text := range map[string]string{"error": err.Error(), "log": logs.String()} {
				if strings.Contains(text, password) || strings.Contains(text, token) {
					t.Errorf("%s reveals a secret: %s", what, text)
				}
			}
			if !strings.Contains(logs.String(), "something broke") {
				t.Errorf("the failover was not logged:\n%s", logs)
			}
		})
	}
}

func TestClientErrorIsNotFailedOver(t *testing.T) {
	t.Parallel()
	a := newRecorder(t, answer{http.StatusBadRequest, `"Failed to create silence: start time must be before end time"`})
	b := newRecorder(t, answer{http.StatusOK, `{"silenceID":"x"}`})
	c := newTestClient(t, Config{URLs: []string{a.srv.URL, b.srv.URL}})
	_, err := c.CreateSilence(testContext(t), testSilence(map[string]string{"a": "b"}))
	if err == nil || err.Error() != "alertmanager: 400 Failed to create silence: start time must be before end time" {
		t.Errorf("error = %v", err)
	}
	if n := len(b.got()); n != 0 {
		t.Errorf("a 400 was failed over: the second peer got %d requests", n)
	}
}

func TestTooManyRequestsFailsOver(t *testing.T) {
	t.Parallel()
	a := newRecorder(t, answer{http.StatusTooManyRequests, `{"message":"slow down"}`})
	b := newRecorder(t, answer{http.StatusOK, `[]`})
	c := newTestClient(t, Config{URLs: []string{a.srv.URL, b.srv.URL}})
	if _, err := c.Silences(testContext(t), nil); err != nil {
		t.Fatal(err)
	}
	if len(a.got()) != 1 || len(b.got()) != 1 {
		t.Errorf("requests: %d, %d; want 1 each", len(a.got()), len(b.got()))
	}
}

// TestAttemptTimeoutFailsOver: a peer that never answers costs one
// per-attempt timeout, then the next peer serves the request. The hanging
// handler is released by the test, not by a timer.
func TestAttemptTimeoutFailsOver(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var hung atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	ok := newRecorder(t, answer{http.StatusOK, `[]`})
	c := newTestClient(t, Config{URLs: []string{slow.URL, ok.srv.URL}, Timeout: 100 * time.Millisecond})
	if _, err := c.Alerts(testContext(t), AlertsQuery{}); err != nil {
		t.Fatal(err)
	}
	if hung.Load() != 1 || len(ok.got()) != 1 {
		t.Errorf("slow peer got %d, good peer %d requests; want 1 each", hung.Load(), len(ok.got()))
	}

	// One peer only: the timeout is reported as such.
	c1 := newTestClient(t, Config{URLs: []string{slow.URL}, Timeout: 50 * time.Millisecond})
	err := c1.ExpireSilence(testContext(t), "5bd2ab0b-8d7c-4b3c-9a8e-1f7d2c3b4a59")
	if err == nil || !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Errorf("error = %v, want a timeout", err)
	}
}

func TestCanceledContextStopsFailover(t *testing.T) {
	t.Parallel()
	b := newRecorder(t, answer{http.StatusOK, `[]`})
	c := newTestClient(t, Config{URLs: []string{deadURL(t.Context(), t), b.srv.URL}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Silences(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if n := len(b.got()); n != 0 {
		t.Errorf("second peer got %d requests after cancel", n)
	}
}

func TestWithBearerToken(t *testing.T) {
	t.Parallel()
	if _, err := WithBearerToken(commoncfg.HTTPClientConfig{BasicAuth: &commoncfg.BasicAuth{Username: "u"}}, "t"); err == nil {
		t.Error("token plus basic auth accepted")
	}
	h, err := WithBearerToken(commoncfg.HTTPClientConfig{FollowRedirects: true}, "t")
	if err != nil || h.Authorization == nil || h.Authorization.Type != "Bearer" || string(h.Authorization.Credentials) != "t" || !h.FollowRedirects {
		t.Errorf("got %+v, %v", h, err)
	}
}

// TestUndecodableAnswerIsNotFailedOver: a 2xx that does not decode means
// the peer did answer (a silence may exist now); repeating the request
// elsewhere could create a second one.
func TestUndecodableAnswerIsNotFailedOver(t *testing.T) {
	t.Parallel()
	a := newRecorder(t, answer{http.StatusOK, `<html>proxy login</html>`})
	b := newRecorder(t, answer{http.StatusOK, `{"silenceID":"x"}`})
	c := newTestClient(t, Config{URLs: []string{a.srv.URL, b.srv.URL}})
	_, err := c.CreateSilence(testContext(t), testSilence(map[string]string{"a": "b"}))
	if err == nil || !strings.Contains(err.Error(), "decoding the answer") {
		t.Errorf("error = %v, want a decoding error", err)
	}
	if n := len(b.got()); n != 0 {
		t.Errorf("the second peer got %d requests", n)
	}
}
