package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/testutil"
)

// report collects the figures and prints them as one table at the end.
type report struct {
	mu   sync.Mutex
	rows [][3]string
}

func (r *report) add(scenario, figure, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, [3]string{scenario, figure, value})
}

func (r *report) print(t *testing.T) {
	var b strings.Builder
	b.WriteString("\n| scenario | figure | value |\n|---|---|---|\n")
	for _, row := range r.rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", row[0], row[1], row[2])
	}
	t.Log(b.String())
}

func TestLoad(t *testing.T) {
	if !*load {
		t.Skip("load scenarios run only with -load (make load)")
	}
	rep := &report{}
	defer rep.print(t)
	t.Run("idle", func(t *testing.T) { idleLatency(t, rep) })
	t.Run("storm", func(t *testing.T) { storm(t, rep) })
	t.Run("fanout", func(t *testing.T) { fanout(t, rep) })
	t.Run("ingest", func(t *testing.T) { ingest(t, rep) })
	t.Run("wal", func(t *testing.T) { walGrowth(t, rep) })
}

// idleLatency: one alert at a time (1.1 s apart, so pacing never waits):
// webhook accepted → the fake receives sendMessage.
func idleLatency(t *testing.T, rep *report) {
	fake := testutil.NewTelegram(t)
	p := start(t, fake, "  - name: idle\n    chats: [4242]\n")
	cur, _ := p.rss(t)
	rep.add("idle", "RSS after start", fmt.Sprintf("%.1f MiB", cur))
	const samples = 20
	var lat []time.Duration
	for i := range samples {
		name := fmt.Sprintf("Idle%02d", i)
		begin := time.Now()
		if _, err := post(t.Context(), p.url+"/webhook/alertmanager/idle", webhook(name, "critical", begin)); err != nil {
			t.Fatal(err)
		}
		msgs := fake.WaitMessagesIn(t, 4242, i+1, 10*time.Second)
		lat = append(lat, msgs[i].Time.Sub(begin))
		time.Sleep(1100 * time.Millisecond) // idle: the next alert comes after the per-chat window
	}
	sortDurations(lat)
	rep.add("idle", fmt.Sprintf("latency webhook → sendMessage, %d alerts, p50 / p99", samples), ms(percentile(lat, .5))+" / "+ms(percentile(lat, .99)))
	mem := p.memory(t)
	rep.add("idle", "RSS now / peak; of it file-backed (the binary's mapped pages)", fmt.Sprintf("%.1f / %.1f MiB; %.1f MiB", mem["VmRSS"], mem["VmHWM"], mem["RssFile"]))
}

var stormName = regexp.MustCompile(`Storm\d{4}`)

// storm: 1,000 distinct alert groups for one group chat, posted within 10 s.
func storm(t *testing.T, rep *report) {
	const groups = 1000
	const chat = -1005550001
	fake := testutil.NewTelegram(t)
	p := start(t, fake, fmt.Sprintf("  - name: storm\n    chats: [%d]\n", chat))
	url := p.url + "/webhook/alertmanager/storm"
	begin := time.Now()
	var lastPost time.Time
	tick := time.NewTicker(10 * time.Second / groups)
	for i := range groups {
		<-tick.C
		sev := []string{"critical", "warning", "info"}[i%3]
		if _, err := post(t.Context(), url, webhook(fmt.Sprintf("Storm%04d", i), sev, time.Now())); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		lastPost = time.Now()
	}
	tick.Stop()
	seen := map[string]bool{}
	done := until(t, 10*time.Minute, "every storm group visible", func() bool {
		for _, m := range fake.MessagesIn(chat) {
			for _, n := range stormName.FindAllString(m.ParsedText, -1) {
				seen[n] = true
			}
		}
		return len(seen) == groups
	})
	msgs := fake.MessagesIn(chat)
	visible := done.Sub(begin)
	bound := max(minGroupSchedule(len(msgs)), lastPost.Sub(begin))
	rep.add("storm", "alert groups posted / within", fmt.Sprintf("%d / %.1f s", groups, lastPost.Sub(begin).Seconds()))
	rep.add("storm", "messages sent / 429s", fmt.Sprintf("%d / %d", len(msgs), fake.Violations()))
	rep.add("storm", "every alert visible after", fmt.Sprintf("%.1f s", visible.Seconds()))
	rep.add("storm", "Telegram's minimum for that many messages (1/s, 20/min)", fmt.Sprintf("%.1f s (ratio %.2f)", bound.Seconds(), visible.Seconds()/bound.Seconds()))
	_, peak := p.rss(t)
	rep.add("storm", "peak RSS", fmt.Sprintf("%.1f MiB", peak))
}

// minGroupSchedule is the earliest time the last of n messages to one group
// can be sent: at most 1 per second and 20 per minute, first at 0.
func minGroupSchedule(n int) time.Duration {
	at := make([]time.Duration, n)
	for k := 1; k < n; k++ {
		at[k] = at[k-1] + time.Second
		if k >= 20 {
			at[k] = max(at[k], at[k-20]+time.Minute)
		}
	}
	if n == 0 {
		return 0
	}
	return at[n-1]
}

// fanout: one alert to a route with 500 private chats.
func fanout(t *testing.T, rep *report) {
	const chats = 500
	fake := testutil.NewTelegram(t)
	var ids []string
	for i := range chats {
		ids = append(ids, fmt.Sprint(700000+i))
	}
	p := start(t, fake, "  - name: fanout\n    chats: ["+strings.Join(ids, ", ")+"]\n")
	begin := time.Now()
	if _, err := post(t.Context(), p.url+"/webhook/alertmanager/fanout", webhook("FanOut", "critical", begin)); err != nil {
		t.Fatal(err)
	}
	fake.WaitMessages(t, chats, time.Minute)
	all := fake.Messages()
	last := all[len(all)-1].Time
	rep.add("fan-out", "chats / 429s", fmt.Sprintf("%d / %d", chats, fake.Violations()))
	rep.add("fan-out", "all chats have the alert after", fmt.Sprintf("%.1f s (lower bound %d/30 = %.1f s)", last.Sub(begin).Seconds(), chats, float64(chats)/30))
	_, peak := p.rss(t)
	rep.add("fan-out", "peak RSS", fmt.Sprintf("%.1f MiB", peak))
}

// ingest: webhooks posted as fast as alertgram accepts them (each one a
// durable SQLite commit), from concurrent senders, for a fixed time.
func ingest(t *testing.T, rep *report) {
	const duration = 10 * time.Second
	fake := testutil.NewTelegram(t)
	p := start(t, fake, "  - name: ingest\n    chats: [-1009990001]\n")
	url := p.url + "/webhook/alertmanager/ingest"
	wal := startWALSampler(p.db + "-wal")
	defer wal.stop()
	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	var (
		mu      sync.Mutex
		lat     []time.Duration
		failed  atomic.Int64
		counter atomic.Int64
		wg      sync.WaitGroup
	)
	begin := time.Now()
	// Each webhook is its own alert group. The body is encoded once and the
	// name spliced in, so that the generator, which shares the machine's
	// cores with alertgram, spends as little of them as it can.
	const placeholder = "IngestXXXXXXX"
	body := webhook(placeholder, "warning", begin)
	for range *senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				n := counter.Add(1)
				d, err := post(ctx, url, bytes.ReplaceAll(body, []byte(placeholder), fmt.Appendf(nil, "Ingest%07d", n)))
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				mine = append(mine, d)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	sortDurations(lat)
	rep.add("ingest", fmt.Sprintf("accepted webhooks/s (%d senders, %v, SQLite)", *senders, duration), fmt.Sprintf("%.0f (%d accepted, %d failed)", float64(len(lat))/elapsed.Seconds(), len(lat), failed.Load()))
	rep.add("ingest", "latency p50 / p99", ms(percentile(lat, .5))+" / "+ms(percentile(lat, .99)))
	rep.add("ingest", "WAL max / at the end", inMiB(wal.max())+" / "+inMiB(wal.current()))
	_, peak := p.rss(t)
	rep.add("ingest", "peak RSS", fmt.Sprintf("%.1f MiB", peak))
}
