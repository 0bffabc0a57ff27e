package testutil

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// limitWindow is one sliding window a send is checked against.
type limitWindow struct {
	key    string
	window Window
}

// allow checks a send (or an edit, which only counts per chat) against the
// sliding windows and records it when every window has room. A refusal is
// Telegram's 429 with retry_after rounded up to whole seconds; call with
// f.mu held.
func (f *Telegram) allow(chatID int64, edit bool) *apiError {
	now := f.now()
	windows := f.windowsFor(chatID, edit)
	wait := 0
	for _, w := range windows {
		wait = max(wait, f.windowWait(w, now))
	}
	if wait > 0 {
		f.violations++
		return &apiError{code: http.StatusTooManyRequests,
			description: fmt.Sprintf("Too Many Requests: retry after %d", wait), retryAfter: wait}
	}
	for _, w := range windows {
		if w.window.Max > 0 && w.window.Per > 0 {
			f.windows[w.key] = append(f.windows[w.key], now)
		}
	}
	return nil
}

func (f *Telegram) windowsFor(chatID int64, edit bool) []limitWindow {
	id := strconv.FormatInt(chatID, 10)
	ws := []limitWindow{{"chat:" + id, f.limits.PerChat}}
	if edit {
		return ws
	}
	if chatID < 0 {
		ws = append(ws, limitWindow{"group:" + id, f.limits.PerGroup})
	}
	return append(ws, limitWindow{"global", f.limits.Global})
}

// windowWait prunes the window and returns how many whole seconds until it
// has room, 0 if it has room now.
func (f *Telegram) windowWait(w limitWindow, now time.Time) int {
	if w.window.Max <= 0 || w.window.Per <= 0 {
		return 0
	}
	var kept []time.Time
	for _, t := range f.windows[w.key] {
		if now.Sub(t) < w.window.Per {
			kept = append(kept, t)
		}
	}
	f.windows[w.key] = kept
	if len(kept) < w.window.Max {
		return 0
	}
	until := kept[len(kept)-w.window.Max].Add(w.window.Per).Sub(now)
	return max(1, int(math.Ceil(until.Seconds())))
}
