package bot

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/store"
)

// tokenBytes of randomness give a 32-character base64url token: 192 bits,
// inside Telegram's 64-character, [A-Za-z0-9_-] start parameter.
const tokenBytes = 24

// DefaultLinkTTL is how long a link works when no TTL is given (or
// MaxTTL, when that is shorter).
const DefaultLinkTTL = 24 * time.Hour

// ErrLinkTTLTooLong is returned (wrapped, naming the limit) for a TTL
// over LinkRequest.MaxTTL.
var ErrLinkTTLTooLong = errors.New("ttl is longer than links.max_ttl allows")

// LinkStore stores link tokens.
type LinkStore interface {
	CreateLinkToken(ctx context.Context, t store.LinkToken) error
}

// LinkRequest asks for a subscription link.
type LinkRequest struct {
	Route     string
	Group     bool          // ?startgroup= instead of ?start=
	TTL       time.Duration // 0: DefaultLinkTTL
	MaxTTL    time.Duration // the longest TTL allowed (links.max_ttl); 0: no limit
	Matchers  []string      // Alertmanager matchers: severity="critical", team=~"db|infra"
	CreatedBy string
}

// Link is a created subscription link.
type Link struct {
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	Route     string    `json:"route"`
	Group     bool      `json:"group"`
	Matchers  []string  `json:"matchers,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateLink stores a new single-use token for req and returns the deep link
// https://t.me/<username>?start=<token> (or ?startgroup=).
func CreateLink(ctx context.Context, st LinkStore, username string, req LinkRequest, now time.Time) (Link, error) {
	if username == "" {
		return Link{}, fmt.Errorf("the bot's username is not known yet (Telegram getMe has not succeeded)")
	}
	if req.TTL == 0 {
		req.TTL = DefaultLinkTTL
		if req.MaxTTL > 0 {
			req.TTL = min(req.TTL, req.MaxTTL)
		}
	}
	if req.TTL < 0 {
		return Link{}, fmt.Errorf("ttl: must be positive, got %v", req.TTL)
	}
	if req.MaxTTL > 0 && req.TTL > req.MaxTTL {
		return Link{}, fmt.Errorf("ttl: %v: %w (%v)", req.TTL, ErrLinkTTLTooLong, req.MaxTTL)
	}
	matchers, err := alert.NormaliseMatchers(req.Matchers)
	if err != nil {
		return Link{}, err
	}
	token, err := newToken()
	if err != nil {
		return Link{}, err
	}
	t := store.LinkToken{
		Token: token, Route: req.Route, Matchers: matchers, Group: req.Group,
		CreatedAt: now, ExpiresAt: now.Add(req.TTL), CreatedBy: req.CreatedBy,
	}
	if err := st.CreateLinkToken(ctx, t); err != nil {
		return Link{}, fmt.Errorf("storing link token: %w", err)
	}
	return Link{URL: linkURL(username, token, req.Group), Token: token, Route: req.Route, Group: req.Group, Matchers: matchers, ExpiresAt: t.ExpiresAt}, nil
}

func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func linkURL(username, token string, group bool) string {
	param := "start"
	if group {
		param = "startgroup"
	}
	return fmt.Sprintf("https://t.me/%s?%s=%s", url.PathEscape(username), param, token)
}
