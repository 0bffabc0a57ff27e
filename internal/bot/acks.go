package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alertgram/alertgram/internal/alertmanager"
	"github.com/alertgram/alertgram/internal/store"
)

// An ack is a short silence in Alertmanager (RouteActions.AckDuration)
// that alertgram keeps alive while the acked alerts fire and expires once
// they resolved. Alertmanager mutes the resolved notification of a
// silenced alert, so alertgram does not wait for one: it asks Alertmanager
// which alerts still fire.

// RefreshAcks runs one pass over the acked messages: an ack whose alerts
// no longer fire is expired and its messages say so; one whose alerts fire
// is extended once less than half its duration is left. Messages that
// share an ack (one group in several chats, see mirror) are one ack.
func (a *Actions) RefreshAcks(ctx context.Context) {
	acked, err := a.store.ActionMessagesInState(ctx, store.ActionStateAcked)
	if err != nil {
		a.log.Warn("listing acks failed; will retry", "err", err)
		return
	}
	for _, ms := range bySilence(acked) {
		if ctx.Err() != nil {
			return
		}
		a.refreshAck(ctx, ms)
	}
}

// bySilence groups messages by the silence they show, in first-seen order.
func bySilence(msgs []store.ActionMessage) [][]store.ActionMessage {
	var out [][]store.ActionMessage
	at := map[[2]string]int{}
	for _, m := range msgs {
		key := [2]string{m.Source, m.SilenceID}
		i, ok := at[key]
		if !ok {
			i = len(out)
			at[key] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], m)
	}
	return out
}

// refreshAck checks one ack, shown by ms (all with its silence).
func (a *Actions) refreshAck(ctx context.Context, ms []store.ActionMessage) {
	m := ms[0]
	l := a.log.With("route", m.Route, "silence_id", m.SilenceID, "messages", len(ms))
	sil, ok := a.silencer(m.Source, m.Route)
	if !ok {
		return
	}
	firing, err := stillFiring(ctx, sil, m.SilenceLabels)
	if err != nil {
		l.Warn("checking acked alerts failed; will retry", "err", err)
		return
	}
	if !firing {
		a.endAck(ctx, l, sil, ms, "resolved")
		return
	}
	ra := a.cfg.Routes[m.Route]
	now := a.cfg.Now()
	if m.Until.Sub(now) > ra.AckDuration/2 {
		return
	}
	id, until, err := extend(ctx, sil, m.SilenceID, now.Add(ra.AckDuration))
	if errors.Is(err, errSilenceGone) {
		// Someone expired the ack in Alertmanager: it is over.
		l.Info("ack silence was expired outside alertgram")
		for _, m := range ms {
			a.restoreFiring(ctx, l, m)
		}
		return
	}
	if err != nil {
		l.Warn("extending ack failed; will retry", "err", err)
		return
	}
	l.Info("audit: ack extended", "new_silence_id", id, "until", until, "matchers", matcherText(m.SilenceLabels))
	a.recordSilence(ctx, l, store.SilenceRecord{
		Source: m.Source, ID: id, Route: m.Route, ChatID: m.ChatID, Kind: store.ActionStateAcked,
		CreatedBy: m.Actor, EndsAt: until, CreatedAt: now,
	})
	st := store.ActionState{State: store.ActionStateAcked, SilenceID: id, Actor: m.Actor, Until: until, At: now}
	for _, m := range ms {
		if err := a.store.SetActionState(ctx, m.ID, st); err != nil {
			l.Error("storing extended ack", "chat_id", m.ChatID, "message_id", m.MessageID, "err", err)
		}
	}
}

// stillFiring reports whether Alertmanager has an alert (silenced or not)
// that the labels select. Resolved alerts are not listed by the API.
func stillFiring(ctx context.Context, sil Silencer, labels map[string]string) (bool, error) {
	var filters []string
	for _, m := range alertmanager.MatchersFromLabels(labels) {
		if m.Name == grafanaRuleUIDLabel {
			continue // not a label of the alerts as the API lists them
		}
		filters = append(filters, m.String())
	}
	alerts, err := sil.Alerts(ctx, alertmanager.AlertsQuery{Filters: filters})
	if err != nil {
		return false, err
	}
	return len(alerts) > 0, nil
}

var errSilenceGone = errors.New("silence expired or deleted")

// extend moves an active silence's end; Alertmanager may answer with a new
// id (it replaces rather than updates in some states), which is returned.
func extend(ctx context.Context, sil Silencer, id string, until time.Time) (string, time.Time, error) {
	s, err := sil.GetSilence(ctx, id)
	if errors.Is(err, alertmanager.ErrSilenceNotFound) {
		return "", time.Time{}, errSilenceGone
	}
	if err != nil {
		return "", time.Time{}, err
	}
	if s.State == alertmanager.StateExpired {
		return "", time.Time{}, errSilenceGone
	}
	s.EndsAt = until
	newID, err := sil.CreateSilence(ctx, s)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("updating silence: %w", err)
	}
	return newID, until, nil
}

// endAck expires an ack whose alerts resolved and says so in its messages.
func (a *Actions) endAck(ctx context.Context, l *slog.Logger, sil Silencer, ms []store.ActionMessage, why string) {
	m := ms[0]
	err := sil.ExpireSilence(ctx, m.SilenceID)
	if err != nil && !errors.Is(err, alertmanager.ErrSilenceNotFound) {
		l.Warn("expiring ack failed; will retry", "err", err)
		return
	}
	l.Info("audit: ack expired", "reason", why, "matchers", matcherText(m.SilenceLabels))
	now := a.cfg.Now()
	for _, m := range ms {
		st := store.ActionState{State: store.ActionStateResolved, Actor: m.Actor, At: now}
		if err := a.store.SetActionState(ctx, m.ID, st); err != nil {
			l.Error("storing ended ack", "chat_id", m.ChatID, "message_id", m.MessageID, "err", err)
			continue
		}
		a.revokeAll(ctx, l, m)
		a.editMessage(ctx, l.With("chat_id", m.ChatID, "message_id", m.MessageID), m,
			fmt.Sprintf("✅ Acked by %s — resolved; ack ended at %s", m.Actor, clock(now)), nil)
	}
}

// restoreFiring forgets a silence or ack that ended outside the message
// and restores the message's firing state (its buttons, without the link
// row, which only the message knows).
func (a *Actions) restoreFiring(ctx context.Context, l *slog.Logger, m store.ActionMessage) {
	if err := a.store.SetActionState(ctx, m.ID, store.ActionState{State: store.ActionStateNone, At: a.cfg.Now()}); err != nil {
		l.Error("storing the firing state", "err", err)
		return
	}
	kb, err := a.stateKeyboard(ctx, m.ID, a.cfg.Routes[m.Route], store.ActionStateNone, nil)
	if err != nil {
		l.Error("storing buttons", "err", err)
	}
	a.editMessage(ctx, l, m, "", kb)
}

// GroupResolved is told that an alert group resolved (its resolved
// notification was delivered): its acks are expired at once. Silences
// stay: they were set for a chosen time. The delivered resolved message
// already replaced the text and removed the buttons.
func (a *Actions) GroupResolved(ctx context.Context, route, groupKey string) {
	msgs, err := a.store.ActionMessagesForGroup(ctx, route, groupKey)
	if err != nil {
		a.log.Warn("listing a resolved group's messages failed", "route", route, "err", err)
		return
	}
	expired := map[string]bool{} // acks shared by several messages are expired once
	for _, m := range msgs {
		if m.State == store.ActionStateResolved {
			continue
		}
		l := a.log.With("chat_id", m.ChatID, "message_id", m.MessageID, "route", m.Route, "silence_id", m.SilenceID)
		if m.State == store.ActionStateAcked && !expired[m.SilenceID] {
			if sil, ok := a.silencer(m.Source, m.Route); ok {
				if err := sil.ExpireSilence(ctx, m.SilenceID); err != nil && !errors.Is(err, alertmanager.ErrSilenceNotFound) {
					l.Warn("expiring ack of a resolved group failed; the ack check will retry", "err", err)
					continue
				}
				l.Info("audit: ack expired", "reason", "resolved notification", "matchers", matcherText(m.SilenceLabels))
				expired[m.SilenceID] = true
			}
		}
		st := store.ActionState{State: store.ActionStateResolved, SilenceID: m.SilenceID, Actor: m.Actor, Until: m.Until, At: a.cfg.Now()}
		if err := a.store.SetActionState(ctx, m.ID, st); err != nil {
			l.Error("storing resolved state", "err", err)
		}
		a.revokeAll(ctx, l, m)
	}
}

// revokeAll revokes every button of m, whose keyboard is gone.
func (a *Actions) revokeAll(ctx context.Context, l *slog.Logger, m store.ActionMessage) {
	if err := a.store.ReplaceCallbacks(ctx, m.ID, nil); err != nil {
		l.Warn("revoking the buttons of a message without keyboard failed", "chat_id", m.ChatID, "message_id", m.MessageID, "err", err)
	}
}

// Prune deletes buttons older than the callback lifetime.
func (a *Actions) Prune(ctx context.Context) {
	n, err := a.store.PruneActionMessages(ctx, a.cfg.Now().Add(-a.cfg.CallbackTTL))
	if err != nil {
		a.log.Warn("pruning old buttons failed; will retry", "err", err)
		return
	}
	if n > 0 {
		a.log.Debug("pruned old buttons", "messages", n)
	}
	// A silence record is kept while a listing could still show it.
	if n, err = a.store.PruneSilences(ctx, a.cfg.Now().Add(-a.cfg.CallbackTTL)); err != nil {
		a.log.Warn("pruning silence records failed; will retry", "err", err)
		return
	}
	if n > 0 {
		a.log.Debug("pruned silence records", "silences", n)
	}
}
