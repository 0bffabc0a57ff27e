package ratelimit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The property test runs many concurrent callers against a Limiter on a fake
// clock, with random arrivals, cancellations and pauses, then checks the
// recorded send instants against every window (with Per+Margin), every
// pause, FIFO order per chat and priority, that no WaitLow send overtakes a
// queued Wait of its chat, and that WaitLow sends leave LowReserve of every
// group window free. At every quiescent point it also checks
// that blocked callers hold exactly one timer per pending chat plus one for
// the global budget, and that something is armed while anyone waits (no
// lost wake-ups).

type propConfig struct {
	lim      Limits
	chats    []int64
	callers  int
	maxBatch int           // callers arriving at one instant: 0..maxBatch
	maxStep  time.Duration // the clock moves by 0..maxStep between batches
	hot      float64       // share of callers sending to chats[0]
	low      float64       // share of callers using WaitLow
}

type propEvent struct {
	pause  bool  // a Pause (chat != 0) or PauseAll (chat == 0); otherwise a send
	chat   int64 // the send's or the pause's chat
	at     time.Time
	until  time.Time // pauses
	caller int       // sends: arrival order of the caller
	low    bool      // sends: granted by WaitLow
}

// propCaller is what the run knows of a caller besides its send.
type propCaller struct {
	chat      int64
	low       bool
	arrived   time.Time
	cancelled time.Time // zero: not cancelled by the test
}

type propRun struct {
	t   *testing.T
	cfg propConfig
	rng *rand.Rand
	clk *fakeClock
	l   *Limiter

	spawned   int
	cancelled map[int]bool
	callers   []propCaller // by arrival order

	mu      sync.Mutex
	events  []propEvent
	running map[int]context.CancelFunc // callers still in Wait
	errs    map[int]error

	tight map[string]int // window kind → sends at the first instant it allowed
}

func runProperty(t *testing.T, cfg propConfig, seed uint64) []propEvent {
	clk := newFakeClock()
	r := &propRun{t: t, cfg: cfg, rng: rand.New(rand.NewPCG(seed, 42)), clk: clk, l: New(cfg.lim, clk),
		cancelled: map[int]bool{}, running: map[int]context.CancelFunc{}, errs: map[int]error{}, tight: map[string]int{}}
	defer r.cancelAll() // lets the bubble end if a check fails with callers blocked
	for {
		synctest.Wait()
		r.checkQuiescent()
		if r.spawned == cfg.callers && r.runningCount() == 0 {
			break
		}
		r.act()
		synctest.Wait()
		r.checkQuiescent()
		if !r.advance() {
			return r.events
		}
	}
	r.check()
	r.t.Logf("%+v, %d chats: %d callers, %d cancelled, %d sends; sends at the edge of a window: %v",
		cfg.lim, len(cfg.chats), cfg.callers, len(r.errs), cfg.callers-len(r.errs), r.tight)
	return r.events
}

// act starts a batch of callers (one at a time, so arrival order is known)
// and sometimes cancels a caller or pauses.
func (r *propRun) act() {
	for n := r.rng.IntN(r.cfg.maxBatch + 1); n > 0 && r.spawned < r.cfg.callers; n-- {
		r.spawn()
		synctest.Wait()
	}
	now := r.clk.Now()
	if p := r.rng.Float64(); p < 0.05 {
		r.cancelOne()
	} else if p < 0.08 {
		r.pause(r.pick(), now.Add(r.duration(3*time.Second)-500*ms))
	} else if p < 0.09 {
		r.pause(0, now.Add(r.duration(2*time.Second)))
	}
}

func (r *propRun) spawn() {
	idx, chat := r.spawned, r.pick()
	low := r.cfg.low > 0 && r.rng.Float64() < r.cfg.low
	r.spawned++
	r.callers = append(r.callers, propCaller{chat: chat, low: low, arrived: r.clk.Now()})
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.running[idx] = cancel
	r.mu.Unlock()
	wait := r.l.Wait
	if low {
		wait = r.l.WaitLow
	}
	go func() {
		err := wait(ctx, chat)
		now := r.clk.Now()
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.running, idx)
		if err != nil {
			r.errs[idx] = err
			return
		}
		r.events = append(r.events, propEvent{chat: chat, at: now, caller: idx, low: low})
	}()
}

func (r *propRun) cancelOne() {
	r.mu.Lock()
	ids := slices.Sorted(maps.Keys(r.running))
	r.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	idx := ids[r.rng.IntN(len(ids))]
	r.cancelled[idx] = true
	r.callers[idx].cancelled = r.clk.Now()
	r.mu.Lock()
	cancel := r.running[idx]
	r.mu.Unlock()
	cancel()
}

func (r *propRun) cancelAll() {
	r.mu.Lock()
	for _, cancel := range r.running {
		cancel()
	}
	r.mu.Unlock()
	synctest.Wait()
}

func (r *propRun) pause(chat int64, until time.Time) {
	r.mu.Lock()
	r.events = append(r.events, propEvent{pause: true, chat: chat, at: r.clk.Now(), until: until})
	r.mu.Unlock()
	if chat == 0 {
		r.l.PauseAll(until)
	} else {
		r.l.Pause(chat, until)
	}
}

func (r *propRun) pick() int64 {
	if r.rng.Float64() < r.cfg.hot {
		return r.cfg.chats[0]
	}
	return r.cfg.chats[r.rng.IntN(len(r.cfg.chats))]
}

func (r *propRun) duration(upTo time.Duration) time.Duration {
	return time.Duration(r.rng.Int64N(int64(upTo/ms)+1)) * ms
}

// advance moves the clock: by a random step while callers are still
// arriving (never past the next timer), then from timer to timer. It reports
// false if callers wait with nothing armed to wake them.
func (r *propRun) advance() bool {
	next, ok := r.clk.Next()
	if r.spawned < r.cfg.callers {
		to := r.clk.Now().Add(r.duration(r.cfg.maxStep))
		if ok && next.Before(to) {
			to = next
		}
		r.clk.AdvanceTo(to)
		return true
	}
	switch n := r.runningCount(); {
	case n == 0:
	case !ok:
		r.t.Errorf("stalled: %d callers waiting, no timer armed", n)
		return false
	default:
		r.clk.AdvanceTo(next)
	}
	return true
}

func (r *propRun) runningCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

// checkQuiescent: with every caller blocked or gone, the timers armed are
// exactly one per pending chat plus one for the first ready chat, and every
// running caller is queued in its chat.
func (r *propRun) checkQuiescent() {
	r.l.mu.Lock()
	want, queued := len(r.l.pending), 0
	if r.l.ready.head != nil {
		want++
	}
	for _, c := range r.l.chats {
		for _, q := range c.q {
			for w := q.head; w != nil; w = w.next {
				queued++
			}
		}
	}
	r.l.mu.Unlock()
	if got := r.clk.Timers(); got != want {
		r.t.Fatalf("at +%v: %d timers armed, want %d", r.clk.Now().Sub(t0), got, want)
	}
	if running := r.runningCount(); running != queued {
		r.t.Fatalf("at +%v: %d callers in Wait, %d queued", r.clk.Now().Sub(t0), running, queued)
	}
}

func (r *propRun) check() {
	r.t.Helper()
	sends := r.checkOutcomes()
	span := func(w Window) limit { // computed here, not by Window.limit
		if w.Max <= 0 || w.Per <= 0 {
			return limit{}
		}
		return limit{max: w.Max, span: w.Per + max(r.cfg.lim.Margin, 0)}
	}
	byChat := map[int64][]propEvent{}
	for _, e := range sends {
		byChat[e.chat] = append(byChat[e.chat], e)
	}
	r.tight["global"] += checkWindow(r.t, "global", sends, span(r.cfg.lim.Global))
	for id, es := range byChat {
		r.tight["chat"] += checkWindow(r.t, fmt.Sprintf("chat %d", id), es, span(r.cfg.lim.PerChat))
		if id < 0 {
			r.tight["group"] += checkWindow(r.t, fmt.Sprintf("group %d", id), es, span(r.cfg.lim.PerGroup))
		}
		r.checkFIFO(id, es, false)
		r.checkFIFO(id, es, true)
		if id < 0 && r.cfg.lim.LowReserve > 0 {
			r.checkLowReserve(id, es, span(r.cfg.lim.PerGroup))
		}
	}
	r.checkPriority(byChat)
	r.checkPauses()
	r.checkRings(sends, byChat)
}

// checkFIFO: a chat's callers of one priority send in arrival order.
// Callers granted at the same instant may log in any order, so order those
// by arrival.
func (r *propRun) checkFIFO(id int64, es []propEvent, low bool) {
	es = slices.DeleteFunc(slices.Clone(es), func(e propEvent) bool { return e.low != low })
	slices.SortFunc(es, func(a, b propEvent) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.caller, b.caller))
	})
	for i := 1; i < len(es); i++ {
		if a, b := es[i-1], es[i]; b.caller < a.caller {
			r.t.Errorf("chat %d: caller %d sent at +%v, after caller %d who came later sent at +%v",
				id, b.caller, b.at.Sub(t0), a.caller, a.at.Sub(t0))
		}
	}
}

// checkPriority: no WaitLow send is granted while a Wait of its chat is
// queued, that is, a Wait that arrived before the low send's instant, was
// granted after it and was not cancelled by then. (Arrivals and grants at
// the very same instant are left out: their order is not recorded.)
func (r *propRun) checkPriority(byChat map[int64][]propEvent) {
	granted := map[int]time.Time{}
	for _, es := range byChat {
		for _, e := range es {
			granted[e.caller] = e.at
		}
	}
	for id, es := range byChat {
		for _, e := range es {
			if !e.low {
				continue
			}
			for idx, c := range r.callers {
				at, sent := granted[idx]
				switch {
				case c.chat != id || c.low || !c.arrived.Before(e.at):
				case !c.cancelled.IsZero() && !c.cancelled.After(e.at):
				case !sent && c.cancelled.IsZero(), sent && at.After(e.at):
					r.t.Errorf("chat %d: low caller %d sent at +%v while caller %d (arrived +%v) waited",
						id, e.caller, e.at.Sub(t0), idx, c.arrived.Sub(t0))
					return
				}
			}
		}
	}
}

// checkLowReserve: a WaitLow send to a group starts only while fewer than
// PerGroup.Max-LowReserve earlier sends fall in its window. Sends at the
// same instant are not counted (their order is not recorded).
func (r *propRun) checkLowReserve(id int64, es []propEvent, w limit) {
	if w.max == 0 {
		return
	}
	allowed := max(w.max-r.cfg.lim.LowReserve, 1)
	for i, e := range es {
		if !e.low {
			continue
		}
		n := 0
		for _, prev := range es[:i] {
			if prev.at.Before(e.at) && e.at.Sub(prev.at) < w.span {
				n++
			}
		}
		if n >= allowed {
			r.t.Errorf("group %d: low caller %d sent at +%v with %d sends in the window, allowed below %d",
				id, e.caller, e.at.Sub(t0), n, allowed)
			return
		}
		if n == allowed-1 {
			r.tight["low reserve"]++
		}
	}
}

// checkOutcomes: every caller either sent or was cancelled by the test (and
// got context.Canceled); sends come out in time order.
func (r *propRun) checkOutcomes() []propEvent {
	var sends []propEvent
	for _, e := range r.events {
		if !e.pause {
			sends = append(sends, e)
		}
	}
	if len(sends)+len(r.errs) != r.cfg.callers {
		r.t.Errorf("%d sends + %d errors, want %d callers", len(sends), len(r.errs), r.cfg.callers)
	}
	for idx, err := range r.errs {
		if !r.cancelled[idx] || !errors.Is(err, context.Canceled) {
			r.t.Errorf("caller %d: %v (cancelled by the test: %v)", idx, err, r.cancelled[idx])
		}
	}
	for i := 1; i < len(sends); i++ {
		if sends[i].at.Before(sends[i-1].at) {
			r.t.Fatalf("sends recorded out of time order")
		}
	}
	return sends
}

// checkWindow: no max+1 sends within span (so no more than max in any
// window of length span). It returns how many sends went at the first
// instant the window allowed, to show the window was actually exercised.
func checkWindow(t *testing.T, what string, es []propEvent, w limit) (tight int) {
	t.Helper()
	for i := w.max; w.max > 0 && i < len(es); i++ {
		switch d := es[i].at.Sub(es[i-w.max].at); {
		case d < w.span:
			t.Errorf("%s: %d sends within %v (from +%v), limit %d per %v",
				what, w.max+1, d, es[i-w.max].at.Sub(t0), w.max, w.span)
			return tight
		case d == w.span:
			tight++
		}
	}
	return tight
}

// checkPauses: nothing is sent to a paused chat (or at all, under PauseAll)
// from the moment of the call until the deadline.
func (r *propRun) checkPauses() {
	for i, p := range r.events {
		if !p.pause {
			continue
		}
		for _, e := range r.events[i+1:] {
			if !e.pause && (p.chat == 0 || p.chat == e.chat) && e.at.Before(p.until) {
				r.t.Errorf("chat %d sent at +%v, paused (chat %d) at +%v until +%v",
					e.chat, e.at.Sub(t0), p.chat, p.at.Sub(t0), p.until.Sub(t0))
				return
			}
		}
	}
}

// checkRings: the Limiter's memory of recent sends is exactly the tail of
// what callers saw, so no cancelled caller left a phantom send behind.
func (r *propRun) checkRings(sends []propEvent, byChat map[int64][]propEvent) {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	r.checkRing("global", &r.l.global, sends)
	for id, c := range r.l.chats {
		r.checkRing(fmt.Sprintf("chat %d", id), &c.sends, byChat[id])
		r.checkRing(fmt.Sprintf("group %d", id), &c.group, byChat[id])
	}
}

func (r *propRun) checkRing(what string, g *ring, es []propEvent) {
	var want []time.Time
	for _, e := range es[max(0, len(es)-cap(g.at)):] {
		want = append(want, e.at)
	}
	got := append(slices.Clone(g.at[g.next:]), g.at[:g.next]...)
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		r.t.Errorf("%s: ring %v, want the last sends %v", what, got, want)
	}
}

func propChats(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		switch i % 3 {
		case 0:
			ids[i] = int64(1000 + i) // private
		case 1:
			ids[i] = -int64(1000 + i) // group
		default:
			ids[i] = -1000000000000 - int64(i) // supergroup
		}
	}
	return ids
}

func randomWindow(rng *rand.Rand, maxMax int, minPer, maxPer time.Duration) Window {
	if rng.IntN(8) == 0 {
		return Window{} // no limit
	}
	per := minPer + time.Duration(rng.Int64N(int64((maxPer-minPer)/(10*ms))+1))*10*ms
	return Window{Max: 1 + rng.IntN(maxMax), Per: per}
}

func randomConfig(seed uint64) propConfig {
	rng := rand.New(rand.NewPCG(seed, 7))
	return propConfig{
		lim: Limits{
			PerChat:  randomWindow(rng, 3, 100*ms, time.Second),
			PerGroup: randomWindow(rng, 6, time.Second, 5*time.Second),
			Global:   randomWindow(rng, 8, 100*ms, time.Second),
			Margin:   time.Duration(rng.IntN(6)) * 10 * ms,
		},
		chats:    propChats(2 + rng.IntN(30)),
		callers:  300,
		maxBatch: 1 + rng.IntN(6),
		maxStep:  time.Duration(1+rng.IntN(400)) * ms,
		hot:      rng.Float64() / 2,
	}
}

// randomLowConfig is randomConfig(seed) with a share of WaitLow callers
// and, mostly, a LowReserve.
func randomLowConfig(seed uint64) propConfig {
	cfg := randomConfig(seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	cfg.low = 0.1 + 0.5*rng.Float64()
	cfg.lim.LowReserve = rng.IntN(max(cfg.lim.PerGroup.Max, 1) + 1)
	return cfg
}

// withLow is cfg with a share of WaitLow callers.
func withLow(cfg propConfig, share float64) propConfig {
	cfg.low = share
	return cfg
}

// defaultBurst: Telegram's limits, 60 chats, arrivals fast enough that the
// global window binds.
func defaultBurst() propConfig {
	return propConfig{lim: DefaultLimits(), chats: propChats(60), callers: 1500, maxBatch: 8, maxStep: 20 * ms, hot: 0.2}
}

// defaultSteady: Telegram's limits, slower arrivals; the group window binds.
func defaultSteady() propConfig {
	return propConfig{lim: DefaultLimits(), chats: propChats(12), callers: 1000, maxBatch: 3, maxStep: 300 * ms, hot: 0.3}
}

func TestPropertyWindows(t *testing.T) {
	configs := map[string]propConfig{"default-burst": defaultBurst(), "default-steady": defaultSteady(),
		"default-burst-low": withLow(defaultBurst(), 0.3), "default-steady-low": withLow(defaultSteady(), 0.3)}
	for seed := range uint64(40) {
		configs[fmt.Sprintf("random-%02d", seed)] = randomConfig(seed)
		configs[fmt.Sprintf("random-low-%02d", seed)] = randomLowConfig(seed)
	}
	var mu sync.Mutex
	total := 0
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		cfg := configs[name]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sends := 0
				for _, e := range runProperty(t, cfg, 1) {
					if !e.pause {
						sends++
					}
				}
				mu.Lock()
				total += sends
				mu.Unlock()
			})
		})
	}
	t.Logf("%d configurations, %d sends checked", len(configs), total)
}
