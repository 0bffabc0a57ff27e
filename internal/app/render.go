package app

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/config"
	"github.com/alertgram/alertgram/internal/httpapi"
	"github.com/alertgram/alertgram/internal/render"
)

// Payload sources for RenderPayload; SourceAuto tells them apart by the
// payload's shape.
const (
	SourceAuto         = ""
	SourceAlertmanager = string(alert.SourceAlertmanager)
	SourceGrafana      = string(alert.SourceGrafana)
)

// RenderPayload renders a webhook body through route's template exactly as
// the dispatcher would before sending it. source is the webhook it would
// arrive at: SourceAlertmanager, SourceGrafana, or SourceAuto to detect it.
func RenderPayload(cfg *config.Config, route, source string, payload []byte) (render.Message, error) {
	rt, ok := cfg.Route(route)
	if !ok {
		return render.Message{}, fmt.Errorf("route %q is not configured", route)
	}
	r, err := NewRenderer(cfg)
	if err != nil {
		return render.Message{}, err
	}
	if source == SourceAuto {
		if source, err = DetectSource(payload); err != nil {
			return render.Message{}, fmt.Errorf("payload: %w", err)
		}
	}
	var g *alert.Group
	switch source {
	case SourceAlertmanager:
		g, err = httpapi.DecodeAlertmanager(payload, route)
	case SourceGrafana:
		g, err = httpapi.DecodeGrafana(payload, route)
	default:
		return render.Message{}, fmt.Errorf("unknown source %q: want %s or %s", source, SourceAlertmanager, SourceGrafana)
	}
	if err != nil {
		return render.Message{}, fmt.Errorf("payload: %w", err)
	}
	return r.Render(g, rt.Template, render.Mode(rt.ParseMode))
}

// DetectSource tells which webhook a payload is for: Alertmanager's has
// version "4", Grafana's unified alerting version "1", and Grafana's
// legacy alerting no version but ruleId or evalMatches (PROTOCOLS.md §1,
// §3).
func DetectSource(payload []byte) (string, error) {
	var shape struct {
		Version     *string         `json:"version"`
		RuleID      json.RawMessage `json:"ruleId"`
		EvalMatches json.RawMessage `json:"evalMatches"`
	}
	if err := json.Unmarshal(payload, &shape); err != nil {
		return "", fmt.Errorf("not a JSON object: %w", err)
	}
	switch {
	case shape.Version == nil && (shape.RuleID != nil || shape.EvalMatches != nil):
		return SourceGrafana, nil
	case shape.Version == nil:
		return "", errors.New("no version field and no ruleId or evalMatches: neither an Alertmanager nor a Grafana webhook payload (name it with --source)")
	case *shape.Version == "4":
		return SourceAlertmanager, nil
	case *shape.Version == "1":
		return SourceGrafana, nil
	}
	return "", fmt.Errorf(`version %q: want "4" (Alertmanager) or "1" (Grafana); name the source with --source`, *shape.Version)
}
