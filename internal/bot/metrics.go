package bot

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	updates        *prometheus.CounterVec
	commands       *prometheus.CounterVec
	repliesDropped *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_telegram_updates_total",
			Help: "Telegram updates received by type (message, callback_query, my_chat_member, duplicate, other).",
		}, []string{"type"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_bot_commands_total",
			Help: "Bot commands by command and result (ok, error, limited: over the chat's or sender's command limit, ignored).",
		}, []string{"command", "result"}),
		repliesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_bot_replies_dropped_total",
			Help: "Bot answers dropped unsent by reason (queue_full: the reply queue was full; shutdown).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.updates, m.commands, m.repliesDropped)
	}
	return m
}

type actionMetrics struct {
	presses *prometheus.CounterVec
}

func newActionMetrics(reg prometheus.Registerer) *actionMetrics {
	m := &actionMetrics{
		presses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_button_presses_total",
			Help: "Inline button presses by action and result (ok, expired, not_allowed, failed).",
		}, []string{"action", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.presses)
	}
	return m
}
