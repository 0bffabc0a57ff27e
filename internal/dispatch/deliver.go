package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// deliverDue claims a batch of due deliveries and sends them: chats in
// parallel, each chat's messages in order.
func (d *Dispatcher) deliverDue(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	now := d.cfg.Now()
	batch, err := d.outbox.ClaimDeliveries(ctx, d.cfg.Owner, now, now.Add(d.cfg.Lease), d.cfg.BatchSize)
	if err != nil {
		d.logStoreErr(ctx, "claiming deliveries", err)
		return
	}
	byChat := map[int64][]store.Delivery{}
	var order []int64
	for _, del := range batch {
		if _, seen := byChat[del.Target.ChatID]; !seen {
			order = append(order, del.Target.ChatID)
		}
		byChat[del.Target.ChatID] = append(byChat[del.Target.ChatID], del)
	}
	var wg sync.WaitGroup
	for _, chat := range order {
		wg.Add(1)
		go func(dels []store.Delivery) {
			defer wg.Done()
			for _, del := range dels {
				d.deliver(ctx, del)
			}
		}(byChat[chat])
	}
	wg.Wait()
	if len(batch) == d.cfg.BatchSize {
		d.poke() // more may be due
	}
}

// deliver sends one delivery and records the outcome. The send itself is
// not cancelled by shutdown (only bounded by SendTimeout): aborting a
// request Telegram may already have processed would risk a duplicate.
func (d *Dispatcher) deliver(ctx context.Context, del store.Delivery) {
	l := d.log.With("delivery_id", del.ID, "chat_id", del.Target.ChatID, "route", del.Route, "group_key", del.GroupKey)
	if until, paused := d.pausedUntil(del.Target.ChatID); paused {
		d.retry(ctx, l, del, until, "chat paused after 429")
		return
	}
	if ctx.Err() != nil {
		return // released at shutdown
	}
	var g alert.Group
	if err := json.Unmarshal(del.Payload, &g); err != nil {
		d.fail(ctx, l, del, "undecodable payload: "+err.Error())
		return
	}
	// Neither the send nor the recording of its outcome is cut short by
	// shutdown: a message Telegram accepted but the store did not record
	// would be sent again after the restart.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.SendTimeout)
	defer cancel()
	msg, err := d.send(sendCtx, l, del, &g)
	recordCtx, cancelRecord := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancelRecord()
	d.record(recordCtx, l, del, msg, err)
}

// recordTimeout bounds writing a send's outcome during shutdown.
const recordTimeout = 10 * time.Second

// send renders and sends g, falling back once to plain text when the
// template fails or Telegram cannot parse the formatted text, and once to
// the chat's main thread when the configured forum topic does not exist.
func (d *Dispatcher) send(ctx context.Context, l *slog.Logger, del store.Delivery, g *alert.Group) (telegram.Message, error) {
	spec := d.spec(del.Route)
	msg, err := d.renderer.Render(g, spec.Template, spec.ParseMode)
	if err != nil {
		l.Error("template failed, sending plain-text fallback", "template", spec.Template, "err", err)
		msg = d.renderer.Fallback(g)
	}
	p := telegram.SendMessageParams{
		ChatID:             del.Target.ChatID,
		MessageThreadID:    del.Target.ThreadID,
		Text:               msg.Text,
		ParseMode:          string(msg.ParseMode),
		LinkPreviewOptions: &telegram.LinkPreviewOptions{IsDisabled: true},
	}
	sent, err := d.sender.SendMessage(ctx, p)
	if telegram.IsParseError(err) && p.ParseMode != "" {
		l.Error("telegram rejected formatted text, resending as plain text", "err", err)
		d.metrics.fallbacks.Inc()
		fb := d.renderer.Fallback(g)
		p.Text, p.ParseMode = fb.Text, string(fb.ParseMode)
		sent, err = d.sender.SendMessage(ctx, p)
	}
	if isThreadMissing(err) && p.MessageThreadID != 0 {
		l.Warn("forum topic not found, sending to the chat's main thread", "thread_id", p.MessageThreadID)
		p.MessageThreadID = 0
		sent, err = d.sender.SendMessage(ctx, p)
	}
	return sent, err
}

func isThreadMissing(err error) bool {
	var apiErr *telegram.APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Description, "message thread not found")
}

// record stores the outcome of a send, classifying Telegram's answer.
func (d *Dispatcher) record(ctx context.Context, l *slog.Logger, del store.Delivery, msg telegram.Message, err error) {
	now := d.cfg.Now()
	d.metrics.observeResult(err)
	if err == nil {
		if err := d.outbox.MarkDelivered(ctx, del.ID, msg.MessageID, now); err != nil {
			d.logStoreErr(ctx, "marking delivered", err)
		}
		d.metrics.latency.Observe(now.Sub(del.AcceptedAt).Seconds())
		l.Debug("delivered", "message_id", msg.MessageID, "attempts", del.Attempts)
		return
	}
	if wait, ok := telegram.RetryAfter(err); ok {
		until := now.Add(wait)
		d.pause(del.Target.ChatID, until)
		d.retry(ctx, l, del, until, err.Error())
		return
	}
	if to, ok := telegram.MigrateTo(err); ok {
		d.migrate(ctx, l, del, to)
		return
	}
	if telegram.IsForbidden(err) {
		d.fail(ctx, l, del, err.Error())
		if d.events.Gone != nil {
			d.events.Gone(ctx, del.Target.ChatID, err.Error())
		}
		return
	}
	if telegram.IsPermanent(err) {
		d.fail(ctx, l, del, err.Error())
		return
	}
	d.retry(ctx, l, del, now.Add(d.backoff(del.Attempts)), err.Error())
}

func (d *Dispatcher) migrate(ctx context.Context, l *slog.Logger, del store.Delivery, to int64) {
	l.Warn("group was upgraded to a supergroup; moving its deliveries", "new_chat_id", to)
	if _, err := d.outbox.RetargetDeliveries(ctx, del.Target.ChatID, to); err != nil {
		d.logStoreErr(ctx, "retargeting deliveries", err)
	}
	if d.events.Migrated != nil {
		d.events.Migrated(ctx, del.Target.ChatID, to)
	}
	d.retry(ctx, l, del, d.cfg.Now(), "chat migrated to "+fmt.Sprint(to))
}

func (d *Dispatcher) retry(ctx context.Context, l *slog.Logger, del store.Delivery, next time.Time, reason string) {
	l.Warn("delivery will be retried", "at", next, "attempts", del.Attempts, "reason", reason)
	if err := d.outbox.RetryDelivery(ctx, del.ID, next, reason); err != nil {
		d.logStoreErr(ctx, "scheduling retry", err)
	}
}

func (d *Dispatcher) fail(ctx context.Context, l *slog.Logger, del store.Delivery, reason string) {
	l.Error("delivery failed permanently", "reason", reason)
	if err := d.outbox.FailDelivery(ctx, del.ID, reason); err != nil {
		d.logStoreErr(ctx, "marking failed", err)
	}
}

// backoff grows exponentially with attempts (1s, 2s, 4s, ...) up to MaxBackoff.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	if attempts > 20 {
		return d.cfg.MaxBackoff
	}
	b := time.Second << max(attempts-1, 0)
	return min(b, d.cfg.MaxBackoff)
}

func (d *Dispatcher) pause(chat int64, until time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if until.After(d.paused[chat]) {
		d.paused[chat] = until
	}
}

func (d *Dispatcher) pausedUntil(chat int64) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	until, ok := d.paused[chat]
	if ok && !d.cfg.Now().Before(until) {
		delete(d.paused, chat)
		return time.Time{}, false
	}
	return until, ok
}
