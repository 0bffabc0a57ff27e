package dispatch

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/testutil"
)

const (
	chatA       int64 = -1001
	chatB       int64 = -1002
	oldGroup    int64 = -4001
	supergroup  int64 = -1001234567890
	fallbacksMx       = "alertgram_plain_text_fallbacks_total"
)

// wantMsg is one message the fake must have accepted, in order.
type wantMsg struct {
	chat, thread int64
	parseMode    string
	prefix       string // of the parsed text
}

// TestRound drives one notification through routePending and deliverDue
// (more rounds when the first one schedules an immediate retry) and checks
// Telegram's side, the store and the chat events. Every case then runs one
// more round an hour later, which must send nothing: delivered and failed
// deliveries are final.
func TestRound(t *testing.T) {
	htmlNoResolved := map[string]RouteSpec{testRoute: {ParseMode: render.HTML, Template: "default"}}
	tests := []struct {
		name   string
		opts   testOpts
		setup  func(*testutil.Telegram)
		group  *alert.Group
		rounds int // deliverDue rounds before the checks; default 1

		calls     int // sendMessage calls, refused ones included
		msgs      []wantMsg
		counts    map[string]int
		fallbacks float64
		gone      []int64
		migrated  [][2]int64
		check     func(t *testing.T, calls []testutil.Call, msgs []testutil.Message)
	}{{
		name: "route with two static chats",
		opts: testOpts{
			routes: map[string]RouteSpec{testRoute: {ParseMode: render.MarkdownV2, Template: "default"}},
			chats:  []store.Target{{ChatID: chatA}, {ChatID: chatB}},
		},
		group: firing("DiskFull"),
		calls: 2,
		msgs: []wantMsg{
			{chat: chatA, parseMode: "MarkdownV2", prefix: "🔥 FIRING: DiskFull"},
			{chat: chatB, parseMode: "MarkdownV2", prefix: "🔥 FIRING: DiskFull"},
		},
		counts: map[string]int{store.StateDelivered: 2},
	}, {
		name:  "send_resolved off: resolved group goes nowhere",
		opts:  testOpts{routes: htmlNoResolved},
		group: group(testRoute, "DiskFull", alert.StatusResolved, 1),
	}, {
		name:   "send_resolved off: firing group is sent",
		opts:   testOpts{routes: htmlNoResolved},
		group:  firing("DiskFull"),
		calls:  1,
		msgs:   []wantMsg{{chat: chatA, parseMode: "HTML", prefix: "🔥 FIRING: DiskFull"}},
		counts: map[string]int{store.StateDelivered: 1},
	}, {
		name:   "send_resolved on: resolved group is sent",
		group:  group(testRoute, "DiskFull", alert.StatusResolved, 1),
		calls:  1,
		msgs:   []wantMsg{{chat: chatA, parseMode: "HTML", prefix: "✅ RESOLVED: DiskFull"}},
		counts: map[string]int{store.StateDelivered: 1},
	}, {
		name: "telegram cannot parse the text: resent once as plain text",
		setup: func(f *testutil.Telegram) {
			f.FailNext("sendMessage", http.StatusBadRequest,
				"Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 12", 0)
		},
		group:     firing("DiskFull"),
		calls:     2,
		msgs:      []wantMsg{{chat: chatA, parseMode: "", prefix: "FIRING: DiskFull"}},
		counts:    map[string]int{store.StateDelivered: 1},
		fallbacks: 1,
		check: func(t *testing.T, calls []testutil.Call, _ []testutil.Message) {
			if calls[0].Params["parse_mode"] != "HTML" || calls[1].Params["parse_mode"] != "" {
				t.Errorf("parse_mode of the two calls = %q, %q; want HTML, then none",
					calls[0].Params["parse_mode"], calls[1].Params["parse_mode"])
			}
		},
	}, {
		name:   "bot blocked: failed, chat reported gone, not retried",
		setup:  func(f *testutil.Telegram) { f.Block(chatA) },
		group:  firing("DiskFull"),
		calls:  1,
		counts: map[string]int{store.StateFailed: 1},
		gone:   []int64{chatA},
	}, {
		name:     "group upgraded to supergroup: retargeted and delivered there",
		opts:     testOpts{chats: []store.Target{{ChatID: oldGroup}}},
		setup:    func(f *testutil.Telegram) { f.Migrate(oldGroup, supergroup) },
		group:    firing("DiskFull"),
		rounds:   2,
		calls:    2,
		msgs:     []wantMsg{{chat: supergroup, parseMode: "HTML", prefix: "🔥 FIRING: DiskFull"}},
		counts:   map[string]int{store.StateDelivered: 1},
		migrated: [][2]int64{{oldGroup, supergroup}},
	}, {
		name:   "forum topic missing: resent to the main thread",
		opts:   testOpts{chats: []store.Target{{ChatID: chatA, ThreadID: 7}}},
		group:  firing("DiskFull"),
		calls:  2,
		msgs:   []wantMsg{{chat: chatA, thread: 0, parseMode: "HTML", prefix: "🔥 FIRING: DiskFull"}},
		counts: map[string]int{store.StateDelivered: 1},
		check: func(t *testing.T, calls []testutil.Call, _ []testutil.Message) {
			if calls[0].Params["message_thread_id"] != "7" || calls[1].Params["message_thread_id"] != "" {
				t.Errorf("message_thread_id of the two calls = %q, %q; want 7, then none",
					calls[0].Params["message_thread_id"], calls[1].Params["message_thread_id"])
			}
		},
	}, {
		name:   "forum topic exists: sent into it",
		opts:   testOpts{chats: []store.Target{{ChatID: chatA, ThreadID: 7}}},
		setup:  func(f *testutil.Telegram) { f.AddTopic(chatA, 7) },
		group:  firing("DiskFull"),
		calls:  1,
		msgs:   []wantMsg{{chat: chatA, thread: 7, parseMode: "HTML", prefix: "🔥 FIRING: DiskFull"}},
		counts: map[string]int{store.StateDelivered: 1},
	}, {
		name: "user template fails at execution: plain-text fallback",
		opts: testOpts{
			routes:        map[string]RouteSpec{testRoute: {ParseMode: render.HTML, Template: "broken"}},
			userTemplates: map[string]string{"bad.tmpl": `{{ define "broken" }}{{ index .Alerts 99 }}{{ end }}`},
		},
		group:  firing("DiskFull"),
		calls:  1,
		msgs:   []wantMsg{{chat: chatA, parseMode: "", prefix: "FIRING: DiskFull\n- DiskFull (host-000:9100)"}},
		counts: map[string]int{store.StateDelivered: 1},
	}, {
		name:   "300 alerts: one message within the limit, the rest counted",
		group:  group(testRoute, "HighLatency", alert.StatusFiring, 300),
		calls:  1,
		msgs:   []wantMsg{{chat: chatA, parseMode: "HTML", prefix: "🔥 FIRING: HighLatency (300 firing)"}},
		counts: map[string]int{store.StateDelivered: 1},
		check: func(t *testing.T, _ []testutil.Call, msgs []testutil.Message) {
			text := msgs[0].ParsedText
			if n := utf8.RuneCountInString(text); n > render.MaxTextLength {
				t.Errorf("message has %d code points, over %d", n, render.MaxTextLength)
			}
			m := regexp.MustCompile(`\+(\d+) more alert\(s\) not shown`).FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("no \"+N more\" line in %q", text[max(0, len(text)-200):])
			}
			omitted, _ := strconv.Atoi(m[1])
			shown := strings.Count(text, "instance=host-")
			if omitted == 0 || shown == 0 || shown+omitted != 300 {
				t.Errorf("shown %d + omitted %d, want 300 with both > 0", shown, omitted)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			events := &eventLog{}
			tt.opts.reg, tt.opts.events = reg, events.chatEvents()
			d, st, fake, clk := newTestDispatcher(t, tt.opts)
			if tt.setup != nil {
				tt.setup(fake)
			}
			enqueue(t, d, tt.group)
			d.routePending(t.Context())
			for range max(tt.rounds, 1) {
				d.deliverDue(t.Context())
			}

			calls := fake.Calls("sendMessage")
			if len(calls) != tt.calls {
				t.Fatalf("sendMessage calls = %d, want %d: %+v", len(calls), tt.calls, calls)
			}
			msgs := fake.Messages()
			checkMessages(t, msgs, tt.msgs)
			wantCounts(t, st, tt.counts)
			if got := counterValue(t, reg, fallbacksMx); got != tt.fallbacks {
				t.Errorf("%s = %v, want %v", fallbacksMx, got, tt.fallbacks)
			}
			gone, migrated := events.snapshot()
			if !slices.Equal(gone, tt.gone) || !slices.Equal(migrated, tt.migrated) {
				t.Errorf("events: gone %v, migrated %v; want %v, %v", gone, migrated, tt.gone, tt.migrated)
			}
			if tt.check != nil && len(msgs) == len(tt.msgs) {
				tt.check(t, calls, msgs)
			}

			clk.Advance(time.Hour)
			round(t, d)
			if n := len(fake.Calls("sendMessage")); n != tt.calls {
				t.Errorf("a later round made %d more sendMessage calls", n-tt.calls)
			}
		})
	}
}

// checkMessages compares accepted messages with want, in any order across
// chats (chats are sent to in parallel).
func checkMessages(t *testing.T, got []testutil.Message, want []wantMsg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("accepted %d messages, want %d: %+v", len(got), len(want), got)
	}
	slices.SortFunc(got, func(a, b testutil.Message) int { return cmp.Compare(b.ChatID, a.ChatID) })
	slices.SortFunc(want, func(a, b wantMsg) int { return cmp.Compare(b.chat, a.chat) })
	for i, w := range want {
		m := got[i]
		if m.ChatID != w.chat || m.ThreadID != w.thread || m.ParseMode != w.parseMode ||
			!strings.HasPrefix(m.ParsedText, w.prefix) {
			t.Errorf("message %d: chat %d thread %d parse_mode %q text %q; want chat %d thread %d parse_mode %q text starting %q",
				i, m.ChatID, m.ThreadID, m.ParseMode, m.ParsedText, w.chat, w.thread, w.parseMode, w.prefix)
		}
	}
}

// TestEnqueueRoutesAtIntake: Enqueue stores a notification with its
// deliveries in one commit; when its recipients cannot be resolved then, it
// is stored unrouted and the next round routes it.
func TestEnqueueRoutesAtIntake(t *testing.T) {
	var failing atomic.Bool
	d, st, fake, _ := newTestDispatcher(t, testOpts{
		recipients: func(context.Context, string, *alert.Group) ([]store.Target, error) {
			if failing.Load() {
				return nil, errors.New("subscriptions unreadable")
			}
			return []store.Target{{ChatID: chatA}, {ChatID: chatB}}, nil
		},
	})
	enqueue(t, d, firing("Routed"))
	wantCounts(t, st, map[string]int{store.StatePending: 2})

	failing.Store(true)
	enqueue(t, d, firing("Unrouted"))
	wantCounts(t, st, map[string]int{store.StatePending: 2, "unrouted": 1})
	round(t, d) // recipients still failing: it stays unrouted, the routed one goes out
	wantCounts(t, st, map[string]int{store.StateDelivered: 2, "unrouted": 1})

	failing.Store(false)
	round(t, d)
	wantCounts(t, st, map[string]int{store.StateDelivered: 4})
	for _, chat := range []int64{chatA, chatB} {
		msgs := fake.MessagesIn(chat)
		if len(msgs) != 2 || !strings.Contains(msgs[0].ParsedText, "Routed") || !strings.Contains(msgs[1].ParsedText, "Unrouted") {
			t.Errorf("chat %d got %+v, want Routed then Unrouted", chat, msgs)
		}
	}
}
