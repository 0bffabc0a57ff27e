package app

import (
	"fmt"

	"github.com/alertgram/alertgram/internal/config"
	"github.com/alertgram/alertgram/internal/httpapi"
	"github.com/alertgram/alertgram/internal/render"
)

// RenderPayload renders a webhook body through route's template exactly as
// the dispatcher would before sending it.
func RenderPayload(cfg *config.Config, route string, payload []byte) (render.Message, error) {
	rt, ok := cfg.Route(route)
	if !ok {
		return render.Message{}, fmt.Errorf("route %q is not configured", route)
	}
	r, err := NewRenderer(cfg)
	if err != nil {
		return render.Message{}, err
	}
	g, err := httpapi.DecodeAlertmanager(payload, route)
	if err != nil {
		return render.Message{}, fmt.Errorf("payload: %w", err)
	}
	return r.Render(g, rt.Template, render.Mode(rt.ParseMode))
}
