package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/alertgram/alertgram/internal/alert"
)

// amWebhook is Alertmanager's webhook body ("version 4"): the template data
// plus the fields the webhook notifier adds (PROTOCOLS.md §1.2). Alerts
// shadows Data.Alerts so that times can be checked with their JSON path.
type amWebhook struct {
	amtemplate.Data
	webhookExtras
	Alerts []AMAlert `json:"alerts"`
}

// webhookExtras are the fields Alertmanager's webhook notifier adds to the
// template data; Grafana's unified payload, a copy of this format, has
// them too.
type webhookExtras struct {
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// group builds the alert group that d and x describe, without its alerts
// (n of them, which the status check needs); the caller converts those.
func (x webhookExtras) group(source alert.Source, route string, d *amtemplate.Data, n int) (*alert.Group, error) {
	status, err := groupStatus(d.Status, n)
	if err != nil {
		return nil, err
	}
	g := &alert.Group{
		Source:             source,
		Route:              route,
		Version:            x.Version,
		GroupKey:           x.GroupKey,
		TruncatedAlerts:    x.TruncatedAlerts,
		Receiver:           d.Receiver,
		Status:             status,
		GroupLabels:        d.GroupLabels,
		CommonLabels:       d.CommonLabels,
		CommonAnnotations:  d.CommonAnnotations,
		ExternalURL:        d.ExternalURL,
		NotificationReason: d.NotificationReason,
	}
	if g.GroupKey == "" {
		// Alertmanager always sends one; other senders of this format may not.
		g.GroupKey = fallbackGroupKey(d.Receiver, d.GroupLabels)
	}
	return g, nil
}

// AMAlert is one alert of the webhook body, times kept as text so that
// their errors can name the field. Grafana's unified alerts embed it too.
// It is exported only so that encoding/json's error paths name it with a
// capital, which jsonPath drops as it drops Data and Alert.
type AMAlert struct {
	amtemplate.Alert
	StartsAt string `json:"startsAt"`
	EndsAt   string `json:"endsAt"`
}

// decodeAlertmanager parses and validates an Alertmanager webhook body into
// the domain model. Errors name the offending field.
func decodeAlertmanager(body []byte, route string) (*alert.Group, error) {
	var w amWebhook
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, jsonError(err)
	}
	if w.Version != "4" {
		if w.Version == "" {
			return nil, fmt.Errorf(`version: missing; expected Alertmanager's webhook payload version "4" (a custom "payload:" template is not supported)`)
		}
		return nil, fmt.Errorf("version: got %q, expected \"4\"", w.Version)
	}
	g, err := w.group(alert.SourceAlertmanager, route, &w.Data, len(w.Alerts))
	if err != nil {
		return nil, err
	}
	for i, a := range w.Alerts {
		al, err := convertAMAlert(a)
		if err != nil {
			return nil, fmt.Errorf("alerts[%d].%w", i, err)
		}
		g.Alerts = append(g.Alerts, al)
	}
	return g, nil
}

// groupStatus checks a notification's status and that it has alerts.
func groupStatus(status string, alerts int) (alert.Status, error) {
	s := alert.Status(status)
	if !s.Valid() {
		return "", fmt.Errorf("status: got %q, expected \"firing\" or \"resolved\"", status)
	}
	if alerts == 0 {
		return "", fmt.Errorf("alerts: empty; a notification needs at least one alert")
	}
	return s, nil
}

// fallbackGroupKey stands in for a missing groupKey: the receiver and the
// group labels identify the aggregation group as Alertmanager's key does.
func fallbackGroupKey(receiver string, groupLabels map[string]string) string {
	return fmt.Sprintf("%s:%s", receiver, toLabelSet(groupLabels))
}

// convertAMAlert checks and converts one alert; Grafana's alerts share
// these fields and this conversion. Errors name the field without a
// leading ".", for the caller's "alerts[i]." prefix.
func convertAMAlert(a AMAlert) (alert.Alert, error) {
	status := alert.Status(a.Status)
	if !status.Valid() {
		return alert.Alert{}, fmt.Errorf("status: got %q, expected \"firing\" or \"resolved\"", a.Status)
	}
	if len(a.Labels) == 0 {
		return alert.Alert{}, fmt.Errorf("labels: empty; an alert is identified by its labels")
	}
	starts, err := parseTime("startsAt", a.StartsAt, true)
	if err != nil {
		return alert.Alert{}, err
	}
	ends, err := parseTime("endsAt", a.EndsAt, false)
	if err != nil {
		return alert.Alert{}, err
	}
	fp := a.Fingerprint
	if fp == "" {
		fp = toLabelSet(a.Labels).Fingerprint().String()
	}
	return alert.Alert{
		Status:       status,
		Labels:       a.Labels,
		Annotations:  a.Annotations,
		StartsAt:     starts,
		EndsAt:       ends,
		GeneratorURL: a.GeneratorURL,
		Fingerprint:  fp,
	}, nil
}

// parseTime parses an RFC 3339 time. Alertmanager sends the zero time
// "0001-01-01T00:00:00Z" as endsAt of a firing alert; that stays zero.
func parseTime(field, s string, required bool) (time.Time, error) {
	if s == "" {
		if required {
			return time.Time{}, fmt.Errorf("%s: missing", field)
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time", field, s)
	}
	return t.UTC(), nil
}

func toLabelSet(kv map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(kv))
	for k, v := range kv {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// jsonError turns encoding/json's errors into messages that say where.
func jsonError(err error) error {
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("malformed JSON at byte %d: %w", syntaxErr.Offset, syntaxErr)
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return fmt.Errorf("body: expected a JSON object, got JSON %s", typeErr.Value)
		}
		return fmt.Errorf("%s: expected %s, got JSON %s", jsonPath(typeErr.Field), typeErr.Type.Kind(), typeErr.Value)
	}
	return fmt.Errorf("malformed JSON: %w", err)
}

// jsonPath drops the Go names of embedded structs (Data, Alert) that
// encoding/json puts into field paths, leaving the JSON keys.
func jsonPath(field string) string {
	var keep []string
	for _, p := range strings.Split(field, ".") {
		if p != "" && !unicode.IsUpper(rune(p[0])) {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ".")
}

// DecodeAlertmanager parses and validates an Alertmanager webhook body, as
// the webhook endpoint does (used by the render subcommand).
func DecodeAlertmanager(body []byte, route string) (*alert.Group, error) {
	return decodeAlertmanager(body, route)
}
