package store

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// lightClaimTests are LightClaims' conformance cases; every Store
// implementation (both dialects) passes them.
func lightClaimTests() []conformanceTest {
	return []conformanceTest{
		{"ClaimChatDeliveryHeaders", testClaimChatDeliveryHeaders},
		{"ClaimChatDeliveryHeadersOrderAndLeases", testClaimChatDeliveryHeadersOrderAndLeases},
		{"NotificationPayloads", testNotificationPayloads},
	}
}

func TestLightClaimsSQLite(t *testing.T) {
	for _, tt := range lightClaimTests() {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, openSQLiteAt(t.Context(), t, filepath.Join(t.TempDir(), "alertgram.db")))
		})
	}
}

func TestLightClaimsPostgres(t *testing.T) {
	postgresAdmin(t)
	for _, tt := range lightClaimTests() {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, openPostgresStore(t, postgresSchema(t), discardLogger()))
		})
	}
}

func lightClaims(t *testing.T, s Store) LightClaims {
	t.Helper()
	lc, ok := s.(LightClaims)
	if !ok {
		t.Fatalf("%T does not implement LightClaims", s)
	}
	return lc
}

func claimHeaders(t *testing.T, s Store, owner string, chat int64, now, leaseUntil time.Time, limit int) []DeliveryHeader {
	t.Helper()
	hs, err := lightClaims(t, s).ClaimChatDeliveryHeaders(t.Context(), owner, chat, now, leaseUntil, limit)
	if err != nil {
		t.Fatalf("ClaimChatDeliveryHeaders(%s, %d): %v", owner, chat, err)
	}
	return hs
}

func headerNotificationIDs(hs []DeliveryHeader) []int64 {
	out := make([]int64, len(hs))
	for i, h := range hs {
		out[i] = h.NotificationID
	}
	return out
}

// A header is the delivery as ClaimChatDeliveries returns it, without
// payload and last error, with the payload's size; the claim leases as
// ClaimChatDeliveries does.
func testClaimChatDeliveryHeaders(t *testing.T, s Store) {
	n := Notification{Source: "grafana", Route: "ops", GroupKey: "gk", Payload: []byte(`{"status":"firing","x":"ü"}`), ReceivedAt: t0}
	nid := add(t, s, n)
	if err := s.RouteNotification(t.Context(), nid, []Target{{ChatID: 42, ThreadID: 9}, {ChatID: 7}, {ChatID: 42}}); err != nil {
		t.Fatal(err)
	}
	if hs := claimHeaders(t, s, "a", 42, t0.Add(-time.Microsecond), t0.Add(time.Minute), 10); len(hs) != 0 {
		t.Fatalf("claimed before due: %+v", hs)
	}
	hs := claimHeaders(t, s, "a", 42, t0, t0.Add(time.Minute), 10)
	if len(hs) != 2 || hs[0].ID >= hs[1].ID {
		t.Fatalf("claimed %+v, want chat 42's two deliveries by id", hs)
	}
	for i, target := range []Target{{ChatID: 42, ThreadID: 9}, {ChatID: 42}} {
		want := DeliveryHeader{
			Delivery: Delivery{ID: hs[i].ID, NotificationID: nid, Source: "grafana", Route: "ops", GroupKey: "gk",
				Target: target, Attempts: 1, NextAttemptAt: utc(t0), AcceptedAt: utc(t0)},
			PayloadSize: len(n.Payload),
		}
		if fmt.Sprintf("%+v", hs[i]) != fmt.Sprintf("%+v", want) {
			t.Errorf("header %d = %+v\nwant       %+v", i, hs[i], want)
		}
	}
	if again := claimHeaders(t, s, "b", 42, t0, t0.Add(time.Minute), 10); len(again) != 0 {
		t.Fatalf("leased deliveries claimed again: %+v", again)
	}
	if other := claimChat(t, s, "b", 7, t0, t0.Add(time.Minute), 10); len(other) != 1 {
		t.Fatalf("chat 7's deliveries = %+v, want its one, untouched", other)
	}
	if _, err := lightClaims(t, s).ClaimChatDeliveryHeaders(t.Context(), "", 42, t0, t0, 1); err == nil {
		t.Error("ClaimChatDeliveryHeaders with empty owner succeeded")
	}
	if hs := claimHeaders(t, s, "a", 42, t0.Add(time.Hour), t0.Add(2*time.Hour), 0); len(hs) != 0 {
		t.Errorf("ClaimChatDeliveryHeaders(limit 0) = %+v", hs)
	}
}

// Headers come in the order ClaimChatDeliveries' do (notifications as
// accepted, even when the oldest waits for a retry), limit by limit; an
// expired lease is claimed again with one more attempt, and the last error
// is not read.
func testClaimChatDeliveryHeadersOrderAndLeases(t *testing.T, s Store) {
	first := addRouted(t, s, t0, 1)
	retried := claimHeaders(t, s, "a", 1, t0, t0.Add(time.Minute), 1)
	if err := s.RetryDelivery(t.Context(), retried[0].ID, t0.Add(10*time.Second), "429: retry after 10"); err != nil {
		t.Fatal(err)
	}
	second := addRouted(t, s, t0.Add(time.Second), 1, 2)
	third := addRouted(t, s, t0.Add(2*time.Second), 1)
	now, lease := t0.Add(time.Hour), t0.Add(2*time.Hour)

	hs := claimHeaders(t, s, "a", 1, now, lease, 2)
	if got, want := headerNotificationIDs(hs), []int64{first, second}; !slices.Equal(got, want) {
		t.Fatalf("claimed notifications %v, want %v", got, want)
	}
	if hs[0].Attempts != 2 || hs[0].LastError != "" || hs[0].Payload != nil || !hs[0].NextAttemptAt.Equal(utc(t0.Add(10*time.Second))) {
		t.Errorf("retried delivery's header = %+v, want 2 attempts, due at its retry, no last error or payload", hs[0])
	}
	if got, want := headerNotificationIDs(claimHeaders(t, s, "a", 1, now, lease, 2)), []int64{third}; !slices.Equal(got, want) {
		t.Fatalf("then claimed notifications %v, want %v", got, want)
	}
	if hs := claimHeaders(t, s, "b", 1, lease.Add(-time.Microsecond), lease.Add(time.Hour), 10); len(hs) != 0 {
		t.Fatalf("claimed before the lease expired: %+v", hs)
	}
	again := claimHeaders(t, s, "b", 1, lease, lease.Add(time.Hour), 10)
	if got, want := headerNotificationIDs(again), []int64{first, second, third}; !slices.Equal(got, want) || again[0].Attempts != 3 {
		t.Fatalf("after the lease expired claimed %+v, want notifications %v, the first with 3 attempts", again, want)
	}
}

// Payloads come by notification id, byte for byte (an empty one too);
// unknown ids are left out, in lists longer than one statement takes.
func testNotificationPayloads(t *testing.T, s Store) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KiB
	payloads := [][]byte{[]byte(`{"a":1}`), big, {}}
	var known []int64
	for i, p := range payloads {
		known = append(known, add(t, s, Notification{Source: "alertmanager", Route: "r", GroupKey: fmt.Sprint(i), Payload: p, ReceivedAt: t0}))
	}
	ids := []int64{known[0]}
	for i := range maxIDsPerStatement {
		ids = append(ids, known[2]+1+int64(i)) // unknown
	}
	ids = append(ids, known[1], known[2], known[1])
	got, err := lightClaims(t, s).NotificationPayloads(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(known) {
		t.Errorf("got payloads of %d notifications, want %d (unknown ids left out)", len(got), len(known))
	}
	for i, id := range known {
		p, ok := got[id]
		if !ok || !bytes.Equal(p, payloads[i]) {
			t.Errorf("payload of notification %d = %.40q (present %v), want %.40q", id, p, ok, payloads[i])
		}
	}
	if got, err := lightClaims(t, s).NotificationPayloads(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("NotificationPayloads(none) = %v, %v; want nothing", got, err)
	}
}
