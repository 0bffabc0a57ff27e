package render

import (
	"maps"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"

	"github.com/alertgram/alertgram/internal/alert"
)

// Data is what a template sees. Its shape follows Alertmanager's
// template.Data so that familiar templates work ({{ .CommonLabels.alertname }},
// {{ range .Alerts.Firing }}, {{ .Labels.SortedPairs }}); the extra fields
// say how much the message had to leave out.
type Data struct {
	Receiver           string
	Status             string
	Alerts             Alerts
	GroupLabels        amtemplate.KV
	CommonLabels       amtemplate.KV
	CommonAnnotations  amtemplate.KV
	ExternalURL        string
	NotificationReason string

	Source   string
	Route    string
	GroupKey string
	// Title names the group: its alertname, or the group labels.
	Title string
	// FiringCount and ResolvedCount count every alert of the notification,
	// shown or not.
	FiringCount   int
	ResolvedCount int
	// OmittedAlerts is how many alerts this message does not show: those
	// alertgram left out to stay under Telegram's length limit plus those
	// Alertmanager dropped (max_alerts).
	OmittedAlerts int
	// SilenceURL opens the silence form for the whole group: Alertmanager's,
	// or Grafana's (matching the rule, when all alerts share one).
	SilenceURL string
	// OrgID is the Grafana organization; 0 for Alertmanager.
	OrgID int64
}

// Alert is one alert as a template sees it: Alertmanager's fields plus the
// Grafana extras and a ready-made silence link.
type Alert struct {
	Status       string
	Labels       amtemplate.KV
	Annotations  amtemplate.KV
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	Fingerprint  string
	// ExtraLabels are the labels not common to the whole group: what tells
	// this alert apart from its siblings.
	ExtraLabels  amtemplate.KV
	SilenceURL   string
	DashboardURL string
	PanelURL     string
	ImageURL     string
	// ValueString and Values are what a Grafana rule evaluated: values by
	// refID (nil when Grafana sent none), and Grafana's text form.
	ValueString string
	Values      map[string]float64
	RuleUID     string // the Grafana rule
}

// SortedValues returns Values as refID/value pairs sorted by refID, each
// value shortened to about four significant digits ("A=93.22").
func (a Alert) SortedValues() amtemplate.Pairs {
	pairs := make(amtemplate.Pairs, 0, len(a.Values))
	for _, k := range slices.Sorted(maps.Keys(a.Values)) {
		pairs = append(pairs, amtemplate.Pair{Name: k, Value: formatValue(a.Values[k])})
	}
	return pairs
}

// Alerts is a list of alerts with Alertmanager's helpers.
type Alerts []Alert

// Firing returns the firing alerts.
func (as Alerts) Firing() Alerts { return as.with("firing") }

// Resolved returns the resolved alerts.
func (as Alerts) Resolved() Alerts { return as.with("resolved") }

func (as Alerts) with(status string) Alerts {
	var out Alerts
	for _, a := range as {
		if a.Status == status {
			out = append(out, a)
		}
	}
	return out
}

// newData builds the view of g. Alerts are ordered for a reader in a hurry:
// firing before resolved, most severe first, otherwise as the sender sent
// them. valueLimit, when positive, caps every label and annotation value.
func newData(g *alert.Group, valueLimit int) *Data {
	d := &Data{
		Receiver:           capString(g.Receiver, valueLimit),
		Status:             string(g.Status),
		GroupLabels:        capKV(g.GroupLabels, valueLimit),
		CommonLabels:       capKV(g.CommonLabels, valueLimit),
		CommonAnnotations:  capKV(g.CommonAnnotations, valueLimit),
		ExternalURL:        g.ExternalURL,
		NotificationReason: g.NotificationReason,
		Source:             string(g.Source),
		Route:              g.Route,
		GroupKey:           capString(g.GroupKey, valueLimit),
		Title:              capString(groupTitle(g), valueLimit),
		OmittedAlerts:      int(g.TruncatedAlerts),
		SilenceURL:         groupSilenceURL(g),
		OrgID:              g.OrgID,
	}
	for _, a := range g.Alerts {
		if a.Status == alert.StatusFiring {
			d.FiringCount++
		} else {
			d.ResolvedCount++
		}
		d.Alerts = append(d.Alerts, newAlert(g, a, valueLimit))
	}
	sort.SliceStable(d.Alerts, func(i, j int) bool {
		ai, aj := d.Alerts[i], d.Alerts[j]
		if (ai.Status == "firing") != (aj.Status == "firing") {
			return ai.Status == "firing"
		}
		return alert.SeverityRank(ai.Labels) < alert.SeverityRank(aj.Labels)
	})
	return d
}

func newAlert(g *alert.Group, a alert.Alert, valueLimit int) Alert {
	silence := a.SilenceURL
	if silence == "" {
		if g.Source == alert.SourceGrafana {
			silence = grafanaSilenceURL(g.ExternalURL, g.OrgID, a.Labels, a.RuleUID)
		} else {
			silence = silenceFormURL(g.ExternalURL, a.Labels)
		}
	}
	return Alert{
		Status:       string(a.Status),
		Labels:       capKV(a.Labels, valueLimit),
		Annotations:  capKV(a.Annotations, valueLimit),
		StartsAt:     a.StartsAt,
		EndsAt:       a.EndsAt,
		GeneratorURL: a.GeneratorURL,
		Fingerprint:  a.Fingerprint,
		ExtraLabels:  capKV(extraLabels(a.Labels, g.CommonLabels), valueLimit),
		SilenceURL:   silence,
		DashboardURL: a.DashboardURL,
		PanelURL:     a.PanelURL,
		ImageURL:     a.ImageURL,
		ValueString:  capString(a.ValueString, valueLimit),
		Values:       a.Values,
		RuleUID:      a.RuleUID,
	}
}

// keep returns a copy of d that shows only the first n alerts.
func (d *Data) keep(n int) *Data {
	c := *d
	if n < len(d.Alerts) {
		c.Alerts = d.Alerts[:n]
		c.OmittedAlerts = d.OmittedAlerts + len(d.Alerts) - n
	}
	return &c
}

func capKV(m map[string]string, limit int) amtemplate.KV {
	kv := make(amtemplate.KV, len(m))
	for k, v := range m {
		kv[k] = capString(v, limit)
	}
	return kv
}

func capString(s string, limit int) string {
	if limit <= 0 {
		return s
	}
	return TruncateRunes(limit, s)
}

func groupTitle(g *alert.Group) string {
	for _, kv := range []map[string]string{g.CommonLabels, g.GroupLabels} {
		if n := kv["alertname"]; n != "" {
			return n
		}
	}
	if len(g.GroupLabels) > 0 {
		var parts []string
		for _, k := range alert.SortedKeys(g.GroupLabels) {
			parts = append(parts, k+"="+g.GroupLabels[k])
		}
		return strings.Join(parts, ", ")
	}
	return "Alerts"
}

// silenceLabels picks the labels a group-wide silence would match: the
// common labels, or the group labels when nothing is common.
func silenceLabels(g *alert.Group) map[string]string {
	if len(g.CommonLabels) > 0 {
		return g.CommonLabels
	}
	return g.GroupLabels
}

// groupSilenceURL links to the silence form of the group's sender.
func groupSilenceURL(g *alert.Group) string {
	if g.Source == alert.SourceGrafana {
		return grafanaSilenceURL(g.ExternalURL, g.OrgID, silenceLabels(g), groupRuleUID(g))
	}
	return silenceFormURL(g.ExternalURL, silenceLabels(g))
}

// groupRuleUID returns the Grafana rule UID all alerts of g share, or "".
func groupRuleUID(g *alert.Group) string {
	uid := ""
	for i, a := range g.Alerts {
		if i > 0 && a.RuleUID != uid {
			return ""
		}
		uid = a.RuleUID
	}
	return uid
}

// grafanaSilenceURL links to Grafana's "new silence" form pre-filled the
// way Grafana builds an alert's silenceURL (grafana/alerting
// generateSilenceURL): the rule UID matcher when known, which replaces
// alertname and grafana_folder, then the other labels; private labels
// (__x__) are left out.
func grafanaSilenceURL(externalURL string, orgID int64, labels map[string]string, ruleUID string) string {
	if externalURL == "" || (len(labels) == 0 && ruleUID == "") {
		return ""
	}
	q := url.Values{"alertmanager": {"grafana"}}
	if ruleUID != "" {
		q.Add("matcher", "__alert_rule_uid__="+ruleUID)
	}
	for _, k := range alert.SortedKeys(labels) {
		private := strings.HasPrefix(k, "__") && strings.HasSuffix(k, "__")
		if private || ruleUID != "" && (k == "alertname" || k == "grafana_folder") {
			continue
		}
		q.Add("matcher", k+"="+labels[k])
	}
	if orgID > 0 {
		q.Set("orgId", strconv.FormatInt(orgID, 10))
	}
	return strings.TrimRight(externalURL, "/") + "/alerting/silence/new?" + q.Encode()
}

// silenceFormURL links to Alertmanager's "new silence" form pre-filled with
// equality matchers for labels, the same link Alertmanager's own default
// template builds (__alert_silence_link).
func silenceFormURL(externalURL string, labels map[string]string) string {
	if externalURL == "" || len(labels) == 0 {
		return ""
	}
	var parts []string
	for _, k := range alert.SortedKeys(labels) {
		parts = append(parts, k+"="+strconv.Quote(labels[k]))
	}
	filter := "{" + strings.Join(parts, ",") + "}"
	return strings.TrimRight(externalURL, "/") + "/#/silences/new?filter=" + url.QueryEscape(filter)
}

// extraLabels returns the labels of an alert that are not common labels.
func extraLabels(labels, common map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		if cv, ok := common[k]; !ok || cv != v {
			out[k] = v
		}
	}
	return out
}

// formatValue shortens an evaluated value for reading: about four
// significant digits, never in exponent form for numbers of 1 and above
// (93.21587 → "93.22", 123456.7 → "123457", 0.73421 → "0.7342").
func formatValue(v float64) string {
	abs := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case abs != 0 && abs < 1:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	intDigits := len(strconv.FormatFloat(math.Trunc(abs), 'f', 0, 64))
	s := strconv.FormatFloat(v, 'f', max(0, 4-intDigits), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
