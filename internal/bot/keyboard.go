package bot

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// newCallbackID returns 16 random bytes, base64url: 22 bytes of
// callback_data that nobody can guess.
func newCallbackID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// buttonSet collects the callback records behind a keyboard being built.
type buttonSet struct {
	messageID int64 // the ActionMessage, 0 while not yet stored
	now       time.Time
	records   []store.Callback
}

func (s *buttonSet) button(text, action string, d time.Duration, style string) telegram.InlineKeyboardButton {
	cb := store.Callback{ID: newCallbackID(), ActionMessageID: s.messageID, Action: action, Duration: d, CreatedAt: s.now}
	s.records = append(s.records, cb)
	return telegram.InlineKeyboardButton{Text: text, CallbackData: cb.ID, Style: style}
}

// stateRow is the row of action buttons for a message in state.
func (s *buttonSet) stateRow(ra RouteActions, state string) []telegram.InlineKeyboardButton {
	var row []telegram.InlineKeyboardButton
	switch state {
	case store.ActionStateSilenced:
		row = append(row, s.button("🔔 Unsilence", actUnsilence, 0, ""))
	case store.ActionStateAcked:
		if ra.Silence {
			row = append(row, s.button("🔕 Silence", actSilenceMenu, 0, ""))
		}
		row = append(row, s.button("↩️ Unack", actUnack, 0, ""))
	case store.ActionStateNone:
		if ra.Ack {
			row = append(row, s.button("✅ Ack", actAck, 0, telegram.StyleSuccess))
		}
		if ra.Silence {
			row = append(row, s.button("🔕 Silence", actSilenceMenu, 0, ""))
		}
	}
	return row
}

// menuRows is the silence duration choice, opened in place.
func (s *buttonSet) menuRows(ra RouteActions) [][]telegram.InlineKeyboardButton {
	var choices []telegram.InlineKeyboardButton
	for _, d := range ra.SilenceDurations {
		choices = append(choices, s.button("🔕 "+shortDuration(d), actSilence, d, ""))
	}
	return [][]telegram.InlineKeyboardButton{choices, {s.button("✖️ Cancel", actCancel, 0, "")}}
}

// keyboard assembles rows, dropping empty ones; nil when nothing is left
// (editing with no reply_markup removes the keyboard).
func keyboard(rows ...[]telegram.InlineKeyboardButton) *telegram.InlineKeyboardMarkup {
	var kept [][]telegram.InlineKeyboardButton
	for _, r := range rows {
		if len(r) > 0 {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &telegram.InlineKeyboardMarkup{InlineKeyboard: kept}
}

// urlRow keeps the URL buttons of a message's current keyboard, so that a
// new keyboard keeps its links.
func urlRow(m *telegram.Message) []telegram.InlineKeyboardButton {
	var row []telegram.InlineKeyboardButton
	if m == nil || m.ReplyMarkup == nil {
		return nil
	}
	for _, r := range m.ReplyMarkup.InlineKeyboard {
		for _, b := range r {
			if b.URL != "" {
				row = append(row, b)
			}
		}
	}
	return row
}

// linkRow is the URL buttons of a new message: the runbook, and where the
// alert comes from. Telegram refuses a whole message over one URL it does
// not accept (PROTOCOLS.md §4.6), so only linkable URLs become buttons.
func linkRow(g *alert.Group) []telegram.InlineKeyboardButton {
	var row []telegram.InlineKeyboardButton
	add := func(text, u string) {
		if render.LinkableURL(u) && len(row) < 3 {
			row = append(row, telegram.InlineKeyboardButton{Text: text, URL: u})
		}
	}
	first := g.Alerts[0]
	add("📖 Runbook", cmp.Or(g.CommonAnnotations["runbook_url"], first.Annotations["runbook_url"]))
	if g.Source == alert.SourceGrafana {
		add("📊 Dashboard", first.DashboardURL)
		add("📈 Panel", first.PanelURL)
	}
	add("🔗 Source", first.GeneratorURL)
	return row
}

// Keyboard returns the inline keyboard for a new message showing g in a
// chat of route, and the function that completes its record once Telegram
// accepted the message: with its text as accepted, whether it is a photo
// with that text as its caption, and the image it shows, so that edits
// keep the image. The buttons are stored before Keyboard returns, so that
// a press can never come before its record; one that comes before the
// message is completed waits for it (see pendingSends). nil, nil: the
// message gets no keyboard.
func (a *Actions) Keyboard(ctx context.Context, route string, to store.Target, g *alert.Group) (*telegram.InlineKeyboardMarkup, func(ctx context.Context, messageID int64, sent render.Message, photo bool, image string)) {
	if g.Status != alert.StatusFiring || len(g.Alerts) == 0 {
		return nil, nil
	}
	if g.Source == alert.SourceAlertmanager {
		a.receivers.note(route, g.Receiver)
	}
	ra := a.cfg.Routes[route]
	labels := SilenceLabels(g, ra.Scope)
	set := &buttonSet{now: a.cfg.Now()}
	var actions []telegram.InlineKeyboardButton
	if _, ok := a.silencer(string(g.Source), route); ok && len(labels) > 0 {
		actions = set.stateRow(ra, store.ActionStateNone)
	}
	kb := keyboard(actions, linkRow(g))
	if kb == nil || len(set.records) == 0 {
		return kb, nil
	}
	pending := store.ActionMessage{
		Route: route, Source: string(g.Source), ChatID: to.ChatID, ThreadID: to.ThreadID,
		GroupKey: g.GroupKey, SilenceLabels: labels, CreatedAt: set.now,
	}
	id, err := a.store.SaveActionMessage(ctx, pending, set.records)
	if err != nil {
		a.log.Error("storing buttons failed; the message goes without them", "chat_id", to.ChatID, "err", err)
		return keyboard(linkRow(g)), nil
	}
	done := a.pending.add(id)
	return kb, func(ctx context.Context, messageID int64, sent render.Message, photo bool, image string) {
		defer done()
		a.markSent(ctx, id, to.ChatID, store.SentMessage{
			MessageID: messageID, Text: sent.Text, ParseMode: string(sent.ParseMode), Photo: photo, ImageURL: image,
		})
	}
}

// markSent completes the record of a message with buttons.
func (a *Actions) markSent(ctx context.Context, id, chatID int64, sent store.SentMessage) {
	if err := a.store.MarkActionMessageSent(ctx, id, sent); err != nil {
		a.log.Error("recording the sent message; its buttons will answer \"expired\"", "chat_id", chatID, "message_id", sent.MessageID, "err", err)
	}
}

func (a *Actions) silencer(source, route string) (Silencer, bool) {
	if a.cfg.Silencer == nil {
		return nil, false
	}
	return a.cfg.Silencer(source, route)
}

// Private labels of Grafana: the rule uid is sent as ruleUID, outside the
// labels, but a silence may match it (PROTOCOLS.md §2.6).
const grafanaRuleUIDLabel = "__alert_rule_uid__"

// SilenceLabels are what a silence made from a message about g matches:
// all labels of a single alert; for several alerts their common labels or
// group labels (scope). Grafana alerts of one rule add the rule uid, as
// Grafana's own silence links do. Empty when nothing safe is left (a
// silence must not match everything).
func SilenceLabels(g *alert.Group, scope string) map[string]string {
	var labels map[string]string
	switch {
	case len(g.Alerts) == 1:
		labels = maps.Clone(g.Alerts[0].Labels)
	case scope == ScopeGroupLabels:
		labels = maps.Clone(g.GroupLabels)
	default:
		labels = maps.Clone(g.CommonLabels)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k) // an empty matcher value matches alerts without the label
		}
	}
	if uid := commonRuleUID(g); uid != "" && len(labels) > 0 {
		labels[grafanaRuleUIDLabel] = uid
	}
	return labels
}

func commonRuleUID(g *alert.Group) string {
	uid := g.Alerts[0].RuleUID
	for _, al := range g.Alerts[1:] {
		if al.RuleUID != uid {
			return ""
		}
	}
	return uid
}

// shortDuration prints 1h, 4h, 24h, 30m, 1h30m.
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d < time.Hour && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.Round(time.Minute).String()
}
