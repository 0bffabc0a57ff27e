package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/alertgram/alertgram/internal/alertmanager"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// actionTimeout bounds one press's work with Alertmanager and Telegram.
const actionTimeout = 30 * time.Second

// press is one button press being handled.
type press struct {
	q   *telegram.CallbackQuery
	cb  store.Callback
	msg store.ActionMessage
	ra  RouteActions
	log *slog.Logger
}

// HandleCallback handles a button press. It returns an error only when the
// store failed (the update is then delivered again). Presses that need
// Alertmanager are carried out in the background, so that other updates
// are not held up; every press is answered.
func (a *Actions) HandleCallback(ctx context.Context, q *telegram.CallbackQuery) error {
	cb, msg, err := a.store.LookupCallback(ctx, q.Data)
	if err == nil && msg.MessageID == 0 {
		// Telegram showed the message a moment before its sender recorded
		// it: wait for that, then look again.
		a.pending.wait(ctx, msg.ID)
		cb, msg, err = a.store.LookupCallback(ctx, q.Data)
	}
	if errors.Is(err, store.ErrNotFound) {
		a.refuse(ctx, q, "unknown", "This button has expired.", false)
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up button: %w", err)
	}
	p := &press{q: q, cb: cb, msg: msg, ra: a.cfg.Routes[msg.Route]}
	p.log = a.log.With("user", actor(q.From), "user_id", q.From.ID, "chat_id", msg.ChatID,
		"message_id", msg.MessageID, "route", msg.Route, "action", cb.Action)
	if !a.sameMessage(q, msg) {
		// A button's id works only on the message it was made for.
		p.log.Warn("button pressed on another message; refused")
		a.refuse(ctx, q, cb.Action, "This button has expired.", false)
		return nil
	}
	if a.cfg.Now().Sub(cb.CreatedAt) > a.cfg.CallbackTTL {
		a.refuse(ctx, q, cb.Action, "This button has expired.", false)
		return nil
	}
	if cb.SilenceID != "" && !a.listedSilenceOfRoute(ctx, p) {
		a.refuse(ctx, q, "not_allowed", "This silence does not belong to this chat's routes.", true)
		return nil
	}
	if !a.routeDelivers(ctx, p) {
		a.refuse(ctx, q, "not_allowed", "This chat no longer gets this route's alerts, so its buttons are off.", true)
		return nil
	}
	ok, err := a.authorize(ctx, p.ra, msg.ChatID, q.From)
	if err != nil {
		p.log.Error("could not check the presser's rights; refused", "err", err)
		a.refuse(ctx, q, cb.Action, "Could not check your rights in this chat; try again.", true)
		return nil
	}
	if !ok {
		p.log.Warn("audit: press refused: user not allowed on this route", "matchers", matcherText(msg.SilenceLabels))
		a.refuse(ctx, q, "not_allowed", "You are not allowed to ack or silence alerts of this route.", true)
		return nil
	}
	if why := notOffered(p.ra, cb); why != "" {
		p.log.Warn("audit: press refused: the route no longer offers this button", "reason", why)
		a.refuse(ctx, q, "not_offered", "This button is no longer offered: "+why+".", true)
		return nil
	}
	switch cb.Action {
	case actSilenceMenu:
		a.showMenu(ctx, p)
	case actCancel:
		a.restoreKeyboard(ctx, p)
	default:
		a.carryOut(ctx, p)
	}
	return nil
}

// notOffered says why the route's current settings no longer offer what a
// button does ("" if they do): the config may have changed since the
// keyboard was made, and a button must not outlive the setting behind it.
// Undoing (Unsilence, Unack, Cancel) is always offered.
func notOffered(ra RouteActions, cb store.Callback) string {
	switch cb.Action {
	case actAck:
		if !ra.Ack {
			return "this route has no Ack button"
		}
	case actSilenceMenu, actSilence:
		if !ra.Silence {
			return "this route has no Silence button"
		}
		if cb.Action == actSilence && !slices.Contains(ra.SilenceDurations, cb.Duration) {
			return "this route does not offer a " + shortDuration(cb.Duration) + " silence"
		}
	}
	return ""
}

// routeDelivers tells whether the message's route still delivers to its
// chat (a static chat, or an active subscription): after /stop, or once a
// route no longer lists the chat, its old buttons do nothing.
func (a *Actions) routeDelivers(ctx context.Context, p *press) bool {
	routes, err := a.chatRoutes(ctx, p.msg.ChatID)
	if err != nil {
		p.log.Warn("could not list the chat's routes; press refused", "err", err)
		return false
	}
	_, ok := routes[p.msg.Route]
	if !ok {
		p.log.Warn("audit: press refused: the route no longer delivers to this chat")
	}
	return ok
}

// listedSilenceOfRoute checks an Unsilence button of a /silences listing
// against alertgram's record of the silence: it must be one alertgram made
// for the route the listing was for, which is then the route the press is
// authorised against.
func (a *Actions) listedSilenceOfRoute(ctx context.Context, p *press) bool {
	rec, err := a.store.SilenceRecord(ctx, p.msg.Source, p.cb.SilenceID)
	if err != nil {
		p.log.Warn("audit: press refused: no record of this silence", "silence_id", p.cb.SilenceID, "err", err)
		return false
	}
	if rec.Route != p.msg.Route {
		p.log.Warn("audit: press refused: the silence belongs to another route", "silence_id", rec.ID, "silence_route", rec.Route)
		return false
	}
	return true
}

func (a *Actions) sameMessage(q *telegram.CallbackQuery, msg store.ActionMessage) bool {
	return q.Message != nil && q.Message.Chat.ID == msg.ChatID && q.Message.MessageID == msg.MessageID
}

// refuse answers a press that does nothing.
func (a *Actions) refuse(ctx context.Context, q *telegram.CallbackQuery, result, text string, alert bool) {
	a.metrics.presses.WithLabelValues("none", result).Inc()
	a.answer(ctx, q, text, alert)
}

func (a *Actions) answer(ctx context.Context, q *telegram.CallbackQuery, text string, alert bool) {
	err := a.api.AnswerCallbackQuery(ctx, telegram.AnswerCallbackQueryParams{CallbackQueryID: q.ID, Text: render.TruncateRunes(200, text), ShowAlert: alert})
	if err != nil {
		a.log.Warn("answerCallbackQuery failed", "err", err)
	}
}

// showMenu opens the silence duration choice in place of the buttons.
func (a *Actions) showMenu(ctx context.Context, p *press) {
	set := &buttonSet{messageID: p.msg.ID, now: a.cfg.Now()}
	kb := keyboard(append(set.menuRows(p.ra), urlRow(p.q.Message))...)
	if err := a.store.ReplaceCallbacks(ctx, p.msg.ID, set.records); err != nil {
		p.log.Error("storing the silence menu", "err", err)
		a.answer(ctx, p.q, "Could not open the menu; try again.", true)
		return
	}
	a.answer(ctx, p.q, "Silence for how long?", false)
	a.editKeyboard(ctx, p, kb)
	a.metrics.presses.WithLabelValues(actSilenceMenu, "ok").Inc()
}

// restoreKeyboard puts back the buttons of the message's state.
func (a *Actions) restoreKeyboard(ctx context.Context, p *press) {
	kb, err := a.stateKeyboard(ctx, p.msg.ID, p.ra, p.msg.State, urlRow(p.q.Message))
	if err != nil {
		p.log.Error("storing buttons", "err", err)
		a.answer(ctx, p.q, "Could not restore the buttons; try again.", true)
		return
	}
	a.answer(ctx, p.q, "", false)
	a.editKeyboard(ctx, p, kb)
	a.metrics.presses.WithLabelValues(actCancel, "ok").Inc()
}

// stateKeyboard makes (and stores) the keyboard of the action message id
// in state: the state's buttons, then the link row. The buttons of the
// keyboard it replaces are revoked.
func (a *Actions) stateKeyboard(ctx context.Context, id int64, ra RouteActions, state string,
	links []telegram.InlineKeyboardButton) (*telegram.InlineKeyboardMarkup, error) {
	set := &buttonSet{messageID: id, now: a.cfg.Now()}
	kb := keyboard(set.stateRow(ra, state), links)
	if err := a.store.ReplaceCallbacks(ctx, id, set.records); err != nil {
		return nil, err
	}
	return kb, nil
}

func (a *Actions) editKeyboard(ctx context.Context, p *press, kb *telegram.InlineKeyboardMarkup) {
	if !a.pace(ctx, p.msg.ChatID) {
		return
	}
	_, err := a.api.EditMessageReplyMarkup(ctx, telegram.EditMessageReplyMarkupParams{ChatID: p.msg.ChatID, MessageID: p.msg.MessageID, ReplyMarkup: kb})
	if err != nil && !telegram.IsNotModified(err) {
		p.log.Warn("editing the buttons failed", "err", err)
	}
}

// outcome is the result of a press carried out against Alertmanager.
type outcome struct {
	answer string // toast for the presser
	err    error  // shown to the presser; the message stays unchanged
	// show, if set, updates the messages once the presser has the answer:
	// edits wait for their chats' pacing slots, the presser need not.
	show func(ctx context.Context)
}

// carryOut runs a press that calls Alertmanager in the background. The
// press is answered with the outcome if it comes within AnswerWithin, else
// at once with "working on it", and a failure is then posted as a reply.
func (a *Actions) carryOut(ctx context.Context, p *press) {
	select {
	case a.busy <- struct{}{}:
	default:
		a.refuse(ctx, p.q, "busy", "alertgram is busy with other presses; try again in a moment.", true)
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() { <-a.busy }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionTimeout)
		defer cancel()
		done := make(chan outcome, 1)
		go func() { done <- a.perform(ctx, p) }()
		timer := time.NewTimer(a.cfg.AnswerWithin)
		defer timer.Stop()
		var o outcome
		select {
		case o = <-done:
			a.finish(ctx, p, o, true)
		case <-timer.C:
			a.answer(ctx, p.q, "Working on it…", false)
			o = <-done
			a.finish(ctx, p, o, false)
		}
		if o.err == nil && o.show != nil {
			o.show(ctx)
		}
	}()
}

// finish tells the presser how it went: in the answer when it is still
// open, else (only for a failure) in a reply to the alert message.
func (a *Actions) finish(ctx context.Context, p *press, o outcome, answerOpen bool) {
	result, failure := "ok", ""
	if o.err != nil {
		result = "failed"
		failure = publicFailure(p.log, p.msg.Source, "action failed; Alertmanager unchanged", o.err)
	}
	a.metrics.presses.WithLabelValues(p.cb.Action, result).Inc()
	switch {
	case answerOpen && o.err != nil:
		a.answer(ctx, p.q, "Failed: "+failure, true)
	case answerOpen:
		a.answer(ctx, p.q, o.answer, false)
	case o.err != nil && a.pace(ctx, p.msg.ChatID):
		_, err := a.api.SendMessage(ctx, telegram.SendMessageParams{
			ChatID: p.msg.ChatID, MessageThreadID: p.msg.ThreadID, DisableNotification: true,
			Text:            fmt.Sprintf("%s: %s failed: %s", actor(p.q.From), p.cb.Action, failure),
			ReplyParameters: &telegram.ReplyParameters{MessageID: p.msg.MessageID, AllowSendingWithoutReply: true},
		})
		if err != nil {
			p.log.Warn("reporting the failure failed", "err", err)
		}
	}
}

// perform does what the button says, in Alertmanager first, then in the
// store and the message.
func (a *Actions) perform(ctx context.Context, p *press) outcome {
	sil, ok := a.silencer(p.msg.Source, p.msg.Route)
	if !ok {
		return outcome{err: errNoSilencer}
	}
	switch p.cb.Action {
	case actAck:
		return a.silence(ctx, p, sil, store.ActionStateAcked, p.ra.AckDuration)
	case actSilence:
		return a.silence(ctx, p, sil, store.ActionStateSilenced, p.cb.Duration)
	case actUnsilence, actUnack:
		if p.cb.SilenceID != "" {
			return a.unsilenceListed(ctx, p, sil)
		}
		return a.unsilence(ctx, p, sil)
	}
	return outcome{err: fmt.Errorf("unknown action %q", p.cb.Action)}
}

// silence creates a silence (an ack is a short one) for the message's
// labels, then shows who did it.
func (a *Actions) silence(ctx context.Context, p *press, sil Silencer, state string, d time.Duration) outcome {
	switch {
	case p.msg.State == store.ActionStateSilenced:
		return outcome{answer: fmt.Sprintf("Already silenced by %s until %s.", p.msg.Actor, clock(p.msg.Until))}
	case p.msg.State == store.ActionStateAcked && state == store.ActionStateAcked:
		return outcome{answer: fmt.Sprintf("Already acked by %s.", p.msg.Actor)}
	case d <= 0:
		return outcome{err: errors.New("no duration")}
	}
	now := a.cfg.Now()
	who := actor(p.q.From)
	s := alertmanager.Silence{
		Matchers: alertmanager.MatchersFromLabels(p.msg.SilenceLabels),
		StartsAt: now, EndsAt: now.Add(d), CreatedBy: who,
		Comment: silenceComment(state, who, p.q.Message.Chat, p.msg.Route),
	}
	id, err := sil.CreateSilence(ctx, s)
	if err != nil {
		return outcome{err: err}
	}
	p.log.Info("audit: silence created", "kind", state, "silence_id", id, "matchers", matcherText(p.msg.SilenceLabels), "until", s.EndsAt)
	a.recordSilence(ctx, p.log, store.SilenceRecord{
		Source: p.msg.Source, ID: id, Route: p.msg.Route, ChatID: p.msg.ChatID, Kind: state,
		CreatedBy: who, EndsAt: s.EndsAt, CreatedAt: now,
	})
	if p.msg.State == store.ActionStateAcked {
		// A silence replaces the ack; the ack's short silence goes.
		a.expire(ctx, p.log, sil, p.msg.SilenceID)
	}
	st := store.ActionState{State: state, SilenceID: id, Actor: who, Until: s.EndsAt, At: now}
	note := fmt.Sprintf("🔕 Silenced by %s until %s (%s)", who, clock(s.EndsAt), shortDuration(d))
	answer := "Silenced for " + shortDuration(d) + "."
	if state == store.ActionStateAcked {
		note = fmt.Sprintf("✅ Acked by %s at %s", who, clock(now))
		answer = "Acked. alertgram keeps the ack while the alert fires."
	}
	return outcome{answer: answer, show: a.record(ctx, p, st, note)}
}

// unsilence expires the message's silence and restores the message.
func (a *Actions) unsilence(ctx context.Context, p *press, sil Silencer) outcome {
	if p.msg.State != store.ActionStateSilenced && p.msg.State != store.ActionStateAcked {
		return outcome{answer: "Not silenced."}
	}
	err := sil.ExpireSilence(ctx, p.msg.SilenceID)
	if err != nil && !errors.Is(err, alertmanager.ErrSilenceNotFound) {
		return outcome{err: err}
	}
	p.log.Info("audit: silence expired", "silence_id", p.msg.SilenceID, "matchers", matcherText(p.msg.SilenceLabels))
	show := a.record(ctx, p, store.ActionState{State: store.ActionStateNone, At: a.cfg.Now()}, "")
	if p.msg.State == store.ActionStateAcked {
		return outcome{answer: "Ack withdrawn.", show: show}
	}
	return outcome{answer: "Silence expired.", show: show}
}

// recordSilence remembers a silence alertgram made, for /silences. The
// silence exists in Alertmanager already, so a failure is logged: the
// message's own Unsilence button still works, only the listing misses it.
func (a *Actions) recordSilence(ctx context.Context, l *slog.Logger, r store.SilenceRecord) {
	if err := a.store.RecordSilence(ctx, r); err != nil {
		l.Error("recording the silence; /silences will not list it", "silence_id", r.ID, "err", err)
	}
}

func (a *Actions) expire(ctx context.Context, l *slog.Logger, sil Silencer, id string) {
	if id == "" {
		return
	}
	if err := sil.ExpireSilence(ctx, id); err != nil && !errors.Is(err, alertmanager.ErrSilenceNotFound) {
		l.Warn("expiring the replaced silence failed", "silence_id", id, "err", err)
	}
}

// record stores the new state of the message and of the other messages
// about the same alerts (the group as sent to the route's other chats and
// subscribers), and returns what shows it: the pressed message gets the
// note (none: the original text) and the state's buttons, and so does
// every other one, with buttons of its own. They share the silence, so an
// ack in one chat tells the others that someone is on it, a press there
// answers "already silenced" instead of making a second silence, and
// Unsilence works from any of them. The action is already done in
// Alertmanager, so failures here are logged, not undone.
func (a *Actions) record(ctx context.Context, p *press, st store.ActionState, note string) func(context.Context) {
	if err := a.store.SetActionState(ctx, p.msg.ID, st); err != nil {
		p.log.Error("storing the new state", "err", err)
	}
	msgs := []store.ActionMessage{p.msg}
	for _, m := range a.siblings(ctx, p.log, p.msg) {
		if err := a.store.SetActionState(ctx, m.ID, st); err != nil {
			p.log.Error("storing the mirrored state", "mirror_chat_id", m.ChatID, "mirror_message_id", m.MessageID, "err", err)
			continue
		}
		msgs = append(msgs, m)
	}
	return func(ctx context.Context) {
		links := urlRow(p.q.Message) // the same group: the same links
		for _, m := range msgs {
			l := p.log
			if m.ID != p.msg.ID {
				l = l.With("mirror_chat_id", m.ChatID, "mirror_message_id", m.MessageID)
			}
			kb, err := a.stateKeyboard(ctx, m.ID, p.ra, st.State, links)
			if err != nil {
				l.Error("storing buttons", "err", err)
				kb = keyboard(links)
			}
			a.editMessage(ctx, l, m, note, kb)
		}
	}
}

// siblings returns the other unresolved messages about msg's group whose
// silence matches the same labels.
func (a *Actions) siblings(ctx context.Context, l *slog.Logger, msg store.ActionMessage) []store.ActionMessage {
	all, err := a.store.ActionMessagesForGroup(ctx, msg.Route, msg.GroupKey)
	if err != nil {
		l.Warn("listing the group's other messages failed; only this one shows the change", "err", err)
		return nil
	}
	var out []store.ActionMessage
	for _, m := range all {
		if m.ID != msg.ID && m.State != store.ActionStateResolved && m.Source == msg.Source &&
			maps.Equal(m.SilenceLabels, msg.SilenceLabels) {
			out = append(out, m)
		}
	}
	return out
}

// editMessage shows msg's original text plus note, with kb. A photo's
// caption is edited instead of a text, and a text keeps its image preview.
// A note that would make the text too long is left out (the buttons still
// change).
func (a *Actions) editMessage(ctx context.Context, l *slog.Logger, msg store.ActionMessage, note string, kb *telegram.InlineKeyboardMarkup) {
	text := msg.Text
	if note != "" {
		if t, ok := render.WithNote(msg.Text, render.Mode(msg.ParseMode), note); ok && (!msg.Photo || render.Message{Text: t, ParseMode: render.Mode(msg.ParseMode)}.FitsCaption()) {
			text = t
		}
	}
	if !a.pace(ctx, msg.ChatID) {
		return
	}
	var err error
	if msg.Photo {
		_, err = a.api.EditMessageCaption(ctx, telegram.EditMessageCaptionParams{
			ChatID: msg.ChatID, MessageID: msg.MessageID, Caption: text, ParseMode: msg.ParseMode, ReplyMarkup: kb,
		})
	} else {
		_, err = a.api.EditMessageText(ctx, telegram.EditMessageTextParams{
			ChatID: msg.ChatID, MessageID: msg.MessageID, Text: text, ParseMode: msg.ParseMode,
			LinkPreviewOptions: telegram.ImagePreview(msg.ImageURL), ReplyMarkup: kb,
		})
	}
	if err != nil && !telegram.IsNotModified(err) {
		l.Warn("editing the alert message failed", "err", err)
	}
}

func silenceComment(state, who string, chat telegram.Chat, route string) string {
	where := fmt.Sprintf("Telegram chat %q (%d), alertgram route %s", chatTitle(chat), chat.ID, route)
	if state == store.ActionStateAcked {
		return fmt.Sprintf("ACK by %s from %s. alertgram extends this silence while the alert fires and expires it when it resolves.", who, where)
	}
	return fmt.Sprintf("Silenced by %s from %s.", who, where)
}

// clock prints a time for notes, in UTC.
func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func matcherText(labels map[string]string) string {
	ms := alertmanager.MatchersFromLabels(labels)
	out := "{"
	for i, m := range ms {
		if i > 0 {
			out += ", "
		}
		out += m.String()
	}
	return out + "}"
}
