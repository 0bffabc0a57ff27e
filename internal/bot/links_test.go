package bot_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/store"
)

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`)

func TestCreateLink(t *testing.T) {
	tests := []struct {
		name     string
		username string
		req      bot.LinkRequest
		wantURL  string // prefix; the token follows
		wantTTL  time.Duration
		matchers []string // normalised
	}{
		{name: "private link with the default TTL", username: botName,
			req:     bot.LinkRequest{Route: "oncall", CreatedBy: "cli"},
			wantURL: "https://t.me/alertgram_test_bot?start=", wantTTL: bot.DefaultLinkTTL},
		{name: "group link", username: botName,
			req:     bot.LinkRequest{Route: "oncall", Group: true, TTL: 2 * time.Hour},
			wantURL: "https://t.me/alertgram_test_bot?startgroup=", wantTTL: 2 * time.Hour},
		{name: "matchers are normalised", username: "OtherBot",
			req:     bot.LinkRequest{Route: "db", TTL: time.Minute, Matchers: []string{"severity=critical", `team=~"db|infra"`}},
			wantURL: "https://t.me/OtherBot?start=", wantTTL: time.Minute,
			matchers: []string{`severity="critical"`, `team=~"db|infra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			l, err := bot.CreateLink(t.Context(), h.st, tt.username, tt.req, t0)
			if err != nil {
				t.Fatal(err)
			}
			if !tokenRE.MatchString(l.Token) {
				t.Errorf("token %q is not 32 characters of [A-Za-z0-9_-]", l.Token)
			}
			if l.URL != tt.wantURL+l.Token {
				t.Errorf("URL = %q, want %q", l.URL, tt.wantURL+l.Token)
			}
			if l.Route != tt.req.Route || l.Group != tt.req.Group || !l.ExpiresAt.Equal(t0.Add(tt.wantTTL)) {
				t.Errorf("link = %+v, want route %q, group %v, expiry %v", l, tt.req.Route, tt.req.Group, t0.Add(tt.wantTTL))
			}
			if !slices.Equal(l.Matchers, tt.matchers) && (len(l.Matchers) != 0 || len(tt.matchers) != 0) {
				t.Errorf("matchers = %q, want %q", l.Matchers, tt.matchers)
			}
			// The stored token subscribes the link's kind of chat to its
			// route and matchers until it expires.
			chat, other := int64(1), int64(-1001)
			if tt.req.Group {
				chat, other = other, chat
			}
			_, err = h.st.RedeemLinkToken(t.Context(), l.Token, l.ExpiresAt, store.Subscription{ChatID: chat})
			if !errors.Is(err, store.ErrTokenExpired) {
				t.Errorf("redeeming at ExpiresAt: %v, want ErrTokenExpired", err)
			}
			_, err = h.st.RedeemLinkToken(t.Context(), l.Token, l.ExpiresAt.Add(-time.Second), store.Subscription{ChatID: other})
			if !errors.Is(err, store.ErrTokenWrongChat) {
				t.Errorf("redeeming in the other kind of chat: %v, want ErrTokenWrongChat", err)
			}
			s, err := h.st.RedeemLinkToken(t.Context(), l.Token, l.ExpiresAt.Add(-time.Second), store.Subscription{ChatID: chat})
			if err != nil {
				t.Fatalf("redeeming before ExpiresAt: %v", err)
			}
			if s.Route != tt.req.Route || !slices.Equal(s.Matchers, tt.matchers) {
				t.Errorf("subscription = %+v, want route %q matchers %q", s, tt.req.Route, tt.matchers)
			}
		})
	}
}

func TestCreateLinkTokensDiffer(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	seen := map[string]bool{}
	for range 2 {
		l := h.link(t, bot.LinkRequest{Route: "oncall"})
		if seen[l.Token] {
			t.Fatalf("token %q issued twice", l.Token)
		}
		seen[l.Token] = true
	}
}

// rejectingStore fails the test if CreateLink stores anything.
type rejectingStore struct{ t *testing.T }

var _ bot.LinkStore = rejectingStore{}

func (s rejectingStore) CreateLinkToken(_ context.Context, tok store.LinkToken) error {
	s.t.Errorf("an invalid request stored token %+v", tok)
	return nil
}

func TestCreateLinkRejects(t *testing.T) {
	tests := []struct {
		name     string
		username string
		req      bot.LinkRequest
		wantErr  string
	}{
		{name: "empty username", req: bot.LinkRequest{Route: "oncall"}, wantErr: "username is not known"},
		{name: "negative TTL", username: botName, req: bot.LinkRequest{Route: "oncall", TTL: -time.Hour}, wantErr: "ttl"},
		{name: "invalid matcher", username: botName, req: bot.LinkRequest{Route: "oncall", Matchers: []string{"=x"}}, wantErr: `matcher "=x"`},
		{name: "invalid regexp matcher", username: botName, req: bot.LinkRequest{Route: "oncall", Matchers: []string{`a=~"(("`}}, wantErr: "matcher"},
		{name: "TTL over links.max_ttl", username: botName, req: bot.LinkRequest{Route: "oncall", TTL: 2562047 * time.Hour, MaxTTL: 720 * time.Hour},
			wantErr: "ttl: 2562047h0m0s: ttl is longer than links.max_ttl allows (720h0m0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bot.CreateLink(t.Context(), rejectingStore{t}, tt.username, tt.req, t0)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CreateLink = %v, want an error about %q", err, tt.wantErr)
			}
		})
	}

	t.Run("store refuses an empty route", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		_, err := bot.CreateLink(t.Context(), h.st, botName, bot.LinkRequest{}, t0)
		if err == nil || !strings.Contains(err.Error(), "storing link token") {
			t.Errorf("CreateLink with no route = %v, want the store's refusal", err)
		}
	})
}

// Without a TTL a link lives DefaultLinkTTL, or links.max_ttl when that is
// shorter; a TTL up to the limit is kept.
func TestCreateLinkTTLWithinMax(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, tt := range []struct{ ttl, max, want time.Duration }{
		{0, 0, bot.DefaultLinkTTL},
		{0, time.Hour, time.Hour},
		{720 * time.Hour, 720 * time.Hour, 720 * time.Hour},
	} {
		l, err := bot.CreateLink(t.Context(), h.st, botName, bot.LinkRequest{Route: "oncall", TTL: tt.ttl, MaxTTL: tt.max}, t0)
		if err != nil || !l.ExpiresAt.Equal(t0.Add(tt.want)) {
			t.Errorf("ttl %v max %v: expires %v, %v; want %v", tt.ttl, tt.max, l.ExpiresAt, err, t0.Add(tt.want))
		}
	}
}
