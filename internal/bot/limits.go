package bot

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/patrickmn/go-cache"

	"github.com/alertgram/alertgram/internal/telegram"
)

const slowDownText = "Please slow down: I answer only a few commands per minute and ignore the rest for a while."

// commandLimits counts commands in fixed windows, one per key, that start
// at the key's first counted command: "chat:ID" for a chat, "from:…" for
// a sender across chats and "start:ID" for a chat's /start attempts. The
// windows run on Options.Now; go-cache only forgets idle keys, so memory
// stays bounded by the commands of one window. It is used under
// Bot.handling only.
type commandLimits struct {
	counts *cache.Cache // key → *window
	now    func() time.Time
}

// window is one key's commands since start.
type window struct {
	start  time.Time
	n      int
	warned bool // the "slow down" answer went out in this window
}

// quota is one limit a command counts against.
type quota struct {
	key    string
	limit  int
	length time.Duration
}

func newCommandLimits(now func() time.Time) *commandLimits {
	return &commandLimits{counts: cache.New(time.Minute, 5*time.Minute), now: now}
}

// window returns key's current window, starting a new one when the last
// has ended (or the clock went back).
func (c *commandLimits) window(q quota) *window {
	now := c.now()
	if v, ok := c.counts.Get(q.key); ok {
		if w := v.(*window); !now.Before(w.start) && now.Sub(w.start) < q.length {
			return w
		}
	}
	w := &window{start: now}
	c.counts.Set(q.key, w, q.length)
	return w
}

// quotas are the limits a command cmd in m counts against: its chat's, its
// sender's and, for /start, the chat's /start attempts.
func (b *Bot) quotas(m *telegram.Message, cmd string) []quota {
	qs := []quota{{key: fmt.Sprintf("chat:%d", m.Chat.ID), limit: b.opts.ChatCommands, length: b.opts.CommandWindow}}
	if s := sender(m); s != "" {
		qs = append(qs, quota{key: "from:" + s, limit: b.opts.UserCommands, length: b.opts.CommandWindow})
	}
	if cmd == "start" {
		qs = append(qs, quota{key: fmt.Sprintf("start:%d", m.Chat.ID), limit: b.opts.StartLimit, length: b.opts.StartWindow})
	}
	return qs
}

// sender identifies who gave a command across chats. Anonymous group
// admins and channels post as a chat (sender_chat) under a placeholder
// user shared by all of them, so the chat is the sender then.
func sender(m *telegram.Message) string {
	switch {
	case m.SenderChat != nil:
		return fmt.Sprintf("chat:%d", m.SenderChat.ID)
	case m.From != nil:
		return fmt.Sprintf("user:%d", m.From.ID)
	}
	return ""
}

// limited reports whether cmd in m is over one of its limits. The first
// command refused in a window of its chat and of the exceeded limit is
// answered once with a request to slow down; later ones get silence.
func (b *Bot) limited(l *slog.Logger, m *telegram.Message, cmd string) bool {
	qs := b.quotas(m, cmd)
	for _, q := range qs {
		w := b.limits.window(q)
		if w.n < q.limit {
			continue
		}
		chat := b.limits.window(qs[0])
		if w.warned || chat.warned {
			l.Debug("command over its limit; ignored", "limit", q.key)
			return true
		}
		w.warned, chat.warned = true, true
		l.Warn("command over its limit; asked to slow down, further ones are ignored", "limit", q.key,
			"max", q.limit, "per", q.length)
		b.reply(m, slowDownText)
		return true
	}
	return false
}

// count counts an answered command against its limits. A command whose
// handling failed (the update will be delivered again) is not counted, so
// that redeliveries do not spend the chat's budget.
func (b *Bot) count(m *telegram.Message, cmd string) {
	for _, q := range b.quotas(m, cmd) {
		b.limits.window(q).n++
	}
}
