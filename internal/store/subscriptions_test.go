package store

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// subscriptionTests is the part of testStore that covers Subscriptions.
func subscriptionTests() []conformanceTest {
	return []conformanceTest{
		{"CreateLinkTokenInvalid", testCreateLinkTokenInvalid},
		{"RedeemLinkToken", testRedeemLinkToken},
		{"RedeemLinkTokenChatKind", testRedeemLinkTokenChatKind},
		{"RedeemErrors", testRedeemErrors},
		{"ResubscribeReplaces", testResubscribeReplaces},
		{"ActiveAndChatSubscriptions", testActiveAndChatSubscriptions},
		{"Unsubscribe", testUnsubscribe},
		{"DeactivateChat", testDeactivateChat},
		{"MigrateChat", testMigrateChat},
		{"HandledUpdates", testHandledUpdates},
		{"MarkUpdateHandledTwice", testMarkUpdateHandledTwice},
		{"MarkUpdateHandledConcurrently", testMarkUpdateHandledConcurrently},
		{"PruneHandledUpdates", testPruneHandledUpdates},
		{"PruneLinkTokens", testPruneLinkTokens},
		{"CountSubscriptions", testCountSubscriptions},
		{"RedeemConcurrently", func(t *testing.T, s Store) { testRedeemRace(t, s) }},
		{"RedeemSameTargetConcurrently", testRedeemSameTargetConcurrently},
	}
}

// redeemAt is when the tests redeem, within the default token lifetime.
var redeemAt = t0.Add(time.Minute)

// createToken stores lt, defaulting a random token, route oncall, creation
// at t0 and expiry an hour later.
func createToken(t *testing.T, s Store, lt LinkToken) LinkToken {
	t.Helper()
	if lt.Token == "" {
		lt.Token = rand.Text()
	}
	if lt.Route == "" {
		lt.Route = "oncall"
	}
	if lt.CreatedAt.IsZero() {
		lt.CreatedAt = t0
	}
	if lt.ExpiresAt.IsZero() {
		lt.ExpiresAt = t0.Add(time.Hour)
	}
	if err := s.CreateLinkToken(t.Context(), lt); err != nil {
		t.Fatalf("CreateLinkToken(%+v): %v", lt, err)
	}
	return lt
}

func redeem(t *testing.T, s Store, token string, sub Subscription) Subscription {
	t.Helper()
	got, err := s.RedeemLinkToken(t.Context(), token, redeemAt, sub)
	if err != nil {
		t.Fatalf("RedeemLinkToken(chat %d): %v", sub.ChatID, err)
	}
	return got
}

// subscribe subscribes (chat, thread) to route through a fresh token.
func subscribe(t *testing.T, s Store, chat, thread int64, route string, matchers ...string) Subscription {
	t.Helper()
	lt := createToken(t, s, LinkToken{Route: route, Matchers: matchers, Group: chat < 0})
	return redeem(t, s, lt.Token, Subscription{ChatID: chat, ThreadID: thread, ChatTitle: "chat", CreatedBy: "@alice (1)"})
}

func unsubscribe(t *testing.T, s Store, chat, thread int64, allThreads bool, route string) int {
	t.Helper()
	n, err := s.Unsubscribe(t.Context(), chat, thread, allThreads, route)
	if err != nil {
		t.Fatalf("Unsubscribe(%d, %d, %v, %q): %v", chat, thread, allThreads, route, err)
	}
	return n
}

func wantSubs(t *testing.T, what string, got []Subscription, err error, want []Subscription) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("%s =\n  %+v\nwant\n  %+v", what, got, want)
	}
}

func wantActive(t *testing.T, s Store, route string, want ...Subscription) {
	t.Helper()
	got, err := s.ActiveSubscriptions(t.Context(), route)
	wantSubs(t, fmt.Sprintf("ActiveSubscriptions(%q)", route), got, err, want)
}

func wantChat(t *testing.T, s Store, chat int64, want ...Subscription) {
	t.Helper()
	got, err := s.ChatSubscriptions(t.Context(), chat)
	wantSubs(t, fmt.Sprintf("ChatSubscriptions(%d)", chat), got, err, want)
}

func wantSubCounts(t *testing.T, s Store, want map[string]int) {
	t.Helper()
	got, err := s.CountSubscriptions(t.Context())
	if err != nil {
		t.Fatalf("CountSubscriptions: %v", err)
	}
	if got == nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("CountSubscriptions = %#v, want %v", got, want)
	}
}

func wantHandled(t *testing.T, s Store, updateID int64, want bool) {
	t.Helper()
	if got, err := s.UpdateHandled(t.Context(), updateID); err != nil || got != want {
		t.Fatalf("UpdateHandled(%d) = %v, %v; want %v", updateID, got, err, want)
	}
}

func markHandled(t *testing.T, s Store, updateID int64, at time.Time) {
	t.Helper()
	if err := s.MarkUpdateHandled(t.Context(), updateID, at); err != nil {
		t.Fatalf("MarkUpdateHandled(%d, %v): %v", updateID, at, err)
	}
}

func wantPruned(t *testing.T, s Store, before time.Time, want int) {
	t.Helper()
	if got, err := s.PruneHandledUpdates(t.Context(), before); err != nil || got != want {
		t.Fatalf("PruneHandledUpdates(%v) = %d, %v; want %d", before, got, err, want)
	}
}

func testCreateLinkTokenInvalid(t *testing.T, s Store) {
	valid := LinkToken{Token: "ok", Route: "oncall", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for name, mutate := range map[string]func(*LinkToken){
		"empty token":     func(lt *LinkToken) { lt.Token = "" },
		"token too long":  func(lt *LinkToken) { lt.Token = strings.Repeat("a", 65) },
		"token with '='":  func(lt *LinkToken) { lt.Token = "abc=" },
		"token with ' '":  func(lt *LinkToken) { lt.Token = "a b" },
		"non-ASCII token": func(lt *LinkToken) { lt.Token = "tökén" },
		"empty route":     func(lt *LinkToken) { lt.Route = "" },
		"no expiry":       func(lt *LinkToken) { lt.ExpiresAt = time.Time{} },
	} {
		lt := valid
		mutate(&lt)
		if err := s.CreateLinkToken(t.Context(), lt); err == nil {
			t.Errorf("CreateLinkToken with %s succeeded", name)
		}
		if lt.Token != "" {
			if _, err := s.RedeemLinkToken(t.Context(), lt.Token, redeemAt, Subscription{ChatID: 1}); !errors.Is(err, ErrTokenUnknown) {
				t.Errorf("rejected token (%s) redeemed: %v, want ErrTokenUnknown", name, err)
			}
		}
	}

	longest := createToken(t, s, LinkToken{Token: strings.Repeat("aZ09_-", 10) + "abcd"})
	if err := s.CreateLinkToken(t.Context(), LinkToken{Token: longest.Token, Route: "other", ExpiresAt: t0.Add(time.Hour)}); err == nil {
		t.Error("CreateLinkToken with a duplicate token succeeded")
	}
	if sub := redeem(t, s, longest.Token, Subscription{ChatID: 1}); sub.Route != "oncall" {
		t.Errorf("duplicate replaced the first token: route %q", sub.Route)
	}
	wantSubCounts(t, s, map[string]int{"oncall": 1})
}

func testRedeemLinkToken(t *testing.T, s Store) {
	matchers := []string{`severity="critical"`, `team=~"db|ops"`, `summary!="ü \"quoted\" \\ back"`}
	lt := createToken(t, s, LinkToken{Route: "oncall", Matchers: matchers, Group: true, CreatedBy: "api"})
	// ID, Route, Matchers and Active come from the store and the token.
	in := Subscription{ID: 99, ChatID: -1001234567890, ThreadID: 7, Route: "ignored", Matchers: []string{"ignored"},
		ChatTitle: "Ops «prod»", CreatedBy: "@alice (42)"}
	got := redeem(t, s, lt.Token, in)
	if got.ID <= 0 || got.ID == 99 {
		t.Errorf("ID = %d, want one the store assigned", got.ID)
	}
	want := Subscription{ID: got.ID, ChatID: in.ChatID, ThreadID: 7, Route: "oncall", Matchers: matchers,
		ChatTitle: in.ChatTitle, CreatedBy: in.CreatedBy, CreatedAt: utc(redeemAt), Active: true}
	wantSubs(t, "RedeemLinkToken", []Subscription{got}, nil, []Subscription{want})
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
	wantActive(t, s, "oncall", want)
	wantChat(t, s, in.ChatID, want)
	wantActive(t, s, "other")
	wantChat(t, s, 1)

	// An explicit CreatedAt is kept; a token without matchers means all alerts.
	all := createToken(t, s, LinkToken{Route: "ops"})
	created := t0.Add(-time.Hour)
	got = redeem(t, s, all.Token, Subscription{ChatID: 5, CreatedAt: created})
	if len(got.Matchers) != 0 || !got.CreatedAt.Equal(utc(created)) || got.ThreadID != 0 || !got.Active {
		t.Errorf("subscription from a token without matchers = %+v", got)
	}
	wantActive(t, s, "ops", got)
}

func testRedeemErrors(t *testing.T, s Store) {
	ctx := t.Context()
	lt := createToken(t, s, LinkToken{Matchers: []string{"a=1"}})
	expiry := utc(lt.ExpiresAt)
	for _, tc := range []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"unknown", "nope", redeemAt, ErrTokenUnknown},
		{"empty", "", redeemAt, ErrTokenUnknown},
		{"at expiry", lt.Token, expiry, ErrTokenExpired},
		{"after expiry", lt.Token, expiry.Add(time.Hour), ErrTokenExpired},
	} {
		if _, err := s.RedeemLinkToken(ctx, tc.token, tc.now, Subscription{ChatID: 1}); !errors.Is(err, tc.want) {
			t.Errorf("RedeemLinkToken(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.RedeemLinkToken(ctx, lt.Token, redeemAt, Subscription{}); err == nil ||
		errors.Is(err, ErrTokenUnknown) || errors.Is(err, ErrTokenUsed) || errors.Is(err, ErrTokenExpired) {
		t.Errorf("RedeemLinkToken without a chat = %v, want a plain error", err)
	}
	wantSubCounts(t, s, map[string]int{})

	// The failures changed nothing: the token still works just before expiry.
	sub, err := s.RedeemLinkToken(ctx, lt.Token, expiry.Add(-time.Microsecond), Subscription{ChatID: 1})
	if err != nil {
		t.Fatalf("RedeemLinkToken just before expiry: %v", err)
	}
	for _, now := range []time.Time{redeemAt, expiry.Add(time.Hour)} { // used is checked before expired
		if _, err := s.RedeemLinkToken(ctx, lt.Token, now, Subscription{ChatID: 2}); !errors.Is(err, ErrTokenUsed) {
			t.Errorf("RedeemLinkToken(used, at %v) = %v, want ErrTokenUsed", now, err)
		}
	}
	if _, err := s.RedeemLinkToken(ctx, lt.Token, redeemAt, Subscription{ChatID: 1}); !errors.Is(err, ErrTokenUsed) {
		t.Errorf("RedeemLinkToken(used, same chat) = %v, want ErrTokenUsed", err)
	}
	wantActive(t, s, "oncall", sub)
	wantChat(t, s, 2)

	used := createToken(t, s, LinkToken{UsedAt: t0, UsedByChat: 3})
	if _, err := s.RedeemLinkToken(ctx, used.Token, redeemAt, Subscription{ChatID: 2}); !errors.Is(err, ErrTokenUsed) {
		t.Errorf("RedeemLinkToken(created used) = %v, want ErrTokenUsed", err)
	}
	wantSubCounts(t, s, map[string]int{"oncall": 1})
}

// Subscribing a (chat, thread, route) again, active or not, replaces the
// subscription in place.
func testResubscribeReplaces(t *testing.T, s Store) {
	first := subscribe(t, s, 5, 0, "oncall", "a=1")
	if n := unsubscribe(t, s, 5, 0, false, "oncall"); n != 1 {
		t.Fatalf("Unsubscribe = %d, want 1", n)
	}
	wantChat(t, s, 5)

	later := redeemAt.Add(time.Second)
	lt := createToken(t, s, LinkToken{Route: "oncall"})
	got, err := s.RedeemLinkToken(t.Context(), lt.Token, later, Subscription{ChatID: 5, ChatTitle: "renamed", CreatedBy: "@bob (2)"})
	if err != nil {
		t.Fatal(err)
	}
	want := Subscription{ID: first.ID, ChatID: 5, Route: "oncall", ChatTitle: "renamed", CreatedBy: "@bob (2)",
		CreatedAt: utc(later), Active: true}
	wantSubs(t, "resubscribed", []Subscription{got}, nil, []Subscription{want})
	wantChat(t, s, 5, want)

	again := subscribe(t, s, 5, 0, "oncall", "b=2") // while active
	if again.ID != first.ID || !again.Active || len(again.Matchers) != 1 || again.Matchers[0] != "b=2" {
		t.Fatalf("subscribed while active = %+v, want id %d with matchers [b=2]", again, first.ID)
	}
	topic := subscribe(t, s, 5, 9, "oncall")
	other := subscribe(t, s, 5, 0, "ops")
	if topic.ID == first.ID || other.ID == first.ID || topic.ID == other.ID {
		t.Fatalf("ids %d, %d, %d: another thread or route must be another subscription", first.ID, topic.ID, other.ID)
	}
	wantSubCounts(t, s, map[string]int{"oncall": 2, "ops": 1})
}

func testActiveAndChatSubscriptions(t *testing.T, s Store) {
	a := subscribe(t, s, 1, 5, "oncall")
	b := subscribe(t, s, 2, 0, "oncall", `severity="critical"`)
	c := subscribe(t, s, 1, 0, "ops")
	d := subscribe(t, s, 1, 0, "oncall")
	gone := subscribe(t, s, 3, 0, "oncall")
	unsubscribe(t, s, gone.ChatID, 0, false, "")

	wantActive(t, s, "oncall", a, b, d) // oldest first
	wantActive(t, s, "ops", c)
	wantActive(t, s, "nobody")
	wantChat(t, s, 1, d, c, a) // by thread, then route
	wantChat(t, s, 2, b)
	wantChat(t, s, 3)
}

func testUnsubscribe(t *testing.T, s Store) {
	subs := map[string]Subscription{}
	for _, k := range []struct {
		thread int64
		route  string
	}{{0, "r1"}, {0, "r2"}, {5, "r1"}, {5, "r2"}} {
		subs[fmt.Sprint(k.thread, k.route)] = subscribe(t, s, 1, k.thread, k.route)
	}
	bystander := subscribe(t, s, 2, 0, "r1")
	for _, step := range []struct {
		thread     int64
		allThreads bool
		route      string
		want       int
		left       []string
	}{
		{5, false, "r1", 1, []string{"0r1", "0r2", "5r2"}}, // one topic, one route
		{5, false, "r1", 0, []string{"0r1", "0r2", "5r2"}}, // already inactive
		{9, false, "", 0, []string{"0r1", "0r2", "5r2"}},   // a topic without subscriptions
		{0, false, "", 2, []string{"5r2"}},                 // one topic, every route
		{0, true, "r1", 0, []string{"5r2"}},                // every topic, a route with none left
		{0, true, "", 1, nil},                              // every topic, every route
	} {
		if n := unsubscribe(t, s, 1, step.thread, step.allThreads, step.route); n != step.want {
			t.Fatalf("Unsubscribe(1, %d, %v, %q) = %d, want %d", step.thread, step.allThreads, step.route, n, step.want)
		}
		var left []Subscription
		for _, k := range step.left {
			left = append(left, subs[k])
		}
		wantChat(t, s, 1, left...)
	}
	wantChat(t, s, 2, bystander)

	// Every topic of one route, leaving the other route alone.
	r1, r1topic, r2 := subscribe(t, s, 1, 0, "r1"), subscribe(t, s, 1, 5, "r1"), subscribe(t, s, 1, 5, "r2")
	if r1.ID != subs["0r1"].ID || r1topic.ID != subs["5r1"].ID || r2.ID != subs["5r2"].ID {
		t.Fatalf("resubscribing gave new ids")
	}
	if n := unsubscribe(t, s, 1, 0, true, "r1"); n != 2 {
		t.Fatalf("Unsubscribe(every topic, r1) = %d, want 2", n)
	}
	wantChat(t, s, 1, r2)
	if n := unsubscribe(t, s, 42, 0, true, ""); n != 0 {
		t.Errorf("Unsubscribe(unknown chat) = %d, want 0", n)
	}
	wantSubCounts(t, s, map[string]int{"r1": 1, "r2": 1})
}

func testDeactivateChat(t *testing.T, s Store) {
	a := subscribe(t, s, 1, 0, "oncall")
	subscribe(t, s, 1, 3, "oncall")
	subscribe(t, s, 1, 0, "ops")
	unsubscribe(t, s, 1, 0, false, "ops")
	other := subscribe(t, s, 2, 0, "oncall")

	n, err := s.DeactivateChat(t.Context(), 1, "403: bot was blocked by the user")
	if err != nil || n != 2 {
		t.Fatalf("DeactivateChat = %d, %v; want 2", n, err)
	}
	wantChat(t, s, 1)
	wantActive(t, s, "oncall", other)
	if n, err := s.DeactivateChat(t.Context(), 1, "again"); err != nil || n != 0 {
		t.Errorf("second DeactivateChat = %d, %v; want 0", n, err)
	}
	if n, err := s.DeactivateChat(t.Context(), 42, "unknown"); err != nil || n != 0 {
		t.Errorf("DeactivateChat(unknown) = %d, %v; want 0", n, err)
	}
	if back := subscribe(t, s, 1, 0, "oncall"); back.ID != a.ID || !back.Active {
		t.Errorf("resubscribed after deactivation = %+v, want id %d active", back, a.ID)
	}
	wantSubCounts(t, s, map[string]int{"oncall": 2})
}

// A group's subscriptions move to its supergroup. Where the supergroup
// already has the same (thread, route), the two merge into its row.
func testMigrateChat(t *testing.T, s Store) {
	const from, to = -42, -1000000000042
	a := subscribe(t, s, from, 0, "a", "x=1") // moves
	b := subscribe(t, s, from, 0, "b")        // moves, inactive
	c := subscribe(t, s, from, 3, "c")        // moves, with its topic
	subscribe(t, s, from, 0, "d", "from")     // both active: the supergroup's stays
	d := subscribe(t, s, to, 0, "d", "to")
	e := subscribe(t, s, from, 0, "e", "from") // only from's active: it takes over to's row
	eTo := subscribe(t, s, to, 0, "e", "to")
	subscribe(t, s, from, 0, "f", "from") // only to's active: it stays
	f := subscribe(t, s, to, 0, "f", "to")
	subscribe(t, s, from, 0, "g") // neither active: stays inactive
	g := subscribe(t, s, to, 0, "g")
	bystander := subscribe(t, s, 7, 0, "a")
	for _, u := range []struct {
		chat  int64
		route string
	}{{from, "b"}, {from, "f"}, {from, "g"}, {to, "e"}, {to, "g"}} {
		unsubscribe(t, s, u.chat, 0, false, u.route)
	}

	n, err := s.MigrateChat(t.Context(), from, to)
	if err != nil || n != 7 {
		t.Fatalf("MigrateChat = %d, %v; want 7", n, err)
	}
	moved := func(sub Subscription) Subscription { sub.ChatID = to; return sub }
	e = moved(e)
	e.ID = eTo.ID
	wantChat(t, s, from)
	wantChat(t, s, to, moved(a), d, e, f, moved(c))
	wantActive(t, s, "a", moved(a), bystander)
	wantSubCounts(t, s, map[string]int{"a": 2, "c": 1, "d": 1, "e": 1, "f": 1})

	// The inactive ones moved too, keeping their ids.
	if back := subscribe(t, s, to, 0, "b"); back.ID != b.ID {
		t.Errorf("inactive subscription b resubscribed under the new id as %d, want %d", back.ID, b.ID)
	}
	if back := subscribe(t, s, to, 0, "g"); back.ID != g.ID {
		t.Errorf("merged subscription g resubscribed as %d, want %d", back.ID, g.ID)
	}

	if n, err := s.MigrateChat(t.Context(), from, to); err != nil || n != 0 {
		t.Errorf("second MigrateChat = %d, %v; want 0", n, err)
	}
	if n, err := s.MigrateChat(t.Context(), to, to); err != nil || n != 0 {
		t.Errorf("MigrateChat(to, to) = %d, %v; want 0", n, err)
	}
	wantChat(t, s, to, moved(a), moved(b), d, e, f, g, moved(c))
}

// Update ids are a set, not a cursor: a lower id than one handled is not
// handled (Telegram restarts ids at random after a quiet week).
func testHandledUpdates(t *testing.T, s Store) {
	for _, id := range []int64{0, 1, 5, 1 << 40} {
		wantHandled(t, s, id, false)
	}
	markHandled(t, s, 5, t0)
	markHandled(t, s, 1<<40, t0)
	markHandled(t, s, 3, t0.Add(-time.Hour))
	for id, want := range map[int64]bool{3: true, 4: false, 5: true, 6: false, 1 << 40: true, 1<<40 - 1: false} {
		wantHandled(t, s, id, want)
	}
}

// Marking an id again succeeds and keeps the later time, whichever order
// the times come in.
func testMarkUpdateHandledTwice(t *testing.T, s Store) {
	markHandled(t, s, 7, t0)
	markHandled(t, s, 7, t0)
	wantHandled(t, s, 7, true)
	markHandled(t, s, 7, t0.Add(-time.Hour)) // earlier: the record stays at t0
	wantPruned(t, s, t0, 0)
	wantHandled(t, s, 7, true)
	markHandled(t, s, 7, t0.Add(time.Hour)) // later: the record moves
	wantPruned(t, s, t0.Add(time.Hour), 0)
	wantHandled(t, s, 7, true)
	wantPruned(t, s, t0.Add(time.Hour+time.Microsecond), 1)
	wantHandled(t, s, 7, false)
	markHandled(t, s, 7, t0) // recorded anew after the prune
	wantHandled(t, s, 7, true)
}

// Writers racing on one id (a webhook retry handled by another replica)
// and on ids of their own neither fail nor lose a record; the shared
// record keeps the latest time.
func testMarkUpdateHandledConcurrently(t *testing.T, s Store) {
	const writers, perWriter, shared = 8, 25, int64(1)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				at := t0.Add(time.Duration(i*writers+w) * time.Second)
				if err := s.MarkUpdateHandled(t.Context(), shared, at); err != nil {
					t.Errorf("MarkUpdateHandled(%d): %v", shared, err)
					return
				}
				own := int64(1000 + i*writers + w)
				if err := s.MarkUpdateHandled(t.Context(), own, t0); err != nil {
					t.Errorf("MarkUpdateHandled(%d): %v", own, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	latest := t0.Add(time.Duration(writers*perWriter-1) * time.Second)
	wantHandled(t, s, shared, true)
	wantHandled(t, s, 1000, true)
	wantHandled(t, s, 1000+writers*perWriter-1, true)
	wantPruned(t, s, latest, writers*perWriter) // the own ids, all at t0
	wantHandled(t, s, shared, true)
	wantPruned(t, s, latest.Add(time.Microsecond), 1)
	wantHandled(t, s, shared, false)
}

// PruneHandledUpdates deletes what was handled strictly before its
// argument, to the microsecond.
func testPruneHandledUpdates(t *testing.T, s Store) {
	wantPruned(t, s, t0, 0) // nothing recorded
	markHandled(t, s, 1, t0.Add(-48*time.Hour))
	markHandled(t, s, 2, t0.Add(-time.Microsecond))
	markHandled(t, s, 3, t0) // t0 has sub-microsecond digits: stored truncated
	markHandled(t, s, 4, t0.Add(time.Hour))

	wantPruned(t, s, t0, 2)
	for id, want := range map[int64]bool{1: false, 2: false, 3: true, 4: true} {
		wantHandled(t, s, id, want)
	}
	wantPruned(t, s, t0, 0)
	wantPruned(t, s, t0.Add(time.Microsecond), 1)
	wantHandled(t, s, 3, false)
	wantHandled(t, s, 4, true)
	wantPruned(t, s, t0.Add(time.Hour), 0)
	wantPruned(t, s, t0.Add(time.Hour+time.Microsecond), 1)
	wantHandled(t, s, 4, false)
}

func testCountSubscriptions(t *testing.T, s Store) {
	wantSubCounts(t, s, map[string]int{})
	subscribe(t, s, 1, 0, "oncall")
	subscribe(t, s, 2, 0, "oncall")
	subscribe(t, s, 2, 4, "oncall")
	subscribe(t, s, 1, 0, "ops")
	subscribe(t, s, 3, 0, "quiet")
	unsubscribe(t, s, 3, 0, true, "")
	wantSubCounts(t, s, map[string]int{"oncall": 3, "ops": 1})
}

// testRedeemRace has racers, spread over stores (replicas or processes
// sharing one database), redeem the same token, for rounds of fresh tokens:
// each time exactly one wins and the others get ErrTokenUsed.
func testRedeemRace(t *testing.T, stores ...Store) {
	const rounds, racers = 10, 8
	for round := range rounds {
		lt := createToken(t, stores[0], LinkToken{Route: fmt.Sprint("route-", round)})
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				_, errs[i] = stores[i%len(stores)].RedeemLinkToken(t.Context(), lt.Token, redeemAt,
					Subscription{ChatID: int64(i + 1)})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both redeemed the token", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, ErrTokenUsed):
				t.Fatalf("round %d: racer %d: %v, want nil or ErrTokenUsed", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody redeemed the token", round)
		}
		subs, err := stores[len(stores)-1].ActiveSubscriptions(t.Context(), lt.Route)
		if err != nil || len(subs) != 1 || subs[0].ChatID != int64(winner+1) {
			t.Fatalf("round %d: subscriptions = %+v, %v; want one for chat %d", round, subs, err, winner+1)
		}
	}
}

// Different tokens for the same (chat, thread, route) redeemed at once all
// succeed and leave one subscription.
func testRedeemSameTargetConcurrently(t *testing.T, s Store) {
	const racers = 8
	tokens := make([]string, racers)
	for i := range tokens {
		tokens[i] = createToken(t, s, LinkToken{Matchers: []string{fmt.Sprint("n=", i)}, Group: true}).Token
	}
	got := make([]Subscription, racers)
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Go(func() {
			var err error
			got[i], err = s.RedeemLinkToken(t.Context(), tok, redeemAt, Subscription{ChatID: -100, ThreadID: 2})
			if err != nil {
				t.Errorf("RedeemLinkToken(token %d): %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	subs, err := s.ActiveSubscriptions(t.Context(), "oncall")
	if err != nil || len(subs) != 1 {
		t.Fatalf("ActiveSubscriptions = %+v, %v; want one", subs, err)
	}
	for i, sub := range got {
		if sub.ID != subs[0].ID {
			t.Errorf("racer %d got subscription %d, want %d", i, sub.ID, subs[0].ID)
		}
	}
	if m := subs[0].Matchers; len(m) != 1 || !strings.HasPrefix(m[0], "n=") {
		t.Errorf("matchers = %q, want one racer's", m)
	}
}

// testUpgradeCarriesOverUpdateCursor brings db, a database at schema
// version 2 whose update cursor is 77, up to date through open: update 77,
// which may have been handled and not yet confirmed, counts as handled
// since the upgrade, and bot_state (countBotState counts it) is gone.
func testUpgradeCarriesOverUpdateCursor(t *testing.T, db *sql.DB, d dialect, open func() Store, countBotState string) {
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }() // ErrTxDone once committed; otherwise it only undoes a failed test's work
	if _, err := tx.ExecContext(t.Context(), d.ddl.Replace(createMigrationsTable)); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:2] {
		if err := applyMigration(t.Context(), tx, d, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.ExecContext(t.Context(), `UPDATE bot_state SET value = 77 WHERE name = 'last_update_id'`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	s := open()
	wantHandled(t, s, 77, true)
	wantHandled(t, s, 76, false)
	wantHandled(t, s, 78, false)
	// Recorded as handled at the upgrade, to the minute: a prune of records
	// older than a minute keeps it, one of records older than a minute from
	// now deletes it (a unit error would be off by far more).
	wantPruned(t, s, time.Now().Add(-time.Minute), 0)
	wantHandled(t, s, 77, true)
	wantPruned(t, s, time.Now().Add(time.Minute), 1)
	wantHandled(t, s, 77, false)

	var n int
	if err := db.QueryRowContext(t.Context(), countBotState).Scan(&n); err != nil || n != 0 {
		t.Errorf("bot_state tables after the upgrade = %d, %v; want 0", n, err)
	}
}

// testPruneLinkTokens: tokens that expired before the cut go, used or not;
// the subscriptions made with them stay; a pruned token is unknown.
func testPruneLinkTokens(t *testing.T, s Store) {
	prune := func(before time.Time, want int) {
		t.Helper()
		if got, err := s.PruneLinkTokens(t.Context(), before); err != nil || got != want {
			t.Fatalf("PruneLinkTokens(%v) = %d, %v; want %d", before, got, err, want)
		}
	}
	used := createToken(t, s, LinkToken{ExpiresAt: t0.Add(time.Hour), Group: true})
	redeem(t, s, used.Token, Subscription{ChatID: -100})
	unused := createToken(t, s, LinkToken{ExpiresAt: t0.Add(time.Hour)})
	later := createToken(t, s, LinkToken{ExpiresAt: t0.Add(2 * time.Hour)})

	prune(t0.Add(time.Hour), 0) // expiring at the cut: kept
	prune(t0.Add(time.Hour+time.Microsecond), 2)
	for _, tok := range []string{used.Token, unused.Token} {
		if _, err := s.RedeemLinkToken(t.Context(), tok, redeemAt, Subscription{ChatID: 7}); !errors.Is(err, ErrTokenUnknown) {
			t.Errorf("redeeming pruned token: %v, want ErrTokenUnknown", err)
		}
	}
	redeem(t, s, later.Token, Subscription{ChatID: 8})
	if subs, err := s.ChatSubscriptions(t.Context(), -100); err != nil || len(subs) != 1 {
		t.Errorf("subscription made with a pruned token: %+v, %v; want it kept", subs, err)
	}
}

// A group link (?startgroup=) subscribes groups only and a private link
// private chats only; a refused redemption leaves the token usable by the
// chat it was made for.
func testRedeemLinkTokenChatKind(t *testing.T, s Store) {
	group := createToken(t, s, LinkToken{Group: true})
	private := createToken(t, s, LinkToken{})
	for _, tc := range []struct {
		name  string
		token string
		chat  int64
	}{
		{"group link in a private chat", group.Token, 42},
		{"private link in a group", private.Token, -100},
		{"private link in a supergroup", private.Token, -1001234567890},
	} {
		if _, err := s.RedeemLinkToken(t.Context(), tc.token, redeemAt, Subscription{ChatID: tc.chat}); !errors.Is(err, ErrTokenWrongChat) {
			t.Errorf("%s: %v, want ErrTokenWrongChat", tc.name, err)
		}
	}
	if subs, err := s.ChatSubscriptions(t.Context(), 42); err != nil || len(subs) != 0 {
		t.Fatalf("private chat subscriptions after refusals: %+v, %v", subs, err)
	}
	redeem(t, s, group.Token, Subscription{ChatID: -100})
	redeem(t, s, private.Token, Subscription{ChatID: 42})
	// The kind is checked after use and expiry: a used link says so.
	if _, err := s.RedeemLinkToken(t.Context(), group.Token, redeemAt, Subscription{ChatID: 42}); !errors.Is(err, ErrTokenUsed) {
		t.Errorf("used group link in a private chat: %v, want ErrTokenUsed", err)
	}
}
