package app

import (
	"context"
	"log/slog"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/config"
	"github.com/alertgram/alertgram/internal/dispatch"
	"github.com/alertgram/alertgram/internal/store"
)

// subscriptionLister is what routing needs from the store.
type subscriptionLister interface {
	ActiveSubscriptions(ctx context.Context, route string) ([]store.Subscription, error)
}

// recipients resolves a notification's chats: the route's static chats plus
// its active subscriptions whose matchers select at least one of its alerts.
func recipients(cfg *config.Config, subs subscriptionLister, l *slog.Logger) dispatch.Recipients {
	return func(ctx context.Context, route string, g *alert.Group) ([]store.Target, error) {
		var targets []store.Target
		if r, ok := cfg.Route(route); ok {
			for _, c := range r.Chats {
				targets = append(targets, store.Target{ChatID: c.ChatID, ThreadID: c.ThreadID})
			}
		}
		active, err := subs.ActiveSubscriptions(ctx, route)
		if err != nil {
			return nil, err
		}
		for _, s := range active {
			match, err := alert.MatchesAny(g, s.Matchers)
			if err != nil {
				// Stored matchers were validated when the link was made;
				// deliver rather than drop if one is unreadable.
				l.Error("subscription has an invalid matcher; delivering unfiltered", "subscription_id", s.ID, "err", err)
				match = true
			}
			if match {
				targets = append(targets, store.Target{ChatID: s.ChatID, ThreadID: s.ThreadID})
			}
		}
		return targets, nil
	}
}
