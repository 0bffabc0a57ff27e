package bot

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	updates  *prometheus.CounterVec
	commands *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_telegram_updates_total",
			Help: "Telegram updates received by type (message, callback_query, my_chat_member, duplicate, other).",
		}, []string{"type"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertgram_bot_commands_total",
			Help: "Bot commands handled by command and result.",
		}, []string{"command", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.updates, m.commands)
	}
	return m
}
