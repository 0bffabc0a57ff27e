package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/alertmanager"
	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/config"
)

// silencers builds the API clients that buttons act through: one for the
// Alertmanager(s), and one per route with a Grafana (its own or the
// top-level one) for Grafana alerts.
type silencers struct {
	alertmanager *alertmanager.Client
	grafana      map[string]*alertmanager.Client // by route
}

func newSilencers(cfg *config.Config, l *slog.Logger) (*silencers, error) {
	s := &silencers{grafana: map[string]*alertmanager.Client{}}
	if eps := cfg.Alertmanager.Endpoints(); len(eps) > 0 {
		c, err := alertmanager.New(alertmanager.Config{
			URLs: eps, HTTP: cfg.Alertmanager.HTTPConfig.HTTPClientConfig, Timeout: cfg.Alertmanager.Timeout,
			Flavor: alertmanager.Upstream, Logger: l.With("component", "alertmanager"),
		})
		if err != nil {
			return nil, fmt.Errorf("alertmanager: %w", err)
		}
		s.alertmanager = c
	}
	for _, r := range cfg.Routes {
		g, ok := cfg.GrafanaFor(r.Name)
		if !ok {
			continue
		}
		c, err := alertmanager.New(alertmanager.Config{
			URLs: []string{g.URL}, HTTP: g.ClientConfig(), Timeout: g.Timeout,
			Flavor: alertmanager.Grafana, Logger: l.With("component", "grafana"),
		})
		if err != nil {
			return nil, fmt.Errorf("grafana for route %s: %w", r.Name, err)
		}
		s.grafana[r.Name] = c
	}
	return s, nil
}

// For returns the API for alerts of source on route.
func (s *silencers) For(source, route string) (bot.Silencer, bool) {
	if source == string(alert.SourceGrafana) {
		c, ok := s.grafana[route]
		return c, ok
	}
	if s.alertmanager == nil {
		return nil, false
	}
	return s.alertmanager, true
}

func (s *silencers) Close() {
	if s.alertmanager != nil {
		s.alertmanager.Close()
	}
	for _, c := range s.grafana {
		c.Close()
	}
}

func routeActions(cfg *config.Config) map[string]bot.RouteActions {
	out := make(map[string]bot.RouteActions, len(cfg.Routes))
	for _, r := range cfg.Routes {
		a := r.Actions
		out[r.Name] = bot.RouteActions{
			Ack: r.HasButton(config.ButtonAck), Silence: r.HasButton(config.ButtonSilence),
			SilenceDurations: a.SilenceDurations, AckDuration: a.AckDuration, Scope: a.SilenceScope,
			AllowedUsers: a.AllowedUsers, ChatAdmins: a.ChatAdmins, Receiver: a.Receiver,
		}
	}
	return out
}

// staticRoutes maps each static chat to the routes that list it.
func staticRoutes(cfg *config.Config) map[int64][]string {
	out := map[int64][]string{}
	for _, r := range cfg.Routes {
		for _, c := range r.Chats {
			out[c.ChatID] = append(out[c.ChatID], r.Name)
		}
	}
	return out
}

// pruneButtonsEvery is how often expired buttons are deleted.
const pruneButtonsEvery = time.Hour

// runActions keeps acks in step with Alertmanager and prunes old buttons
// until ctx ends, then waits for presses under way.
func (a *App) runActions(ctx context.Context) {
	defer a.actions.Wait()
	check := time.NewTicker(a.cfg.Actions.AckCheckInterval)
	defer check.Stop()
	prune := time.NewTicker(pruneButtonsEvery)
	defer prune.Stop()
	a.actions.Prune(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			a.actions.RefreshAcks(ctx)
		case <-prune.C:
			a.actions.Prune(ctx)
		}
	}
}
