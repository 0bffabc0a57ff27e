// Package bot handles what users send the Telegram bot: /start with a deep
// link token subscribes a chat (or forum topic) to a route, /stop, /status
// and /help manage it, and membership and migration updates keep
// subscriptions pointing at chats that exist.
package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// API is the part of the Bot API the bot uses.
type API interface {
	SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)
	SetMyCommands(ctx context.Context, commands []telegram.BotCommand, scope *telegram.BotCommandScope) error
	AnswerCallbackQuery(ctx context.Context, p telegram.AnswerCallbackQueryParams) error
}

// Store is the part of the store the bot uses.
type Store interface {
	RedeemLinkToken(ctx context.Context, token string, now time.Time, sub store.Subscription) (store.Subscription, error)
	ChatSubscriptions(ctx context.Context, chatID int64) ([]store.Subscription, error)
	Unsubscribe(ctx context.Context, chatID, threadID int64, allThreads bool, route string) (int, error)
	DeactivateChat(ctx context.Context, chatID int64, reason string) (int, error)
	MigrateChat(ctx context.Context, from, to int64) (int, error)
	UpdateHandled(ctx context.Context, updateID int64) (bool, error)
	MarkUpdateHandled(ctx context.Context, updateID int64, at time.Time) error
	PruneHandledUpdates(ctx context.Context, before time.Time) (int, error)
	PruneLinkTokens(ctx context.Context, before time.Time) (int, error)
}

// LinkTokenRetention is how long a link token is kept after it expired, so
// that opening an old link is answered "expired" or "already used" rather
// than "unknown" for a while; then it is deleted.
const LinkTokenRetention = 30 * 24 * time.Hour

// HandledUpdateRetention is how long the id of a handled update is kept to
// recognise a redelivery. Telegram keeps an unconfirmed update for at most
// 24 hours, so a redelivery (getUpdates after a crash, a webhook retry)
// comes within 24 hours of the update and finds its id recorded. Telegram
// chooses update ids at random only after a week without updates; by then
// every recorded id is older than 48 hours, and HandleUpdate prunes before
// it looks an id up (when the last prune is an hour old), so a 48-hour
// window cannot confuse a new id with an old one.
const HandledUpdateRetention = 48 * time.Hour

// pruneEvery is how often HandleUpdate deletes expired update ids.
const pruneEvery = time.Hour

// Commands is the bot's command menu (setMyCommands).
var Commands = []telegram.BotCommand{
	{Command: "start", Description: "Subscribe this chat with a link token from your operator"},
	{Command: "stop", Description: "Unsubscribe this chat (all routes, or /stop ROUTE)"},
	{Command: "status", Description: "List this chat's alert subscriptions"},
	{Command: "alerts", Description: "What is firing for this chat's routes"},
	{Command: "silences", Description: "Silences made from Telegram, with Unsilence buttons"},
	{Command: "help", Description: "What this bot does"},
}

// AllowedUpdates are the update types the bot asks Telegram for.
var AllowedUpdates = []string{"message", "callback_query", "my_chat_member"}

// Options configure a Bot.
type Options struct {
	// ChatCommands and UserCommands are how many commands one chat, and
	// one sender across chats, may give per CommandWindow (default 10 each
	// per minute); StartLimit is how many /start attempts one chat may
	// make per StartWindow (default 5 per minute). A command over a limit
	// is ignored; the first one ignored in a window is answered, once, with
	// a request to slow down.
	ChatCommands  int
	UserCommands  int
	CommandWindow time.Duration
	StartLimit    int
	StartWindow   time.Duration
	// Pacer is the dispatcher's: the bot's answers count against the same
	// per-chat limits as alert messages, so that a command typed during a
	// storm draws no 429. With WaitLow (ratelimit.Limiter) they wait at low
	// priority, behind the chat's alerts. nil: no pacing (tests).
	Pacer Pacer
	// ReplyWorkers is how many chats' answers are sent at once, off the
	// update loop, from a queue of at most ReplyQueue answers (default 64;
	// one that finds it full is dropped and logged). 0 sends an update's
	// answers before HandleUpdate returns, though not under the handling
	// lock (tests that read answers right after handling); alertgram uses
	// DefaultReplyWorkers.
	ReplyWorkers int
	ReplyQueue   int
	// ReplyTimeout bounds one answer: its pacing waits, Telegram and, for
	// /alerts and /silences, Alertmanager (default 1 minute).
	ReplyTimeout time.Duration
	Now          func() time.Time
}

// Pacer waits for a send slot in a chat (internal/ratelimit.Limiter).
type Pacer interface {
	Wait(ctx context.Context, chatID int64) error
}

// Bot handles updates. It is safe for concurrent use.
type Bot struct {
	api     API
	store   Store
	opts    Options
	log     *slog.Logger
	limits  *commandLimits // commands per chat, sender and /start; under handling
	replies *replyQueue    // nil: answers are sent by HandleUpdate
	metrics *metrics

	username atomic.Value // string: the bot's username, once getMe answered
	actions  *Actions     // inline buttons; nil: presses are answered "expired"

	// handling serialises HandleUpdate, so that a redelivery racing the
	// first delivery (a webhook retry while it is still handled) finds it
	// handled. It guards lastPrune and pending, and is never held while an
	// answer waits for its pacing slot or for Telegram.
	handling  sync.Mutex
	lastPrune time.Time  // Options.Now of the last prune; zero before the first
	pending   []replyJob // the answers of the update being handled
}

// New builds a bot.
func New(api API, st Store, opts Options, l *slog.Logger, reg prometheus.Registerer) *Bot {
	if opts.StartLimit == 0 {
		opts.StartLimit = 5
	}
	if opts.StartWindow == 0 {
		opts.StartWindow = time.Minute
	}
	opts.ChatCommands = cmp.Or(opts.ChatCommands, 10)
	opts.UserCommands = cmp.Or(opts.UserCommands, 10)
	opts.CommandWindow = cmp.Or(opts.CommandWindow, time.Minute)
	opts.ReplyQueue = cmp.Or(opts.ReplyQueue, 64)
	opts.ReplyTimeout = cmp.Or(opts.ReplyTimeout, time.Minute)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Bot{
		api: api, store: st, opts: opts,
		log:     l.With("component", "bot"),
		limits:  newCommandLimits(opts.Now),
		metrics: newMetrics(reg),
	}
	if opts.ReplyWorkers > 0 {
		b.replies = newReplyQueue(opts.ReplyWorkers, opts.ReplyQueue, opts.ReplyTimeout, b.log, b.metrics)
	}
	return b
}

// Stop stops answering: it waits a moment (at most 2 s, or until ctx
// ends) for the answers queued, drops the rest, cancels those under way
// and returns once no reply worker runs. Answers to updates handled after
// Stop are dropped. Call it once updates no longer arrive.
func (b *Bot) Stop(ctx context.Context) {
	if b.replies != nil {
		b.replies.stop(ctx)
	}
}

// UseActions makes the bot handle inline button presses with a. Call it
// before updates arrive.
func (b *Bot) UseActions(a *Actions) { b.actions = a }

// onCallback hands a button press to Actions; without them every press is
// still answered, so the client's spinner stops.
func (b *Bot) onCallback(ctx context.Context, q *telegram.CallbackQuery) error {
	if b.actions != nil {
		return b.actions.HandleCallback(ctx, q)
	}
	err := b.api.AnswerCallbackQuery(ctx, telegram.AnswerCallbackQueryParams{CallbackQueryID: q.ID, Text: "Buttons are not enabled."})
	if err != nil {
		b.log.Warn("answerCallbackQuery failed", "err", err)
	}
	return nil
}

// SetUsername records the bot's username (from getMe): commands addressed
// to other bots (/cmd@other) are ignored, and links name it.
func (b *Bot) SetUsername(name string) { b.username.Store(name) }

// Username is the bot's username, or "" before getMe answered.
func (b *Bot) Username() string {
	name, _ := b.username.Load().(string)
	return name
}

// SetCommands publishes the command menu.
func (b *Bot) SetCommands(ctx context.Context) error {
	return b.api.SetMyCommands(ctx, Commands, nil)
}

// HandleUpdate handles one update once: an update whose id was recorded as
// handled (a redelivery after a crash or a webhook retry) is ignored. Ids
// are a set, not a cursor, because they are not monotonic: after a week
// without updates Telegram restarts them at a random value, which may be
// lower. It returns an error only when the update should be delivered
// again (the store failed); user mistakes are answered, not returned. An
// update whose handling failed is not recorded, so its redelivery is
// handled.
//
// Answers are sent after the handling, without the handling lock: queued
// for the reply workers (HandleUpdate does not wait for them) or, without
// workers, sent before HandleUpdate returns. Either way no answer waiting
// for its pacing slot or for Telegram holds up another update, and an
// answer is at most once: one lost in a crash is not sent again.
func (b *Bot) HandleUpdate(ctx context.Context, u telegram.Update) error {
	answers, err := b.handle(ctx, u)
	for _, j := range answers {
		if b.replies != nil {
			b.replies.submit(j)
		} else {
			runJob(ctx, b.opts.ReplyTimeout, j)
		}
	}
	return err
}

// handle handles u under the handling lock and returns its answers.
func (b *Bot) handle(ctx context.Context, u telegram.Update) ([]replyJob, error) {
	b.handling.Lock()
	defer b.handling.Unlock()
	err := b.handleOnce(ctx, u)
	answers := b.pending
	b.pending = nil
	return answers, err
}

// handleOnce handles u unless it was handled, and records it handled; call
// with b.handling held.
func (b *Bot) handleOnce(ctx context.Context, u telegram.Update) error {
	b.pruneHandled(ctx)
	handled, err := b.store.UpdateHandled(ctx, u.UpdateID)
	if err != nil {
		return fmt.Errorf("looking up update %d: %w", u.UpdateID, err)
	}
	if handled {
		b.metrics.updates.WithLabelValues("duplicate").Inc()
		return nil
	}
	if err := b.dispatch(ctx, u); err != nil {
		return err
	}
	if err := b.store.MarkUpdateHandled(ctx, u.UpdateID, b.opts.Now()); err != nil {
		return fmt.Errorf("recording update %d as handled: %w", u.UpdateID, err)
	}
	return nil
}

// pruneHandled deletes the ids handled more than HandledUpdateRetention
// ago and the link tokens expired more than LinkTokenRetention ago, at most
// once per pruneEvery; call with b.handling held. It runs
// before the lookup, so the first update after a quiet week is looked up
// among the last 49 hours' ids only. A failure is logged and retried at the
// next prune: the update at hand does not depend on it.
func (b *Bot) pruneHandled(ctx context.Context) {
	now := b.opts.Now()
	if !b.lastPrune.IsZero() && now.Sub(b.lastPrune) < pruneEvery {
		return
	}
	b.lastPrune = now
	n, err := b.store.PruneHandledUpdates(ctx, now.Add(-HandledUpdateRetention))
	if err != nil {
		b.log.Warn("pruning handled update ids failed; will retry", "err", err, "in", pruneEvery)
		return
	}
	if n > 0 {
		b.log.Debug("pruned handled update ids", "deleted", n)
	}
	if n, err = b.store.PruneLinkTokens(ctx, now.Add(-LinkTokenRetention)); err != nil {
		b.log.Warn("pruning expired link tokens failed; will retry", "err", err, "in", pruneEvery)
		return
	}
	if n > 0 {
		b.log.Debug("pruned expired link tokens", "deleted", n)
	}
}

func (b *Bot) dispatch(ctx context.Context, u telegram.Update) error {
	switch {
	case u.Message != nil:
		b.metrics.updates.WithLabelValues("message").Inc()
		return b.onMessage(ctx, u.Message)
	case u.MyChatMember != nil:
		b.metrics.updates.WithLabelValues("my_chat_member").Inc()
		return b.onMembership(ctx, u.MyChatMember)
	case u.CallbackQuery != nil:
		b.metrics.updates.WithLabelValues("callback_query").Inc()
		return b.onCallback(ctx, u.CallbackQuery)
	}
	b.metrics.updates.WithLabelValues("other").Inc()
	return nil
}

// onMessage handles commands and the service message of a group upgraded to
// a supergroup.
func (b *Bot) onMessage(ctx context.Context, m *telegram.Message) error {
	if m.MigrateToChatID != 0 {
		return b.migrate(ctx, m.Chat.ID, m.MigrateToChatID)
	}
	cmd, arg, ok := b.parseCommand(m)
	if !ok || !b.answers(cmd) {
		return nil // not ours to answer
	}
	l := b.log.With("chat_id", m.Chat.ID, "command", cmd, "user", userName(m.From))
	if b.limited(l, m, cmd) {
		b.metrics.commands.WithLabelValues(cmd, "limited").Inc()
		return nil
	}
	var err error
	switch cmd {
	case "start":
		err = b.start(ctx, l, m, arg)
	case "stop":
		err = b.stop(ctx, l, m, arg)
	case "status":
		err = b.status(ctx, m)
	case "alerts", "silences":
		b.list(l, m, cmd)
		b.count(m, cmd)
		return nil // its result is counted once listed
	case "help":
		b.reply(m, helpText)
	}
	result := "ok"
	if err != nil {
		result = "error"
	} else {
		b.count(m, cmd)
	}
	b.metrics.commands.WithLabelValues(cmd, result).Inc()
	return err
}

// parseCommand extracts "/cmd[@bot] arg" from a message. Commands addressed
// to another bot are not ours.
func (b *Bot) parseCommand(m *telegram.Message) (cmd, arg string, ok bool) {
	text := strings.TrimSpace(m.Text)
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	word, rest, _ := strings.Cut(text, " ")
	cmd, target, addressed := strings.Cut(word[1:], "@")
	if me := b.Username(); addressed && me != "" && !strings.EqualFold(target, me) {
		return "", "", false
	}
	return strings.ToLower(cmd), strings.TrimSpace(rest), cmd != ""
}

// thread is the forum topic a message was sent in (0 outside topics).
func thread(m *telegram.Message) int64 {
	if m.IsTopicMessage {
		return m.MessageThreadID
	}
	return 0
}

func userName(u *telegram.User) string {
	if u == nil {
		return "unknown"
	}
	if u.Username != "" {
		return fmt.Sprintf("@%s (%d)", u.Username, u.ID)
	}
	return fmt.Sprintf("%s (%d)", strings.TrimSpace(u.FirstName+" "+u.LastName), u.ID)
}

func chatTitle(c telegram.Chat) string {
	if c.Title != "" {
		return c.Title
	}
	if c.Username != "" {
		return "@" + c.Username
	}
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

// isStoreErr tells store failures (retry the update) from answers.
func isStoreErr(err error) bool {
	return err != nil && !errors.Is(err, store.ErrTokenUnknown) && !errors.Is(err, store.ErrTokenExpired) &&
		!errors.Is(err, store.ErrTokenUsed) && !errors.Is(err, store.ErrTokenWrongChat)
}
