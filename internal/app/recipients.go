package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/patrickmn/go-cache"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/config"
	"github.com/alertgram/alertgram/internal/dispatch"
	"github.com/alertgram/alertgram/internal/store"
)

// subscriptionLister is what routing needs from the store.
type subscriptionLister interface {
	ActiveSubscriptions(ctx context.Context, route string) ([]store.Subscription, error)
}

// subscriptionTTL is how long a route's subscription list is reused while
// routing: a burst of notifications for one route costs one query, and a
// new or ended subscription takes effect within it.
const subscriptionTTL = 200 * time.Millisecond

// cachedSubscriptions memoises ActiveSubscriptions per route in go-cache.
type cachedSubscriptions struct {
	subs  subscriptionLister
	cache *cache.Cache
}

func newCachedSubscriptions(subs subscriptionLister) *cachedSubscriptions {
	return &cachedSubscriptions{subs: subs, cache: cache.New(subscriptionTTL, time.Minute)}
}

func (c *cachedSubscriptions) ActiveSubscriptions(ctx context.Context, route string) ([]store.Subscription, error) {
	if v, ok := c.cache.Get(route); ok {
		return v.([]store.Subscription), nil
	}
	subs, err := c.subs.ActiveSubscriptions(ctx, route)
	if err == nil {
		c.cache.SetDefault(route, subs)
	}
	return subs, err
}

// recipients resolves a notification's chats: the route's static chats plus
// its active subscriptions whose matchers select at least one of its alerts.
func recipients(cfg *config.Config, subs subscriptionLister, l *slog.Logger) dispatch.Recipients {
	subs = newCachedSubscriptions(subs)
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
