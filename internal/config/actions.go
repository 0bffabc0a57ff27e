package config

import (
	"regexp"
	"slices"
	"time"
)

// Actions tunes inline buttons for every route.
type Actions struct {
	// CallbackTTL is how long a button keeps working; default 720h (30 days).
	CallbackTTL time.Duration `yaml:"callback_ttl"`
	// AckCheckInterval is how often acks are checked against Alertmanager:
	// extended while their alerts fire, expired once they resolved;
	// default 1m.
	AckCheckInterval time.Duration `yaml:"ack_check_interval"`
}

// RouteActions are one route's button settings (routes[].actions).
type RouteActions struct {
	// SilenceDurations are the choices behind Silence; default 1h, 4h, 24h.
	SilenceDurations []time.Duration `yaml:"silence_durations"`
	// AckDuration is the length of an ack's silence, extended while the
	// alerts fire; default 15m.
	AckDuration time.Duration `yaml:"ack_duration"`
	// SilenceScope: what a silence from a message about several alerts
	// matches: common_labels (default) or group_labels. A single alert is
	// always matched by all its labels.
	SilenceScope string `yaml:"silence_scope"`
	// AllowedUsers and ChatAdmins narrow who may press: by default any
	// member of a chat the route delivers to.
	AllowedUsers []int64 `yaml:"allowed_users"`
	ChatAdmins   bool    `yaml:"chat_admins"`
	// Receiver is a regex on Alertmanager receiver names for /alerts.
	Receiver string `yaml:"receiver"`
}

// Silence scopes (routes[].actions.silence_scope).
const (
	ScopeCommonLabels = "common_labels"
	ScopeGroupLabels  = "group_labels"
)

// Defaults of the button settings.
var (
	DefaultSilenceDurations = []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour}
	DefaultAckDuration      = 15 * time.Minute
	DefaultCallbackTTL      = 30 * 24 * time.Hour
	DefaultAckCheckInterval = time.Minute
)

func defaultActions() Actions {
	return Actions{CallbackTTL: DefaultCallbackTTL, AckCheckInterval: DefaultAckCheckInterval}
}

func defaultRouteActions() RouteActions {
	return RouteActions{
		SilenceDurations: slices.Clone(DefaultSilenceDurations),
		AckDuration:      DefaultAckDuration,
		SilenceScope:     ScopeCommonLabels,
	}
}

// HasButton reports whether the route puts button b (ButtonAck,
// ButtonSilence) on firing messages.
func (r Route) HasButton(b string) bool { return slices.Contains(r.Buttons, b) }

func (p *problems) actions(a Actions) {
	if a.CallbackTTL < time.Hour || a.CallbackTTL > 365*24*time.Hour {
		p.addf("actions.callback_ttl", "%v is outside 1h..8760h", a.CallbackTTL)
	}
	if a.AckCheckInterval < 100*time.Millisecond || a.AckCheckInterval > time.Hour {
		p.addf("actions.ack_check_interval", "%v is outside 100ms..1h", a.AckCheckInterval)
	}
}

func (p *problems) routeActions(key string, a RouteActions) {
	if len(a.SilenceDurations) == 0 || len(a.SilenceDurations) > 6 {
		p.addf(key+".silence_durations", "needs 1 to 6 durations, got %d", len(a.SilenceDurations))
	}
	for i, d := range a.SilenceDurations {
		if d < time.Minute || d > 90*24*time.Hour {
			p.addf(indexKey(key+".silence_durations", i), "%v is outside 1m..2160h", d)
		}
	}
	if a.AckDuration < time.Minute || a.AckDuration > 24*time.Hour {
		p.addf(key+".ack_duration", "%v is outside 1m..24h", a.AckDuration)
	}
	p.oneOf(key+".silence_scope", a.SilenceScope, []string{ScopeCommonLabels, ScopeGroupLabels})
	for i, id := range a.AllowedUsers {
		if id <= 0 {
			p.addf(indexKey(key+".allowed_users", i), "%d is not a Telegram user id", id)
		}
	}
	if a.Receiver != "" {
		if _, err := regexp.Compile("^(?:" + a.Receiver + ")$"); err != nil {
			p.addf(key+".receiver", "not a valid regex: %v", err)
		}
	}
}
