package app

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/alertgram/alertgram/internal/store"
)

type countingLister struct{ calls atomic.Int32 }

func (c *countingLister) ActiveSubscriptions(_ context.Context, route string) ([]store.Subscription, error) {
	c.calls.Add(1)
	return []store.Subscription{{ChatID: 42, Route: route}}, nil
}

// A burst of notifications for one route costs one subscription query;
// another route gets its own list.
func TestCachedSubscriptions(t *testing.T) {
	base := &countingLister{}
	c := newCachedSubscriptions(base)
	for range 100 {
		subs, err := c.ActiveSubscriptions(t.Context(), "oncall")
		if err != nil || len(subs) != 1 || subs[0].Route != "oncall" {
			t.Fatalf("got %v, %v", subs, err)
		}
	}
	if subs, _ := c.ActiveSubscriptions(t.Context(), "db"); subs[0].Route != "db" {
		t.Fatalf("route db got %v", subs)
	}
	if n := base.calls.Load(); n != 2 {
		t.Errorf("%d queries for 101 lookups of 2 routes, want 2", n)
	}
}
