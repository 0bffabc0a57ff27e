package dispatch

import (
	"context"
	"errors"

	"log/slog"
	"strings"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// recordTimeout bounds writing a send's outcome during shutdown.
const recordTimeout = 10 * time.Second

// contextForRecording outlives shutdown, bounded: neither a send under way
// nor the recording of its outcome is cut short.
func contextForRecording(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// single sends one alert group. A resolved group whose original message is
// known edits that message in place and, with send_resolved, posts a short
// reply threaded to it; anything else is a new message.
func (d *Dispatcher) single(ctx context.Context, it item) bool {
	l := d.logFor(it.del)
	if it.g.Status == alert.StatusResolved {
		if ref, ok := d.ref(ctx, it.del); ok {
			return d.editResolved(ctx, l, it, ref)
		}
	}
	spec := d.spec(it.del.Route)
	msg := d.render(l, it.g, spec, spec.Template)
	sent, err := d.send(ctx, l, it.del.Target, msg, silent(spec, it.g), nil, it.g)
	if !d.record(ctx, l, []store.Delivery{it.del}, sent, err) {
		return false
	}
	d.metrics.sent.WithLabelValues("single").Inc()
	d.putRef(ctx, it.del, it.g, sent.MessageID, false)
	return true
}

// editResolved turns the original message into its resolved form. If the
// original is gone, a new message is sent instead.
func (d *Dispatcher) editResolved(ctx context.Context, l *slog.Logger, it item, ref store.MessageRef) bool {
	spec := d.spec(it.del.Route)
	msg := d.render(l, it.g, spec, spec.Template)
	_, err := d.edit(ctx, l, it.del.Target.ChatID, ref.MessageID, msg, it.g)
	if telegram.IsMessageMissing(err) {
		l.Info("original message is gone; sending a new one", "message_id", ref.MessageID)
		sent, err := d.send(ctx, l, it.del.Target, msg, true, nil, it.g)
		if !d.record(ctx, l, []store.Delivery{it.del}, sent, err) {
			return false
		}
		d.putRef(ctx, it.del, it.g, sent.MessageID, false)
		return true
	}
	if !d.record(ctx, l, []store.Delivery{it.del}, telegram.Message{MessageID: ref.MessageID}, err) {
		return false
	}
	d.metrics.edits.Inc()
	d.putRef(ctx, it.del, it.g, ref.MessageID, false)
	if spec.SendResolved && ref.Status != string(alert.StatusResolved) {
		d.replyResolved(ctx, l, it, spec, ref.MessageID)
	}
	return true
}

// replyResolved posts the short "resolved" notice threaded to the original.
// Its failure is only logged: the edited original already shows the state.
func (d *Dispatcher) replyResolved(ctx context.Context, l *slog.Logger, it item, spec RouteSpec, original int64) {
	if err := d.cfg.Pacer.Wait(ctx, it.del.Target.ChatID); err != nil {
		return
	}
	msg := d.render(l, it.g, spec, d.templateFor(spec.Template, "resolved_reply"))
	reply := &telegram.ReplyParameters{MessageID: original, AllowSendingWithoutReply: true}
	if _, err := d.send(ctx, l, it.del.Target, msg, true, reply, it.g); err != nil {
		d.metrics.observeResult(err)
		l.Warn("resolved reply failed; the original message shows the resolution", "err", err)
		return
	}
	d.metrics.sent.WithLabelValues("resolved_reply").Inc()
}

// digest sends several alert groups as one message; those that do not fit
// are returned for the next message.
func (d *Dispatcher) digest(ctx context.Context, items []item) ([]store.Delivery, bool) {
	first := items[0].del
	l := d.log.With("chat_id", first.Target.ChatID, "route", first.Route, "groups", len(items))
	spec := d.spec(first.Route)
	groups := make([]*alert.Group, len(items))
	for i, it := range items {
		groups[i] = it.g
	}
	dg, err := d.renderer.RenderDigest(groups, spec.Template, spec.ParseMode)
	if err != nil {
		l.Error("digest template failed; sending the oldest group alone", "err", err)
		return deliveries(items[1:]), d.single(ctx, items[0])
	}
	shown := make([]item, 0, len(dg.Included))
	shownGroups := make([]*alert.Group, 0, len(dg.Included))
	inDigest := map[int]bool{}
	for _, i := range dg.Included {
		shown = append(shown, items[i])
		shownGroups = append(shownGroups, groups[i])
		inDigest[i] = true
	}
	var left []store.Delivery
	for i, it := range items {
		if !inDigest[i] {
			left = append(left, it.del)
		}
	}
	sent, err := d.sendDigest(ctx, l, first.Target, dg.Message, silent(spec, shownGroups...), shownGroups)
	if !d.record(ctx, l, deliveries(shown), sent, err) {
		return left, false
	}
	d.metrics.sent.WithLabelValues("digest").Inc()
	d.metrics.coalesced.WithLabelValues("digest").Add(float64(len(shown) - 1))
	for _, it := range shown {
		d.putRef(ctx, it.del, it.g, sent.MessageID, true)
	}
	l.Info("sent digest", "shown", len(shown), "deferred", len(left), "message_id", sent.MessageID)
	return left, true
}

func (d *Dispatcher) sendDigest(ctx context.Context, l *slog.Logger, to store.Target, msg render.Message, quiet bool, groups []*alert.Group) (telegram.Message, error) {
	return d.sendWithFallback(ctx, l, to, msg, quiet, nil, func() render.Message {
		var b strings.Builder
		for _, g := range groups {
			b.WriteString(d.renderer.Fallback(g).Text + "\n\n")
		}
		return render.Message{Text: truncateFallback(b.String())}
	})
}

// render renders g with template name, falling back to plain text when the
// template fails, so a broken template never loses an alert.
func (d *Dispatcher) render(l *slog.Logger, g *alert.Group, spec RouteSpec, name string) render.Message {
	msg, err := d.renderer.Render(g, name, spec.ParseMode)
	if err != nil {
		l.Error("template failed, using the plain-text fallback", "template", name, "err", err)
		return d.renderer.Fallback(g)
	}
	return msg
}

// templateFor returns "<base>.<kind>" when the user defined it, else kind.
func (d *Dispatcher) templateFor(base, kind string) string {
	if name := base + "." + kind; d.renderer.Has(name) {
		return name
	}
	return kind
}

// send sends msg, resending once as plain text when Telegram cannot parse
// it, and once without the topic when the forum topic does not exist.
func (d *Dispatcher) send(ctx context.Context, l *slog.Logger, to store.Target, msg render.Message, quiet bool, reply *telegram.ReplyParameters, g *alert.Group) (telegram.Message, error) {
	return d.sendWithFallback(ctx, l, to, msg, quiet, reply, func() render.Message { return d.renderer.Fallback(g) })
}

func (d *Dispatcher) sendWithFallback(ctx context.Context, l *slog.Logger, to store.Target, msg render.Message, quiet bool, reply *telegram.ReplyParameters, fallback func() render.Message) (telegram.Message, error) {
	sendCtx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	p := telegram.SendMessageParams{
		ChatID: to.ChatID, MessageThreadID: to.ThreadID, Text: msg.Text, ParseMode: string(msg.ParseMode),
		DisableNotification: quiet, ReplyParameters: reply,
		LinkPreviewOptions: &telegram.LinkPreviewOptions{IsDisabled: true},
	}
	sent, err := d.sender.SendMessage(sendCtx, p)
	if telegram.IsParseError(err) && p.ParseMode != "" {
		l.Error("telegram rejected formatted text, resending as plain text", "err", err)
		d.metrics.fallbacks.Inc()
		fb := fallback()
		p.Text, p.ParseMode = fb.Text, string(fb.ParseMode)
		sent, err = d.sender.SendMessage(sendCtx, p)
	}
	if isThreadMissing(err) && p.MessageThreadID != 0 {
		l.Warn("forum topic not found, sending to the chat's main thread", "thread_id", p.MessageThreadID)
		p.MessageThreadID = 0
		sent, err = d.sender.SendMessage(sendCtx, p)
	}
	return sent, err
}

// edit replaces a message's text; "message is not modified" is success.
func (d *Dispatcher) edit(ctx context.Context, l *slog.Logger, chat, messageID int64, msg render.Message, g *alert.Group) (telegram.Message, error) {
	sendCtx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	p := telegram.EditMessageTextParams{
		ChatID: chat, MessageID: messageID, Text: msg.Text, ParseMode: string(msg.ParseMode),
		LinkPreviewOptions: &telegram.LinkPreviewOptions{IsDisabled: true},
	}
	m, err := d.sender.EditMessageText(sendCtx, p)
	if telegram.IsParseError(err) && p.ParseMode != "" {
		l.Error("telegram rejected formatted text in an edit, using plain text", "err", err)
		d.metrics.fallbacks.Inc()
		fb := d.renderer.Fallback(g)
		p.Text, p.ParseMode = fb.Text, string(fb.ParseMode)
		m, err = d.sender.EditMessageText(sendCtx, p)
	}
	if telegram.IsNotModified(err) {
		return m, nil
	}
	return m, err
}

func isThreadMissing(err error) bool {
	var apiErr *telegram.APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Description, "message thread not found")
}

func (d *Dispatcher) putRef(ctx context.Context, del store.Delivery, g *alert.Group, messageID int64, digest bool) {
	err := d.outbox.PutMessageRef(ctx, store.MessageRef{
		ChatID: del.Target.ChatID, ThreadID: del.Target.ThreadID, Route: del.Route, GroupKey: del.GroupKey,
		MessageID: messageID, Status: string(g.Status), Digest: digest, UpdatedAt: d.cfg.Now(),
	})
	if err != nil {
		d.logStoreErr(ctx, "storing message reference", err)
	}
}

// truncateFallback keeps a plain-text digest fallback under Telegram's limit.
func truncateFallback(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= render.MaxTextLength {
		return string(r)
	}
	return string(r[:render.MaxTextLength-1]) + "…"
}
