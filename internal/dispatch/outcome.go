package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// record stores the outcome of one message carrying dels. It returns false
// when the chat must stop for now.
func (d *Dispatcher) record(ctx context.Context, l *slog.Logger, dels []store.Delivery, sent telegram.Message, err error) bool {
	now := d.cfg.Now()
	d.metrics.observeResult(err)
	if err == nil {
		d.delivered(ctx, l, dels, sent.MessageID, now)
		return true
	}
	chat := dels[0].Target.ChatID
	if wait, ok := telegram.RetryAfter(err); ok {
		until := now.Add(wait)
		d.cfg.Pacer.Pause(chat, until)
		if d.throttle.add(chat, now) {
			l.Warn("429s from several chats: slowing all sends down", "until", until)
			d.cfg.Pacer.PauseAll(until)
		}
		d.retry(ctx, l, dels, until, err.Error())
		return false
	}
	if to, ok := telegram.MigrateTo(err); ok {
		d.migrate(ctx, l, dels, chat, to)
		return false
	}
	if telegram.IsForbidden(err) {
		d.fail(ctx, l, dels, err.Error())
		if d.events.Gone != nil {
			d.events.Gone(ctx, chat, err.Error())
		}
		return false
	}
	if telegram.IsPermanent(err) {
		d.fail(ctx, l, dels, err.Error())
		return true // this message is hopeless; others for the chat may be fine
	}
	d.retry(ctx, l, dels, now.Add(d.backoff(dels[0].Attempts)), err.Error())
	return false
}

func (d *Dispatcher) delivered(ctx context.Context, l *slog.Logger, dels []store.Delivery, messageID int64, now time.Time) {
	ids := make([]int64, len(dels))
	for i, del := range dels {
		ids[i] = del.ID
		d.metrics.latency.Observe(now.Sub(del.AcceptedAt).Seconds())
	}
	if err := d.outbox.MarkDeliveredBatch(ctx, ids, messageID, now); err != nil {
		d.logStoreErr(ctx, "marking delivered", err)
		return
	}
	l.Debug("delivered", "message_id", messageID, "deliveries", len(ids))
}

func (d *Dispatcher) migrate(ctx context.Context, l *slog.Logger, dels []store.Delivery, from, to int64) {
	l.Warn("group was upgraded to a supergroup; moving its deliveries", "new_chat_id", to)
	if _, err := d.outbox.RetargetDeliveries(ctx, from, to); err != nil {
		d.logStoreErr(ctx, "retargeting deliveries", err)
	}
	if d.events.Migrated != nil {
		d.events.Migrated(ctx, from, to)
	}
	d.retry(ctx, l, dels, d.cfg.Now(), fmt.Sprintf("chat migrated to %d", to))
}

func (d *Dispatcher) retry(ctx context.Context, l *slog.Logger, dels []store.Delivery, next time.Time, reason string) {
	l.Warn("delivery will be retried", "at", next, "attempts", dels[0].Attempts, "deliveries", len(dels), "reason", reason)
	for _, del := range dels {
		if err := d.outbox.RetryDelivery(ctx, del.ID, next, reason); err != nil {
			d.logStoreErr(ctx, "scheduling retry", err)
		}
	}
}

func (d *Dispatcher) fail(ctx context.Context, l *slog.Logger, dels []store.Delivery, reason string) {
	l.Error("delivery failed permanently", "reason", reason, "deliveries", len(dels))
	for _, del := range dels {
		if err := d.outbox.FailDelivery(ctx, del.ID, reason); err != nil {
			d.logStoreErr(ctx, "marking failed", err)
		}
	}
}

// backoff grows exponentially with attempts (1s, 2s, 4s, ...) up to MaxBackoff.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	if attempts > 20 {
		return d.cfg.MaxBackoff
	}
	return min(time.Second<<max(attempts-1, 0), d.cfg.MaxBackoff)
}

// throttleWatch notices 429s piling up across chats: then the bot as a
// whole is over Telegram's budget, not one chat, and everything slows down.
// 429s from one chat only pause that chat.
type throttleWatch struct {
	mu     sync.Mutex
	recent map[int64]time.Time // chat → its latest 429
}

const (
	throttleWindow = 10 * time.Second
	throttleChats  = 3 // distinct chats with a 429 within the window
)

func newThrottleWatch() *throttleWatch { return &throttleWatch{recent: map[int64]time.Time{}} }

// add records a 429 for chat at now and reports whether enough distinct
// chats drew one within the window.
func (w *throttleWatch) add(chat int64, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c, t := range w.recent {
		if now.Sub(t) >= throttleWindow {
			delete(w.recent, c)
		}
	}
	w.recent[chat] = now
	return len(w.recent) >= throttleChats
}
