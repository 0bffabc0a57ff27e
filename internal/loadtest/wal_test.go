package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/testutil"
)

// walBound is what the wal scenario allows the WAL at any time; walIdle is
// what it allows once alertgram is idle again.
const (
	walBound = 64 << 20
	walIdle  = 1 << 20
)

// wal: sustained fan-out (issue #19 item 3). 300 subscribed chats, 5
// webhooks/s for 90 s, each its own alert group: 135,000 deliveries written,
// claimed and marked delivered while readers route, list and count. The WAL
// is sampled every 50 ms until the outbox has drained and alertgram is idle.
//
//	go test ./internal/loadtest -run 'TestLoad/^wal$' -load -v -count=1
func walGrowth(t *testing.T, rep *report) {
	const (
		subscribers = 300
		rate        = 5
		duration    = 90 * time.Second
		route       = "wal"
	)
	fake := testutil.NewTelegram(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "alertgram.db")
	subscribeChats(t, db, route, subscribers)
	p := startIn(t, fake, dir, "  - name: "+route+"\n    chats: []\n")
	sampler := startWALSampler(db + "-wal")
	defer sampler.stop()

	accepted, failed, lat := postAtRate(t, p.url+"/webhook/alertmanager/"+route, rate, duration)
	atEnd := sampler.current()
	maxLoad := sampler.max()
	rep.add("wal", fmt.Sprintf("webhooks at %d/s for %v to %d subscribers: accepted / failed", rate, duration, subscribers),
		fmt.Sprintf("%d / %d", accepted, failed))
	rep.add("wal", "webhook latency p50 / p99", ms(percentile(lat, .5))+" / "+ms(percentile(lat, .99)))

	drained := until(t, 10*time.Minute, "outbox drained", func() bool { return outboxDrained(t.Context(), p.url) })
	idle, ok := waitWAL(db+"-wal", walIdle, 30*time.Second)
	maxAll := sampler.max()
	dbSize, _ := sizeOf(db)
	rep.add("wal", "WAL max during load / at end of load", inMiB(maxLoad)+" / "+inMiB(atEnd))
	rep.add("wal", "WAL max until drained / once idle (outbox drained after)",
		fmt.Sprintf("%s / %s (%.1f s after the load)", inMiB(maxAll), inMiB(idle), drained.Sub(sampler.began).Seconds()-duration.Seconds()))
	rep.add("wal", "database file / alertgram_store_wal_bytes at the end", inMiB(dbSize)+" / "+scrapeMiB(t.Context(), p.url, "alertgram_store_wal_bytes"))
	if maxAll > walBound {
		t.Errorf("WAL reached %s, want ≤ %s", inMiB(maxAll), inMiB(walBound))
	}
	if !ok {
		t.Errorf("WAL is %s once idle, want ≤ %s", inMiB(idle), inMiB(walIdle))
	}
}

// subscribeChats creates n subscriptions of private chats to route in the
// database at path, through the store as a redeemed deep link would.
func subscribeChats(t *testing.T, path, route string, n int) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for i := range n {
		token := fmt.Sprintf("loadtest-%d", i)
		err := st.CreateLinkToken(ctx, store.LinkToken{Token: token, Route: route, CreatedAt: now,
			ExpiresAt: now.Add(time.Hour), CreatedBy: "loadtest"})
		if err != nil {
			t.Fatal(err)
		}
		chat := int64(900000 + i)
		if _, err := st.RedeemLinkToken(ctx, token, now, store.Subscription{ChatID: chat,
			ChatTitle: fmt.Sprintf("User %d", chat), CreatedBy: "loadtest"}); err != nil {
			t.Fatal(err)
		}
	}
}

// postAtRate posts one new alert group every 1/rate s for d and returns
// how many were accepted and failed, and the sorted latencies.
func postAtRate(t *testing.T, url string, rate int, d time.Duration) (accepted, failed int, lat []time.Duration) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		fails atomic.Int64
	)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range rate * int(d/time.Second) {
		<-tick.C
		wg.Add(1)
		go func() { // a slow answer must not hold back the next webhook
			defer wg.Done()
			took, err := post(t.Context(), url, webhook(fmt.Sprintf("Fanout%05d", i), "warning", time.Now()))
			if err != nil {
				fails.Add(1)
				t.Logf("webhook %d: %v", i, err)
				return
			}
			mu.Lock()
			lat = append(lat, took)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sortDurations(lat)
	return len(lat), int(fails.Load()), lat
}

// walSampler stats a WAL file every 50 ms and keeps the largest size seen.
type walSampler struct {
	path   string
	began  time.Time
	peak   atomic.Int64
	last   atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
}

func startWALSampler(path string) *walSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &walSampler{path: path, began: time.Now(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			s.sample()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *walSampler) sample() {
	n, _ := sizeOf(s.path)
	s.last.Store(n)
	for {
		peak := s.peak.Load()
		if n <= peak || s.peak.CompareAndSwap(peak, n) {
			return
		}
	}
}

func (s *walSampler) max() int64     { s.sample(); return s.peak.Load() }
func (s *walSampler) current() int64 { s.sample(); return s.last.Load() }
func (s *walSampler) stop()          { s.cancel(); <-s.done }

// waitWAL waits up to timeout for the WAL to be at most limit bytes and
// returns its size then.
func waitWAL(path string, limit int64, timeout time.Duration) (int64, bool) {
	deadline := time.Now().Add(timeout)
	for {
		n, _ := sizeOf(path)
		if n <= limit || time.Now().After(deadline) {
			return n, n <= limit
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sizeOf is the size of the file at path; 0 if there is none.
func sizeOf(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// outboxDrained tells whether alertgram's /metrics shows no unrouted
// notification and no pending delivery.
func outboxDrained(ctx context.Context, base string) bool {
	m := scrapeMetrics(ctx, base)
	pending, ok1 := m[`alertgram_outbox_items{state="pending"}`]
	unrouted, ok2 := m[`alertgram_outbox_items{state="unrouted"}`]
	return ok1 && ok2 && pending == 0 && unrouted == 0
}

// scrapeMiB is a metric's value from /metrics, in MiB, or "absent".
func scrapeMiB(ctx context.Context, base, name string) string {
	v, ok := scrapeMetrics(ctx, base)[name]
	if !ok {
		return "absent"
	}
	return inMiB(int64(v))
}

// scrapeMetrics reads /metrics into series → value (series as exposed, labels
// included); empty on any error.
func scrapeMetrics(ctx context.Context, base string) map[string]float64 {
	out := map[string]float64{}
	resp, err := get(ctx, base+"/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

func inMiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
