package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/alertmanager"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// maxListed bounds /alerts and /silences: a chat message, not a report.
const maxListed = 20

// receivers remembers, per route, the Alertmanager receivers its
// notifications came from, so /alerts can ask for just those alerts when
// routes[].actions.receiver is not set.
type receivers struct {
	mu   sync.Mutex
	seen map[string][]string
}

func (r *receivers) note(route, receiver string) {
	if receiver == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string][]string{}
	}
	if !slices.Contains(r.seen[route], receiver) {
		r.seen[route] = append(r.seen[route], receiver)
	}
}

func (r *receivers) regex(route string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var quoted []string
	for _, name := range r.seen[route] {
		quoted = append(quoted, regexp.QuoteMeta(name))
	}
	return strings.Join(quoted, "|")
}

// chatRoutes returns the routes that deliver to chat (subscriptions and
// static chats), with the subscription matchers of each ("" key absent:
// unfiltered).
func (a *Actions) chatRoutes(ctx context.Context, chatID int64) (map[string][]string, error) {
	routes := map[string][]string{}
	for _, r := range a.cfg.StaticRoutes[chatID] {
		routes[r] = nil
	}
	subs, err := a.store.ChatSubscriptions(ctx, chatID)
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		if _, static := routes[s.Route]; !static || len(routes[s.Route]) > 0 {
			routes[s.Route] = s.Matchers
		}
	}
	return routes, nil
}

// ListAlerts answers /alerts: what fires, unsilenced, for the chat's routes.
func (a *Actions) ListAlerts(ctx context.Context, m *telegram.Message) error {
	routes, err := a.chatRoutes(ctx, m.Chat.ID)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	if len(routes) == 0 {
		a.send(ctx, m, "No route delivers to this chat, so there is nothing to list.", nil)
		return nil
	}
	sil, ok := a.silencer(string(alert.SourceAlertmanager), "")
	if !ok {
		a.send(ctx, m, "No Alertmanager is configured.", nil)
		return nil
	}
	var lines []string
	total := 0
	for _, route := range slices.Sorted(maps.Keys(routes)) {
		q := alertmanager.AlertsQuery{Active: true, Receiver: cmp.Or(a.cfg.Routes[route].Receiver, a.receivers.regex(route))}
		alerts, err := sil.Alerts(ctx, q)
		if err != nil {
			a.send(ctx, m, "Could not list the alerts: "+publicFailure(a.log, string(alert.SourceAlertmanager), "/alerts: asking Alertmanager failed", err), nil)
			return nil
		}
		for _, al := range alerts {
			if !matches(al.Labels, routes[route]) {
				continue
			}
			total++
			if len(lines) < maxListed {
				lines = append(lines, alertLine(route, al))
			}
		}
	}
	if total == 0 {
		a.send(ctx, m, "✅ Nothing is firing for this chat's routes.", nil)
		return nil
	}
	text := fmt.Sprintf("🔥 %d firing, not silenced:\n%s", total, strings.Join(lines, "\n"))
	if total > len(lines) {
		text += fmt.Sprintf("\n…and %d more", total-len(lines))
	}
	a.send(ctx, m, text, nil)
	return nil
}

func matches(labels map[string]string, matchers []string) bool {
	ok, err := alert.MatchesAny(&alert.Group{Alerts: []alert.Alert{{Labels: labels}}}, matchers)
	return err != nil || ok // an unreadable matcher lists rather than hides
}

func alertLine(route string, al alertmanager.Alert) string {
	var extra []string
	for _, k := range []string{"instance", "job", "severity"} {
		if v := al.Labels[k]; v != "" {
			extra = append(extra, k+"="+v)
		}
	}
	return fmt.Sprintf("• %s (%s) %s — since %s", al.Labels["alertname"], route, strings.Join(extra, " "), clock(al.StartsAt))
}

// ListSilences answers /silences: the active silences alertgram made for
// the chat's routes, each with an Unsilence button. Which silences those
// are comes from alertgram's own records (route, chat, creator), never
// from a silence's comment, which anyone can type in Alertmanager's UI.
func (a *Actions) ListSilences(ctx context.Context, m *telegram.Message) error {
	routes, err := a.chatRoutes(ctx, m.Chat.ID)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	sil, ok := a.silencer(string(alert.SourceAlertmanager), "")
	if !ok || len(routes) == 0 {
		a.send(ctx, m, "Nothing to list: no Alertmanager or no route for this chat.", nil)
		return nil
	}
	records := map[string]map[string]bool{} // route → ids of its silences
	for route := range routes {
		recs, err := a.store.RouteSilences(ctx, string(alert.SourceAlertmanager), route, a.cfg.Now())
		if err != nil {
			return fmt.Errorf("listing the silences of route %s: %w", route, err)
		}
		for _, r := range recs {
			if records[route] == nil {
				records[route] = map[string]bool{}
			}
			records[route][r.ID] = true
		}
	}
	var all []alertmanager.Silence
	if len(records) > 0 {
		if all, err = sil.Silences(ctx, nil); err != nil {
			a.send(ctx, m, "Could not list the silences: "+publicFailure(a.log, string(alert.SourceAlertmanager), "/silences: asking Alertmanager failed", err), nil)
			return nil
		}
	}
	sent := false
	for _, route := range slices.Sorted(maps.Keys(records)) {
		mine := activeOf(all, records[route])
		if len(mine) == 0 {
			continue
		}
		sent = true
		a.sendSilences(ctx, m, route, mine)
	}
	if !sent {
		a.send(ctx, m, "🔔 No active silences were made from Telegram for this chat's routes.", nil)
	}
	return nil
}

// activeOf returns the active silences among all whose ids are in ids,
// soonest to end first, at most maxListed.
func activeOf(all []alertmanager.Silence, ids map[string]bool) []alertmanager.Silence {
	var out []alertmanager.Silence
	for _, s := range all {
		if s.State == alertmanager.StateActive && ids[s.ID] {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EndsAt.Before(out[j].EndsAt) })
	if len(out) > maxListed {
		out = out[:maxListed]
	}
	return out
}

// sendSilences posts one route's silences with an Unsilence button each.
func (a *Actions) sendSilences(ctx context.Context, m *telegram.Message, route string, ss []alertmanager.Silence) {
	set := &buttonSet{now: a.cfg.Now()}
	var b strings.Builder
	fmt.Fprintf(&b, "🔕 Silences of route %s:\n", route)
	var rows [][]telegram.InlineKeyboardButton
	for i, s := range ss {
		var ms []string
		for _, mt := range s.Matchers {
			ms = append(ms, mt.String())
		}
		fmt.Fprintf(&b, "%d. {%s} by %s until %s\n", i+1, strings.Join(ms, ", "), s.CreatedBy, clock(s.EndsAt))
		btn := set.button(fmt.Sprintf("🔔 Unsilence %d", i+1), actUnsilence, 0, "")
		set.records[len(set.records)-1].SilenceID = s.ID
		rows = append(rows, []telegram.InlineKeyboardButton{btn})
	}
	text := strings.TrimSpace(b.String())
	// The buttons are stored before the listing is sent (see Keyboard).
	rec := store.ActionMessage{
		Route: route, Source: string(alert.SourceAlertmanager), ChatID: m.Chat.ID, ThreadID: thread(m),
		GroupKey: "", SilenceLabels: map[string]string{}, CreatedAt: set.now,
	}
	id, err := a.store.SaveActionMessage(ctx, rec, set.records)
	if err != nil {
		a.log.Error("storing /silences buttons failed; listing sent without them", "err", err)
		a.send(ctx, m, text, nil)
		return
	}
	done := a.pending.add(id)
	defer done()
	if sent, ok := a.send(ctx, m, text, keyboard(rows...)); ok {
		a.markSent(ctx, id, m.Chat.ID, store.SentMessage{MessageID: sent.MessageID, Text: text})
	}
}

// send replies in plain text (nothing a label holds can break it).
func (a *Actions) send(ctx context.Context, m *telegram.Message, text string, kb *telegram.InlineKeyboardMarkup) (telegram.Message, bool) {
	return sendReply(ctx, a.api, a.cfg.Pacer, a.log, m, text, kb)
}

// unsilenceListed expires a silence from a /silences listing and removes
// its button.
func (a *Actions) unsilenceListed(ctx context.Context, p *press, sil Silencer) outcome {
	err := sil.ExpireSilence(ctx, p.cb.SilenceID)
	if err != nil && !errors.Is(err, alertmanager.ErrSilenceNotFound) {
		return outcome{err: err}
	}
	p.log.Info("audit: silence expired", "silence_id", p.cb.SilenceID, "from", "/silences")
	if err := a.store.RevokeCallbacks(ctx, p.cb.ID); err != nil {
		p.log.Warn("revoking the pressed Unsilence button failed", "err", err)
	}
	show := func(ctx context.Context) {
		var rows [][]telegram.InlineKeyboardButton
		if p.q.Message != nil && p.q.Message.ReplyMarkup != nil {
			for _, row := range p.q.Message.ReplyMarkup.InlineKeyboard {
				if !slices.ContainsFunc(row, func(b telegram.InlineKeyboardButton) bool { return b.CallbackData == p.q.Data }) {
					rows = append(rows, row)
				}
			}
		}
		a.editKeyboard(ctx, p, keyboard(rows...))
		a.restoreMessagesOf(ctx, p.log, p.msg.Source, p.cb.SilenceID)
	}
	return outcome{answer: "Silence expired.", show: show}
}

// restoreMessagesOf puts the alert messages that show silence id (as a
// silence or an ack) back to their firing state, once it was expired from
// a listing.
func (a *Actions) restoreMessagesOf(ctx context.Context, l *slog.Logger, source, id string) {
	for _, state := range []string{store.ActionStateSilenced, store.ActionStateAcked} {
		msgs, err := a.store.ActionMessagesInState(ctx, state)
		if err != nil {
			l.Warn("listing the messages of an expired silence failed; they still show it", "err", err)
			return
		}
		for _, m := range msgs {
			if m.SilenceID == id && m.Source == source {
				a.restoreFiring(ctx, l.With("chat_id", m.ChatID, "message_id", m.MessageID), m)
			}
		}
	}
}
