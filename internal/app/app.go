// Package app wires alertgram together and owns its lifecycle: New builds
// every part from a validated config, Run serves until the context ends and
// then shuts down in order (stop intake, finish sends, persist the rest).
// End-to-end tests drive it on 127.0.0.1:0.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/config"
	"github.com/alertgram/alertgram/internal/dispatch"
	"github.com/alertgram/alertgram/internal/httpapi"
	"github.com/alertgram/alertgram/internal/ratelimit"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// Registry is what New needs of a Prometheus registry: register our
// collectors and gather them for /metrics.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// App is a running alertgram.
type App struct {
	cfg        *config.Config
	log        *slog.Logger
	store      store.Store
	client     *telegram.Client
	bot        *bot.Bot
	actions    *bot.Actions
	silencers  *silencers
	dispatcher *dispatch.Dispatcher
	server     *http.Server
	listener   net.Listener

	botOK sync.Once
	ready chan struct{} // closed once getMe succeeded
}

// New builds alertgram from a validated config and starts listening, so
// that Addr is known before Run. On error nothing is left open.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger, reg Registry) (a *App, err error) {
	a = &App{cfg: cfg, log: logger, ready: make(chan struct{})}
	renderer, err := NewRenderer(cfg)
	if err != nil {
		return nil, err
	}
	if a.client, err = newTelegramClient(cfg, logger); err != nil {
		return nil, err
	}
	if a.store, err = store.Open(ctx, cfg.Storage, logger); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	defer func() {
		if err != nil {
			a.store.Close()
		}
	}()
	// One pacer for everything sent to chats: alert messages, edits and
	// the bot's answers share Telegram's per-chat limits.
	pacer := ratelimit.New(pacingLimits(cfg.Delivery), ratelimit.RealClock())
	a.bot = bot.New(a.client, a.store, bot.Options{Pacer: pacer, ReplyWorkers: bot.DefaultReplyWorkers}, logger, reg)
	if a.silencers, err = newSilencers(cfg, logger); err != nil {
		return nil, err
	}
	a.actions = bot.NewActions(a.client, a.store, bot.ActionsConfig{
		Routes: routeActions(cfg), Silencer: a.silencers.For, CallbackTTL: cfg.Actions.CallbackTTL, Pacer: pacer,
		StaticRoutes: staticRoutes(cfg),
	}, logger, reg)
	a.bot.UseActions(a.actions)
	a.dispatcher = dispatch.New(dispatch.Config{
		Owner: cfg.InstanceID, Routes: routeSpecs(cfg), DedupeWindow: cfg.Delivery.DedupeWindow,
		Retention: cfg.Delivery.Retention, Buttons: a.actions,
		Pacer: pacer,
	},
		a.store, recipients(cfg, a.store, logger), renderer, a.client, a.chatEvents(), logger, reg)
	reg.MustRegister(newOutboxCollector(a.store), newSubscriptionCollector(a.store), newWALGauge(a.store))

	router := httpapi.NewRouter(httpapi.Deps{ //nolint:contextcheck // built once here; its handlers serve each request with that request's context, not New's
		Logger:        logger.With("component", "http"),
		Enqueuer:      a.dispatcher,
		Routes:        func(name string) bool { _, ok := cfg.Route(name); return ok },
		Auth:          webhookAuth(cfg.WebhookAuth),
		MaxBodyBytes:  cfg.MaxBodyBytes,
		Ready:         a.checkReady,
		Metrics:       promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Registerer:    reg,
		Updates:       a.webhookUpdates(),
		WebhookSecret: cfg.Telegram.WebhookSecret.Reveal(),
		Links:         adminLinks{store: a.store, bot: a.bot, maxTTL: cfg.Links.MaxTTL},
		AdminToken:    cfg.Admin.BearerToken.Reveal(),
		GrafanaHMAC:   httpapi.NewGrafanaHMAC(cfg.WebhookAuth.GrafanaHMAC.Reveal()),
	})
	a.server = &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn),
	}
	if a.listener, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return a, nil
}

// NewRenderer builds the renderer for cfg and checks that every route's
// template exists, so a typo fails at start, not at 3 a.m.
func NewRenderer(cfg *config.Config) (*render.Renderer, error) {
	r, err := render.New(render.Options{UserDir: cfg.TemplatesDir})
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	for i, rt := range cfg.Routes {
		if !r.Has(rt.Template) {
			return nil, fmt.Errorf("routes[%d].template: %q is not defined by the default templates or templates_dir", i, rt.Template)
		}
	}
	return r, nil
}

// Addr is the address the HTTP server listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// Run serves until ctx is cancelled, then shuts down: the HTTP server stops
// taking webhooks first, then the dispatcher finishes in-flight sends and
// releases the rest (they stay in the outbox), then the store closes.
func (a *App) Run(ctx context.Context) error {
	defer a.store.Close()
	defer a.silencers.Close()
	dispCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDispatch()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := a.dispatcher.Run(dispCtx); err != nil {
			a.log.Error("dispatcher stopped", "err", err)
		}
	}()
	go func() { defer wg.Done(); a.runBot(ctx) }()
	go func() { defer wg.Done(); a.runActions(ctx) }()

	serveErr := make(chan error, 1)
	go func() { serveErr <- a.server.Serve(a.listener) }()
	a.log.Info("alertgram started", "listen", a.Addr(), "routes", len(a.cfg.Routes))

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("http server: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if serr := a.server.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		a.log.Warn("http shutdown", "err", serr)
	}
	stopDispatch()
	wg.Wait()
	a.bot.Stop(shutdownCtx) // updates no longer arrive: send or drop the bot's last answers
	a.log.Info("alertgram stopped")
	return err
}

// runBot waits for getMe (readiness needs it, and the bot needs its
// username), then publishes the command menu and receives updates until ctx
// ends: by long polling, or by registering the webhook.
func (a *App) runBot(ctx context.Context) {
	me, ok := a.waitGetMe(ctx)
	if !ok {
		return
	}
	a.bot.SetUsername(me.Username)
	a.botOK.Do(func() { close(a.ready) })
	a.log.Info("telegram bot ready", "username", me.Username, "id", me.ID, "updates", a.cfg.Telegram.Updates)
	if err := a.bot.SetCommands(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("setMyCommands failed; the command menu may be stale", "err", err)
	}
	if a.cfg.Telegram.Updates == config.UpdatesWebhook {
		a.registerWebhook(ctx)
		return
	}
	if err := a.bot.Poll(ctx, a.client); err != nil {
		a.log.Error("polling stopped", "err", err)
	}
}

// waitGetMe calls getMe until it succeeds, backing off; false if ctx ended.
func (a *App) waitGetMe(ctx context.Context) (telegram.User, bool) {
	for wait := time.Second; ; wait = min(2*wait, time.Minute) {
		me, err := a.client.GetMe(ctx)
		if err == nil {
			return me, true
		}
		a.log.Warn("telegram getMe failed; will retry", "err", err, "in", wait)
		if !sleepCtx(ctx, wait) {
			return telegram.User{}, false
		}
	}
}

func (a *App) registerWebhook(ctx context.Context) {
	for wait := time.Second; ; wait = min(2*wait, time.Minute) {
		err := a.bot.RegisterWebhook(ctx, a.client, a.cfg.Telegram.WebhookURL, a.cfg.Telegram.WebhookSecret.Reveal())
		if err == nil {
			a.log.Info("telegram webhook registered", "url", a.cfg.Telegram.WebhookURL)
			return
		}
		a.log.Warn("setWebhook failed; will retry", "err", err, "in", wait)
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

// webhookUpdates is the update handler for POST /telegram/webhook, or nil in
// polling mode.
func (a *App) webhookUpdates() httpapi.UpdateHandler {
	if a.cfg.Telegram.Updates != config.UpdatesWebhook {
		return nil
	}
	return a.bot
}

// chatEvents lets the dispatcher keep subscriptions in step with chats.
func (a *App) chatEvents() dispatch.ChatEvents {
	return dispatch.ChatEvents{
		Gone: func(ctx context.Context, chatID int64, reason string) {
			if err := a.bot.ChatGone(ctx, chatID, reason); err != nil {
				a.log.Error("deactivating chat", "chat_id", chatID, "err", err)
			}
			a.warnStatic(chatID, "is gone ("+reason+")")
		},
		Migrated: func(ctx context.Context, from, to int64) {
			if err := a.bot.ChatMigrated(ctx, from, to); err != nil {
				a.log.Error("migrating chat", "chat_id", from, "err", err)
			}
			a.warnStatic(from, fmt.Sprintf("was upgraded to supergroup %d; update the config", to))
		},
	}
}

// warnStatic tells the operator when a chat from the config file changed:
// only they can edit it.
func (a *App) warnStatic(chatID int64, what string) {
	for _, r := range a.cfg.Routes {
		for _, c := range r.Chats {
			if c.ChatID == chatID {
				a.log.Warn("static chat "+what, "route", r.Name, "chat_id", chatID)
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (a *App) checkReady(ctx context.Context) error {
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	select {
	case <-a.ready:
		return nil
	default:
		return errors.New("telegram getMe has not succeeded yet")
	}
}

func routeSpecs(cfg *config.Config) map[string]dispatch.RouteSpec {
	specs := make(map[string]dispatch.RouteSpec, len(cfg.Routes))
	for _, r := range cfg.Routes {
		specs[r.Name] = dispatch.RouteSpec{
			ParseMode: render.Mode(r.ParseMode), Template: r.Template,
			SendResolved: r.SendsResolved(), SilentSeverities: r.SilentSeverities,
		}
	}
	return specs
}

// pacingLimits turns the delivery config into the limiter's windows.
func pacingLimits(d config.Delivery) ratelimit.Limits {
	w := func(r config.Rate) ratelimit.Window { return ratelimit.Window{Max: r.Count, Per: r.Per} }
	return ratelimit.Limits{PerChat: w(d.PerChat), PerGroup: w(d.PerGroup), Global: w(d.Global), Margin: d.Margin, SpreadGlobal: true,
		LowReserve: d.PerGroup.Count / 2} // the bot's answers never use the half of a group's budget kept for alerts
}

func webhookAuth(w config.WebhookAuth) httpapi.Auth {
	a := httpapi.Auth{BearerToken: w.BearerToken.Reveal()}
	if w.BasicAuth != nil {
		a.BasicUser, a.BasicPassword = w.BasicAuth.Username, w.BasicAuth.Password.Reveal()
	}
	return a
}
