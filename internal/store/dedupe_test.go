package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// dedupeTests is the part of testStore that covers AddNotification's
// dedupe.
func dedupeTests() []conformanceTest {
	return []conformanceTest{
		{"DedupeWindow", testDedupeWindow},
		{"DedupeKeysAreIndependent", testDedupeKeysAreIndependent},
		{"DedupeZeroAndNegativeWindow", testDedupeZeroAndNegativeWindow},
		{"DedupeConcurrently", func(t *testing.T, s Store) { testDedupeRace(t, s) }},
		{"PruneDedupe", testPruneDedupe},
	}
}

// dedupeWindow is the window of the dedupe tests.
const dedupeWindow = 5 * time.Minute

// addKeyed adds a notification with dedupe key and window received at at,
// and returns what AddNotification returned.
func addKeyed(t *testing.T, s Store, key string, window time.Duration, at time.Time) (int64, error) {
	t.Helper()
	return s.AddNotification(t.Context(), Notification{Source: "alertmanager", Route: "oncall", GroupKey: "g",
		Payload: []byte("{}"), ReceivedAt: at, DedupeKey: key, DedupeWindow: window})
}

func wantAccepted(t *testing.T, s Store, key string, window time.Duration, at time.Time) int64 {
	t.Helper()
	id, err := addKeyed(t, s, key, window, at)
	if err != nil || id <= 0 {
		t.Fatalf("AddNotification(%q at %v) = %d, %v; want accepted", key, at, id, err)
	}
	return id
}

func wantDuplicate(t *testing.T, s Store, key string, window time.Duration, at time.Time) {
	t.Helper()
	if id, err := addKeyed(t, s, key, window, at); !errors.Is(err, ErrDuplicate) || id != 0 {
		t.Fatalf("AddNotification(%q at %v) = %d, %v; want 0, ErrDuplicate", key, at, id, err)
	}
}

// The window starts at the last accepted copy and includes its start;
// rejected copies neither move it nor are stored.
func testDedupeWindow(t *testing.T, s Store) {
	first := wantAccepted(t, s, "k", dedupeWindow, t0)
	wantDuplicate(t, s, "k", dedupeWindow, t0)
	wantDuplicate(t, s, "k", dedupeWindow, t0.Add(time.Minute))
	wantDuplicate(t, s, "k", dedupeWindow, t0.Add(dedupeWindow)) // received exactly at the window's start
	wantDuplicate(t, s, "k", dedupeWindow, t0.Add(-time.Hour))   // an older copy arriving late
	wantCounts(t, s, 0, 0, 0, 1)

	second := wantAccepted(t, s, "k", dedupeWindow, t0.Add(dedupeWindow+time.Microsecond))
	if second <= first {
		t.Fatalf("ids %d then %d, want increasing", first, second)
	}
	wantDuplicate(t, s, "k", dedupeWindow, t0.Add(2*dedupeWindow+time.Microsecond))
	wantAccepted(t, s, "k", dedupeWindow, t0.Add(2*dedupeWindow+2*time.Microsecond))
	// A longer window reaches further back than the one the key was stored with.
	wantDuplicate(t, s, "k", time.Hour, t0.Add(time.Hour))
	wantCounts(t, s, 0, 0, 0, 3)

	un, err := s.UnroutedNotifications(t.Context(), 10)
	if err != nil || len(un) != 3 || un[0].ID != first || un[1].ID != second {
		t.Fatalf("UnroutedNotifications = %+v, %v; want the 3 accepted", un, err)
	}
	if un[0].DedupeKey != "" || un[0].DedupeWindow != 0 {
		t.Errorf("dedupe fields read back as %q, %v; want them unset", un[0].DedupeKey, un[0].DedupeWindow)
	}
}

func testDedupeKeysAreIndependent(t *testing.T, s Store) {
	wantAccepted(t, s, "a", dedupeWindow, t0)
	wantAccepted(t, s, "b", dedupeWindow, t0)
	wantDuplicate(t, s, "a", dedupeWindow, t0)
	for range 3 { // an empty key never dedupes
		wantAccepted(t, s, "", dedupeWindow, t0)
		wantAccepted(t, s, "", 0, t0)
	}
	wantCounts(t, s, 0, 0, 0, 8)
}

// A zero window dedupes only copies received at the same microsecond (or
// later); a negative one is a mistake.
func testDedupeZeroAndNegativeWindow(t *testing.T, s Store) {
	wantAccepted(t, s, "k", 0, t0)
	wantDuplicate(t, s, "k", 0, t0)
	wantAccepted(t, s, "k", 0, t0.Add(time.Microsecond))
	id, err := addKeyed(t, s, "other", -time.Second, t0)
	if err == nil || errors.Is(err, ErrDuplicate) || id != 0 {
		t.Errorf("AddNotification(negative window) = %d, %v; want an error", id, err)
	}
	wantCounts(t, s, 0, 0, 0, 2)
}

// testDedupeRace has racers, spread over stores (replicas or processes
// sharing one database), add the same notification under a fresh key, for
// rounds: each time exactly one is accepted and the others get
// ErrDuplicate.
func testDedupeRace(t *testing.T, stores ...Store) {
	const rounds, racers = 10, 8
	for round := range rounds {
		key := fmt.Sprint("race-", round)
		ids := make([]int64, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				ids[i], errs[i] = stores[i%len(stores)].AddNotification(t.Context(), Notification{
					Source: "alertmanager", Route: "oncall", GroupKey: "g", ReceivedAt: t0,
					DedupeKey: key, DedupeWindow: dedupeWindow})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d were both accepted", round, winner, i)
			case err == nil && ids[i] > 0:
				winner = i
			case !errors.Is(err, ErrDuplicate) || ids[i] != 0:
				t.Fatalf("round %d: racer %d: %d, %v; want an id or ErrDuplicate", round, i, ids[i], err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody was accepted", round)
		}
	}
	wantCounts(t, stores[len(stores)-1], 0, 0, 0, rounds)
}

// PruneDedupe forgets keys received strictly before its argument, to the
// microsecond; a forgotten key no longer dedupes.
func testPruneDedupe(t *testing.T, s Store) {
	wantDedupePruned(t, s, t0, 0) // nothing recorded
	wantAccepted(t, s, "old", dedupeWindow, t0.Add(-time.Hour))
	wantAccepted(t, s, "now", dedupeWindow, t0) // t0 has sub-microsecond digits: stored truncated
	wantAccepted(t, s, "new", dedupeWindow, t0.Add(time.Hour))

	wantDedupePruned(t, s, t0, 1)
	wantAccepted(t, s, "old", dedupeWindow, t0.Add(-time.Hour)) // forgotten: accepted again
	wantDuplicate(t, s, "now", dedupeWindow, t0)
	wantDedupePruned(t, s, t0.Add(time.Microsecond), 2) // old again, and now
	wantAccepted(t, s, "now", dedupeWindow, t0)
	wantDuplicate(t, s, "new", dedupeWindow, t0.Add(time.Hour))
}

func wantDedupePruned(t *testing.T, s Store, before time.Time, want int) {
	t.Helper()
	if got, err := s.PruneDedupe(t.Context(), before); err != nil || got != want {
		t.Fatalf("PruneDedupe(%v) = %d, %v; want %d", before, got, err, want)
	}
}
