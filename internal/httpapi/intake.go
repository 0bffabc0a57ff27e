package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/alert"
)

// decoder turns a webhook body into a validated group for a route.
type decoder func(body []byte, route string) (*alert.Group, error)

type webhooks struct {
	deps    Deps
	metrics *metrics
}

type metrics struct {
	received *prometheus.CounterVec
	alerts   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_webhooks_received_total",
			Help: "Webhook requests by source, route and result (accepted, ignored, invalid, unauthorized, unknown_route, too_large, unavailable).",
		}, []string{"source", "route", "result"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_alerts_received_total",
			Help: "Alerts in accepted webhooks by source, route and status.",
		}, []string{"source", "route", "status"}),
	}
	if reg != nil {
		reg.MustRegister(m.received, m.alerts)
	}
	return m
}

// ignoredError is a decoder's answer for a valid payload that carries
// nothing to deliver (a legacy Grafana "pending" or "paused"): the webhook
// answers 200 with status "ignored" and the reason, and stores nothing.
type ignoredError struct{ reason string }

func (e *ignoredError) Error() string { return e.reason }

// intake is the handler of POST /webhook/<source>/:route: read within the
// size limit, decode and validate, then enqueue durably. Only a committed
// notification gets 2xx; nothing is stored for a 4xx.
func (h *webhooks) intake(src alert.Source, decode decoder) gin.HandlerFunc {
	source := string(src)
	return func(c *gin.Context) {
		route := c.Param("route")
		if !h.deps.Routes(route) {
			h.metrics.received.WithLabelValues(source, "unknown", "unknown_route").Inc()
			abort(c, http.StatusNotFound, fmt.Sprintf("route %q is not configured", route))
			return
		}
		fail := func(code int, result, msg string) {
			h.metrics.received.WithLabelValues(source, route, result).Inc()
			abort(c, code, msg)
		}
		if err := checkContentType(c.GetHeader("Content-Type")); err != nil {
			fail(http.StatusUnsupportedMediaType, "invalid", err.Error())
			return
		}
		body, err := h.readBody(c)
		if errors.Is(err, errBodyTooLarge) {
			fail(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body exceeds the limit of %d bytes", h.deps.MaxBodyBytes))
			return
		}
		if err != nil {
			fail(http.StatusBadRequest, "invalid", "reading body: "+err.Error())
			return
		}
		g, err := decode(body, route)
		var ignored *ignoredError
		if errors.As(err, &ignored) {
			h.metrics.received.WithLabelValues(source, route, "ignored").Inc()
			c.JSON(http.StatusOK, gin.H{"status": "ignored", "alerts": 0, "reason": ignored.reason})
			return
		}
		if err != nil {
			fail(http.StatusBadRequest, "invalid", "invalid "+source+" payload: "+err.Error())
			return
		}
		if err := h.deps.Enqueuer.Enqueue(c.Request.Context(), g); err != nil {
			h.deps.Logger.Error("could not accept notification", "source", source, "route", route, "group_key", g.GroupKey, "err", err)
			// 503: Alertmanager retries 5xx, so the notification is not lost.
			fail(http.StatusServiceUnavailable, "unavailable", "could not store the notification; retry later")
			return
		}
		h.metrics.received.WithLabelValues(source, route, "accepted").Inc()
		for _, a := range g.Alerts {
			h.metrics.alerts.WithLabelValues(source, route, string(a.Status)).Inc()
		}
		c.JSON(http.StatusOK, gin.H{"status": "accepted", "alerts": len(g.Alerts)})
	}
}

func (h *webhooks) readBody(c *gin.Context) ([]byte, error) {
	limit := h.deps.MaxBodyBytes
	if c.Request.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, errBodyTooLarge
	}
	return body, err
}

// checkContentType accepts JSON or an absent type (some senders omit it).
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return fmt.Errorf("Content-Type %q is not application/json", ct)
	}
	return nil
}

// sourceFromPath names the source of a /webhook/<source>/... request for
// metrics before the route is known.
func sourceFromPath(c *gin.Context) string {
	parts := strings.Split(strings.TrimPrefix(c.Request.URL.Path, "/webhook/"), "/")
	switch parts[0] {
	case string(alert.SourceAlertmanager), string(alert.SourceGrafana):
		return parts[0]
	}
	return "unknown"
}
