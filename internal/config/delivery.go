package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Delivery tunes how alertgram paces and merges messages. The defaults are
// Telegram's documented limits (PROTOCOLS.md §4.9).
type Delivery struct {
	PerChat  Rate `yaml:"per_chat"`  // every chat; default 1/1s
	PerGroup Rate `yaml:"per_group"` // groups and channels (negative ids); default 20/1m
	Global   Rate `yaml:"global"`    // the whole bot; default 30/1s
	// Margin is added to every window to absorb network jitter, so Telegram
	// never counts two sends into one window; default 50ms.
	Margin time.Duration `yaml:"margin"`
	// DedupeWindow: identical notifications (same group, status and alert
	// set, e.g. from Alertmanager HA peers) within it are accepted but sent
	// once; default 5m, 0 turns deduplication off.
	DedupeWindow time.Duration `yaml:"dedupe_window"`
	// Retention is how long a notification whose deliveries are all over
	// (delivered, failed, superseded) stays in the store, for inspection;
	// then it is deleted. Pending work is never deleted. Default 7 days; 0
	// keeps everything.
	Retention time.Duration `yaml:"retention"`
}

// Rate is "COUNT/DURATION", e.g. "20/1m"; "0" turns a limit off.
type Rate struct {
	Count int
	Per   time.Duration
}

// Default delivery settings.
var (
	DefaultPerChat      = Rate{Count: 1, Per: time.Second}
	DefaultPerGroup     = Rate{Count: 20, Per: time.Minute}
	DefaultGlobal       = Rate{Count: 30, Per: time.Second}
	DefaultMargin       = 50 * time.Millisecond
	DefaultDedupeWindow = 5 * time.Minute
	DefaultRetention    = 7 * 24 * time.Hour
)

func defaultDelivery() Delivery {
	return Delivery{PerChat: DefaultPerChat, PerGroup: DefaultPerGroup, Global: DefaultGlobal,
		Margin: DefaultMargin, DedupeWindow: DefaultDedupeWindow, Retention: DefaultRetention}
}

// ParseRate parses "COUNT/DURATION" ("1/1s", "20/1m") or "0" (no limit).
func ParseRate(s string) (Rate, error) {
	if strings.TrimSpace(s) == "0" {
		return Rate{}, nil
	}
	countText, perText, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(countText))
	if !ok || err != nil || count <= 0 {
		return Rate{}, fmt.Errorf("invalid rate %q: want COUNT/DURATION such as \"20/1m\", or 0 for no limit", s)
	}
	per, err := time.ParseDuration(strings.TrimSpace(perText))
	if err != nil || per <= 0 {
		return Rate{}, fmt.Errorf("invalid rate %q: %q is not a positive duration", s, perText)
	}
	return Rate{Count: count, Per: per}, nil
}

// String gives the "COUNT/DURATION" form back.
func (r Rate) String() string {
	if r.Count == 0 {
		return "0"
	}
	return fmt.Sprintf("%d/%s", r.Count, r.Per)
}

// UnmarshalYAML accepts the "COUNT/DURATION" form.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("a rate is a string such as \"20/1m\"")
	}
	parsed, err := ParseRate(n.Value)
	if err != nil {
		return err
	}
	*r = parsed
	return nil
}

// MarshalYAML writes the "COUNT/DURATION" form.
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }
