package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
)

const (
	maxResponseBytes = 16 << 20 // a getUpdates batch of 100 is far smaller
	maxDrainBytes    = 64 << 10
	methodGetUpdates = "getUpdates"
)

// Client is a Bot API client. It is safe for concurrent use.
type Client struct {
	token    string
	baseURL  string // no trailing slash
	log      *slog.Logger
	redactor *strings.Replacer
	http     *retryablehttp.Client // every method but getUpdates
	poll     *retryablehttp.Client // getUpdates: bounded by its ctx, not by the HTTP client timeout
}

// New returns a client for the bot with the given token.
func New(token string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(token); err != nil {
		return nil, err
	}
	c := &Client{
		token:    token,
		baseURL:  strings.TrimRight(cfg.baseURL, "/"),
		log:      cfg.logger.With("component", "telegram"),
		redactor: newRedactor(token),
	}
	c.http = c.newRetryClient(cfg, cfg.httpClient)
	c.poll = c.newRetryClient(cfg, withoutTimeout(cfg.httpClient))
	return c, nil
}

func (cfg config) validate(token string) error {
	if err := validateToken(token); err != nil {
		return err
	}
	if err := validateBaseURL(cfg.baseURL); err != nil {
		return err
	}
	switch {
	case cfg.httpClient == nil:
		return errors.New("telegram: nil HTTP client")
	case cfg.retryMax < 0:
		return errors.New("telegram: negative retry count")
	case cfg.waitMin < 0 || cfg.waitMax < cfg.waitMin:
		return errors.New("telegram: retry waits must satisfy 0 <= minWait <= maxWait")
	}
	return nil
}

// validateToken accepts the Bot API token alphabet only. That keeps the URL
// well formed and guarantees the token appears verbatim in any URL string,
// which is what redaction relies on. The error never quotes the token.
func validateToken(token string) error {
	if token == "" {
		return errors.New("telegram: empty bot token")
	}
	for _, r := range token {
		if !isTokenRune(r) {
			return errors.New("telegram: bot token has characters outside [A-Za-z0-9:_-]")
		}
	}
	return nil
}

func isTokenRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == ':' || r == '_' || r == '-'
}

func validateBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("telegram: base URL must be an absolute http(s) URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("telegram: base URL must not have a query or fragment")
	}
	return nil
}

func (c *Client) newRetryClient(cfg config, hc *http.Client) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       retryLogger{c},
		RetryMax:     cfg.retryMax,
		RetryWaitMin: cfg.waitMin,
		RetryWaitMax: cfg.waitMax,
		CheckRetry:   checkRetry,
		Backoff:      backoff,
		ErrorHandler: c.giveUp,
	}
}

// withoutTimeout copies hc without its overall timeout, for long polling.
func withoutTimeout(hc *http.Client) *http.Client {
	cp := *hc
	cp.Timeout = 0
	return &cp
}

// call is the single chokepoint for Bot API requests. It POSTs params as
// JSON, retries per checkRetry, and decodes the envelope's result into result
// (skipped when result is nil). A non-ok answer is returned as *APIError;
// every other error is prefixed with the method name and free of the token.
func (c *Client) call(ctx context.Context, method string, params any, result any) error {
	err := c.do(ctx, method, params, result)
	if err != nil {
		c.log.Debug("bot api call failed", "method", method, "err", err)
	}
	return err
}

func (c *Client) do(ctx context.Context, method string, params any, result any) error {
	req, err := c.newRequest(ctx, method, params)
	if err != nil {
		return c.wrap(method, err)
	}
	resp, err := c.clientFor(method).Do(req) //nolint:bodyclose // closed by the deferred drainClose below, which bodyclose does not look into
	if err != nil {
		return c.wrap(method, err)
	}
	defer drainClose(resp.Body)
	return c.decode(method, resp, result)
}

func (c *Client) newRequest(ctx context.Context, method string, params any) (*retryablehttp.Request, error) {
	body := []byte("{}")
	if params != nil {
		var err error
		if body, err = json.Marshal(params); err != nil {
			return nil, fmt.Errorf("encode params: %w", err)
		}
	}
	endpoint := c.baseURL + "/bot" + c.token + "/" + method
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

func (c *Client) clientFor(method string) *retryablehttp.Client {
	if method == methodGetUpdates {
		return c.poll
	}
	return c.http
}

// giveUp is retryablehttp's ErrorHandler, called when it stops without
// success. A final 5xx response is passed through for decode to turn into an
// *APIError; an error is scrubbed of the token before anything wraps it.
func (c *Client) giveUp(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if err == nil {
		return resp, nil
	}
	if resp != nil {
		drainClose(resp.Body)
	}
	return nil, fmt.Errorf("giving up after %d attempt(s): %w", attempts, c.scrub(err))
}

// envelope is the Bot API response wrapper.
type envelope struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

func (c *Client) decode(method string, resp *http.Response, result any) error {
	var env envelope
	err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&env)
	isHTTPError := resp.StatusCode/100 != 2
	switch {
	case err != nil && isHTTPError:
		return c.apiError(method, resp, envelope{})
	case err != nil:
		return c.wrap(method, fmt.Errorf("decode response: %w", err))
	case !env.OK || isHTTPError:
		return c.apiError(method, resp, env)
	case result == nil:
		return nil
	}
	if err := json.Unmarshal(env.Result, result); err != nil {
		return c.wrap(method, fmt.Errorf("decode result: %w", err))
	}
	return nil
}

func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrainBytes))
	_ = body.Close()
}
