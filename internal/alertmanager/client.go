// Package alertmanager is a small client for Alertmanager's API v2: it
// creates and expires silences and lists alerts, for the Silence, Ack and
// Unsilence buttons and the /alerts and /silences bot commands.
//
// The same client speaks to Grafana's Alertmanager-compatible API (for
// Grafana-managed alerts) with Flavor Grafana: only the base path and a
// few answers differ (see PROTOCOLS.md §2.6).
//
// A Client may point at several Alertmanager peers of one HA cluster. A
// request goes to the peer that last answered and fails over to the others
// on network errors, 5xx and 429; the peers gossip silences, so any of them
// will do. It is a leaf package: it imports nothing from alertgram.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

// Flavor selects which API a Client speaks to.
type Flavor int

const (
	// Upstream is Prometheus Alertmanager: <url>/api/v2/.
	Upstream Flavor = iota
	// Grafana is Grafana's built-in Alertmanager:
	// <url>/api/alertmanager/grafana/api/v2/.
	Grafana
)

// String names the flavor; it is also the prefix of error messages.
func (f Flavor) String() string {
	if f == Grafana {
		return "grafana"
	}
	return "alertmanager"
}

// apiPath is the API v2 base below a peer's URL (and its path prefix).
func (f Flavor) apiPath() string {
	if f == Grafana {
		return "api/alertmanager/grafana/api/v2"
	}
	return "api/v2"
}

// DefaultTimeout bounds each attempt when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Limits on what is read from a peer: a list of alerts can be large, an
// error body is only ever shown shortened.
const (
	maxResponseBytes = 64 << 20
	maxErrorBytes    = 4 << 10
)

// Config configures a Client.
type Config struct {
	// URLs of the peers, tried in order. Each may carry a path prefix
	// (Alertmanager's --web.external-url path or --web.route-prefix, or
	// Grafana's root_url sub-path), which is kept.
	URLs []string
	// HTTP holds auth (basic_auth, authorization, bearer_token, oauth2),
	// TLS and proxy settings, as in Prometheus' http_config.
	HTTP commoncfg.HTTPClientConfig
	// Timeout bounds each attempt at one peer; 0 means DefaultTimeout.
	Timeout time.Duration
	Flavor  Flavor
	// Logger gets a Warn line per failover; nil discards.
	Logger *slog.Logger
}

// Client talks to one Alertmanager cluster (or one Grafana). It is safe for
// concurrent use.
type Client struct {
	peers   []peer
	http    *http.Client
	timeout time.Duration
	flavor  Flavor
	log     *slog.Logger
	// current is the index of the peer that answered last, so a dead
	// peer costs one failed attempt, not one per request.
	current atomic.Int64
}

// peer is one base URL.
type peer struct {
	api  *url.URL // <url>/<prefix>/api/v2
	name string   // the URL as given, password redacted, for logs and errors
}

// New checks cfg and builds a Client.
func New(cfg Config) (*Client, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("alertmanager: at least one URL is required")
	}
	peers := make([]peer, 0, len(cfg.URLs))
	for i, raw := range cfg.URLs {
		p, err := newPeer(raw, cfg.Flavor)
		if err != nil {
			return nil, fmt.Errorf("%s: URLs[%d]: %w", cfg.Flavor, i, err)
		}
		peers = append(peers, p)
	}
	httpCfg := cfg.HTTP // Validate rewrites bearer_token into authorization
	if err := httpCfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: http config: %w", cfg.Flavor, err)
	}
	hc, err := commoncfg.NewClientFromConfig(httpCfg, cfg.Flavor.String(), commoncfg.WithUserAgent("alertgram"))
	if err != nil {
		return nil, fmt.Errorf("%s: http config: %w", cfg.Flavor, err)
	}
	c := &Client{peers: peers, http: hc, timeout: cfg.Timeout, flavor: cfg.Flavor, log: cfg.Logger}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// newPeer parses a peer URL. Errors show the URL redacted: it may carry a
// password.
func newPeer(raw string, f Flavor) (peer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return peer{}, errors.New("not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return peer{}, fmt.Errorf("%q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return peer{}, fmt.Errorf("%q: no host", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return peer{}, fmt.Errorf("%q: must not have a query or fragment", u.Redacted())
	}
	name := u.Redacted()
	if u.Path == "" {
		u.Path = "/" // else JoinPath makes a relative path
	}
	return peer{api: u.JoinPath(f.apiPath()), name: name}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// WithBearerToken returns h with token as its "Authorization: Bearer"
// credentials, the way Grafana service account tokens are sent. h must not
// already carry credentials of its own.
func WithBearerToken(h commoncfg.HTTPClientConfig, token string) (commoncfg.HTTPClientConfig, error) {
	if h.BasicAuth != nil || h.Authorization != nil || h.OAuth2 != nil || h.BearerToken != "" || h.BearerTokenFile != "" {
		return h, errors.New("a token and credentials in the http config are mutually exclusive")
	}
	h.Authorization = &commoncfg.Authorization{Type: "Bearer", Credentials: commoncfg.Secret(token)}
	return h, nil
}

// request is one API call, independent of the peer it goes to.
type request struct {
	method string
	path   []string // escaped path segments below the API base
	query  url.Values
	body   []byte
}

// do sends r to the peers, starting with the current one, and decodes a
// 2xx JSON answer into out (if not nil). Each peer is tried at most once.
func (c *Client) do(ctx context.Context, r request, out any) error {
	n := len(c.peers)
	start := int(c.current.Load())
	var last error
	for i := range n {
		idx := (start + i) % n
		next, err := c.attempt(ctx, c.peers[idx], r, out)
		if !next {
			// The peer answered (maybe with a client error): it is alive.
			c.current.Store(int64(idx))
			return err
		}
		if ctx.Err() != nil {
			return err // the caller gave up; no other peer can help
		}
		last = err
		if i < n-1 {
			c.log.Warn(c.flavor.String()+" peer failed, trying the next",
				"url", c.peers[idx].name, "next", c.peers[(idx+1)%n].name, "err", err)
		}
	}
	if n == 1 {
		return last
	}
	return &allFailedError{service: c.flavor.String(), tried: n, last: last}
}

// attempt sends r to one peer, bounded by the per-attempt timeout. next
// reports that this peer could not serve the request (a network error, a
// timeout, 429 or 5xx), so another peer may. An answer that is wrong in
// itself (a 4xx, a 2xx that does not decode) is final: the request would
// fare no better elsewhere, and a silence may already have been created.
func (c *Client) attempt(ctx context.Context, p peer, r request, out any) (next bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := p.api.JoinPath(r.path...)
	u.RawQuery = r.query.Encode()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return false, fmt.Errorf("%s: %s %s: %w", c.flavor, r.method, u.Redacted(), err)
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return true, c.transportError(ctx, r.method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		apiErr := &APIError{Method: r.method, URL: u.Redacted(), Status: resp.StatusCode, Message: errorMessage(msg), service: c.flavor.String()}
		return apiErr.peerTrouble(), apiErr
	}
	return false, c.decode(resp, r.method, u, out)
}

// transportError names the request (URL redacted) and says "timed out"
// plainly when it was this attempt's own timeout.
func (c *Client) transportError(ctx context.Context, method string, u *url.URL, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // it repeats method and URL
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %v: %w", c.timeout, err)
	}
	return fmt.Errorf("%s: %s %s: %w", c.flavor, method, u.Redacted(), err)
}

func (c *Client) decode(resp *http.Response, method string, u *url.URL, out any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	switch {
	case err != nil:
		return fmt.Errorf("%s: %s %s: reading the answer: %w", c.flavor, method, u.Redacted(), err)
	case len(data) > maxResponseBytes:
		return fmt.Errorf("%s: %s %s: answer larger than %d bytes", c.flavor, method, u.Redacted(), maxResponseBytes)
	case out == nil:
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: %s %s: decoding the answer: %w", c.flavor, method, u.Redacted(), err)
	}
	return nil
}

// filterQuery turns matcher strings into repeated filter parameters.
func filterQuery(filters []string) url.Values {
	q := url.Values{}
	for _, f := range filters {
		q.Add("filter", f)
	}
	return q
}

// pathID checks a silence id before it becomes a path segment: an empty
// id or one with "/" would address another endpoint.
func pathID(id string) (string, error) {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/?#") {
		return "", fmt.Errorf("invalid silence id %q", id)
	}
	return url.PathEscape(id), nil
}
