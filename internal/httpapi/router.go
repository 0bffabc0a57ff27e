// Package httpapi is alertgram's HTTP surface: webhook intake for
// Alertmanager and Grafana, health and readiness, and metrics. A
// webhook is answered 2xx only after its notification is durably accepted.
package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/alert"
)

func init() {
	// Gin's mode is a process-wide switch; debug mode only prints route
	// tables and warnings to stdout, bypassing slog.
	gin.SetMode(gin.ReleaseMode)
}

// Enqueuer durably accepts a notification. It returns nil only once the
// notification is committed: it will be delivered, also across restarts.
type Enqueuer interface {
	Enqueue(ctx context.Context, g *alert.Group) error
}

// Auth is the optional webhook authentication. At most one of Bearer and
// Basic is set; neither means no authentication.
type Auth struct {
	BearerToken   string
	BasicUser     string
	BasicPassword string
}

// Deps is what the router needs.
type Deps struct {
	Logger       *slog.Logger
	Enqueuer     Enqueuer
	Routes       func(name string) bool // whether a route exists
	Auth         Auth
	MaxBodyBytes int64
	// Ready reports whether the service can do its job (store reachable,
	// Telegram reachable); nil error means ready.
	Ready      func(ctx context.Context) error
	Metrics    http.Handler
	Registerer prometheus.Registerer

	// Updates handles POST /telegram/webhook in webhook mode (nil: off),
	// authenticated by WebhookSecret.
	Updates       UpdateHandler
	WebhookSecret string
	// Links serves POST /api/v1/links, authenticated by AdminToken (empty
	// token: off).
	Links      LinkCreator
	AdminToken string

	// GrafanaHMAC verifies Grafana's signature on /webhook/grafana/*
	// (zero: off).
	GrafanaHMAC GrafanaHMAC
	// Now is the clock for signature timestamps and legacy Grafana alerts;
	// time.Now if nil.
	Now func() time.Time
}

// NewRouter builds the Gin engine with every endpoint.
func NewRouter(d Deps) *gin.Engine {
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, recovery(d.Logger)), accessLog(d.Logger))
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) {
		abort(c, http.StatusNotFound, "no such endpoint: "+c.Request.Method+" "+c.Request.URL.Path)
	})
	r.NoMethod(func(c *gin.Context) {
		abort(c, http.StatusMethodNotAllowed, "method "+c.Request.Method+" not allowed on "+c.Request.URL.Path)
	})

	h := &webhooks{deps: d, metrics: newMetrics(d.Registerer)}
	hooks := r.Group("/webhook", h.authenticate)
	hooks.POST("/alertmanager/:route", h.intake(alert.SourceAlertmanager, decodeAlertmanager))
	hooks.POST("/grafana/:route", h.verifyGrafanaHMAC, h.intake(alert.SourceGrafana, newGrafanaDecoder(h.now)))

	r.POST("/telegram/webhook", telegramWebhook(d))
	r.POST("/api/v1/links", createLink(d))

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", readyz(d.Ready))
	if d.Metrics != nil {
		r.GET("/metrics", gin.WrapH(d.Metrics))
	}
	return r
}

// abort ends a request with a JSON error that says what is wrong.
func abort(c *gin.Context, code int, msg string) {
	c.AbortWithStatusJSON(code, gin.H{"error": msg})
}

func readyz(ready func(context.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
			defer cancel()
			if err := ready(ctx); err != nil {
				abort(c, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}

// authenticate checks the configured bearer token or basic credentials in
// constant time.
func (h *webhooks) authenticate(c *gin.Context) {
	a := h.deps.Auth
	switch {
	case a.BearerToken != "":
		if !equal(c.GetHeader("Authorization"), "Bearer "+a.BearerToken) {
			h.reject(c, "Bearer", "missing or wrong bearer token in the Authorization header")
		}
	case a.BasicUser != "":
		user, pass, ok := c.Request.BasicAuth()
		if !ok || !equal(user, a.BasicUser) || !equal(pass, a.BasicPassword) {
			h.reject(c, `Basic realm="alertgram"`, "missing or wrong basic auth credentials")
		}
	}
}

func (h *webhooks) reject(c *gin.Context, scheme, msg string) {
	h.metrics.received.WithLabelValues(sourceFromPath(c), "unknown", "unauthorized").Inc()
	c.Header("WWW-Authenticate", scheme)
	abort(c, http.StatusUnauthorized, msg)
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func recovery(l *slog.Logger) gin.RecoveryFunc {
	return func(c *gin.Context, err any) {
		l.Error("panic in handler", "path", c.FullPath(), "err", err)
		abort(c, http.StatusInternalServerError, "internal error")
	}
}

func accessLog(l *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		level := slog.LevelDebug
		if c.Writer.Status() >= 400 {
			level = slog.LevelWarn
		}
		l.Log(c.Request.Context(), level, "http request",
			"method", c.Request.Method, "path", c.Request.URL.Path,
			"status", c.Writer.Status(), "duration", time.Since(start), "remote", c.ClientIP())
	}
}

var errBodyTooLarge = errors.New("body too large")
