package ratelimit

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

// TestZero429s replays the sends of a property run with Telegram's limits
// against the project's fake Bot API (testutil), whose sliding-window
// checker refuses with 429 exactly as Telegram does. Each send reaches the
// fake 20ms after Wait returned plus a jitter of up to Margin: none is
// refused. As a control, the same sends with jitter of up to four times the
// margin are refused.
func TestZero429s(t *testing.T) {
	cfg := defaultBurst()
	cfg.callers = 1000
	var events []propEvent
	synctest.Test(t, func(t *testing.T) { events = runProperty(t, cfg, 7) })

	if n := replay(t, cfg.lim, events, cfg.lim.Margin); n != 0 {
		t.Errorf("%d sends refused with 429 (jitter up to the %v margin)", n, cfg.lim.Margin)
	}
	if n := replay(t, cfg.lim, events, 4*cfg.lim.Margin); n == 0 {
		t.Errorf("no send refused with jitter up to 4×%v: the replay checks nothing", cfg.lim.Margin)
	}
}

// replay POSTs each send to a fresh fake Bot API at its arrival time, in
// arrival order, and returns how many were refused with 429.
func replay(t *testing.T, lim Limits, events []propEvent, jitter time.Duration) int {
	t.Helper()
	type arrival struct {
		chat int64
		at   time.Time
	}
	var arrivals []arrival
	chats := map[int64]bool{}
	for _, e := range events {
		if !e.pause {
			j := time.Duration(rand.New(rand.NewPCG(uint64(e.caller), 0)).Int64N(int64(jitter) + 1))
			arrivals = append(arrivals, arrival{e.chat, e.at.Add(20*ms + j)})
			chats[e.chat] = true
		}
	}
	slices.SortStableFunc(arrivals, func(a, b arrival) int { return a.at.Compare(b.at) })

	var mu sync.Mutex
	var now time.Time
	tg := testutil.NewTelegram(t, testutil.WithClock(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}), testutil.WithLimits(testutil.Limits{
		PerChat:  testutil.Window(lim.PerChat),
		PerGroup: testutil.Window(lim.PerGroup),
		Global:   testutil.Window(lim.Global),
	}))
	url := tg.URL() + "/bot" + tg.Token() + "/sendMessage"
	for _, a := range arrivals {
		mu.Lock()
		now = a.at
		mu.Unlock()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(fmt.Sprintf(`{"chat_id":%d,"text":"x"}`, a.chat)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("sendMessage to chat %d: %s", a.chat, resp.Status)
		}
	}
	t.Logf("replayed %d sends to %d chats, jitter up to %v: %d refused with 429", len(arrivals), len(chats), jitter, tg.Violations())
	return tg.Violations()
}
