// Package dispatch consumes the durable outbox. Routing turns each accepted
// notification into one delivery per chat (in one transaction); one worker
// per chat then sends them, paced under Telegram's limits. A worker merges
// what piled up for its chat: a newer state of an alert group supersedes an
// older unsent one, and several groups become one digest message. A group
// that resolves edits its original message. A delivery is marked done only
// after Telegram accepted it; nothing accepted is dropped.
//
// Memory grows with the backlog by a small header per pending delivery, not
// by its payload: a worker holds its claims as headers and reads the
// payloads of the message it prepares, within a payload budget all workers
// share; a prepared digest keeps only its text (see runChat).
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	RouteNotifications(ctx context.Context, ns []store.RoutedNotification) error
	ReleaseClaims(ctx context.Context, owner string) error
	RetryDelivery(ctx context.Context, id int64, next time.Time, lastErr string) error
	FailDelivery(ctx context.Context, id int64, reason string) error
	RetargetDeliveries(ctx context.Context, from, to int64) (int, error)
	store.Lifecycle
	// Workers claim deliveries as headers and read the payloads of the
	// message they prepare only.
	store.LightClaims
}

// Sender is the part of the Bot API the dispatcher uses.
type Sender interface {
	SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)
	SendPhoto(ctx context.Context, p telegram.SendPhotoParams) (telegram.Message, error)
	EditMessageText(ctx context.Context, p telegram.EditMessageTextParams) (telegram.Message, error)
	EditMessageCaption(ctx context.Context, p telegram.EditMessageCaptionParams) (telegram.Message, error)
}

// Pacer keeps sends inside Telegram's limits (internal/ratelimit).
type Pacer interface {
	// Wait blocks until a send to chatID may start and records it.
	Wait(ctx context.Context, chatID int64) error
	// Pause forbids sends to chatID until t (429 retry_after).
	Pause(chatID int64, until time.Time)
	// PauseAll forbids all sends until t (429s across chats).
	PauseAll(until time.Time)
	// Forget drops an idle chat's state; false if it is not idle yet.
	Forget(chatID int64) bool
}

// NoPacing is a Pacer that never waits; for tests that are not about pacing.
var NoPacing Pacer = noPacing{}

type noPacing struct{}

func (noPacing) Wait(ctx context.Context, _ int64) error { return ctx.Err() }
func (noPacing) Pause(int64, time.Time)                  {}
func (noPacing) PauseAll(time.Time)                      {}
func (noPacing) Forget(int64) bool                       { return true }

// Recipients resolves the chats a notification for route goes to.
type Recipients func(ctx context.Context, route string, g *alert.Group) ([]store.Target, error)

// ChatEvents lets the owner of subscriptions react to chat changes learned
// while sending. Both fields are optional.
type ChatEvents struct {
	Gone     func(ctx context.Context, chatID int64, reason string) // 403: blocked, kicked, deleted
	Migrated func(ctx context.Context, from, to int64)              // group upgraded to supergroup
}

// Buttons puts action buttons (Ack, Silence, links) on messages about one
// firing group (internal/bot.Actions).
type Buttons interface {
	// Keyboard returns the keyboard for a new message about g to a chat of
	// route, and a function to call with the message once Telegram
	// accepted it (nil when there is nothing to record): its id, its text
	// as accepted, whether it is a photo with that text as its caption,
	// and the image it shows (as the photo or as the link preview; "" for
	// none).
	Keyboard(ctx context.Context, route string, to store.Target, g *alert.Group) (*telegram.InlineKeyboardMarkup, func(ctx context.Context, messageID int64, sent render.Message, photo bool, image string))
	// GroupResolved is told once a group's resolved state was delivered.
	GroupResolved(ctx context.Context, route, groupKey string)
}

// RouteSpec is how one route's messages look and sound.
type RouteSpec struct {
	ParseMode        render.Mode
	Template         string
	SendResolved     bool
	SilentSeverities []string
}

// Config tunes the dispatcher. Zero values take the defaults.
type Config struct {
	Owner  string // lease owner: stable across restarts of this instance
	Routes map[string]RouteSpec
	// Pacer keeps sends inside Telegram's limits (per chat, per group and
	// bot-wide); a worker prepares a message completely, then waits on it,
	// then sends at once, so nothing shifts a request after its slot.
	// Default NoPacing; the app passes a ratelimit.Limiter.
	Pacer        Pacer
	DedupeWindow time.Duration // 0: no deduplication of identical notifications
	Retention    time.Duration // how long finished notifications are kept; 0: for ever
	Buttons      Buttons       // nil: messages carry no keyboard
	MaxWorkers   int           // chats sent to concurrently; default 1000
	ChatBatch    int           // deliveries one chat worker holds, as headers; default 200 (a digest carries far fewer)
	Lease        time.Duration // how long a claim lasts; default 10m
	SendTimeout  time.Duration // per Telegram call; default 30s
	PollInterval time.Duration // how often due retries are looked for; default 500ms
	MaxBackoff   time.Duration // cap of the retry backoff; default 5m
	Now          func() time.Time

	// PayloadBudget bounds the notification payload bytes all workers
	// together hold read and decoded; default 8 MiB. A message reads at
	// most a quarter of it (but always one notification), and only a
	// single group's message keeps its payload's share until it is sent.
	PayloadBudget int64
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.MaxWorkers == 0 {
		c.MaxWorkers = 1000
	}
	if c.ChatBatch == 0 {
		c.ChatBatch = 200
	}
	if c.PayloadBudget <= 0 {
		c.PayloadBudget = 8 << 20
	}
	def(&c.Lease, 10*time.Minute)
	def(&c.SendTimeout, 30*time.Second)
	def(&c.PollInterval, 500*time.Millisecond)
	def(&c.MaxBackoff, 5*time.Minute)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Pacer == nil {
		c.Pacer = NoPacing
	}
}

// Dispatcher is the outbox consumer. Enqueue is its intake.
type Dispatcher struct {
	cfg        Config
	outbox     Outbox
	budget     *budget // of payload bytes held decoded
	recipients Recipients
	renderer   *render.Renderer
	sender     Sender
	events     ChatEvents
	log        *slog.Logger
	metrics    *metrics
	wake       chan struct{}
	// unrouted is set when Enqueue stored a notification unrouted, so that
	// the next round, not only the next poll, routes it.
	unrouted atomic.Bool
	throttle *throttleWatch

	mu      sync.Mutex
	workers map[int64]struct{} // chats with a running worker
	idle    map[int64]struct{} // chats whose worker ended: pacer state to forget
	wg      sync.WaitGroup
}

// New builds a dispatcher; Run starts it.
func New(cfg Config, out Outbox, rec Recipients, r *render.Renderer, s Sender, ev ChatEvents, l *slog.Logger, reg prometheus.Registerer) *Dispatcher {
	cfg.defaults()
	return &Dispatcher{
		cfg: cfg, outbox: out, budget: newBudget(cfg.PayloadBudget),
		recipients: rec, renderer: r, sender: s, events: ev,
		log:      l.With("component", "dispatch"),
		metrics:  newMetrics(reg),
		wake:     make(chan struct{}, 1),
		throttle: newThrottleWatch(),
		workers:  map[int64]struct{}{},
		idle:     map[int64]struct{}{},
	}
}

// Enqueue durably accepts g: it returns nil only after the notification is
// committed to the outbox (or recognised as a copy of one accepted within
// the dedupe window), then wakes the consumer. Its chats are resolved here
// and stored with it, in the same commit; if they cannot be resolved now
// (a store error), it is stored unrouted and routePending routes it.
func (d *Dispatcher) Enqueue(ctx context.Context, g *alert.Group) error {
	payload, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encoding notification: %w", err)
	}
	n := store.Notification{
		Source: string(g.Source), Route: g.Route, GroupKey: g.GroupKey,
		Payload: payload, ReceivedAt: d.cfg.Now(),
	}
	if d.cfg.DedupeWindow > 0 {
		n.DedupeKey, n.DedupeWindow = g.DedupeKey(), d.cfg.DedupeWindow
	}
	// Resolved notifications are routed even where send_resolved is off:
	// they still edit the original message; the worker decides.
	if n.Targets, err = d.recipients(ctx, g.Route, g); err == nil {
		n.Routed = true
	} else {
		d.logStoreErr(ctx, "resolving recipients at intake (routing later)", err)
	}
	id, err := d.outbox.AddNotification(ctx, n)
	if errors.Is(err, store.ErrDuplicate) {
		d.metrics.duplicates.Inc()
		d.log.Debug("duplicate notification accepted and dropped", "route", g.Route, "group_key", g.GroupKey)
		return nil
	}
	if err != nil {
		return err
	}
	if n.Routed && len(n.Targets) == 0 {
		d.logNoRecipients(id, g)
	}
	if !n.Routed {
		d.unrouted.Store(true)
	}
	if !n.Routed || !d.allWorking(n.Targets) {
		d.poke()
	}
	return nil
}

// allWorking tells whether every chat of targets has a worker running. Such
// a worker claims what was just committed before it ends: its last claim
// is either still to come, or came before the commit, and then it pokes
// the scheduler as it ends. Not waking the scheduler for them keeps a
// burst into busy chats from spinning it.
func (d *Dispatcher) allWorking(targets []store.Target) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range targets {
		if _, ok := d.workers[t.ChatID]; !ok {
			return false
		}
	}
	return true
}

func (d *Dispatcher) logNoRecipients(id int64, g *alert.Group) {
	d.log.Info("notification has no recipients", "notification_id", id, "route", g.Route, "group_key", g.GroupKey, "status", g.Status)
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run consumes the outbox until ctx is cancelled. Workers finish the send
// under way (bounded by SendTimeout) and record it; claims not yet sent are
// released so the next start, or another replica, sends them.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.outbox.ReleaseClaims(ctx, d.cfg.Owner); err != nil {
		return fmt.Errorf("releasing earlier claims: %w", err)
	}
	tick := time.NewTicker(d.cfg.PollInterval)
	defer tick.Stop()
	maintenance := time.NewTicker(maintenanceInterval)
	defer maintenance.Stop()
	d.unrouted.Store(true) // an earlier run, or version, may have left some
	for {
		if d.unrouted.Swap(false) {
			d.routePending(ctx)
		}
		d.schedule(ctx)
		select {
		case <-maintenance.C:
			d.maintain(ctx)
		case <-ctx.Done():
			d.wg.Wait()
			release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := d.outbox.ReleaseClaims(release, d.cfg.Owner); err != nil {
				d.log.Warn("releasing claims at shutdown", "err", err)
			}
			return nil
		case <-d.wake:
		case <-tick.C:
			d.unrouted.Store(true) // another replica's, or a failed round's
		}
	}
}

const (
	maintenanceInterval = time.Minute
	// messageRefRetention is how long a message stays editable when its
	// group resolves; a group firing longer gets a new message instead.
	messageRefRetention = 30 * 24 * time.Hour
)

// maintain prunes what only matters for a while: dedupe keys older than
// the window, old message references, finished notifications older than
// the retention, and pacing state of idle chats.
func (d *Dispatcher) maintain(ctx context.Context) {
	now := d.cfg.Now()
	if d.cfg.DedupeWindow > 0 {
		if _, err := d.outbox.PruneDedupe(ctx, now.Add(-d.cfg.DedupeWindow)); err != nil {
			d.logStoreErr(ctx, "pruning dedupe keys", err)
		}
	}
	if _, err := d.outbox.PruneMessageRefs(ctx, now.Add(-messageRefRetention)); err != nil {
		d.logStoreErr(ctx, "pruning message references", err)
	}
	if d.cfg.Retention > 0 {
		n, err := d.outbox.PruneNotifications(ctx, now.Add(-d.cfg.Retention))
		if err != nil {
			d.logStoreErr(ctx, "pruning finished notifications", err)
		}
		if n > 0 {
			d.log.Debug("pruned finished notifications", "notifications", n, "retention", d.cfg.Retention)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for chat := range d.idle {
		if _, busy := d.workers[chat]; busy || d.cfg.Pacer.Forget(chat) {
			delete(d.idle, chat)
		}
	}
}

// routePending turns unrouted notifications into deliveries, each batch
// listed in one transaction: those Enqueue could not route at intake, and
// any an earlier version stored unrouted. A round ends at the first batch it could not
// route in full: what failed waits for the next round instead of being
// listed again at once.
func (d *Dispatcher) routePending(ctx context.Context) {
	const batch = 500
	for ctx.Err() == nil {
		ns, err := d.outbox.UnroutedNotifications(ctx, batch)
		if err != nil {
			d.logStoreErr(ctx, "listing unrouted notifications", err)
			return
		}
		routed := make([]store.RoutedNotification, 0, len(ns))
		for _, n := range ns {
			if targets, ok := d.route(ctx, n); ok {
				routed = append(routed, store.RoutedNotification{ID: n.ID, Targets: targets})
			}
		}
		if len(routed) > 0 {
			if err := d.outbox.RouteNotifications(ctx, routed); err != nil {
				d.logStoreErr(ctx, "routing notifications", err)
				return
			}
		}
		if len(routed) < len(ns) || len(ns) < batch {
			return
		}
	}
}

// route decodes n and resolves its recipients; ok is false when they
// cannot be resolved now, and n stays unrouted for the next round.
func (d *Dispatcher) route(ctx context.Context, n store.Notification) (targets []store.Target, ok bool) {
	var g alert.Group
	if err := json.Unmarshal(n.Payload, &g); err != nil {
		// Cannot happen for what Enqueue wrote; routing it nowhere keeps the
		// outbox moving and the log says why.
		d.log.Error("undecodable notification, dropping", "notification_id", n.ID, "route", n.Route, "err", err)
		return nil, true
	}
	targets, err := d.recipients(ctx, n.Route, &g)
	if err != nil {
		d.logStoreErr(ctx, "resolving recipients", err)
		return nil, false
	}
	if len(targets) == 0 {
		d.logNoRecipients(n.ID, &g)
	}
	return targets, true
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
