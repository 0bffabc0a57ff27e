package bot

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/alertmanager"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// Silencer is the Alertmanager API v2 that buttons act through: upstream
// Alertmanager, or Grafana's Alertmanager-compatible API for Grafana alerts.
type Silencer interface {
	CreateSilence(ctx context.Context, s alertmanager.Silence) (string, error)
	ExpireSilence(ctx context.Context, id string) error
	GetSilence(ctx context.Context, id string) (alertmanager.Silence, error)
	Silences(ctx context.Context, filters []string) ([]alertmanager.Silence, error)
	Alerts(ctx context.Context, q alertmanager.AlertsQuery) ([]alertmanager.Alert, error)
}

// ActionAPI is the part of the Bot API that buttons use.
type ActionAPI interface {
	SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)
	EditMessageText(ctx context.Context, p telegram.EditMessageTextParams) (telegram.Message, error)
	EditMessageCaption(ctx context.Context, p telegram.EditMessageCaptionParams) (telegram.Message, error)
	EditMessageReplyMarkup(ctx context.Context, p telegram.EditMessageReplyMarkupParams) (telegram.Message, error)
	AnswerCallbackQuery(ctx context.Context, p telegram.AnswerCallbackQueryParams) error
	GetChatMember(ctx context.Context, chatID, userID int64) (telegram.ChatMember, error)
}

// ActionStore is the part of the store that buttons use.
type ActionStore interface {
	store.Actions
	store.Silences
	ChatSubscriptions(ctx context.Context, chatID int64) ([]store.Subscription, error)
}

// Silence scopes of a message about a group of several alerts: what a
// silence made from it matches. A single alert is always matched by all of
// its labels.
const (
	ScopeCommonLabels = "common_labels" // the labels all its alerts share (default)
	ScopeGroupLabels  = "group_labels"  // the labels the group is grouped by
)

// RouteActions are a route's button settings.
type RouteActions struct {
	Ack, Silence     bool
	SilenceDurations []time.Duration // the choices behind Silence
	AckDuration      time.Duration   // length of an ack silence, extended while firing
	Scope            string          // ScopeCommonLabels or ScopeGroupLabels
	// Who may press. Both empty: any member of a chat the route delivers
	// to (the deep link vetted the chat). Otherwise the listed users, and
	// with ChatAdmins the chat's administrators.
	AllowedUsers []int64
	ChatAdmins   bool
	// Receiver is a regex on Alertmanager receiver names used by /alerts;
	// empty lists the alerts matching the chat's subscriptions.
	Receiver string
}

// ActionsConfig configures Actions.
type ActionsConfig struct {
	Routes map[string]RouteActions
	// Silencer returns the API for alerts of source on route; false when
	// none is configured (then there are no Ack/Silence buttons).
	Silencer func(source, route string) (Silencer, bool)
	// CallbackTTL is how long a button works (default 30 days).
	CallbackTTL time.Duration
	// AnswerWithin is how long a press waits for Alertmanager before it is
	// answered "working on it" (default 2 s); the outcome then follows in
	// the message, or as a reply if it failed.
	AnswerWithin time.Duration
	// Pacer is the dispatcher's: edits and replies count against the
	// same per-chat limits as alert messages. nil: no pacing (tests).
	// StaticRoutes are the routes that deliver to a chat from the config
	// file (besides its subscriptions), for /alerts and /silences.
	StaticRoutes map[int64][]string
	Pacer        Pacer
	Now          func() time.Time
}

// Actions handles inline buttons: it makes their keyboards, answers their
// presses and keeps acks in step with Alertmanager. It is safe for
// concurrent use.
type Actions struct {
	api       ActionAPI
	store     ActionStore
	cfg       ActionsConfig
	log       *slog.Logger
	admins    *cache.Cache // "chat:user" → bool, from getChatMember
	metrics   *actionMetrics
	receivers receivers // Alertmanager receivers seen per route, for /alerts

	wg      sync.WaitGroup // presses being carried out
	busy    chan struct{}  // bounds concurrent Alertmanager calls
	pending pendingSends   // messages with buttons not yet recorded as sent
}

// NewActions builds Actions.
func NewActions(api ActionAPI, st ActionStore, cfg ActionsConfig, l *slog.Logger, reg prometheus.Registerer) *Actions {
	if cfg.CallbackTTL == 0 {
		cfg.CallbackTTL = 30 * 24 * time.Hour
	}
	if cfg.AnswerWithin == 0 {
		cfg.AnswerWithin = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Actions{
		api: api, store: st, cfg: cfg, log: l.With("component", "actions"),
		admins:  cache.New(time.Minute, 5*time.Minute),
		metrics: newActionMetrics(reg),
		busy:    make(chan struct{}, 16),
	}
}

// pace waits for a send slot in chat; false if ctx ended first.
func (a *Actions) pace(ctx context.Context, chatID int64) bool {
	if a.cfg.Pacer == nil {
		return true
	}
	return a.cfg.Pacer.Wait(ctx, chatID) == nil
}

// Wait waits for the presses under way (at shutdown).
func (a *Actions) Wait() { a.wg.Wait() }

// Button actions, stored in callback records.
const (
	actAck         = "ack"
	actUnack       = "unack"
	actSilenceMenu = "silence_menu"
	actSilence     = "silence"
	actCancel      = "cancel"
	actUnsilence   = "unsilence"
)

// authorize decides whether user may act on a message of route in chat.
func (a *Actions) authorize(ctx context.Context, ra RouteActions, chatID int64, user telegram.User) (bool, error) {
	if len(ra.AllowedUsers) == 0 && !ra.ChatAdmins {
		return true, nil
	}
	if slices.Contains(ra.AllowedUsers, user.ID) {
		return true, nil
	}
	if !ra.ChatAdmins {
		return false, nil
	}
	if chatID == user.ID { // a private chat: its only member owns it
		return true, nil
	}
	key := fmt.Sprintf("%d:%d", chatID, user.ID)
	if v, ok := a.admins.Get(key); ok {
		return v.(bool), nil
	}
	member, err := a.api.GetChatMember(ctx, chatID, user.ID)
	if err != nil {
		return false, fmt.Errorf("getChatMember: %w", err)
	}
	admin := member.Status == telegram.MemberCreator || member.Status == telegram.MemberAdministrator
	a.admins.SetDefault(key, admin)
	return admin, nil
}

// actor names a Telegram user in silences and notes: @username, or the
// name and id.
func actor(u telegram.User) string {
	if u.Username != "" {
		return "@" + u.Username
	}
	return userName(&u)
}
