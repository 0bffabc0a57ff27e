package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

const helpText = `I forward alerts from Prometheus Alertmanager and Grafana to this chat.

/start TOKEN — subscribe this chat (or forum topic) with a link from your operator (alertgram link)
/stop — unsubscribe from every route; /stop ROUTE — from one
/status — list this chat's subscriptions
/alerts — what is firing for this chat's routes
/silences — silences made from Telegram, with Unsilence buttons
/help — this text`

const noTokenText = `Hi! I deliver alerts, but this chat is not subscribed yet.

Ask your operator for a subscription link (they create one with "alertgram link --route NAME") and open it here, or add me to a group with a "startgroup" link.`

// answers reports whether cmd is a command the bot answers.
func (b *Bot) answers(cmd string) bool {
	switch cmd {
	case "start", "stop", "status", "help":
		return true
	case "alerts", "silences":
		return b.actions != nil
	}
	return false
}

const listFailedText = "Sorry, I could not read this chat's routes just now. Please try again in a minute."

// list answers /alerts or /silences as one answer job: the listing asks
// Alertmanager and sends its own messages, so it runs where answers are
// sent, off the handling lock. A failure (the store) is answered and
// logged; the update is not delivered again for it.
func (b *Bot) list(l *slog.Logger, m *telegram.Message, cmd string) {
	list := b.actions.ListAlerts
	if cmd == "silences" {
		list = b.actions.ListSilences
	}
	b.later(m, func(ctx context.Context, m *telegram.Message) {
		result := "ok"
		if err := list(ctx, m); err != nil {
			result = "error"
			l.Error("listing failed", "err", err)
			sendReply(ctx, b.api, b.opts.Pacer, b.log, m, listFailedText, nil)
		}
		b.metrics.commands.WithLabelValues(cmd, result).Inc()
	})
}

// start redeems a deep-link token. Its attempts are limited per chat
// (Options.StartLimit, see limited) so a chat cannot hammer the token
// table; only answered attempts count.
func (b *Bot) start(ctx context.Context, l *slog.Logger, m *telegram.Message, token string) error {
	if token == "" {
		b.reply(m, noTokenText)
		return nil
	}
	sub, err := b.store.RedeemLinkToken(ctx, token, b.opts.Now(), store.Subscription{
		ChatID: m.Chat.ID, ThreadID: thread(m), ChatTitle: chatTitle(m.Chat), CreatedBy: userName(m.From),
	})
	if isStoreErr(err) {
		// Not counted: the update will be delivered again and must not
		// find the chat's budget spent by our own failure.
		return fmt.Errorf("redeeming link token: %w", err)
	}
	if err != nil {
		l.Info("link token refused", "reason", err)
		b.reply(m, tokenRefusal(err, m.Chat.ID < 0))
		return nil
	}
	l.Info("chat subscribed", "route", sub.Route, "thread_id", sub.ThreadID, "matchers", sub.Matchers)
	b.reply(m, welcome(sub))
	return nil
}

// tokenRefusal explains a link that did not subscribe the chat; inGroup
// tells where it was opened.
func tokenRefusal(err error, inGroup bool) string {
	switch {
	case errors.Is(err, store.ErrTokenWrongChat) && inGroup:
		return "This link subscribes a private chat, not a group. Open it in a private chat with me, or ask your operator for a group link (alertgram link --group)."
	case errors.Is(err, store.ErrTokenWrongChat):
		return "This link is for a group: open it and pick the group to add me to, or ask your operator for a private link."
	case errors.Is(err, store.ErrTokenExpired):
		return "This subscription link has expired. Ask your operator for a new one."
	case errors.Is(err, store.ErrTokenUsed):
		return "This subscription link was already used; each link works once. Ask your operator for a new one."
	}
	return "I don't know this subscription link. Check that you opened the whole link, or ask your operator for a new one."
}

func welcome(s store.Subscription) string {
	var b strings.Builder
	fmt.Fprintf(&b, "✅ Subscribed: alerts for route %q will be posted here", s.Route)
	if s.ThreadID != 0 {
		b.WriteString(" (in this topic)")
	}
	b.WriteString(".\n")
	if len(s.Matchers) > 0 {
		fmt.Fprintf(&b, "Only alerts matching %s.\n", strings.Join(s.Matchers, ", "))
	}
	fmt.Fprintf(&b, "Send /stop %s to unsubscribe, /status to see all subscriptions.", s.Route)
	return b.String()
}

// stop unsubscribes this topic (or, outside topics, the whole chat) from one
// route or all.
func (b *Bot) stop(ctx context.Context, l *slog.Logger, m *telegram.Message, route string) error {
	th := thread(m)
	n, err := b.store.Unsubscribe(ctx, m.Chat.ID, th, th == 0, route)
	if err != nil {
		return fmt.Errorf("unsubscribing: %w", err)
	}
	l.Info("chat unsubscribed", "route", route, "subscriptions", n)
	switch {
	case n == 0 && route != "":
		b.reply(m, fmt.Sprintf("This chat was not subscribed to route %q. /status lists its subscriptions.", route))
	case n == 0:
		b.reply(m, "This chat had no subscriptions.")
	case route != "":
		b.reply(m, fmt.Sprintf("🔕 Unsubscribed from route %q.", route))
	default:
		b.reply(m, fmt.Sprintf("🔕 Unsubscribed (%d subscription(s) ended). Alerts will no longer be posted here.", n))
	}
	return nil
}

func (b *Bot) status(ctx context.Context, m *telegram.Message) error {
	subs, err := b.store.ChatSubscriptions(ctx, m.Chat.ID)
	if err != nil {
		return fmt.Errorf("listing subscriptions: %w", err)
	}
	if len(subs) == 0 {
		b.reply(m, "This chat has no subscriptions. "+strings.SplitN(noTokenText, "\n\n", 2)[1])
		return nil
	}
	var sb strings.Builder
	sb.WriteString("This chat receives alerts for:\n")
	for _, s := range subs {
		fmt.Fprintf(&sb, "• %s", s.Route)
		if s.ThreadID != 0 {
			fmt.Fprintf(&sb, " (topic %d)", s.ThreadID)
		}
		if len(s.Matchers) > 0 {
			fmt.Fprintf(&sb, " — only %s", strings.Join(s.Matchers, ", "))
		}
		fmt.Fprintf(&sb, " — since %s by %s\n", clock(s.CreatedAt), s.CreatedBy)
	}
	b.reply(m, strings.TrimSpace(sb.String()))
	return nil
}

// onMembership deactivates a chat's subscriptions when the bot is removed.
func (b *Bot) onMembership(ctx context.Context, u *telegram.ChatMemberUpdated) error {
	switch u.NewChatMember.Status {
	case telegram.MemberLeft, telegram.MemberKicked:
		return b.ChatGone(ctx, u.Chat.ID, "bot removed from chat: "+u.NewChatMember.Status)
	}
	return nil
}

// ChatGone deactivates a chat's subscriptions: the bot was blocked, kicked
// or the chat deleted. The dispatcher calls it on 403.
func (b *Bot) ChatGone(ctx context.Context, chatID int64, reason string) error {
	n, err := b.store.DeactivateChat(ctx, chatID, reason)
	if err != nil {
		return fmt.Errorf("deactivating chat %d: %w", chatID, err)
	}
	b.log.Warn("chat deactivated", "chat_id", chatID, "subscriptions", n, "reason", reason)
	return nil
}

// ChatMigrated moves subscriptions of a group upgraded to a supergroup.
func (b *Bot) ChatMigrated(ctx context.Context, from, to int64) error {
	return b.migrate(ctx, from, to)
}

func (b *Bot) migrate(ctx context.Context, from, to int64) error {
	n, err := b.store.MigrateChat(ctx, from, to)
	if err != nil {
		return fmt.Errorf("migrating chat %d to %d: %w", from, to, err)
	}
	if n > 0 {
		b.log.Info("chat migrated to supergroup", "chat_id", from, "new_chat_id", to, "subscriptions", n)
	}
	return nil
}
