package store

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// lifecycleTests is the part of testStore that covers Lifecycle.
func lifecycleTests() []conformanceTest {
	return []conformanceTest{
		{"PendingChatsOrder", testPendingChatsOrder},
		{"PendingChatsLeases", testPendingChatsLeases},
		{"ClaimChatDeliveries", testClaimChatDeliveries},
		{"ClaimChatNotificationOrder", testClaimChatNotificationOrder},
		{"ClaimChatLeases", testClaimChatLeases},
		{"SupersedeDeliveries", testSupersedeDeliveries},
		{"SupersededIsNotPending", testSupersededIsNotPending},
		{"MarkDeliveredBatch", testMarkDeliveredBatch},
		{"BatchesBeyondOneStatement", testBatchesBeyondOneStatement},
		{"MessageRefs", testMessageRefs},
		{"MessageRefDefaultsAndErrors", testMessageRefDefaultsAndErrors},
		{"PruneMessageRefs", testPruneMessageRefs},
		{"PruneNotifications", testPruneNotifications},
		{"PruneNotificationsInBatches", testPruneNotificationsInBatches},
	}
}

func wantPendingChats(t *testing.T, s Store, now time.Time, limit int, want ...int64) {
	t.Helper()
	got, err := s.PendingChats(t.Context(), now, limit)
	if err != nil {
		t.Fatalf("PendingChats(%v, %d): %v", now, limit, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("PendingChats(%v, %d) = %v, want %v", now, limit, got, want)
	}
}

func claimChat(t *testing.T, s Store, owner string, chat int64, now, leaseUntil time.Time, limit int) []Delivery {
	t.Helper()
	ds, err := s.ClaimChatDeliveries(t.Context(), owner, chat, now, leaseUntil, limit)
	if err != nil {
		t.Fatalf("ClaimChatDeliveries(%s, %d): %v", owner, chat, err)
	}
	return ds
}

func notificationIDs(ds []Delivery) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.NotificationID
	}
	return out
}

func supersede(t *testing.T, s Store, ids []int64, want int) {
	t.Helper()
	if n, err := s.SupersedeDeliveries(t.Context(), ids, "replaced"); err != nil || n != want {
		t.Fatalf("SupersedeDeliveries(%v) = %d, %v; want %d", ids, n, err, want)
	}
}

// Chats come longest-waiting first by their oldest due delivery, ties by
// chat id; chats with nothing due yet, or nothing pending, do not come.
func testPendingChatsOrder(t *testing.T, s Store) {
	wantPendingChats(t, s, t0, 10)
	addRouted(t, s, t0, 30)
	addRouted(t, s, t0.Add(time.Second), 10)
	addRouted(t, s, t0.Add(2*time.Second), 20)
	addRouted(t, s, t0.Add(3*time.Second), 10, 50, 40)
	addRouted(t, s, t0.Add(time.Hour), 60)
	add(t, s, Notification{Source: "alertmanager", Route: "oncall", ReceivedAt: t0}) // unrouted: no chat

	now := t0.Add(time.Minute)
	wantPendingChats(t, s, now, 10, 30, 10, 20, 40, 50)
	wantPendingChats(t, s, now, 2, 30, 10)
	wantPendingChats(t, s, now, 0)
	wantPendingChats(t, s, t0.Add(1500*time.Millisecond), 10, 30, 10) // due at now, inclusive
	wantPendingChats(t, s, t0.Add(time.Second), 10, 30, 10)
	wantPendingChats(t, s, t0.Add(-time.Microsecond), 10)
	wantPendingChats(t, s, t0.Add(time.Hour), 10, 30, 10, 20, 40, 50, 60)

	// Ended deliveries do not count: chat 30 goes; chat 10 now waits since
	// its second delivery, after chat 20.
	for _, d := range claim(t, s, "a", now, now, 10) {
		switch {
		case d.Target.ChatID == 30:
			if err := s.FailDelivery(t.Context(), d.ID, "blocked"); err != nil {
				t.Fatal(err)
			}
		case d.Target.ChatID == 10 && d.AcceptedAt.Equal(utc(t0.Add(time.Second))):
			if err := s.MarkDelivered(t.Context(), d.ID, 1, now); err != nil {
				t.Fatal(err)
			}
		case d.Target.ChatID == 40:
			supersede(t, s, []int64{d.ID}, 1)
		}
	}
	wantPendingChats(t, s, now, 10, 20, 10, 50)
}

// A leased delivery does not make its chat pending until the lease
// expires; the chat's other deliveries still do.
func testPendingChatsLeases(t *testing.T, s Store) {
	addRouted(t, s, t0, 1)
	addRouted(t, s, t0.Add(time.Second), 2)
	addRouted(t, s, t0.Add(2*time.Second), 1)
	now, lease := t0.Add(time.Minute), t0.Add(2*time.Minute)

	first := claimChat(t, s, "a", 1, now, lease, 1)
	if len(first) != 1 {
		t.Fatalf("claimed %d, want 1", len(first))
	}
	wantPendingChats(t, s, now, 10, 2, 1) // chat 1 waits since its second delivery
	claimChat(t, s, "a", 1, now, lease, 10)
	wantPendingChats(t, s, now, 10, 2)
	wantPendingChats(t, s, lease.Add(-time.Microsecond), 10, 2)
	wantPendingChats(t, s, lease, 10, 1, 2) // leases expired

	if err := s.RetryDelivery(t.Context(), first[0].ID, lease.Add(time.Hour), "429"); err != nil {
		t.Fatal(err)
	}
	wantPendingChats(t, s, lease, 10, 2, 1) // retried later: chat 1 waits since its second one again
	if err := s.ReleaseClaims(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	wantPendingChats(t, s, now, 10, 2, 1)
}

func testClaimChatDeliveries(t *testing.T, s Store) {
	n := Notification{Source: "grafana", Route: "ops", GroupKey: "gk", Payload: []byte(`{"x":1}`), ReceivedAt: t0}
	nid := add(t, s, n)
	targets := []Target{{ChatID: 42, ThreadID: 9}, {ChatID: 7}, {ChatID: 42}}
	if err := s.RouteNotification(t.Context(), nid, targets); err != nil {
		t.Fatal(err)
	}
	if ds := claimChat(t, s, "a", 42, t0.Add(-time.Microsecond), t0.Add(time.Minute), 10); len(ds) != 0 {
		t.Fatalf("claimed before due: %+v", ds)
	}
	if ds := claimChat(t, s, "a", 8, t0, t0.Add(time.Minute), 10); len(ds) != 0 {
		t.Fatalf("claimed for a chat without deliveries: %+v", ds)
	}
	ds := claimChat(t, s, "a", 42, t0, t0.Add(time.Minute), 10)
	if len(ds) != 2 || ds[0].ID >= ds[1].ID {
		t.Fatalf("claimed %+v, want chat 42's two deliveries by id", ds)
	}
	for i, target := range []Target{{ChatID: 42, ThreadID: 9}, {ChatID: 42}} {
		want := Delivery{ID: ds[i].ID, NotificationID: nid, Source: "grafana", Route: "ops", GroupKey: "gk",
			Target: target, Payload: n.Payload, Attempts: 1, NextAttemptAt: utc(t0), AcceptedAt: utc(t0)}
		if fmt.Sprintf("%+v", ds[i]) != fmt.Sprintf("%+v", want) {
			t.Errorf("delivery %d = %+v\nwant         %+v", i, ds[i], want)
		}
	}
	other := claim(t, s, "b", t0, t0.Add(time.Minute), 10)
	if len(other) != 1 || other[0].Target != (Target{ChatID: 7}) {
		t.Fatalf("other chats' deliveries = %+v, want chat 7's, untouched", other)
	}
	if _, err := s.ClaimChatDeliveries(t.Context(), "", 42, t0, t0, 1); err == nil {
		t.Error("ClaimChatDeliveries with empty owner succeeded")
	}
	if ds := claimChat(t, s, "a", 7, t0.Add(time.Hour), t0.Add(2*time.Hour), 0); len(ds) != 0 {
		t.Errorf("ClaimChatDeliveries(limit 0) = %+v", ds)
	}
}

// A chat gets its notifications in the order they were accepted, limit by
// limit, even when the oldest waited for a retry and is due after newer
// ones (where ClaimDeliveries goes by due time).
func testClaimChatNotificationOrder(t *testing.T, s Store) {
	first := addRouted(t, s, t0, 1)
	retried := claimChat(t, s, "a", 1, t0, t0.Add(time.Minute), 1)
	if err := s.RetryDelivery(t.Context(), retried[0].ID, t0.Add(10*time.Second), "429"); err != nil {
		t.Fatal(err)
	}
	second := addRouted(t, s, t0.Add(time.Second), 1, 2)
	third := addRouted(t, s, t0.Add(2*time.Second), 1)
	now, lease := t0.Add(time.Hour), t0.Add(2*time.Hour)

	ds := claimChat(t, s, "a", 1, now, lease, 2)
	if got, want := notificationIDs(ds), []int64{first, second}; !slices.Equal(got, want) {
		t.Fatalf("claimed notifications %v, want %v", got, want)
	}
	if ds[0].Attempts != 2 || ds[0].LastError != "429" || !ds[0].NextAttemptAt.Equal(utc(t0.Add(10*time.Second))) {
		t.Errorf("retried delivery = %+v", ds[0])
	}
	rest := claimChat(t, s, "a", 1, now, lease, 2)
	if got, want := notificationIDs(rest), []int64{third}; !slices.Equal(got, want) {
		t.Fatalf("then claimed notifications %v, want %v", got, want)
	}
	if ds := claimChat(t, s, "a", 1, now, lease, 2); len(ds) != 0 {
		t.Fatalf("claimed again: %+v", ds)
	}
}

func testClaimChatLeases(t *testing.T, s Store) {
	addRouted(t, s, t0, 1, 2)
	addRouted(t, s, t0.Add(time.Second), 1)
	lease := t0.Add(30 * time.Second)
	first := claimChat(t, s, "a", 1, t0.Add(time.Second), lease, 10)
	if len(first) != 2 {
		t.Fatalf("claimed %d, want 2", len(first))
	}
	if ds := claimChat(t, s, "b", 1, lease.Add(-time.Microsecond), lease.Add(time.Minute), 10); len(ds) != 0 {
		t.Fatalf("claimed before lease expiry: %+v", ds)
	}
	if ds := claim(t, s, "b", lease.Add(-time.Microsecond), lease.Add(time.Minute), 10); len(ds) != 1 || ds[0].Target.ChatID != 2 {
		t.Fatalf("ClaimDeliveries during the chat's lease = %+v, want only chat 2's", ds)
	}
	again := claimChat(t, s, "b", 1, lease, lease.Add(time.Minute), 10)
	if !slices.Equal(ids(again), ids(first)) || again[0].Attempts != 2 || again[1].Attempts != 2 {
		t.Fatalf("after lease expiry claimed %+v, want %v with 2 attempts", again, ids(first))
	}
}

// Only pending deliveries are superseded, leased or not; ended ones,
// unknown ids and repeats do not count.
func testSupersedeDeliveries(t *testing.T, s Store) {
	addRouted(t, s, t0, 1, 2, 3, 4)
	ds := claim(t, s, "a", t0, t0.Add(time.Hour), 10)
	if err := s.MarkDelivered(t.Context(), ds[2].ID, 1, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.FailDelivery(t.Context(), ds[3].ID, "blocked"); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryDelivery(t.Context(), ds[1].ID, t0, "flood"); err != nil { // pending, unleased
		t.Fatal(err)
	}
	supersede(t, s, nil, 0)
	supersede(t, s, append(ids(ds), 424242, ds[0].ID), 2)
	wantCountsMap(t, s, map[string]int{StateDelivered: 1, StateFailed: 1, StateSuperseded: 2})
	supersede(t, s, ids(ds), 0)

	// Superseded is an end: nothing claims, retries or fails it.
	if err := s.RetryDelivery(t.Context(), ds[0].ID, t0, "late"); err != nil {
		t.Fatalf("RetryDelivery(superseded) = %v, want nil", err)
	}
	if err := s.FailDelivery(t.Context(), ds[1].ID, "late"); err != nil {
		t.Fatalf("FailDelivery(superseded) = %v, want nil", err)
	}
	if err := s.ReleaseClaims(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if again := claim(t, s, "b", t0.Add(2*time.Hour), t0.Add(3*time.Hour), 10); len(again) != 0 {
		t.Fatalf("superseded deliveries claimed: %+v", again)
	}
	wantPendingChats(t, s, t0.Add(2*time.Hour), 10)
	wantCountsMap(t, s, map[string]int{StateDelivered: 1, StateFailed: 1, StateSuperseded: 2})
}

func testSupersededIsNotPending(t *testing.T, s Store) {
	addRouted(t, s, t0, 1)
	addRouted(t, s, t0.Add(time.Minute), 1)
	wantOldest(t, s, utc(t0), true)
	ds := claimChat(t, s, "a", 1, t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
	supersede(t, s, ids(ds[:1]), 1)
	wantOldest(t, s, utc(t0.Add(time.Minute)), true)
	supersede(t, s, ids(ds[1:]), 1)
	wantOldest(t, s, time.Time{}, false)
	wantCountsMap(t, s, map[string]int{StateSuperseded: 2})
}

// MarkDeliveredBatch ends deliveries whatever their state, all or none.
func testMarkDeliveredBatch(t *testing.T, s Store) {
	addRouted(t, s, t0, 1)
	addRouted(t, s, t0.Add(time.Second), 1)
	addRouted(t, s, t0.Add(2*time.Second), 1)
	ds := claimChat(t, s, "a", 1, t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
	if len(ds) != 3 {
		t.Fatalf("claimed %d, want 3", len(ds))
	}
	if err := s.MarkDeliveredBatch(t.Context(), nil, 1, t0); err != nil {
		t.Fatalf("MarkDeliveredBatch(none) = %v", err)
	}
	supersede(t, s, ids(ds[1:2]), 1) // a late digest still counts as delivered
	if err := s.MarkDeliveredBatch(t.Context(), []int64{ds[0].ID, ds[1].ID, ds[0].ID}, 99, t0.Add(time.Hour)); err != nil {
		t.Fatalf("MarkDeliveredBatch: %v", err)
	}
	wantCountsMap(t, s, map[string]int{StatePending: 1, StateDelivered: 2})

	err := s.MarkDeliveredBatch(t.Context(), []int64{ds[2].ID, 424242}, 100, t0.Add(time.Hour))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("MarkDeliveredBatch(with unknown id) = %v, want ErrNotFound", err)
	}
	wantCountsMap(t, s, map[string]int{StatePending: 1, StateDelivered: 2})
	if err := s.ReleaseClaims(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if left := claim(t, s, "b", t0.Add(time.Hour), t0.Add(2*time.Hour), 10); len(left) != 1 || left[0].ID != ds[2].ID {
		t.Fatalf("after the failed batch claimed %+v, want delivery %d", left, ds[2].ID)
	}
}

// Batches larger than one statement's placeholders stay one transaction.
func testBatchesBeyondOneStatement(t *testing.T, s Store) {
	const n = maxIDsPerStatement + 10
	chats := make([]int64, n)
	for i := range chats {
		chats[i] = int64(i + 1)
	}
	addRouted(t, s, t0, chats...)
	all := ids(claim(t, s, "a", t0, t0.Add(time.Hour), 2*n))
	if len(all) != n {
		t.Fatalf("claimed %d, want %d", len(all), n)
	}
	err := s.MarkDeliveredBatch(t.Context(), append(all[:n:n], 424242), 1, t0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("MarkDeliveredBatch(with unknown id) = %v, want ErrNotFound", err)
	}
	wantCountsMap(t, s, map[string]int{StatePending: n})
	supersede(t, s, all[n-5:], 5)
	if err := s.MarkDeliveredBatch(t.Context(), all, 1, t0); err != nil {
		t.Fatalf("MarkDeliveredBatch: %v", err)
	}
	wantCountsMap(t, s, map[string]int{StateDelivered: n})
}

func putRef(t *testing.T, s Store, ref MessageRef) {
	t.Helper()
	if err := s.PutMessageRef(t.Context(), ref); err != nil {
		t.Fatalf("PutMessageRef(%+v): %v", ref, err)
	}
}

func wantRef(t *testing.T, s Store, chat, thread int64, route, groupKey string, want MessageRef, wantOK bool) {
	t.Helper()
	got, ok, err := s.GetMessageRef(t.Context(), chat, thread, route, groupKey)
	if err != nil || ok != wantOK || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("GetMessageRef(%d, %d, %q, %q) = %+v, %v, %v;\nwant %+v, %v", chat, thread, route, groupKey,
			got, ok, err, want, wantOK)
	}
}

func testMessageRefs(t *testing.T, s Store) {
	wantRef(t, s, -100, 0, "oncall", "g", MessageRef{}, false)
	ref := MessageRef{ChatID: -100, ThreadID: 3, Route: "oncall", GroupKey: `{}:{alertname="A"}`, MessageID: 55,
		Status: "firing", Photo: true, UpdatedAt: t0}
	putRef(t, s, ref)
	stored := ref
	stored.UpdatedAt = utc(t0)
	wantRef(t, s, -100, 3, "oncall", ref.GroupKey, stored, true)

	// Each part of the key tells references apart.
	others := []MessageRef{
		{ChatID: -101, ThreadID: 3, Route: "oncall", GroupKey: ref.GroupKey},
		{ChatID: -100, ThreadID: 0, Route: "oncall", GroupKey: ref.GroupKey},
		{ChatID: -100, ThreadID: 3, Route: "ops", GroupKey: ref.GroupKey},
		{ChatID: -100, ThreadID: 3, Route: "oncall", GroupKey: "other"},
	}
	for i, o := range others {
		wantRef(t, s, o.ChatID, o.ThreadID, o.Route, o.GroupKey, MessageRef{}, false)
		o.MessageID, o.Status, o.UpdatedAt = int64(100+i), "resolved", t0.Add(time.Duration(i)*time.Second)
		putRef(t, s, o)
	}
	wantRef(t, s, -100, 3, "oncall", ref.GroupKey, stored, true)

	replaced := MessageRef{ChatID: -100, ThreadID: 3, Route: "oncall", GroupKey: ref.GroupKey, MessageID: 77,
		Status: "resolved", Digest: true, UpdatedAt: t0.Add(time.Minute)}
	putRef(t, s, replaced)
	replaced.UpdatedAt = utc(replaced.UpdatedAt)
	wantRef(t, s, -100, 3, "oncall", ref.GroupKey, replaced, true)
	back := replaced
	back.Digest, back.Photo, back.Status, back.UpdatedAt = false, true, "firing", utc(t0) // and back, even to an earlier time
	putRef(t, s, back)
	wantRef(t, s, -100, 3, "oncall", ref.GroupKey, back, true)
	for i, o := range others {
		o.MessageID, o.Status, o.UpdatedAt = int64(100+i), "resolved", utc(t0.Add(time.Duration(i)*time.Second))
		wantRef(t, s, o.ChatID, o.ThreadID, o.Route, o.GroupKey, o, true)
	}
}

func testMessageRefDefaultsAndErrors(t *testing.T, s Store) {
	before := time.Now().Truncate(time.Microsecond)
	putRef(t, s, MessageRef{ChatID: 1, MessageID: 2})
	after := time.Now()
	got, ok, err := s.GetMessageRef(t.Context(), 1, 0, "", "")
	if err != nil || !ok {
		t.Fatalf("GetMessageRef = %+v, %v, %v", got, ok, err)
	}
	if got.UpdatedAt.Before(before) || got.UpdatedAt.After(after) {
		t.Errorf("default UpdatedAt %v not within [%v, %v]", got.UpdatedAt, before, after)
	}
	for _, ref := range []MessageRef{{MessageID: 2}, {ChatID: 1}} {
		if err := s.PutMessageRef(t.Context(), ref); err == nil {
			t.Errorf("PutMessageRef(%+v) succeeded", ref)
		}
	}
}

// PruneMessageRefs deletes what was updated strictly before its argument,
// to the microsecond.
func testPruneMessageRefs(t *testing.T, s Store) {
	prune := func(before time.Time, want int) {
		t.Helper()
		if got, err := s.PruneMessageRefs(t.Context(), before); err != nil || got != want {
			t.Fatalf("PruneMessageRefs(%v) = %d, %v; want %d", before, got, err, want)
		}
	}
	prune(t0, 0)
	for i, at := range []time.Time{t0.Add(-24 * time.Hour), t0, t0.Add(time.Hour)} {
		putRef(t, s, MessageRef{ChatID: int64(i + 1), MessageID: 1, Status: "firing", UpdatedAt: at})
	}
	prune(t0, 1)
	prune(t0, 0)
	prune(t0.Add(time.Microsecond), 1)
	for chat, want := range map[int64]bool{1: false, 2: false, 3: true} {
		if _, ok, err := s.GetMessageRef(t.Context(), chat, 0, "", ""); err != nil || ok != want {
			t.Errorf("GetMessageRef(chat %d) = %v, %v; want %v", chat, ok, err, want)
		}
	}
	// Replacing a reference renews it.
	putRef(t, s, MessageRef{ChatID: 3, MessageID: 2, Status: "resolved", UpdatedAt: t0.Add(2 * time.Hour)})
	prune(t0.Add(2*time.Hour), 0)
}

// testUpgradeToLifecycle brings db, a database at schema version 3 with
// deliveries in every state, up to date through open: the deliveries keep
// their ids and columns, no id is reused (not even the highest, deleted
// one), their constraints hold, superseded is a state, and listIndexes
// (names of deliveries' indexes) shows the per-chat indexes in place of
// deliveries_pending_chat.
func testUpgradeToLifecycle(t *testing.T, db *sql.DB, d dialect, open func() Store, listIndexes string) {
	ctx := t.Context()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }() // ErrTxDone once committed; otherwise it only undoes a failed test's work
	if _, err := tx.ExecContext(ctx, d.ddl.Replace(createMigrationsTable)); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:3] {
		if err := applyMigration(ctx, tx, d, m); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(query string, args ...any) int64 {
		t.Helper()
		var id int64
		if err := tx.QueryRowContext(ctx, query+` RETURNING id`, args...).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	const addNotification = `INSERT INTO notifications (source, route, group_key, payload, received_at, routed_at)
		VALUES ('alertmanager', 'oncall', 'g', $1, $2, $3)`
	n1 := insert(addNotification, []byte("one"), d.ts(t0), d.ts(t0))
	n2 := insert(addNotification, []byte("two"), d.ts(t0.Add(time.Second)), d.ts(t0))
	insert(addNotification, []byte("unrouted"), d.ts(t0), nil)
	const addDelivery = `INSERT INTO deliveries (notification_id, chat_id, state, attempts, next_attempt_at, owner,
		lease_until, last_error, message_id, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	leased := insert(addDelivery, n1, 1, "pending", 2, d.ts(t0), "a", d.ts(t0.Add(time.Hour)), "flood", nil, nil)
	insert(addDelivery, n1, 2, "delivered", 1, d.ts(t0), nil, nil, "", 5, d.ts(t0))
	insert(addDelivery, n1, 3, "failed", 1, d.ts(t0), nil, nil, "blocked", nil, nil)
	waiting := insert(addDelivery, n2, 1, "pending", 0, d.ts(t0.Add(time.Second)), nil, nil, "", nil, nil)
	deleted := insert(addDelivery, n2, 9, "pending", 0, d.ts(t0), nil, nil, "", nil, nil)
	if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE id = $1`, deleted); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	s := open()
	wantCounts(t, s, 2, 1, 1, 1)
	wantPendingChats(t, s, t0.Add(time.Minute), 10, 1) // only the waiting one: the other is leased
	ds := claimChat(t, s, "b", 1, t0.Add(2*time.Hour), t0.Add(3*time.Hour), 10)
	if !slices.Equal(ids(ds), []int64{leased, waiting}) {
		t.Fatalf("claimed %v, want %v", ids(ds), []int64{leased, waiting})
	}
	if d := ds[0]; d.Attempts != 3 || d.LastError != "flood" || string(d.Payload) != "one" || !d.AcceptedAt.Equal(utc(t0)) {
		t.Errorf("upgraded delivery = %+v", d)
	}
	supersede(t, s, ids(ds[1:]), 1)
	wantCountsMap(t, s, map[string]int{StatePending: 1, StateDelivered: 1, StateFailed: 1, StateSuperseded: 1,
		"unrouted": 1})
	addRouted(t, s, t0, 4)
	if fresh := claimChat(t, s, "b", 4, t0, t0.Add(time.Hour), 1); len(fresh) != 1 || fresh[0].ID <= deleted {
		t.Errorf("new delivery = %+v, want an id above %d", fresh, deleted)
	}

	if _, err := db.ExecContext(ctx, `UPDATE deliveries SET state = 'lost' WHERE id = $1`, leased); err == nil {
		t.Error("the state check accepted 'lost'")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO deliveries (notification_id, chat_id, next_attempt_at)
		VALUES ($1, 1, $2)`, n1, d.ts(t0)); err == nil {
		t.Error("a second delivery of a notification to a chat was accepted")
	}
	rows, err := db.QueryContext(ctx, listIndexes)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var indexes []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, name)
	}
	for _, want := range []string{"deliveries_due", "deliveries_owner", "deliveries_chat_due", "deliveries_chat_order"} {
		if !slices.Contains(indexes, want) {
			t.Errorf("indexes of deliveries = %v, want %s among them", indexes, want)
		}
	}
	if slices.Contains(indexes, "deliveries_pending_chat") {
		t.Errorf("indexes of deliveries = %v, want no deliveries_pending_chat", indexes)
	}
}

// testPruneNotifications: only old notifications whose work is over go:
// delivered, failed or routed to nobody; pending and unrouted ones stay
// whatever their age, and so does anything received at the cut or later.
func testPruneNotifications(t *testing.T, s Store) {
	ctx := t.Context()
	end := func(id int64, failed bool) { // ends notification id's deliveries
		t.Helper()
		ds, err := s.ClaimDeliveries(ctx, "a", t0.Add(time.Hour), t0.Add(2*time.Hour), 100)
		if err != nil {
			t.Fatalf("ClaimDeliveries(a): %v", err)
		}
		for _, d := range ds {
			var err error
			switch {
			case d.NotificationID != id:
			case failed:
				err = s.FailDelivery(ctx, d.ID, "Bad Request: chat not found")
			default:
				err = s.MarkDelivered(ctx, d.ID, 42, t0)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ReleaseClaims(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	delivered := addRouted(t, s, t0, 1)
	end(delivered, false)
	failed := addRouted(t, s, t0, 2)
	end(failed, true)
	nobody := addRouted(t, s, t0)
	halfDone := addRouted(t, s, t0, 1, 3) // chat 3 still pending
	ds := claimChat(t, s, "a", 1, t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
	if err := s.MarkDelivered(ctx, ds[0].ID, 43, t0); err != nil {
		t.Fatal(err)
	}
	unrouted := add(t, s, Notification{Source: "alertmanager", Route: "oncall", ReceivedAt: t0})
	atCut := addRouted(t, s, t0.Add(time.Hour), 4)
	end(atCut, false)

	if n, err := s.PruneNotifications(ctx, t0.Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("PruneNotifications = %d, %v; want 3 (delivered %d, failed %d, to nobody %d)", n, err, delivered, failed, nobody)
	}
	wantCounts(t, s, 1, 2, 0, 1) // halfDone's two deliveries, atCut's, unrouted
	if un, _ := s.UnroutedNotifications(ctx, 10); len(un) != 1 || un[0].ID != unrouted {
		t.Errorf("unrouted after prune = %+v, want notification %d", un, unrouted)
	}
	if left := claim(t, s, "b", t0.Add(time.Hour), t0.Add(2*time.Hour), 10); len(left) != 1 || left[0].NotificationID != halfDone {
		t.Errorf("pending after prune = %v, want notification %d's", ids(left), halfDone)
	}
	if n, err := s.PruneNotifications(ctx, t0.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("second PruneNotifications = %d, %v; want 0", n, err)
	}
}

// testPruneNotificationsInBatches: more than one batch of old notifications
// all go in one call.
func testPruneNotificationsInBatches(t *testing.T, s Store) {
	const total = pruneBatch*2 + 7
	for range total {
		add(t, s, Notification{Source: "alertmanager", Route: "oncall", ReceivedAt: t0, Routed: true})
	}
	if n, err := s.PruneNotifications(t.Context(), t0.Add(time.Second)); err != nil || n != total {
		t.Fatalf("PruneNotifications = %d, %v; want %d", n, err, total)
	}
}
