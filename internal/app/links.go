package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/config"
	"github.com/alertgram/alertgram/internal/httpapi"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// CreateLink makes a subscription link from the command line: it writes the
// token into the same store the server reads, so it works with a running
// server and after its restarts.
func CreateLink(ctx context.Context, cfg *config.Config, req bot.LinkRequest, logger *slog.Logger) (bot.Link, error) {
	if _, ok := cfg.Route(req.Route); !ok {
		return bot.Link{}, fmt.Errorf("route %q is not configured", req.Route)
	}
	client, err := newTelegramClient(cfg, logger)
	if err != nil {
		return bot.Link{}, err
	}
	me, err := client.GetMe(ctx)
	if err != nil {
		return bot.Link{}, fmt.Errorf("asking Telegram for the bot's username: %w", err)
	}
	st, err := store.Open(ctx, cfg.Storage, logger)
	if err != nil {
		return bot.Link{}, fmt.Errorf("storage: %w", err)
	}
	defer st.Close()
	req.MaxTTL = cfg.Links.MaxTTL
	return bot.CreateLink(ctx, st, me.Username, req, time.Now())
}

func newTelegramClient(cfg *config.Config, logger *slog.Logger) (*telegram.Client, error) {
	c, err := telegram.New(cfg.Telegram.Token.Reveal(), telegram.WithBaseURL(cfg.Telegram.APIURL), telegram.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	return c, nil
}

// adminLinks serves POST /api/v1/links.
type adminLinks struct {
	store  bot.LinkStore
	bot    *bot.Bot
	maxTTL time.Duration // links.max_ttl
}

func (a adminLinks) CreateLink(ctx context.Context, req httpapi.LinkRequest) (any, error) {
	ttl, err := req.ParsedTTL()
	if err != nil {
		return nil, httpapi.InvalidRequest{Err: err}
	}
	if _, err := normaliseOrInvalid(req.Matchers); err != nil {
		return nil, err
	}
	link, err := bot.CreateLink(ctx, a.store, a.bot.Username(), bot.LinkRequest{
		Route: req.Route, Group: req.Group, TTL: ttl, MaxTTL: a.maxTTL, Matchers: req.Matchers, CreatedBy: "api",
	}, time.Now())
	if errors.Is(err, bot.ErrLinkTTLTooLong) {
		return nil, httpapi.InvalidRequest{Err: err}
	}
	return link, err
}

func normaliseOrInvalid(matchers []string) ([]string, error) {
	m, err := alert.NormaliseMatchers(matchers)
	if err != nil {
		return nil, httpapi.InvalidRequest{Err: fmt.Errorf("match: %w", err)}
	}
	return m, nil
}
