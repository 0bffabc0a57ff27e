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

// job is one prepared message, rendered before the pacing wait.
type job struct {
	kind     string // single | digest | resolve
	items    []item // the deliveries it carries; a digest's without their groups
	to       store.Target
	spec     RouteSpec
	msg      render.Message
	quiet    bool
	fallback func() render.Message // plain text if Telegram cannot parse msg
	log      *slog.Logger
	// resolve: the original message to edit, whether it is a photo, and
	// the reply to thread to it (nil: none).
	editID    int64
	editPhoto bool
	reply     *render.Message
	// image of a single group's message (photo.go); "" for none.
	image string
	// keyboard of a new single message, and what records it once sent.
	keyboard *telegram.InlineKeyboardMarkup
	onSent   func(ctx context.Context, messageID int64, sent render.Message, photo bool, image string)
	// weight is the payload budget the job keeps until it is done: a
	// single group's, kept decoded until sent; 0 for a digest.
	weight int64
}

// prepareSingle prepares one alert group. A resolved group whose original
// message is known edits it in place and, with send_resolved, gets a short
// reply threaded to it; anything else is a new message.
func (d *Dispatcher) prepareSingle(ctx context.Context, it item) *job {
	spec := d.spec(it.route)
	l := d.logFor(it)
	j := &job{
		kind: "single", items: []item{it}, to: it.to, spec: spec, log: l,
		msg: d.render(l, it.g, spec, spec.Template), quiet: silent(spec, it.g),
		fallback: func() render.Message { return d.renderer.Fallback(it.g) },
		image:    imageOf(it.g),
	}
	if it.g.Status != alert.StatusResolved {
		if d.cfg.Buttons != nil {
			j.keyboard, j.onSent = d.cfg.Buttons.Keyboard(ctx, it.route, it.to, it.g)
		}
		return j
	}
	ref, ok := d.ref(ctx, it)
	if !ok {
		return j
	}
	j.kind, j.editID, j.editPhoto = "resolve", ref.MessageID, ref.Photo
	if spec.SendResolved && ref.Status != string(alert.StatusResolved) {
		reply := d.render(l, it.g, spec, d.templateFor(spec.Template, "resolved_reply"))
		j.reply = &reply
	}
	return j
}

// prepareDigest renders several alert groups as one message; those that do
// not fit are returned for the next message. The job keeps the text, its
// plain-text fallback and the shown deliveries, not their groups: a digest
// waiting for its slot holds one message's worth whatever it shows.
func (d *Dispatcher) prepareDigest(ctx context.Context, items []item) (*job, []item) {
	first := items[0]
	l := d.log.With("chat_id", first.to.ChatID, "route", first.route, "groups", len(items))
	spec := d.spec(first.route)
	groups := make([]*alert.Group, len(items))
	for i, it := range items {
		groups[i] = it.g
	}
	dg, err := d.renderer.RenderDigest(groups, spec.Template, spec.ParseMode)
	if err != nil {
		l.Error("digest template failed; sending the oldest group alone", "err", err)
		return d.prepareSingle(ctx, items[0]), items[1:]
	}
	j := &job{kind: "digest", to: first.to, spec: spec, msg: dg.Message, log: l, items: make([]item, 0, len(dg.Included))}
	inDigest := map[int]bool{}
	var shownGroups []*alert.Group
	for _, i := range dg.Included {
		j.items = append(j.items, items[i])
		shownGroups = append(shownGroups, groups[i])
		inDigest[i] = true
	}
	left := make([]item, 0, len(items)-len(j.items))
	for i, it := range items {
		if !inDigest[i] {
			left = append(left, it)
		}
	}
	j.quiet = silent(spec, shownGroups...)
	var b strings.Builder
	for _, g := range shownGroups {
		b.WriteString(d.renderer.Fallback(g).Text + "\n\n")
	}
	fallback := render.Message{Text: truncateFallback(b.String())}
	j.fallback = func() render.Message { return fallback }
	strip(j.items)
	return j, left
}

// execute sends a prepared job right after its pacing slot and records the
// outcome. It returns false when the chat must stop for now.
func (d *Dispatcher) execute(ctx context.Context, j *job) bool {
	// The outcome is recorded even if shutdown begins: a sent message that
	// is not recorded would be sent again after the restart.
	ctx, cancel := contextForRecording(ctx)
	defer cancel()
	if j.kind == "resolve" {
		return d.executeResolve(ctx, j)
	}
	sent, sh, err := d.sendNew(ctx, j)
	if !d.record(ctx, j.log, deliveries(j.items), sent, err) {
		return false
	}
	if j.onSent != nil {
		j.onSent(ctx, sent.MessageID, sh.msg, sh.photo, sh.image)
	}
	d.metrics.sent.WithLabelValues(j.kind).Inc()
	for _, it := range j.items {
		d.putRef(ctx, it, sent.MessageID, j.kind == "digest", sh.photo)
	}
	if j.kind == "digest" {
		d.metrics.coalesced.WithLabelValues("digest").Add(float64(len(j.items) - 1))
		j.log.Info("sent digest", "shown", len(j.items), "message_id", sent.MessageID)
	}
	return true
}

// executeResolve edits the original message into its resolved form, then
// posts the threaded reply. If the original is gone, a new message takes
// its place (only where send_resolved is on).
func (d *Dispatcher) executeResolve(ctx context.Context, j *job) bool {
	it := j.items[0]
	photo, err := d.editOriginal(ctx, j)
	if telegram.IsMessageMissing(err) {
		if !j.spec.SendResolved {
			d.endAsSuperseded(ctx, []int64{it.id}, "original message gone, and send_resolved is off")
			return true
		}
		j.log.Info("original message is gone; sending a new one", "message_id", j.editID)
		j.kind, j.quiet = "single", true
		return d.execute(ctx, j)
	}
	if !d.record(ctx, j.log, []store.Delivery{it.delivery()}, telegram.Message{MessageID: j.editID}, err) {
		return false
	}
	d.metrics.edits.Inc()
	d.putRef(ctx, it, j.editID, false, photo)
	if d.cfg.Buttons != nil {
		d.cfg.Buttons.GroupResolved(ctx, it.route, it.groupKey)
	}
	if j.reply != nil {
		d.replyResolved(ctx, j, *j.reply)
	}
	return true
}

// replyResolved posts the short "resolved" notice threaded to the original.
// Its failure is only logged: the edited original already shows the state.
func (d *Dispatcher) replyResolved(ctx context.Context, j *job, msg render.Message) {
	if err := d.cfg.Pacer.Wait(ctx, j.to.ChatID); err != nil {
		return
	}
	reply := &telegram.ReplyParameters{MessageID: j.editID, AllowSendingWithoutReply: true}
	g := j.items[0].g
	if _, _, err := d.send(ctx, j.log, j.to, msg, true, reply, nil, func() render.Message { return d.renderer.Fallback(g) }, ""); err != nil {
		d.metrics.observeResult(err)
		j.log.Warn("resolved reply failed; the original message shows the resolution", "err", err)
		return
	}
	d.metrics.sent.WithLabelValues("resolved_reply").Inc()
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

// send sends msg, resending once as plain text (fallback) when Telegram
// cannot parse it, and once without the topic when the forum topic does not
// exist. It returns the message as Telegram accepted it (msg or its
// fallback). A keyboard Telegram refuses is left out rather than the alert.
// image, if any, is the link preview.
func (d *Dispatcher) send(ctx context.Context, l *slog.Logger, to store.Target, msg render.Message, quiet bool, reply *telegram.ReplyParameters, kb *telegram.InlineKeyboardMarkup, fallback func() render.Message, image string) (telegram.Message, render.Message, error) {
	sendCtx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	p := telegram.SendMessageParams{
		ChatID: to.ChatID, MessageThreadID: to.ThreadID, Text: msg.Text, ParseMode: string(msg.ParseMode),
		DisableNotification: quiet, ReplyParameters: reply, ReplyMarkup: kb,
		LinkPreviewOptions: telegram.ImagePreview(image),
	}
	sent, err := d.sender.SendMessage(sendCtx, p)
	if telegram.IsParseError(err) && p.ParseMode != "" {
		l.Error("telegram rejected formatted text, resending as plain text", "err", err)
		d.metrics.fallbacks.Inc()
		msg = fallback()
		p.Text, p.ParseMode = msg.Text, string(msg.ParseMode)
		sent, err = d.sender.SendMessage(sendCtx, p)
	}
	if isButtonError(err) && p.ReplyMarkup != nil {
		l.Error("telegram rejected the buttons, sending without them", "err", err)
		p.ReplyMarkup = nil
		sent, err = d.sender.SendMessage(sendCtx, p)
	}
	if isThreadMissing(err) && p.MessageThreadID != 0 {
		l.Warn("forum topic not found, sending to the chat's main thread", "thread_id", p.MessageThreadID)
		p.MessageThreadID = 0
		sent, err = d.sender.SendMessage(sendCtx, p)
	}
	return sent, msg, err
}

// isButtonError is Telegram refusing a keyboard (BUTTON_URL_INVALID,
// BUTTON_DATA_INVALID, ...).
func isButtonError(err error) bool {
	var apiErr *telegram.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 400 && strings.Contains(apiErr.Description, "BUTTON_")
}

// edit replaces a message's text, with image as its link preview (""
// for none); "message is not modified" is success.
func (d *Dispatcher) edit(ctx context.Context, l *slog.Logger, chat, messageID int64, msg render.Message, g *alert.Group, image string) (telegram.Message, error) {
	sendCtx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	p := telegram.EditMessageTextParams{
		ChatID: chat, MessageID: messageID, Text: msg.Text, ParseMode: string(msg.ParseMode),
		LinkPreviewOptions: telegram.ImagePreview(image),
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

func (d *Dispatcher) putRef(ctx context.Context, it item, messageID int64, digest, photo bool) {
	err := d.outbox.PutMessageRef(ctx, store.MessageRef{
		ChatID: it.to.ChatID, ThreadID: it.to.ThreadID, Route: it.route, GroupKey: it.groupKey,
		MessageID: messageID, Status: string(it.status), Digest: digest, Photo: photo, UpdatedAt: d.cfg.Now(),
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
