// Package dispatch consumes the durable outbox: it routes each accepted
// notification to its chats (one delivery per chat, in one transaction),
// renders it and sends it to Telegram, and marks a delivery done only after
// Telegram accepted it. Nothing accepted is dropped: failures are retried
// with backoff, and a message Telegram cannot parse is resent as plain text.
package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// Outbox is the part of the store the dispatcher uses.
type Outbox interface {
	AddNotification(ctx context.Context, n store.Notification) (int64, error)
	UnroutedNotifications(ctx context.Context, limit int) ([]store.Notification, error)
	RouteNotification(ctx context.Context, id int64, targets []store.Target) error
	ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]store.Delivery, error)
	ReleaseClaims(ctx context.Context, owner string) error
	MarkDelivered(ctx context.Context, id int64, messageID int64, at time.Time) error
	RetryDelivery(ctx context.Context, id int64, next time.Time, lastErr string) error
	FailDelivery(ctx context.Context, id int64, reason string) error
	RetargetDeliveries(ctx context.Context, from, to int64) (int, error)
}

// Sender sends one message to Telegram.
type Sender interface {
	SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)
}

// Recipients resolves the chats a notification for route goes to.
type Recipients func(ctx context.Context, route string, g *alert.Group) ([]store.Target, error)

// ChatEvents lets the owner of subscriptions react to chat changes learned
// while sending. Both fields are optional.
type ChatEvents struct {
	Gone     func(ctx context.Context, chatID int64, reason string) // 403: blocked, kicked, deleted
	Migrated func(ctx context.Context, from, to int64)              // group upgraded to supergroup
}

// RouteSpec is how one route's messages look.
type RouteSpec struct {
	ParseMode    render.Mode
	Template     string
	SendResolved bool
}

// Config tunes the dispatcher. Zero values take the defaults.
type Config struct {
	Owner        string // lease owner: stable across restarts of this instance
	Routes       map[string]RouteSpec
	BatchSize    int           // deliveries claimed per round; default 100
	Lease        time.Duration // how long a claim lasts; default 2m
	SendTimeout  time.Duration // per Telegram call; default 30s
	PollInterval time.Duration // how often due retries are looked for; default 500ms
	MaxBackoff   time.Duration // cap of the retry backoff; default 5m
	Now          func() time.Time
}

func (c *Config) defaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.Lease == 0 {
		c.Lease = 2 * time.Minute
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 30 * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Dispatcher is the outbox consumer. Enqueue is its intake.
type Dispatcher struct {
	cfg        Config
	outbox     Outbox
	recipients Recipients
	renderer   *render.Renderer
	sender     Sender
	events     ChatEvents
	log        *slog.Logger
	metrics    *metrics
	wake       chan struct{}

	mu     sync.Mutex
	paused map[int64]time.Time // chat → no sends before (429 retry_after)
}

// New builds a dispatcher; Run starts it.
func New(cfg Config, out Outbox, rec Recipients, r *render.Renderer, s Sender, ev ChatEvents, l *slog.Logger, reg prometheus.Registerer) *Dispatcher {
	cfg.defaults()
	return &Dispatcher{
		cfg: cfg, outbox: out, recipients: rec, renderer: r, sender: s, events: ev,
		log:     l.With("component", "dispatch"),
		metrics: newMetrics(reg),
		wake:    make(chan struct{}, 1),
		paused:  map[int64]time.Time{},
	}
}

// Enqueue durably accepts g: it returns nil only after the notification is
// committed to the outbox, then wakes the consumer.
func (d *Dispatcher) Enqueue(ctx context.Context, g *alert.Group) error {
	payload, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encoding notification: %w", err)
	}
	_, err = d.outbox.AddNotification(ctx, store.Notification{
		Source: string(g.Source), Route: g.Route, GroupKey: g.GroupKey,
		Payload: payload, ReceivedAt: d.cfg.Now(),
	})
	if err != nil {
		return err
	}
	d.poke()
	return nil
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run consumes the outbox until ctx is cancelled. In-flight sends finish
// (bounded by SendTimeout); claims not yet sent are released so that the
// next start, or another replica, sends them.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.outbox.ReleaseClaims(ctx, d.cfg.Owner); err != nil {
		return fmt.Errorf("releasing earlier claims: %w", err)
	}
	tick := time.NewTicker(d.cfg.PollInterval)
	defer tick.Stop()
	for {
		d.routePending(ctx)
		d.deliverDue(ctx)
		select {
		case <-ctx.Done():
			release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := d.outbox.ReleaseClaims(release, d.cfg.Owner); err != nil {
				d.log.Warn("releasing claims at shutdown", "err", err)
			}
			return nil
		case <-d.wake:
		case <-tick.C:
		}
	}
}

// routePending turns unrouted notifications into deliveries.
func (d *Dispatcher) routePending(ctx context.Context) {
	for ctx.Err() == nil {
		ns, err := d.outbox.UnroutedNotifications(ctx, d.cfg.BatchSize)
		if err != nil {
			d.logStoreErr(ctx, "listing unrouted notifications", err)
			return
		}
		for _, n := range ns {
			d.route(ctx, n)
		}
		if len(ns) < d.cfg.BatchSize {
			return
		}
	}
}

func (d *Dispatcher) route(ctx context.Context, n store.Notification) {
	l := d.log.With("notification_id", n.ID, "route", n.Route, "group_key", n.GroupKey)
	var g alert.Group
	if err := json.Unmarshal(n.Payload, &g); err != nil {
		// Cannot happen for what Enqueue wrote; routing it nowhere keeps the
		// outbox moving and the log says why.
		l.Error("undecodable notification, dropping", "err", err)
		_ = d.outbox.RouteNotification(ctx, n.ID, nil)
		return
	}
	var targets []store.Target
	if d.wants(n.Route, &g) {
		var err error
		if targets, err = d.recipients(ctx, n.Route, &g); err != nil {
			d.logStoreErr(ctx, "resolving recipients", err)
			return // stays unrouted; retried next round
		}
	}
	if err := d.outbox.RouteNotification(ctx, n.ID, targets); err != nil {
		d.logStoreErr(ctx, "routing notification", err)
		return
	}
	if len(targets) == 0 {
		l.Info("notification has no recipients", "status", g.Status)
	}
}

// wants reports whether a route sends g at all: resolved notifications only
// go where send_resolved is on.
func (d *Dispatcher) wants(route string, g *alert.Group) bool {
	return g.Status != alert.StatusResolved || d.spec(route).SendResolved
}

func (d *Dispatcher) spec(route string) RouteSpec {
	if s, ok := d.cfg.Routes[route]; ok {
		return s
	}
	// The route was removed from config after the notification was accepted:
	// still deliver it, with the defaults.
	return RouteSpec{ParseMode: render.HTML, Template: "default", SendResolved: true}
}

func (d *Dispatcher) logStoreErr(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		d.log.Debug(what+" interrupted by shutdown", "err", err)
		return
	}
	d.log.Error(what, "err", err)
}
