package telegram

import (
	"log/slog"
	"net/http"
	"time"
)

// DefaultBaseURL is the public Bot API server.
const DefaultBaseURL = "https://api.telegram.org"

// Defaults for WithRetry and the default HTTP client.
const (
	DefaultRetryMax     = 3
	DefaultRetryWaitMin = 250 * time.Millisecond
	DefaultRetryWaitMax = 5 * time.Second
	DefaultHTTPTimeout  = 30 * time.Second
)

// Option configures a Client.
type Option func(*config)

type config struct {
	baseURL    string
	httpClient *http.Client
	logger     *slog.Logger
	retryMax   int
	waitMin    time.Duration
	waitMax    time.Duration
}

func defaultConfig() config {
	return config{
		baseURL:    DefaultBaseURL,
		httpClient: &http.Client{Timeout: DefaultHTTPTimeout},
		logger:     slog.New(slog.DiscardHandler),
		retryMax:   DefaultRetryMax,
		waitMin:    DefaultRetryWaitMin,
		waitMax:    DefaultRetryWaitMax,
	}
}

// WithBaseURL sets the Bot API server, e.g. a local telegram-bot-api or a
// test server. Requests go to base + "/bot" + token + "/" + method.
func WithBaseURL(base string) Option {
	return func(c *config) { c.baseURL = base }
}

// WithHTTPClient sets the HTTP client. Its Timeout bounds each attempt of
// every method except getUpdates, which is bounded by its long-poll timeout
// instead (see GetUpdates).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) { c.httpClient = hc }
}

// WithLogger sets the logger. The client logs only at Debug level, and never
// the token. A nil logger discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
	}
}

// WithRetry sets how transport errors and 5xx answers are retried: at most
// maxRetries retries after the first attempt, waiting between minWait and maxWait
// (exponential, with jitter). maxRetries 0 disables retries.
func WithRetry(maxRetries int, minWait, maxWait time.Duration) Option {
	return func(c *config) {
		c.retryMax, c.waitMin, c.waitMax = maxRetries, minWait, maxWait
	}
}
