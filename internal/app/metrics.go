package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/store"
)

// outboxCollector reads queue depth from the store at scrape time, so the
// figures are right across restarts and replicas.
type outboxCollector struct {
	store  store.Store
	depth  *prometheus.Desc
	oldest *prometheus.Desc
}

func newOutboxCollector(s store.Store) *outboxCollector {
	return &outboxCollector{
		store: s,
		depth: prometheus.NewDesc("alertgram_outbox_items",
			"Outbox items by state (unrouted notifications; pending, delivered, failed deliveries).", []string{"state"}, nil),
		oldest: prometheus.NewDesc("alertgram_outbox_oldest_pending_seconds",
			"Age of the oldest accepted notification not yet delivered (0 when none).", nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if counts, err := c.store.Counts(ctx); err == nil {
		for state, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n), state)
		}
	}
	age := 0.0
	if t, ok, err := c.store.OldestPending(ctx); err == nil && ok {
		age = time.Since(t).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}

// subscriptionCollector exports active subscriptions per route.
type subscriptionCollector struct {
	store store.Store
	desc  *prometheus.Desc
}

func newSubscriptionCollector(s store.Store) *subscriptionCollector {
	return &subscriptionCollector{store: s, desc: prometheus.NewDesc("alertgram_subscriptions",
		"Active deep-link subscriptions per route.", []string{"route"}, nil)}
}

func (c *subscriptionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *subscriptionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.CountSubscriptions(ctx)
	if err != nil {
		return
	}
	for route, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), route)
	}
}

// newWALGauge exports the size of the SQLite write-ahead log file, read at
// scrape time; always 0 with PostgreSQL, so that dashboards and alerts see
// the same series whatever the storage.
func newWALGauge(s store.Store) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "alertgram_store_wal_bytes",
		Help: "Size of the SQLite write-ahead log file in bytes (0 with PostgreSQL).",
	}, func() float64 {
		n, _ := store.WALBytes(s)
		return float64(n)
	})
}
