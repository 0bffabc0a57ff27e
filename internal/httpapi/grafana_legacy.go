package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
)

// legacyWebhook is what legacy Grafana alerting (before 8, removed in 11)
// posts to a webhook notification channel (PROTOCOLS.md §3.4): one rule's
// state change. title is not read (it is "[Alerting] <ruleName>"), nor are
// dashboardId and panelId (ruleUrl already links to the panel).
type legacyWebhook struct {
	RuleID      int64             `json:"ruleId"`
	RuleName    string            `json:"ruleName"`
	RuleURL     string            `json:"ruleUrl"`
	State       string            `json:"state"`
	EvalMatches []legacyMatch     `json:"evalMatches"`
	OrgID       int64             `json:"orgId"`
	Tags        map[string]string `json:"tags"`
	ImageURL    string            `json:"imageUrl"`
	Message     string            `json:"message"`
}

// legacyMatch is one series that matched the rule's condition.
type legacyMatch struct {
	Value  *float64          `json:"value"` // null when the series had no value
	Metric string            `json:"metric"`
	Tags   map[string]string `json:"tags"`
}

// legacyStatus maps the legacy states that are notifications to a status.
// no_data fires, as in Grafana, and says so in an annotation.
var legacyStatus = map[string]alert.Status{
	"alerting": alert.StatusFiring,
	"no_data":  alert.StatusFiring,
	"ok":       alert.StatusResolved,
}

// legacyQuiet are the other states of the legacy enum: Grafana does not
// notify on them, and they say nothing to deliver, so they are accepted and
// not stored.
var legacyQuiet = []string{"paused", "pending", "unknown"}

// stateReasonAnnotation is the annotation in which unified alerting says
// why an alert is in its state (NoData, Error, ...); legacy no_data uses it
// too, so that templates show both the same way.
const stateReasonAnnotation = "grafana_state_reason"

// decodeGrafanaLegacy normalises a legacy payload into a group of one
// alert: labels are the rule's tags plus alertname=ruleName, the message is
// the description, and the group key is the org and rule id, so that a
// later "ok" resolves the group that "alerting" opened. Legacy payloads
// carry no times: a firing alert starts, and a resolved one ends, at now.
func decodeGrafanaLegacy(body []byte, route string, now time.Time) (*alert.Group, error) {
	var w legacyWebhook
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, jsonError(err)
	}
	status, ok := legacyStatus[w.State]
	switch {
	case !ok && slices.Contains(legacyQuiet, w.State):
		return nil, &ignoredError{reason: fmt.Sprintf("legacy Grafana state %q is not a notification (only alerting, no_data and ok are)", w.State)}
	case !ok:
		return nil, fmt.Errorf("state: got %q, expected alerting, no_data or ok (legacy Grafana alerting)", w.State)
	case w.RuleName == "":
		return nil, errors.New("ruleName: missing; a legacy alert is named after its rule")
	}
	labels := make(map[string]string, len(w.Tags)+1)
	for k, v := range w.Tags {
		labels[k] = v
	}
	labels["alertname"] = w.RuleName
	annotations := map[string]string{}
	if w.Message != "" {
		annotations["description"] = w.Message
	}
	if w.State == "no_data" {
		annotations[stateReasonAnnotation] = "NoData"
	}
	a := alert.Alert{
		Status:       status,
		Labels:       labels,
		Annotations:  annotations,
		GeneratorURL: w.RuleURL,
		Fingerprint:  toLabelSet(labels).Fingerprint().String(),
		ImageURL:     w.ImageURL,
		ValueString:  legacyValueString(w.EvalMatches),
		Values:       legacyValues(w.EvalMatches),
	}
	if status == alert.StatusFiring {
		a.StartsAt = now
	} else {
		a.EndsAt = now
	}
	return &alert.Group{
		Source:            alert.SourceGrafana,
		Route:             route,
		Version:           "legacy",
		GroupKey:          fmt.Sprintf(`grafana-legacy:{orgId="%d", ruleId="%d"}`, w.OrgID, w.RuleID),
		Status:            status,
		GroupLabels:       map[string]string{"alertname": w.RuleName},
		CommonLabels:      labels,
		CommonAnnotations: annotations,
		OrgID:             w.OrgID,
		Alerts:            []alert.Alert{a},
	}, nil
}

// legacyValues maps metric to value when that is lossless: every match has
// a value and a distinct metric name. Otherwise it is nil and the value
// string, which keeps everything, is what templates show.
func legacyValues(matches []legacyMatch) map[string]float64 {
	if len(matches) == 0 {
		return nil
	}
	values := make(map[string]float64, len(matches))
	for _, m := range matches {
		if _, dup := values[m.Metric]; dup || m.Value == nil || m.Metric == "" {
			return nil
		}
		values[m.Metric] = *m.Value
	}
	return values
}

// legacyValueString writes the matches the way unified alerting writes
// valueString: "[ metric='cpu' labels={host=a} value=93.2 ], ...".
func legacyValueString(matches []legacyMatch) string {
	parts := make([]string, 0, len(matches))
	for _, m := range matches {
		var b strings.Builder
		fmt.Fprintf(&b, "[ metric='%s'", m.Metric)
		if len(m.Tags) > 0 {
			pairs := make([]string, 0, len(m.Tags))
			for _, k := range alert.SortedKeys(m.Tags) {
				pairs = append(pairs, k+"="+m.Tags[k])
			}
			fmt.Fprintf(&b, " labels={%s}", strings.Join(pairs, ", "))
		}
		value := "null"
		if m.Value != nil {
			value = strconv.FormatFloat(*m.Value, 'f', -1, 64)
		}
		fmt.Fprintf(&b, " value=%s ]", value)
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ", ")
}
