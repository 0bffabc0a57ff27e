package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func actionTests() []conformanceTest {
	return []conformanceTest{
		{"ActionMessageRoundTrip", testActionMessageRoundTrip},
		{"ActionStateAndQueries", testActionStateAndQueries},
		{"CallbackErrors", testCallbackErrors},
		{"PruneActionMessages", testPruneActionMessages},
	}
}

func sampleActionMessage(chat, msg int64, group string) ActionMessage {
	return ActionMessage{
		Route: "oncall", Source: "alertmanager", ChatID: chat, ThreadID: 7, MessageID: msg, GroupKey: group,
		SilenceLabels: map[string]string{"alertname": "Disk", "instance": "db-1:9100"},
		Text:          "*Disk* on db\\-1", ParseMode: "MarkdownV2", CreatedAt: t0, UpdatedAt: t0,
	}
}

func testActionMessageRoundTrip(t *testing.T, s Store) {
	m := sampleActionMessage(-100123, 55, `{}:{alertname="Disk"}`)
	m.Photo, m.ImageURL = true, "https://grafana.example.com/public/img/attachments/a.png"
	buttons := []Callback{
		{ID: "ack-aaaaaaaaaaaaaaaa", Action: "ack", CreatedAt: t0},
		{ID: "sil-aaaaaaaaaaaaaaaa", Action: "silence_menu", CreatedAt: t0},
	}
	id, err := s.SaveActionMessage(t.Context(), m, buttons)
	if err != nil {
		t.Fatalf("SaveActionMessage: %v", err)
	}
	if err := s.AddCallbacks(t.Context(), []Callback{{ID: "s1h-aaaaaaaaaaaaaaa", ActionMessageID: id, Action: "silence", Duration: time.Hour, CreatedAt: t0}}); err != nil {
		t.Fatalf("AddCallbacks: %v", err)
	}
	cb, got, err := s.LookupCallback(t.Context(), "s1h-aaaaaaaaaaaaaaa")
	if err != nil {
		t.Fatalf("LookupCallback: %v", err)
	}
	want := m
	want.ID = id
	want.CreatedAt, want.UpdatedAt = utc(t0), utc(t0)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("message:\n got %+v\nwant %+v", got, want)
	}
	if cb.Action != "silence" || cb.Duration != time.Hour || cb.ActionMessageID != id || !cb.CreatedAt.Equal(utc(t0)) {
		t.Fatalf("callback = %+v", cb)
	}
	if cb, _, err := s.LookupCallback(t.Context(), "ack-aaaaaaaaaaaaaaaa"); err != nil || cb.Action != "ack" || cb.ActionMessageID != id {
		t.Fatalf("ack button = %+v, %v", cb, err)
	}
}

func testActionStateAndQueries(t *testing.T, s Store) {
	g1, g2 := "g1", "g2"
	a, _ := s.SaveActionMessage(t.Context(), sampleActionMessage(1, 10, g1), nil)
	b, _ := s.SaveActionMessage(t.Context(), sampleActionMessage(2, 20, g1), nil)
	c, err := s.SaveActionMessage(t.Context(), sampleActionMessage(1, 30, g2), nil)
	if err != nil {
		t.Fatal(err)
	}
	until := t0.Add(15 * time.Minute)
	if err := s.SetActionState(t.Context(), b, ActionState{State: ActionStateAcked, SilenceID: "sid", Actor: "@alice", Until: until, At: t0.Add(time.Minute)}); err != nil {
		t.Fatalf("SetActionState: %v", err)
	}
	acked, err := s.ActionMessagesInState(t.Context(), ActionStateAcked)
	if err != nil || len(acked) != 1 {
		t.Fatalf("acked = %v, %v; want one", acked, err)
	}
	if m := acked[0]; m.ID != b || m.SilenceID != "sid" || m.Actor != "@alice" || !m.Until.Equal(utc(until)) || !m.UpdatedAt.Equal(utc(t0.Add(time.Minute))) {
		t.Fatalf("acked message = %+v", m)
	}
	group, err := s.ActionMessagesForGroup(t.Context(), "oncall", g1)
	if err != nil || len(group) != 2 || group[0].ID != a || group[1].ID != b {
		t.Fatalf("group g1 = %+v, %v; want ids %d, %d", group, err, a, b)
	}
	if other, _ := s.ActionMessagesForGroup(t.Context(), "other", g2); len(other) != 0 {
		t.Fatalf("route filter ignored: %+v", other)
	}
	if got, _ := s.ActionMessagesForGroup(t.Context(), "oncall", g2); len(got) != 1 || got[0].ID != c {
		t.Fatalf("group g2 = %+v", got)
	}
	// Clearing the state clears the end time too.
	if err := s.SetActionState(t.Context(), b, ActionState{State: ActionStateNone, At: t0.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ActionMessagesForGroup(t.Context(), "oncall", g1); got[1].State != "" || !got[1].Until.IsZero() || got[1].SilenceID != "" {
		t.Fatalf("cleared state = %+v", got[1])
	}
}

func testCallbackErrors(t *testing.T, s Store) {
	if _, _, err := s.LookupCallback(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown callback: %v, want ErrNotFound", err)
	}
	if err := s.SetActionState(t.Context(), 999, ActionState{State: ActionStateAcked}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown message: %v, want ErrNotFound", err)
	}
	if _, err := s.SaveActionMessage(t.Context(), ActionMessage{ChatID: 1}, nil); err == nil {
		t.Fatal("message without message id accepted")
	}
	long := string(make([]byte, 65))
	if _, err := s.SaveActionMessage(t.Context(), sampleActionMessage(1, 2, "g"), []Callback{{ID: long, Action: "ack"}}); err == nil {
		t.Fatal("65-byte callback id accepted")
	}
	// The failed save left nothing behind.
	if got, _ := s.ActionMessagesForGroup(t.Context(), "oncall", "g"); len(got) != 0 {
		t.Fatalf("half-written message: %+v", got)
	}
	id, _ := s.SaveActionMessage(t.Context(), sampleActionMessage(1, 2, "g"), []Callback{{ID: "dup", Action: "ack"}})
	if err := s.AddCallbacks(t.Context(), []Callback{{ID: "dup", ActionMessageID: id, Action: "silence"}}); err == nil {
		t.Fatal("duplicate callback id accepted")
	}
	if cb, _, _ := s.LookupCallback(t.Context(), "dup"); cb.Action != "ack" {
		t.Fatalf("duplicate replaced the original button: %+v", cb)
	}
}

func testPruneActionMessages(t *testing.T, s Store) {
	old := sampleActionMessage(1, 1, "old")
	oldID, _ := s.SaveActionMessage(t.Context(), old, []Callback{{ID: "old-button", Action: "ack"}})
	fresh := sampleActionMessage(1, 2, "fresh")
	fresh.CreatedAt, fresh.UpdatedAt = t0.Add(time.Hour), t0.Add(time.Hour)
	if _, err := s.SaveActionMessage(t.Context(), fresh, []Callback{{ID: "fresh-button", Action: "ack"}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneActionMessages(t.Context(), t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("PruneActionMessages = %d, %v; want 1", n, err)
	}
	if _, _, err := s.LookupCallback(t.Context(), "old-button"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("button of pruned message %d still found: %v", oldID, err)
	}
	if _, _, err := s.LookupCallback(t.Context(), "fresh-button"); err != nil {
		t.Fatalf("fresh button: %v", err)
	}
}
