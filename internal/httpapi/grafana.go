package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"

	"github.com/alertgram/alertgram/internal/alert"
)

// grafanaWebhook is the body of Grafana's webhook contact point in unified
// alerting, payload version "1" (PROTOCOLS.md §3.1). title, state and
// message are not read: they are Grafana's own rendering (deprecated) and
// alertgram renders from the structured fields. The group's fields are
// Alertmanager's template data, as in amWebhook. Alerts stay raw so that
// each is decoded on its own and an error can name its index.
type grafanaWebhook struct {
	amtemplate.Data
	webhookExtras
	OrgID  int64             `json:"orgId"`
	Alerts []json.RawMessage `json:"alerts"`
}

// grafanaAlert is one alert of a unified payload (PROTOCOLS.md §3.2).
// values is null when the rule produced none.
type grafanaAlert struct {
	AMAlert                         // status, labels, annotations, times, generatorURL, fingerprint
	SilenceURL   string             `json:"silenceURL"`
	DashboardURL string             `json:"dashboardURL"`
	PanelURL     string             `json:"panelURL"`
	Values       map[string]float64 `json:"values"`
	ValueString  string             `json:"valueString"`
	ImageURL     string             `json:"imageURL"`
	RuleUID      string             `json:"ruleUID"`
}

// ruleUIDLabel is the private label Grafana turns into ruleUID; a silence
// matcher on it silences one rule (PROTOCOLS.md §2.6).
const ruleUIDLabel = "__alert_rule_uid__"

// grafanaShape tells the payload generations apart: unified alerting
// always sends version "1"; legacy alerting (before Grafana 8) sends no
// version but ruleId and evalMatches.
type grafanaShape struct {
	Version     *string         `json:"version"`
	RuleID      json.RawMessage `json:"ruleId"`
	EvalMatches json.RawMessage `json:"evalMatches"`
}

// newGrafanaDecoder returns the decoder of Grafana webhook bodies, unified
// or legacy. now stamps legacy alerts, which carry no times of their own.
func newGrafanaDecoder(now func() time.Time) decoder {
	return func(body []byte, route string) (*alert.Group, error) {
		var shape grafanaShape
		if err := json.Unmarshal(body, &shape); err != nil {
			return nil, jsonError(err)
		}
		switch {
		case shape.Version == nil && (shape.RuleID != nil || shape.EvalMatches != nil):
			return decodeGrafanaLegacy(body, route, now().UTC())
		case shape.Version == nil:
			return nil, errors.New(`version: missing; expected Grafana's webhook payload version "1" (unified alerting) or a legacy payload with ruleId and evalMatches (a custom payload template is not supported)`)
		case *shape.Version == "4":
			return nil, errors.New(`version: got "4", which is Alertmanager's payload; point Alertmanager at /webhook/alertmanager/<route>`)
		case *shape.Version != "1":
			return nil, fmt.Errorf(`version: got %q, expected "1"`, *shape.Version)
		}
		return decodeGrafanaUnified(body, route)
	}
}

func decodeGrafanaUnified(body []byte, route string) (*alert.Group, error) {
	var w grafanaWebhook
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, jsonError(err)
	}
	g, err := w.group(alert.SourceGrafana, route, &w.Data, len(w.Alerts))
	if err != nil {
		return nil, err
	}
	g.OrgID = w.OrgID
	for i, raw := range w.Alerts {
		a, err := convertGrafanaAlert(raw)
		if err != nil {
			return nil, fmt.Errorf("alerts[%d]%w", i, err)
		}
		g.Alerts = append(g.Alerts, a)
	}
	return g, nil
}

// convertGrafanaAlert decodes and validates one alert. Its errors start
// with "." or ":" so that the caller can prefix "alerts[i]".
func convertGrafanaAlert(raw json.RawMessage) (alert.Alert, error) {
	var a grafanaAlert
	if err := json.Unmarshal(raw, &a); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return alert.Alert{}, fmt.Errorf(": expected a JSON object, got JSON %s", te.Value)
		}
		return alert.Alert{}, fmt.Errorf(".%w", jsonError(err))
	}
	out, err := convertAMAlert(a.AMAlert)
	if err != nil {
		return alert.Alert{}, fmt.Errorf(".%w", err)
	}
	out.SilenceURL, out.DashboardURL, out.PanelURL, out.ImageURL = a.SilenceURL, a.DashboardURL, a.PanelURL, a.ImageURL
	out.ValueString, out.RuleUID = a.ValueString, a.RuleUID
	if out.RuleUID == "" {
		out.RuleUID = grafanaRuleUID(a.Labels, a.SilenceURL)
	}
	if len(a.Values) > 0 { // null and {} alike stay nil: the template falls back to valueString
		out.Values = a.Values
	}
	return out, nil
}

// grafanaRuleUID finds the rule UID of an alert from a Grafana that does
// not send ruleUID (before 2026): in the private label, if it was left in,
// or in the __alert_rule_uid__ matcher of silenceURL (Grafana 10+).
func grafanaRuleUID(labels map[string]string, silenceURL string) string {
	if uid := labels[ruleUIDLabel]; uid != "" {
		return uid
	}
	u, err := url.Parse(silenceURL)
	if err != nil {
		return ""
	}
	for _, m := range u.Query()["matcher"] {
		if uid, ok := strings.CutPrefix(m, ruleUIDLabel+"="); ok {
			return uid
		}
	}
	return ""
}

func (h *webhooks) now() time.Time {
	if h.deps.Now != nil {
		return h.deps.Now()
	}
	return time.Now()
}

// DecodeGrafana parses and validates a Grafana webhook body (unified or
// legacy), as the webhook endpoint does (for the render subcommand). A
// legacy payload whose state carries no alert gives an error.
func DecodeGrafana(body []byte, route string) (*alert.Group, error) {
	return newGrafanaDecoder(time.Now)(body, route)
}
