package dispatch

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/telegram"
)

type metrics struct {
	sent       *prometheus.CounterVec
	edits      prometheus.Counter
	coalesced  *prometheus.CounterVec
	duplicates prometheus.Counter
	errors     *prometheus.CounterVec
	throttled  prometheus.Counter
	fallbacks  prometheus.Counter
	latency    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_messages_sent_total",
			Help: "Messages Telegram accepted, by kind (single, digest, resolved_reply).",
		}, []string{"kind"}),
		edits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alertgram_message_edits_total",
			Help: "Messages edited in place (a group resolved).",
		}),
		coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_notifications_coalesced_total",
			Help: "Notifications that needed no message of their own: superseded by a newer state of their group, or merged into a digest.",
		}, []string{"how"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alertgram_notifications_deduplicated_total",
			Help: "Identical notifications (Alertmanager HA peers, retries) accepted and dropped within the dedupe window.",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alertgram_telegram_429_total",
			Help: "Telegram 429 Too Many Requests answers.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_telegram_errors_total",
			Help: "Failed Telegram sends by error code (0: network or timeout).",
		}, []string{"code"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alertgram_plain_text_fallbacks_total",
			Help: "Messages resent as plain text because Telegram could not parse the formatted text.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "alertgram_delivery_latency_seconds",
			Help:    "Time from webhook accepted to Telegram accepting the message.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.edits, m.coalesced, m.duplicates, m.errors, m.throttled, m.fallbacks, m.latency)
	}
	return m
}

func (m *metrics) observeResult(err error) {
	if err == nil {
		return
	}
	if telegram.IsTooManyRequests(err) {
		m.throttled.Inc()
	}
	code := 0
	var apiErr *telegram.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.Code
	}
	m.errors.WithLabelValues(strconv.Itoa(code)).Inc()
}
