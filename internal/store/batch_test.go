package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// batchTests is the part of testStore that covers group commit
// (AddNotification) and RouteNotifications.
func batchTests() []conformanceTest {
	return []conformanceTest{
		{"AddConcurrently", testAddConcurrently},
		{"DuplicatesInOneBatch", testDuplicatesInOneBatch},
		{"FailingStatementInBatch", testFailingStatementInBatch},
		{"FailingCommit", testFailingCommit},
		{"AddWithEndedContext", testAddWithEndedContext},
		{"RouteMany", testRouteMany},
		{"RouteManyUnknown", testRouteManyUnknown},
	}
}

// Many concurrent callers share transactions; each gets its own id and
// every notification is stored with its own content.
func testAddConcurrently(t *testing.T, s Store) {
	const callers = 300
	ids := make([]int64, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			n := Notification{Source: "alertmanager", Route: "oncall", GroupKey: fmt.Sprint("g", i),
				Payload: []byte(fmt.Sprint(i)), ReceivedAt: t0}
			if i%2 == 0 {
				n.DedupeKey, n.DedupeWindow = fmt.Sprint("k", i), dedupeWindow
			}
			var err error
			if ids[i], err = s.AddNotification(t.Context(), n); err != nil {
				t.Errorf("AddNotification %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	stored, err := s.UnroutedNotifications(t.Context(), 2*callers)
	if err != nil || len(stored) != callers {
		t.Fatalf("UnroutedNotifications = %d rows, %v; want %d", len(stored), err, callers)
	}
	byID := map[int64]Notification{}
	for _, n := range stored {
		byID[n.ID] = n
	}
	for i, id := range ids {
		if n := byID[id]; n.GroupKey != fmt.Sprint("g", i) || string(n.Payload) != fmt.Sprint(i) {
			t.Errorf("caller %d got id %d, which holds %+v", i, id, n)
		}
	}
}

// keyed is a notification in group g with dedupe key key received at at.
func keyed(g, key string, at time.Time) Notification {
	return Notification{Source: "alertmanager", Route: "oncall", GroupKey: g, Payload: []byte(g), ReceivedAt: at,
		DedupeKey: key, DedupeWindow: dedupeWindow}
}

// commitOneBatch commits ns as one batch and returns each notification's
// answer.
func commitOneBatch(t *testing.T, s Store, ns ...Notification) []addResult {
	t.Helper()
	batch := make([]*addRequest, len(ns))
	for i, n := range ns {
		batch[i] = &addRequest{ctx: t.Context(), n: n, done: make(chan addResult, 1)}
	}
	s.(*sqlStore).commitBatch(batch)
	out := make([]addResult, len(batch))
	for i, r := range batch {
		out[i] = <-r.done
	}
	return out
}

// wantAnswers checks each answer: errOK wants an id, errAny a failure other
// than a duplicate, and any other error that error (errors.Is).
func wantAnswers(t *testing.T, got []addResult, want []error) {
	t.Helper()
	for i, r := range got {
		switch w := want[i]; {
		case errors.Is(w, errOK) && (r.err != nil || r.id <= 0):
			t.Errorf("notification %d: %d, %v; want an id", i, r.id, r.err)
		case errors.Is(w, errAny) && (r.err == nil || errors.Is(r.err, ErrDuplicate) || r.id != 0):
			t.Errorf("notification %d: %d, %v; want a failure", i, r.id, r.err)
		case !errors.Is(w, errOK) && !errors.Is(w, errAny) && (!errors.Is(r.err, w) || r.id != 0):
			t.Errorf("notification %d: %d, %v; want 0, %v", i, r.id, r.err, w)
		}
	}
}

var (
	errOK  = errors.New("want an id")
	errAny = errors.New("want a failure other than ErrDuplicate")
)

// Within one batch, copies are decided in order, as if they came one after
// the other: the first wins.
func testDuplicatesInOneBatch(t *testing.T, s Store) {
	got := commitOneBatch(t, s,
		keyed("a", "k", t0),
		keyed("b", "k", t0.Add(time.Second)),
		keyed("c", "", t0),
		keyed("d", "other", t0),
		keyed("e", "k", t0.Add(dedupeWindow+time.Microsecond)), // past the window of a: accepted
		keyed("f", "k", t0.Add(dedupeWindow+time.Second)),      // within e's
	)
	wantAnswers(t, got, []error{errOK, ErrDuplicate, errOK, errOK, errOK, ErrDuplicate})
	wantGroups(t, s, "a", "c", "d", "e")
}

// wantGroups wants exactly the unrouted notifications of these groups.
func wantGroups(t *testing.T, s Store, groups ...string) {
	t.Helper()
	stored, err := s.UnroutedNotifications(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range stored {
		got = append(got, n.GroupKey)
	}
	if !slices.Equal(got, groups) {
		t.Errorf("stored groups %q, want %q", got, groups)
	}
}

// poison makes the database reject notifications of group "poison" at
// their INSERT and those of group "commit-poison" at COMMIT (a deferred
// foreign key that a trigger violates).
func poison(t *testing.T, s Store) {
	t.Helper()
	ss := s.(*sqlStore)
	stmts := map[string][]string{
		"sqlite": {
			`CREATE TRIGGER poison BEFORE INSERT ON notifications WHEN NEW.group_key = 'poison'
				BEGIN SELECT RAISE(ABORT, 'poisoned'); END`,
			`CREATE TABLE poison_parent (id INTEGER PRIMARY KEY)`,
			`CREATE TABLE poison_child (parent INTEGER REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED)`,
			`CREATE TRIGGER commit_poison AFTER INSERT ON notifications WHEN NEW.group_key = 'commit-poison'
				BEGIN INSERT INTO poison_child VALUES (42); END`,
		},
		"postgres": {
			`ALTER TABLE notifications ADD CONSTRAINT poison CHECK (group_key <> 'poison')`,
			`CREATE TABLE poison_parent (id BIGINT PRIMARY KEY)`,
			`CREATE TABLE poison_child (parent BIGINT REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED)`,
			`CREATE FUNCTION commit_poison() RETURNS trigger LANGUAGE plpgsql AS
				$$ BEGIN INSERT INTO poison_child VALUES (42); RETURN NEW; END $$`,
			`CREATE TRIGGER commit_poison AFTER INSERT ON notifications FOR EACH ROW
				WHEN (NEW.group_key = 'commit-poison') EXECUTE FUNCTION commit_poison()`,
		},
	}
	for _, q := range stmts[ss.d.name] {
		if _, err := ss.write.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", strings.Fields(q)[:3], err)
		}
	}
}

// A notification whose statement fails fails alone: the batch is retried
// one notification per transaction, dedupe decided in the same order.
func testFailingStatementInBatch(t *testing.T, s Store) {
	poison(t, s)
	got := commitOneBatch(t, s,
		keyed("a", "k", t0),
		keyed("poison", "", t0),
		keyed("b", "", t0),
		keyed("c", "k", t0), // a's copy
	)
	wantAnswers(t, got, []error{errOK, errAny, errOK, ErrDuplicate})
	if !strings.Contains(got[1].err.Error(), "poison") {
		t.Errorf("the poisoned notification's error %q does not say why", got[1].err)
	}
	wantGroups(t, s, "a", "b")
	wantAccepted(t, s, "fresh", dedupeWindow, t0) // the store goes on
}

// A failed commit fails every caller in the batch (none of them is
// stored, and none is told otherwise), and the store goes on.
func testFailingCommit(t *testing.T, s Store) {
	poison(t, s)
	got := commitOneBatch(t, s, keyed("a", "k", t0), keyed("commit-poison", "", t0), keyed("b", "", t0))
	wantAnswers(t, got, []error{errAny, errAny, errAny})
	wantGroups(t, s)
	wantAccepted(t, s, "k", dedupeWindow, t0) // the failed batch's claim of k is gone too
	wantGroups(t, s, "g")
}

// A caller whose context has ended gets its error, and since its request
// never reaches a transaction, nothing is stored.
func testAddWithEndedContext(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if id, err := s.AddNotification(ctx, keyed("a", "", t0)); !errors.Is(err, context.Canceled) || id != 0 {
		t.Fatalf("AddNotification(ended ctx) = %d, %v; want 0, context.Canceled", id, err)
	}
	add(t, s, keyed("b", "", t0)) // the committer is past a's request
	wantGroups(t, s, "b")
}

// RouteNotifications routes several at once, each like RouteNotification:
// those routed already (listed twice, or routed before) are left alone.
func testRouteMany(t *testing.T, s Store) {
	if err := s.RouteNotifications(t.Context(), nil); err != nil {
		t.Fatalf("RouteNotifications(nil) = %v", err)
	}
	routed := addRouted(t, s, t0, 9)
	a := add(t, s, Notification{Source: "alertmanager", Route: "oncall", GroupKey: "a", ReceivedAt: t0.Add(time.Second)})
	b := add(t, s, Notification{Source: "alertmanager", Route: "oncall", GroupKey: "b", ReceivedAt: t0})
	nobody := add(t, s, Notification{Source: "alertmanager", Route: "oncall", GroupKey: "n", ReceivedAt: t0})
	err := s.RouteNotifications(t.Context(), []RoutedNotification{
		{ID: b, Targets: []Target{{ChatID: 1}, {ChatID: 2, ThreadID: 7}, {ChatID: 1}}},
		{ID: routed, Targets: []Target{{ChatID: 3}}},
		{ID: a, Targets: []Target{{ChatID: 1}}},
		{ID: nobody},
		{ID: a, Targets: []Target{{ChatID: 4}}},
	})
	if err != nil {
		t.Fatalf("RouteNotifications: %v", err)
	}
	wantCounts(t, s, 4, 0, 0, 0) // 9 from before; b to 1 and 2; a to 1
	ds := claim(t, s, "x", t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%d→%d/%d@%s", d.NotificationID, d.Target.ChatID, d.Target.ThreadID,
			d.NextAttemptAt.Sub(utc(t0))))
	}
	want := []string{fmt.Sprintf("%d→9/0@0s", routed), fmt.Sprintf("%d→1/0@0s", b), fmt.Sprintf("%d→2/7@0s", b),
		fmt.Sprintf("%d→1/0@1s", a)}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("deliveries %v, want %v (each due at its notification's acceptance)", got, want)
	}
}

// An unknown id routes nothing: the call is one transaction.
func testRouteManyUnknown(t *testing.T, s Store) {
	id := add(t, s, Notification{Source: "alertmanager", Route: "oncall", ReceivedAt: t0})
	err := s.RouteNotifications(t.Context(), []RoutedNotification{
		{ID: id, Targets: []Target{{ChatID: 1}}},
		{ID: 424242, Targets: []Target{{ChatID: 1}}},
	})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "424242") {
		t.Fatalf("RouteNotifications(with unknown) = %v, want ErrNotFound naming 424242", err)
	}
	wantCounts(t, s, 0, 0, 0, 1)
}
