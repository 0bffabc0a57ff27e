package testutil

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultTelegramToken is the token a fake Telegram accepts unless
// WithToken says otherwise.
const DefaultTelegramToken = "123456:TEST-token_abcdefghijklmnopqrstuv"

// Telegram is a fake Telegram Bot API server for tests. It listens on
// 127.0.0.1, answers /bot<token>/<method> like telegram-bot-api does
// (same envelope, same validation, same error descriptions, see
// PROTOCOLS.md §4), records what it accepted, and lets the test set chat
// states, inject updates and canned errors. All methods are safe for
// concurrent use.
type Telegram struct {
	t      testing.TB
	srv    *httptest.Server
	token  string
	bot    User
	limits Limits
	now    func() time.Time
	client *http.Client // webhook deliveries, loopback only

	ctx    context.Context // done when the test ends
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// changed is closed and replaced on every state change; waiters
	// (WaitMessages, long polls, the webhook sender) select on it.
	changed chan struct{}
	state
}

// state is everything guarded by Telegram.mu.
type state struct {
	chats      map[int64]*chatState
	users      map[int64]User
	usernames  map[string]int64
	messages   []Message
	edits      []Edit
	calls      []Call
	answers    []Answer
	deliveries []Delivery
	failures   map[string][]cannedError
	windows    map[string][]time.Time
	violations int
	updates    []queuedUpdate
	nextUpdate int
	pollGen    int
	queries    map[string]bool // pending callback query ids
	nextQuery  int
	webhook    webhook
	commands   map[string][]BotCommand
}

// TelegramOption configures NewTelegram.
type TelegramOption func(*Telegram)

// WithToken sets the only token the fake accepts.
func WithToken(token string) TelegramOption { return func(f *Telegram) { f.token = token } }

// WithBotUsername sets the username getMe reports.
func WithBotUsername(username string) TelegramOption {
	return func(f *Telegram) { f.bot.Username = username }
}

// WithLimits replaces the rate limits (see Limits).
func WithLimits(l Limits) TelegramOption { return func(f *Telegram) { f.limits = l } }

// WithClock sets the clock used for rate limits and message dates.
func WithClock(now func() time.Time) TelegramOption { return func(f *Telegram) { f.now = now } }

// NewTelegram starts a fake Bot API on 127.0.0.1; it is closed by
// t.Cleanup.
func NewTelegram(t testing.TB, opts ...TelegramOption) *Telegram {
	t.Helper()
	f := &Telegram{
		t:       t,
		token:   DefaultTelegramToken,
		bot:     User{IsBot: true, FirstName: "Alertgram Test", Username: "alertgram_test_bot"},
		limits:  DefaultLimits(),
		now:     time.Now,
		client:  &http.Client{Timeout: 10 * time.Second},
		changed: make(chan struct{}),
	}
	f.state = newState()
	for _, o := range opts {
		o(f)
	}
	f.bot.ID = botIDFromToken(f.token)
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.srv = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	f.wg.Add(1)
	go f.runWebhookSender()
	t.Cleanup(f.close)
	return f
}

func newState() state {
	return state{
		chats:      map[int64]*chatState{},
		users:      map[int64]User{},
		usernames:  map[string]int64{},
		failures:   map[string][]cannedError{},
		windows:    map[string][]time.Time{},
		queries:    map[string]bool{},
		commands:   map[string][]BotCommand{},
		nextUpdate: 100000001,
		nextQuery:  4000000000000000001,
	}
}

func (f *Telegram) close() {
	f.cancel() // ends long polls and the webhook sender first
	f.srv.Close()
	f.wg.Wait()
}

// URL is the base URL to use as telegram.api_url: requests go to
// URL()+"/bot<token>/<method>".
func (f *Telegram) URL() string { return f.srv.URL }

// Token is the token the fake accepts.
func (f *Telegram) Token() string { return f.token }

// Bot is the bot user getMe returns.
func (f *Telegram) Bot() User { return f.bot }

// notify wakes every waiter; call with f.mu held.
func (f *Telegram) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// apiError is a failed call: the HTTP status equals error_code.
type apiError struct {
	code        int
	description string
	retryAfter  int
	migrateTo   int64
}

func badRequest(description string) *apiError {
	return &apiError{code: http.StatusBadRequest, description: "Bad Request: " + description}
}

func forbidden(description string) *apiError {
	return &apiError{code: http.StatusForbidden, description: "Forbidden: " + description}
}

func conflict(description string) *apiError {
	return &apiError{code: http.StatusConflict, description: "Conflict: " + description}
}

// described is a successful result that also carries a description, as
// setWebhook's "Webhook was set" does.
type described struct {
	result      any
	description string
}

func (f *Telegram) serveHTTP(w http.ResponseWriter, r *http.Request) {
	token, method, ok := splitBotPath(r.URL.Path)
	switch {
	case !ok:
		writeError(w, &apiError{code: http.StatusNotFound, description: "Not Found"})
		return
	case token != f.token:
		writeError(w, &apiError{code: http.StatusUnauthorized, description: "Unauthorized"})
		return
	}
	route, ok := routes[strings.ToLower(method)]
	if !ok {
		writeError(w, &apiError{code: http.StatusNotFound, description: "Not Found"})
		return
	}
	req, aerr := readRequest(r, route.name)
	if aerr == nil {
		var result any
		result, aerr = f.dispatch(route, req)
		if aerr == nil {
			f.record(req, nil)
			writeResult(w, result)
			return
		}
	}
	f.record(req, aerr)
	writeError(w, aerr)
}

// dispatch answers a canned error if one is queued for the method, and
// otherwise runs its handler.
func (f *Telegram) dispatch(rt route, req *request) (any, *apiError) {
	if aerr := f.takeFailure(rt.name); aerr != nil {
		return nil, aerr
	}
	return rt.handle(f, req)
}

// splitBotPath splits "/bot<token>/<method>".
func splitBotPath(path string) (token, method string, ok bool) {
	rest, found := strings.CutPrefix(path, "/bot")
	if !found {
		return "", "", false
	}
	token, method, found = strings.Cut(rest, "/")
	return token, method, found && method != "" && !strings.Contains(method, "/")
}

func writeResult(w http.ResponseWriter, result any) {
	body := map[string]any{"ok": true, "result": result}
	if d, ok := result.(described); ok {
		body["result"], body["description"] = d.result, d.description
	}
	writeJSON(w, http.StatusOK, body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"ok": false, "error_code": e.code, "description": e.description}
	params := map[string]any{}
	if e.retryAfter > 0 {
		params["retry_after"] = e.retryAfter
	}
	if e.migrateTo != 0 {
		params["migrate_to_chat_id"] = e.migrateTo
	}
	if len(params) > 0 {
		body["parameters"] = params
	}
	writeJSON(w, e.code, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
