// Package alert is the domain model shared by every source (Alertmanager,
// Grafana): one notification about one aggregation group. It is a leaf.
package alert

import (
	"sort"
	"time"
)

// Source names the system that sent a notification.
type Source string

// The sources alertgram takes notifications from.
const (
	SourceAlertmanager Source = "alertmanager"
	SourceGrafana      Source = "grafana"
)

// Status of an alert or a group.
type Status string

// The two statuses an alert or a group can have.
const (
	StatusFiring   Status = "firing"
	StatusResolved Status = "resolved"
)

// Valid reports whether s is one of the two known statuses.
func (s Status) Valid() bool { return s == StatusFiring || s == StatusResolved }

// Group is one notification: the state of an aggregation group as its
// sender reported it at one flush.
type Group struct {
	Source             Source            `json:"source"`
	Route              string            `json:"route"`
	Version            string            `json:"version,omitempty"`
	GroupKey           string            `json:"groupKey"`
	TruncatedAlerts    uint64            `json:"truncatedAlerts,omitempty"`
	Receiver           string            `json:"receiver"`
	Status             Status            `json:"status"`
	GroupLabels        map[string]string `json:"groupLabels"`
	CommonLabels       map[string]string `json:"commonLabels"`
	CommonAnnotations  map[string]string `json:"commonAnnotations"`
	ExternalURL        string            `json:"externalURL"`
	NotificationReason string            `json:"notificationReason,omitempty"`
	// OrgID is the Grafana organization that sent the notification; 0 for
	// Alertmanager.
	OrgID  int64   `json:"orgId,omitempty"`
	Alerts []Alert `json:"alerts"`
}

// Alert is one alert inside a group.
type Alert struct {
	Status       Status            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	Fingerprint  string            `json:"fingerprint"`

	// Grafana extras; empty for Alertmanager alerts.
	SilenceURL   string             `json:"silenceURL,omitempty"`
	DashboardURL string             `json:"dashboardURL,omitempty"`
	PanelURL     string             `json:"panelURL,omitempty"`
	ImageURL     string             `json:"imageURL,omitempty"`
	ValueString  string             `json:"valueString,omitempty"`
	Values       map[string]float64 `json:"values,omitempty"`
	// RuleUID is the Grafana alert rule's UID (Grafana strips the private
	// label __alert_rule_uid__ and sends it as ruleUID); a silence matching
	// __alert_rule_uid__=<uid> silences exactly this rule.
	RuleUID string `json:"ruleUID,omitempty"`
}

// Firing returns the alerts that are still firing, in their original order.
func (g *Group) Firing() []Alert { return g.withStatus(StatusFiring) }

// Resolved returns the alerts that have resolved, in their original order.
func (g *Group) Resolved() []Alert { return g.withStatus(StatusResolved) }

func (g *Group) withStatus(s Status) []Alert {
	var out []Alert
	for _, a := range g.Alerts {
		if a.Status == s {
			out = append(out, a)
		}
	}
	return out
}

// severityRank orders the common severity label values, most severe first.
var severityRank = map[string]int{
	"critical": 0, "page": 0, "error": 1, "high": 1,
	"warning": 2, "warn": 2, "medium": 2, "info": 3, "low": 3, "none": 4,
}

// SeverityRank returns a sort key for an alert's severity label: lower is
// more severe; unknown or missing severities sort after the known ones.
func SeverityRank(labels map[string]string) int {
	if r, ok := severityRank[labels["severity"]]; ok {
		return r
	}
	return 5
}

// SortedKeys returns the keys of m in lexical order.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
