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
		{"ReplaceCallbacksRevokesOldButtons", testReplaceCallbacks},
		{"RevokeCallbacks", testRevokeCallbacks},
		{"SilenceRecords", testSilenceRecords},
		{"PendingActionMessage", testPendingActionMessage},
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
	if _, err := s.SaveActionMessage(t.Context(), ActionMessage{MessageID: 1}, nil); err == nil {
		t.Fatal("message without chat id accepted")
	}
	if err := s.MarkActionMessageSent(t.Context(), 999, SentMessage{MessageID: 5}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("marking an unknown message sent: %v, want ErrNotFound", err)
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

func testReplaceCallbacks(t *testing.T, s Store) {
	id, err := s.SaveActionMessage(t.Context(), sampleActionMessage(-100123, 56, "g"), []Callback{
		{ID: "ack-bbbbbbbbbbbbbbbb", Action: "ack", CreatedAt: t0},
		{ID: "sil-bbbbbbbbbbbbbbbb", Action: "silence_menu", CreatedAt: t0},
	})
	if err != nil {
		t.Fatalf("SaveActionMessage: %v", err)
	}
	other, err := s.SaveActionMessage(t.Context(), sampleActionMessage(-100123, 57, "g"), []Callback{
		{ID: "ack-cccccccccccccccc", Action: "ack", CreatedAt: t0},
	})
	if err != nil {
		t.Fatalf("SaveActionMessage: %v", err)
	}
	menu := []Callback{
		{ID: "s1h-bbbbbbbbbbbbbbb", ActionMessageID: id, Action: "silence", Duration: time.Hour, CreatedAt: t0},
		{ID: "s4h-bbbbbbbbbbbbbbb", ActionMessageID: id, Action: "silence", Duration: 4 * time.Hour, CreatedAt: t0},
	}
	if err := s.ReplaceCallbacks(t.Context(), id, menu); err != nil {
		t.Fatalf("ReplaceCallbacks: %v", err)
	}
	for _, gone := range []string{"ack-bbbbbbbbbbbbbbbb", "sil-bbbbbbbbbbbbbbbb"} {
		if _, _, err := s.LookupCallback(t.Context(), gone); !errors.Is(err, ErrNotFound) {
			t.Errorf("replaced button %s: err = %v, want ErrNotFound", gone, err)
		}
	}
	for _, live := range []string{"s1h-bbbbbbbbbbbbbbb", "s4h-bbbbbbbbbbbbbbb", "ack-cccccccccccccccc"} {
		if _, _, err := s.LookupCallback(t.Context(), live); err != nil {
			t.Errorf("button %s: %v", live, err)
		}
	}
	// A button of another message is refused and changes nothing.
	wrong := []Callback{{ID: "x-bbbbbbbbbbbbbbbbbb", ActionMessageID: other, Action: "ack", CreatedAt: t0}}
	if err := s.ReplaceCallbacks(t.Context(), id, wrong); err == nil {
		t.Fatal("ReplaceCallbacks with another message's button: no error")
	}
	if _, _, err := s.LookupCallback(t.Context(), "s1h-bbbbbbbbbbbbbbb"); err != nil {
		t.Fatalf("a refused replace revoked buttons: %v", err)
	}
	if err := s.ReplaceCallbacks(t.Context(), id, nil); err != nil {
		t.Fatalf("ReplaceCallbacks(nil): %v", err)
	}
	if _, _, err := s.LookupCallback(t.Context(), "s4h-bbbbbbbbbbbbbbb"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after removing the keyboard: err = %v, want ErrNotFound", err)
	}
}

func testRevokeCallbacks(t *testing.T, s Store) {
	_, err := s.SaveActionMessage(t.Context(), sampleActionMessage(-100123, 58, ""), []Callback{
		{ID: "uns-1ddddddddddddddd", Action: "unsilence", SilenceID: "s-1", CreatedAt: t0},
		{ID: "uns-2ddddddddddddddd", Action: "unsilence", SilenceID: "s-2", CreatedAt: t0},
	})
	if err != nil {
		t.Fatalf("SaveActionMessage: %v", err)
	}
	if err := s.RevokeCallbacks(t.Context(), "uns-1ddddddddddddddd", "unknown"); err != nil {
		t.Fatalf("RevokeCallbacks: %v", err)
	}
	if _, _, err := s.LookupCallback(t.Context(), "uns-1ddddddddddddddd"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked button: err = %v", err)
	}
	if cb, _, err := s.LookupCallback(t.Context(), "uns-2ddddddddddddddd"); err != nil || cb.SilenceID != "s-2" {
		t.Fatalf("other button = %+v, %v", cb, err)
	}
}

func testSilenceRecords(t *testing.T, s Store) {
	rec := func(id, route string, ends time.Duration) SilenceRecord {
		return SilenceRecord{Source: "alertmanager", ID: id, Route: route, ChatID: -100, Kind: ActionStateSilenced,
			CreatedBy: "@alice", EndsAt: t0.Add(ends), CreatedAt: t0}
	}
	for _, r := range []SilenceRecord{rec("a", "db", 4*time.Hour), rec("b", "db.prod", time.Hour),
		rec("c", "db", time.Hour), rec("old", "db", -time.Hour)} {
		if err := s.RecordSilence(t.Context(), r); err != nil {
			t.Fatalf("RecordSilence(%s): %v", r.ID, err)
		}
	}
	got, err := s.RouteSilences(t.Context(), "alertmanager", "db", t0)
	if err != nil {
		t.Fatalf("RouteSilences: %v", err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if !reflect.DeepEqual(ids, []string{"c", "a"}) {
		t.Fatalf("route db silences = %v, want [c a] (db.prod's and ended ones left out)", ids)
	}
	if other, _ := s.RouteSilences(t.Context(), "grafana", "db", t0); len(other) != 0 {
		t.Fatalf("grafana silences of db = %+v, want none", other)
	}
	b, err := s.SilenceRecord(t.Context(), "alertmanager", "b")
	if err != nil || b.Route != "db.prod" || b.CreatedBy != "@alice" || b.ChatID != -100 || !b.EndsAt.Equal(utc(t0.Add(time.Hour))) {
		t.Fatalf("SilenceRecord(b) = %+v, %v", b, err)
	}
	if _, err := s.SilenceRecord(t.Context(), "grafana", "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SilenceRecord of another source: err = %v, want ErrNotFound", err)
	}
	moved := rec("b", "db.prod", 2*time.Hour)
	moved.Kind = ActionStateAcked
	if err := s.RecordSilence(t.Context(), moved); err != nil {
		t.Fatalf("RecordSilence again: %v", err)
	}
	if b, _ := s.SilenceRecord(t.Context(), "alertmanager", "b"); b.Kind != ActionStateAcked || !b.EndsAt.Equal(utc(t0.Add(2*time.Hour))) {
		t.Fatalf("updated record = %+v", b)
	}
	if n, err := s.PruneSilences(t.Context(), t0); err != nil || n != 1 {
		t.Fatalf("PruneSilences = %d, %v; want 1", n, err)
	}
	if _, err := s.SilenceRecord(t.Context(), "alertmanager", "old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned record: err = %v", err)
	}
}

// A message's buttons are stored before it is sent (MessageID 0), so a
// press can never come before its record; the message is completed once
// Telegram accepted it, and only then counts among its group's messages.
func testPendingActionMessage(t *testing.T, s Store) {
	m := sampleActionMessage(-100123, 0, "g")
	m.Text, m.ParseMode = "", ""
	id, err := s.SaveActionMessage(t.Context(), m, []Callback{{ID: "ack-eeeeeeeeeeeeeeee", Action: "ack", CreatedAt: t0}})
	if err != nil {
		t.Fatalf("SaveActionMessage(pending): %v", err)
	}
	if _, got, err := s.LookupCallback(t.Context(), "ack-eeeeeeeeeeeeeeee"); err != nil || got.ID != id || got.MessageID != 0 {
		t.Fatalf("pending button = %+v, %v", got, err)
	}
	if got, _ := s.ActionMessagesForGroup(t.Context(), "oncall", "g"); len(got) != 0 {
		t.Fatalf("a pending message is listed with its group: %+v", got)
	}
	if err := s.MarkActionMessageSent(t.Context(), id, SentMessage{MessageID: 77, Text: "<b>Disk</b>", ParseMode: "HTML", Photo: true, ImageURL: "https://x/a.png"}); err != nil {
		t.Fatalf("MarkActionMessageSent: %v", err)
	}
	_, got, err := s.LookupCallback(t.Context(), "ack-eeeeeeeeeeeeeeee")
	if err != nil || got.MessageID != 77 || got.Text != "<b>Disk</b>" || got.ParseMode != "HTML" || !got.Photo || got.ImageURL != "https://x/a.png" {
		t.Fatalf("sent message = %+v, %v", got, err)
	}
	if all, _ := s.ActionMessagesForGroup(t.Context(), "oncall", "g"); len(all) != 1 || all[0].ID != id {
		t.Fatalf("group messages = %+v, want the sent one", all)
	}
}
