package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// t0 has sub-millisecond digits and a non-UTC zone on purpose: the store
// must give back the same instant, in UTC, to the microsecond.
var t0 = time.Date(2025, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// conformanceTest is one case of testStore.
type conformanceTest struct {
	name string
	fn   func(t *testing.T, s Store)
}

// testStore is the conformance suite every Store implementation passes.
// open returns a fresh, empty store that is closed when the test ends.
func testStore(t *testing.T, open func(t *testing.T) Store) {
	tests := []conformanceTest{
		{"Ping", testPing},
		{"AddAndUnrouted", testAddAndUnrouted},
		{"AddDefaults", testAddDefaults},
		{"Route", testRoute},
		{"RouteTwice", testRouteTwice},
		{"RouteConcurrently", testRouteConcurrently},
		{"RouteUnknown", testRouteUnknown},
		{"AddRouted", testAddRouted},
		{"Claim", testClaim},
		{"ClaimOrderAndLimit", testClaimOrderAndLimit},
		{"LeaseExpiry", testLeaseExpiry},
		{"ReleaseClaims", testReleaseClaims},
		{"MarkDelivered", testMarkDelivered},
		{"RetryDelivery", testRetryDelivery},
		{"FailDelivery", testFailDelivery},
		{"EndedDeliveryStaysEnded", testEndedDeliveryStaysEnded},
		{"NotFound", testNotFound},
		{"RetargetDeliveries", testRetargetDeliveries},
		{"RetargetCollision", testRetargetCollision},
		{"CountsEmpty", testCountsEmpty},
		{"OldestPending", testOldestPending},
		{"ConcurrentClaims", testConcurrentClaims},
	}
	for _, tt := range slices.Concat(tests, subscriptionTests(), dedupeTests(), lifecycleTests(), batchTests(), actionTests()) {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func add(t *testing.T, s Store, n Notification) int64 {
	t.Helper()
	id, err := s.AddNotification(t.Context(), n)
	if err != nil {
		t.Fatalf("AddNotification: %v", err)
	}
	return id
}

// addRouted adds a notification received at at and routes it to chats.
func addRouted(t *testing.T, s Store, at time.Time, chats ...int64) int64 {
	t.Helper()
	id := add(t, s, Notification{Source: "alertmanager", Route: "oncall", GroupKey: "g", Payload: []byte("{}"), ReceivedAt: at})
	targets := make([]Target, len(chats))
	for i, c := range chats {
		targets[i] = Target{ChatID: c}
	}
	if err := s.RouteNotification(t.Context(), id, targets); err != nil {
		t.Fatalf("RouteNotification(%d): %v", id, err)
	}
	return id
}

func claim(t *testing.T, s Store, owner string, now, leaseUntil time.Time, limit int) []Delivery {
	t.Helper()
	ds, err := s.ClaimDeliveries(t.Context(), owner, now, leaseUntil, limit)
	if err != nil {
		t.Fatalf("ClaimDeliveries(%s): %v", owner, err)
	}
	return ds
}

func ids(ds []Delivery) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// wantCounts wants no superseded deliveries; wantCountsMap says all.
func wantCounts(t *testing.T, s Store, pending, delivered, failed, unrouted int) {
	t.Helper()
	wantCountsMap(t, s, map[string]int{StatePending: pending, StateDelivered: delivered, StateFailed: failed,
		"unrouted": unrouted})
}

// wantCountsMap fails unless Counts is exactly want, where the keys want
// lacks are present and zero.
func wantCountsMap(t *testing.T, s Store, want map[string]int) {
	t.Helper()
	got, err := s.Counts(t.Context())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	all := map[string]int{StatePending: 0, StateDelivered: 0, StateFailed: 0, StateSuperseded: 0, "unrouted": 0}
	maps.Copy(all, want)
	if !maps.Equal(got, all) {
		t.Fatalf("Counts = %v, want %v", got, all)
	}
}

func wantOldest(t *testing.T, s Store, want time.Time, wantOK bool) {
	t.Helper()
	got, ok, err := s.OldestPending(t.Context())
	if err != nil {
		t.Fatalf("OldestPending: %v", err)
	}
	if ok != wantOK || !got.Equal(want) {
		t.Fatalf("OldestPending = %v, %v; want %v, %v", got, ok, want, wantOK)
	}
}

func testPing(t *testing.T, s Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testAddAndUnrouted(t *testing.T, s Store) {
	in := []Notification{
		{Source: "alertmanager", Route: "oncall", GroupKey: `{}:{alertname="A"}`, Payload: []byte(`{"a":1}`), ReceivedAt: t0},
		{Source: "grafana", Route: "ops", GroupKey: "k2", Payload: []byte{0, 1, 0xff}, ReceivedAt: t0.Add(time.Millisecond)},
		{Source: "grafana", Route: "ops", GroupKey: "k3", Payload: nil, ReceivedAt: t0.Add(-time.Hour)},
	}
	for i := range in {
		in[i].ID = add(t, s, in[i])
		in[i].ReceivedAt = utc(in[i].ReceivedAt)
	}
	if in[0].ID >= in[1].ID || in[1].ID >= in[2].ID {
		t.Fatalf("ids not increasing: %d %d %d", in[0].ID, in[1].ID, in[2].ID)
	}
	got, err := s.UnroutedNotifications(t.Context(), 2)
	if err != nil {
		t.Fatalf("UnroutedNotifications: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("UnroutedNotifications(2) returned %d", len(got))
	}
	all, err := s.UnroutedNotifications(t.Context(), 10)
	if err != nil || len(all) != 3 {
		t.Fatalf("UnroutedNotifications(10) = %d rows, %v; want 3", len(all), err)
	}
	for i, n := range all {
		w := in[i]
		if n.ID != w.ID || n.Source != w.Source || n.Route != w.Route || n.GroupKey != w.GroupKey ||
			!bytes.Equal(n.Payload, w.Payload) || !n.ReceivedAt.Equal(w.ReceivedAt) {
			t.Errorf("notification %d = %+v, want %+v", i, n, w)
		}
		if n.ReceivedAt.Location() != time.UTC {
			t.Errorf("ReceivedAt location = %v, want UTC", n.ReceivedAt.Location())
		}
	}
	if none, err := s.UnroutedNotifications(t.Context(), 0); err != nil || len(none) != 0 {
		t.Errorf("UnroutedNotifications(0) = %v, %v", none, err)
	}
	wantCounts(t, s, 0, 0, 0, 3)
}

func testAddDefaults(t *testing.T, s Store) {
	before := time.Now().Truncate(time.Microsecond)
	add(t, s, Notification{Source: "alertmanager", Route: "r"})
	after := time.Now()
	got, err := s.UnroutedNotifications(t.Context(), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("UnroutedNotifications = %v, %v", got, err)
	}
	if at := got[0].ReceivedAt; at.Before(before) || at.After(after) {
		t.Errorf("default ReceivedAt %v not within [%v, %v]", at, before, after)
	}
	if len(got[0].Payload) != 0 {
		t.Errorf("Payload = %q, want empty", got[0].Payload)
	}
}

func testRoute(t *testing.T, s Store) {
	id := add(t, s, Notification{Source: "alertmanager", Route: "oncall", Payload: []byte("p"), ReceivedAt: t0})
	targets := []Target{{ChatID: -100}, {ChatID: 7, ThreadID: 3}, {ChatID: -100}}
	if err := s.RouteNotification(t.Context(), id, targets); err != nil {
		t.Fatalf("RouteNotification: %v", err)
	}
	wantCounts(t, s, 2, 0, 0, 0)
	if un, _ := s.UnroutedNotifications(t.Context(), 10); len(un) != 0 {
		t.Errorf("still unrouted: %+v", un)
	}
	ds := claim(t, s, "a", t0, t0.Add(time.Minute), 10)
	var got []Target
	for _, d := range ds {
		got = append(got, d.Target)
	}
	if want := []Target{{ChatID: -100}, {ChatID: 7, ThreadID: 3}}; !slices.Equal(got, want) {
		t.Errorf("targets = %v, want %v (duplicates once, in order)", got, want)
	}

	empty := add(t, s, Notification{Source: "alertmanager", Route: "nobody", ReceivedAt: t0})
	if err := s.RouteNotification(t.Context(), empty, nil); err != nil {
		t.Fatalf("RouteNotification without targets: %v", err)
	}
	wantCounts(t, s, 2, 0, 0, 0)
}

// testAddRouted: a notification added with its targets is stored routed,
// its deliveries due at its acceptance, in the same commit; a duplicate
// adds no deliveries.
func testAddRouted(t *testing.T, s Store) {
	n := Notification{Source: "alertmanager", Route: "oncall", GroupKey: "g", Payload: []byte("p"), ReceivedAt: t0,
		DedupeKey: "k", DedupeWindow: time.Minute,
		Routed: true, Targets: []Target{{ChatID: -100}, {ChatID: 7, ThreadID: 3}, {ChatID: -100}}}
	id := add(t, s, n)
	if un, _ := s.UnroutedNotifications(t.Context(), 10); len(un) != 0 {
		t.Errorf("a routed notification is listed unrouted: %+v", un)
	}
	wantCounts(t, s, 2, 0, 0, 0)
	if ds := claim(t, s, "a", t0.Add(-time.Microsecond), t0.Add(time.Minute), 10); len(ds) != 0 {
		t.Errorf("deliveries due before the notification's acceptance: %v", ids(ds))
	}
	ds := claim(t, s, "a", t0, t0.Add(time.Minute), 10)
	var got []Target
	for _, d := range ds {
		got = append(got, d.Target)
		if d.NotificationID != id || !d.AcceptedAt.Equal(utc(t0)) {
			t.Errorf("delivery %+v: want notification %d accepted at %v", d, id, utc(t0))
		}
	}
	if want := []Target{{ChatID: -100}, {ChatID: 7, ThreadID: 3}}; !slices.Equal(got, want) {
		t.Errorf("targets = %v, want %v (duplicates once, in order)", got, want)
	}
	if err := s.RouteNotification(t.Context(), id, []Target{{ChatID: 9}}); err != nil {
		t.Errorf("RouteNotification of a notification routed at intake = %v, want nil (already routed)", err)
	}

	n.ReceivedAt = t0.Add(time.Second)
	if dup, err := s.AddNotification(t.Context(), n); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("copy: AddNotification = %d, %v; want ErrDuplicate", dup, err)
	}
	nobody := add(t, s, Notification{Source: "alertmanager", Route: "nobody", ReceivedAt: t0, Routed: true})
	if un, _ := s.UnroutedNotifications(t.Context(), 10); len(un) != 0 {
		t.Errorf("notification %d routed to nobody is listed unrouted: %+v", nobody, un)
	}
	wantCounts(t, s, 2, 0, 0, 0) // the copy and the notification to nobody added none
}

func testRouteTwice(t *testing.T, s Store) {
	id := addRouted(t, s, t0, 1, 2)
	if err := s.RouteNotification(t.Context(), id, []Target{{ChatID: 1}, {ChatID: 2}, {ChatID: 3}}); err != nil {
		t.Fatalf("second RouteNotification = %v, want nil", err)
	}
	wantCounts(t, s, 2, 0, 0, 0)
}

func testRouteConcurrently(t *testing.T, s Store) {
	id := add(t, s, Notification{Source: "alertmanager", Route: "oncall", ReceivedAt: t0})
	targets := []Target{{ChatID: 1}, {ChatID: 2}, {ChatID: 3}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.RouteNotification(t.Context(), id, targets); err != nil {
				t.Errorf("RouteNotification: %v", err)
			}
		})
	}
	wg.Wait()
	wantCounts(t, s, 3, 0, 0, 0)
}

func testRouteUnknown(t *testing.T, s Store) {
	if err := s.RouteNotification(t.Context(), 424242, []Target{{ChatID: 1}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RouteNotification(unknown) = %v, want ErrNotFound", err)
	}
	wantCounts(t, s, 0, 0, 0, 0)
}

func testClaim(t *testing.T, s Store) {
	n := Notification{Source: "grafana", Route: "ops", GroupKey: "gk", Payload: []byte(`{"x":true}`), ReceivedAt: t0}
	nid := add(t, s, n)
	if err := s.RouteNotification(t.Context(), nid, []Target{{ChatID: 42, ThreadID: 9}}); err != nil {
		t.Fatal(err)
	}
	if ds := claim(t, s, "a", t0.Add(-time.Microsecond), t0.Add(time.Minute), 10); len(ds) != 0 {
		t.Fatalf("claimed before due: %+v", ds)
	}
	lease := t0.Add(time.Minute)
	ds := claim(t, s, "a", t0, lease, 10)
	if len(ds) != 1 {
		t.Fatalf("claimed %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	want := Delivery{ID: d.ID, NotificationID: nid, Source: "grafana", Route: "ops", GroupKey: "gk",
		Target: Target{ChatID: 42, ThreadID: 9}, Payload: n.Payload, Attempts: 1,
		NextAttemptAt: utc(t0), AcceptedAt: utc(t0)}
	if fmt.Sprintf("%+v", d) != fmt.Sprintf("%+v", want) {
		t.Errorf("delivery = %+v\nwant       %+v", d, want)
	}
	if ds := claim(t, s, "b", t0.Add(time.Second), t0.Add(time.Hour), 10); len(ds) != 0 {
		t.Errorf("leased delivery claimed again by another owner: %+v", ds)
	}
	if ds := claim(t, s, "a", t0.Add(time.Second), t0.Add(time.Hour), 10); len(ds) != 0 {
		t.Errorf("leased delivery claimed again by its owner: %+v", ds)
	}
	if _, err := s.ClaimDeliveries(t.Context(), "", t0, lease, 1); err == nil {
		t.Error("ClaimDeliveries with empty owner succeeded")
	}
	if ds := claim(t, s, "a", t0, lease, 0); len(ds) != 0 {
		t.Errorf("ClaimDeliveries(limit 0) = %+v", ds)
	}
}

func testClaimOrderAndLimit(t *testing.T, s Store) {
	late := addRouted(t, s, t0.Add(2*time.Second), 1)
	early := addRouted(t, s, t0, 1, 2)
	middle := addRouted(t, s, t0.Add(time.Second), 1)
	now, lease := t0.Add(time.Hour), t0.Add(2*time.Hour)
	first := claim(t, s, "a", now, lease, 3)
	var order []int64
	for _, d := range first {
		order = append(order, d.NotificationID)
	}
	if want := []int64{early, early, middle}; !slices.Equal(order, want) {
		t.Fatalf("claimed notifications %v, want %v (oldest due first)", order, want)
	}
	rest := claim(t, s, "a", now, lease, 3)
	if len(rest) != 1 || rest[0].NotificationID != late {
		t.Fatalf("second claim = %+v, want the late one", rest)
	}
}

func testLeaseExpiry(t *testing.T, s Store) {
	addRouted(t, s, t0, 1)
	lease := t0.Add(30 * time.Second)
	first := claim(t, s, "a", t0, lease, 1)
	if len(first) != 1 {
		t.Fatalf("claimed %d, want 1", len(first))
	}
	if ds := claim(t, s, "b", lease.Add(-time.Millisecond), lease.Add(time.Minute), 1); len(ds) != 0 {
		t.Fatalf("claimed before lease expiry: %+v", ds)
	}
	again := claim(t, s, "b", lease, lease.Add(time.Minute), 1)
	if len(again) != 1 || again[0].ID != first[0].ID || again[0].Attempts != 2 {
		t.Fatalf("after lease expiry claimed %+v, want delivery %d with 2 attempts", again, first[0].ID)
	}
}

func testReleaseClaims(t *testing.T, s Store) {
	addRouted(t, s, t0, 1, 2)
	addRouted(t, s, t0, 3)
	lease := t0.Add(time.Hour)
	a := claim(t, s, "a", t0, lease, 2)
	c := claim(t, s, "c", t0, lease, 1)
	if len(a) != 2 || len(c) != 1 {
		t.Fatalf("claimed %d and %d, want 2 and 1", len(a), len(c))
	}
	if err := s.ReleaseClaims(t.Context(), "a"); err != nil {
		t.Fatalf("ReleaseClaims: %v", err)
	}
	b := claim(t, s, "b", t0, lease, 10)
	if !slices.Equal(ids(b), ids(a)) {
		t.Fatalf("after release claimed %v, want %v (and not c's)", ids(b), ids(a))
	}
	if err := s.ReleaseClaims(t.Context(), "nobody"); err != nil {
		t.Fatalf("ReleaseClaims(nobody): %v", err)
	}
}

func testMarkDelivered(t *testing.T, s Store) {
	addRouted(t, s, t0, 1)
	ds := claim(t, s, "a", t0, t0.Add(time.Minute), 1)
	if err := s.MarkDelivered(t.Context(), ds[0].ID, 555, t0.Add(time.Second)); err != nil {
		t.Fatalf("MarkDelivered: %v", err)
	}
	wantCounts(t, s, 0, 1, 0, 0)
	if again := claim(t, s, "a", t0.Add(time.Hour), t0.Add(2*time.Hour), 1); len(again) != 0 {
		t.Fatalf("delivered delivery claimed again: %+v", again)
	}
}

func testRetryDelivery(t *testing.T, s Store) {
	addRouted(t, s, t0, 1)
	ds := claim(t, s, "a", t0, t0.Add(time.Hour), 1)
	next := t0.Add(time.Minute)
	if err := s.RetryDelivery(t.Context(), ds[0].ID, next, "429: retry after 60"); err != nil {
		t.Fatalf("RetryDelivery: %v", err)
	}
	wantCounts(t, s, 1, 0, 0, 0)
	if early := claim(t, s, "b", next.Add(-time.Millisecond), next.Add(time.Hour), 1); len(early) != 0 {
		t.Fatalf("claimed before next attempt: %+v", early)
	}
	again := claim(t, s, "b", next, next.Add(time.Hour), 1)
	if len(again) != 1 {
		t.Fatalf("claimed %d at next attempt, want 1 (lease released by retry)", len(again))
	}
	d := again[0]
	if d.Attempts != 2 || d.LastError != "429: retry after 60" || !d.NextAttemptAt.Equal(utc(next)) || !d.AcceptedAt.Equal(utc(t0)) {
		t.Errorf("retried delivery = %+v", d)
	}
}

func testFailDelivery(t *testing.T, s Store) {
	addRouted(t, s, t0, 1)
	ds := claim(t, s, "a", t0, t0.Add(time.Hour), 1)
	if err := s.FailDelivery(t.Context(), ds[0].ID, "403: bot was blocked"); err != nil {
		t.Fatalf("FailDelivery: %v", err)
	}
	wantCounts(t, s, 0, 0, 1, 0)
	if again := claim(t, s, "a", t0.Add(2*time.Hour), t0.Add(3*time.Hour), 1); len(again) != 0 {
		t.Fatalf("failed delivery claimed again: %+v", again)
	}
}

// A sender whose lease expired may answer after the delivery ended
// elsewhere: retrying or failing it then must not change it.
func testEndedDeliveryStaysEnded(t *testing.T, s Store) {
	addRouted(t, s, t0, 1)
	ds := claim(t, s, "a", t0, t0.Add(time.Minute), 1)
	id := ds[0].ID
	if err := s.MarkDelivered(t.Context(), id, 1, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryDelivery(t.Context(), id, t0, "late"); err != nil {
		t.Fatalf("RetryDelivery(delivered) = %v, want nil", err)
	}
	if err := s.FailDelivery(t.Context(), id, "late"); err != nil {
		t.Fatalf("FailDelivery(delivered) = %v, want nil", err)
	}
	wantCounts(t, s, 0, 1, 0, 0)
}

func testNotFound(t *testing.T, s Store) {
	const unknown = 987654
	ctx := t.Context()
	for name, err := range map[string]error{
		"MarkDelivered": s.MarkDelivered(ctx, unknown, 1, t0),
		"RetryDelivery": s.RetryDelivery(ctx, unknown, t0, "x"),
		"FailDelivery":  s.FailDelivery(ctx, unknown, "x"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s(unknown) = %v, want ErrNotFound", name, err)
		}
	}
}

func testRetargetDeliveries(t *testing.T, s Store) {
	addRouted(t, s, t0, 1, 2)
	addRouted(t, s, t0.Add(time.Second), 1)
	addRouted(t, s, t0.Add(2*time.Second), 1)
	// The third notification's delivery to chat 1 is already delivered: it stays.
	ds := claim(t, s, "a", t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
	for _, d := range ds {
		if d.AcceptedAt.Equal(utc(t0.Add(2 * time.Second))) {
			if err := s.MarkDelivered(t.Context(), d.ID, 1, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	moved, err := s.RetargetDeliveries(t.Context(), 1, -1001)
	if err != nil || moved != 2 {
		t.Fatalf("RetargetDeliveries = %d, %v; want 2", moved, err)
	}
	if err := s.ReleaseClaims(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	var chats []int64
	for _, d := range claim(t, s, "b", t0.Add(time.Hour), t0.Add(2*time.Hour), 10) {
		chats = append(chats, d.Target.ChatID)
	}
	slices.Sort(chats)
	if want := []int64{-1001, -1001, 2}; !slices.Equal(chats, want) {
		t.Errorf("pending chats after retarget = %v, want %v", chats, want)
	}
	if n, err := s.RetargetDeliveries(t.Context(), 1, -1001); err != nil || n != 0 {
		t.Errorf("second RetargetDeliveries = %d, %v; want 0", n, err)
	}
	if n, err := s.RetargetDeliveries(t.Context(), 2, 2); err != nil || n != 0 {
		t.Errorf("RetargetDeliveries(2, 2) = %d, %v; want 0", n, err)
	}
}

// When one notification goes to both the old and the new id of a chat, the
// old delivery is failed rather than moved onto a duplicate.
func testRetargetCollision(t *testing.T, s Store) {
	addRouted(t, s, t0, 1, -1001)
	moved, err := s.RetargetDeliveries(t.Context(), 1, -1001)
	if err != nil || moved != 0 {
		t.Fatalf("RetargetDeliveries = %d, %v; want 0", moved, err)
	}
	wantCounts(t, s, 1, 0, 1, 0)
	ds := claim(t, s, "a", t0, t0.Add(time.Hour), 10)
	if len(ds) != 1 || ds[0].Target.ChatID != -1001 {
		t.Fatalf("pending = %+v, want one delivery to -1001", ds)
	}
}

func testCountsEmpty(t *testing.T, s Store) {
	wantCounts(t, s, 0, 0, 0, 0)
}

func testOldestPending(t *testing.T, s Store) {
	wantOldest(t, s, time.Time{}, false)
	first := add(t, s, Notification{Source: "alertmanager", Route: "r", ReceivedAt: t0})
	second := add(t, s, Notification{Source: "alertmanager", Route: "r", ReceivedAt: t0.Add(time.Minute)})
	wantOldest(t, s, utc(t0), true) // unrouted
	if err := s.RouteNotification(t.Context(), first, []Target{{ChatID: 1}}); err != nil {
		t.Fatal(err)
	}
	wantOldest(t, s, utc(t0), true) // its delivery is pending
	d := claim(t, s, "a", t0, t0.Add(time.Hour), 1)[0]
	if err := s.MarkDelivered(t.Context(), d.ID, 1, t0); err != nil {
		t.Fatal(err)
	}
	wantOldest(t, s, utc(t0.Add(time.Minute)), true)
	if err := s.RouteNotification(t.Context(), second, []Target{{ChatID: 1}}); err != nil {
		t.Fatal(err)
	}
	d = claim(t, s, "a", t0.Add(time.Hour), t0.Add(2*time.Hour), 1)[0]
	if err := s.FailDelivery(t.Context(), d.ID, "gone"); err != nil {
		t.Fatal(err)
	}
	wantOldest(t, s, time.Time{}, false)
}

// Four workers under two owners claim in small batches until nothing is
// left; every delivery must be handed out exactly once.
func testConcurrentClaims(t *testing.T, s Store) {
	const notifications, chats = 60, 3
	for i := range notifications {
		addRouted(t, s, t0.Add(time.Duration(i)*time.Millisecond), 1, 2, 3)
	}
	now, lease := t0.Add(time.Hour), t0.Add(2*time.Hour)
	claimed := make([][]int64, 4)
	var wg sync.WaitGroup
	for w := range claimed {
		owner := []string{"replica-a", "replica-b"}[w%2]
		wg.Go(func() {
			for {
				ds, err := s.ClaimDeliveries(t.Context(), owner, now, lease, 4)
				if err != nil {
					t.Errorf("ClaimDeliveries(%s): %v", owner, err)
					return
				}
				if len(ds) == 0 {
					return
				}
				claimed[w] = append(claimed[w], ids(ds)...)
			}
		})
	}
	wg.Wait()
	seen := map[int64]int{}
	for w, list := range claimed {
		for _, id := range list {
			if prev, dup := seen[id]; dup {
				t.Errorf("delivery %d claimed by worker %d and worker %d", id, prev, w)
			}
			seen[id] = w
		}
	}
	if len(seen) != notifications*chats {
		t.Errorf("claimed %d distinct deliveries, want %d", len(seen), notifications*chats)
	}
	if rest := claim(t, s, "c", now, lease, 10); len(rest) != 0 {
		t.Errorf("left unclaimed: %v", ids(rest))
	}
}
