package ratelimit

import "time"

// Window is a sliding-window limit: at most Max sends in any interval of
// length Per. The zero Window (or any with Max or Per not positive) is no
// limit.
type Window struct {
	Max int
	Per time.Duration
}

// Limits are the windows a Limiter enforces.
type Limits struct {
	PerChat  Window // every chat
	PerGroup Window // each group chat (negative chat id), on top of PerChat
	Global   Window // all sends together
	// Margin is added to every window's Per to absorb network jitter
	// between Wait returning and Telegram receiving the request. A negative
	// Margin counts as zero.
	Margin time.Duration
	// SpreadGlobal spaces global sends at least Global.Per/Global.Max apart
	// instead of letting Global.Max start at once: Telegram counts requests
	// as they arrive, and a burst of concurrent requests arrives spread out,
	// pushing its tail into the next window.
	SpreadGlobal bool
	// LowReserve is how many sends of every PerGroup window WaitLow leaves
	// to Wait: a low-priority send to a group starts only while its window
	// holds fewer than PerGroup.Max-LowReserve sends (at least one send is
	// always allowed), so replies to commands can never take the part of a
	// group's budget kept for alerts. Zero reserves nothing.
	LowReserve int
}

// DefaultLimits are Telegram's documented limits (Bot FAQ, PROTOCOLS.md
// §4.9) with a 50ms margin: 1 send per second per chat, 20 per minute per
// group and 30 per second overall; WaitLow sends leave half of a group's
// window to Wait.
func DefaultLimits() Limits {
	return Limits{
		PerChat:    Window{Max: 1, Per: time.Second},
		PerGroup:   Window{Max: 20, Per: time.Minute},
		Global:     Window{Max: 30, Per: time.Second},
		Margin:     50 * time.Millisecond,
		LowReserve: 10,
	}
}

// limit is a Window as the Limiter enforces it: max 0 is no limit, span is
// Per plus the margin.
type limit struct {
	max  int
	span time.Duration
}

func (w Window) limit(margin time.Duration) limit {
	if w.Max <= 0 || w.Per <= 0 {
		return limit{}
	}
	return limit{max: w.Max, span: w.Per + max(margin, 0)}
}
