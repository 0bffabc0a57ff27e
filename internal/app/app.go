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

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/config"
	"github.com/alertgram/alertgram/internal/dispatch"
	"github.com/alertgram/alertgram/internal/httpapi"
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
	bot        *telegram.Client
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
	if a.bot, err = telegram.New(cfg.Telegram.Token.Reveal(),
		telegram.WithBaseURL(cfg.Telegram.APIURL),
		telegram.WithLogger(logger)); err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	if a.store, err = store.Open(ctx, cfg.Storage, logger); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	defer func() {
		if err != nil {
			a.store.Close()
		}
	}()
	a.dispatcher = dispatch.New(dispatch.Config{Owner: cfg.InstanceID, Routes: routeSpecs(cfg)},
		a.store, staticRecipients(cfg), renderer, a.bot, dispatch.ChatEvents{}, logger, reg)
	reg.MustRegister(newOutboxCollector(a.store))

	router := httpapi.NewRouter(httpapi.Deps{
		Logger:       logger.With("component", "http"),
		Enqueuer:     a.dispatcher,
		Routes:       func(name string) bool { _, ok := cfg.Route(name); return ok },
		Auth:         webhookAuth(cfg.WebhookAuth),
		MaxBodyBytes: cfg.MaxBodyBytes,
		Ready:        a.checkReady,
		Metrics:      promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Registerer:   reg,
	})
	a.server = &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn),
	}
	if a.listener, err = net.Listen("tcp", cfg.Listen); err != nil {
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
	dispCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDispatch()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.dispatcher.Run(dispCtx) }()
	go func() { defer wg.Done(); a.checkBot(ctx) }()

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
	a.log.Info("alertgram stopped")
	return err
}

// checkBot calls getMe until it succeeds (readiness needs it), backing off.
func (a *App) checkBot(ctx context.Context) {
	for wait := time.Second; ; wait = min(2*wait, time.Minute) {
		me, err := a.bot.GetMe(ctx)
		if err == nil {
			a.log.Info("telegram bot ready", "username", me.Username, "id", me.ID)
			a.botOK.Do(func() { close(a.ready) })
			return
		}
		a.log.Warn("telegram getMe failed; will retry", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
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
		specs[r.Name] = dispatch.RouteSpec{ParseMode: render.Mode(r.ParseMode), Template: r.Template, SendResolved: r.SendsResolved()}
	}
	return specs
}

// staticRecipients sends each route's notifications to its configured chats.
func staticRecipients(cfg *config.Config) dispatch.Recipients {
	return func(_ context.Context, route string, _ *alert.Group) ([]store.Target, error) {
		r, ok := cfg.Route(route)
		if !ok {
			return nil, nil
		}
		targets := make([]store.Target, 0, len(r.Chats))
		for _, c := range r.Chats {
			targets = append(targets, store.Target{ChatID: c.ChatID, ThreadID: c.ThreadID})
		}
		return targets, nil
	}
}

func webhookAuth(w config.WebhookAuth) httpapi.Auth {
	a := httpapi.Auth{BearerToken: w.BearerToken.Reveal()}
	if w.BasicAuth != nil {
		a.BasicUser, a.BasicPassword = w.BasicAuth.Username, w.BasicAuth.Password.Reveal()
	}
	return a
}
