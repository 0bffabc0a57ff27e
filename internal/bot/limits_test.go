package bot_test

import (
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/telegram"
)

// from is m sent by u.
func from(u telegram.User, m telegram.Message) telegram.Message {
	m.From = &u
	return m
}

// TestCommandsLimitedPerChatAndSender: every command counts against its
// chat and its sender (across chats); the first command over a limit is
// answered once with a request to slow down, later ones get silence; the
// refused updates are still handled, and a new window answers again.
func TestCommandsLimitedPerChatAndSender(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOpts{reg: reg,
		opts: bot.Options{ChatCommands: 3, UserCommands: 2, CommandWindow: time.Minute}})
	slow := []string{"slow down"}
	help := []string{"/start TOKEN"}
	carol := telegram.User{ID: 201, FirstName: "Carol"}
	dave := telegram.User{ID: 202, FirstName: "Dave"}
	erin := telegram.User{ID: 203, FirstName: "Erin"}

	// alice, in her private chat: her own limit.
	h.handle(t, privateMsg("/help"))
	h.handle(t, privateMsg("/status"))
	checkReply(t, h, privateChat, 0, 1, []string{"no subscriptions"}, nil)
	refused := h.handle(t, privateMsg("/help"))
	checkReply(t, h, privateChat, 0, 2, slow, nil)
	h.handle(t, privateMsg("/help"))
	h.handle(t, privateMsg("/stop"))
	if n := len(h.fake.MessagesIn(privateChat)); n != 3 {
		t.Errorf("alice's private chat got %d messages, want 2 answers and 1 slow-down", n)
	}
	if !h.handled(t, refused.UpdateID) {
		t.Errorf("refused update %d not recorded as handled", refused.UpdateID)
	}
	// Her limit follows her into the group, where she was told already.
	h.handle(t, from(alice, groupMsg("/help")))
	if n := len(h.fake.MessagesIn(groupChat)); n != 0 {
		t.Errorf("alice, over her limit, got %d answers in the group, want none", n)
	}

	// The group: three senders fill the chat's limit, a fourth is asked to
	// slow down, and then nobody is answered, whoever asks.
	for i, u := range []telegram.User{bob, carol, dave} {
		h.handle(t, from(u, groupMsg("/help")))
		checkReply(t, h, groupChat, 0, i, help, nil)
	}
	h.handle(t, from(erin, groupMsg("/help")))
	checkReply(t, h, groupChat, 0, 3, slow, nil)
	h.handle(t, from(erin, groupMsg("/help")))
	h.handle(t, from(bob, groupMsg("/status")))
	if n := len(h.fake.MessagesIn(groupChat)); n != 4 {
		t.Errorf("the group got %d messages, want 3 answers and 1 slow-down", n)
	}
	// Other chats and senders are not held by the group's limit.
	h.handle(t, from(erin, forumMsg(topicA, "/help")))
	checkReply(t, h, forumChat, topicA, 0, help, nil)

	limited := map[string]string{"command": "help", "result": "limited"}
	if got := counter(t, reg, "alertgram_bot_commands_total", limited); got != 5 {
		t.Errorf(`commands{help,limited} = %v, want 5`, got)
	}

	// A new window answers again, and may warn again.
	h.clk.Set(t0.Add(time.Minute))
	h.handle(t, privateMsg("/help"))
	checkReply(t, h, privateChat, 0, 3, help, nil)
	h.handle(t, from(erin, groupMsg("/help")))
	checkReply(t, h, groupChat, 0, 4, help, nil)
}

// Anonymous group admins all post as the placeholder user
// GroupAnonymousBot; their limit is their chat's (sender_chat), not one
// shared by every group.
func TestAnonymousAdminsLimitedPerSenderChat(t *testing.T) {
	h := newHarness(t, harnessOpts{opts: bot.Options{UserCommands: 1, ChatCommands: 10}})
	anon := telegram.User{ID: 1087968824, IsBot: true, FirstName: "Group", Username: "GroupAnonymousBot"}
	for _, chat := range []int64{groupChat, forumChat} {
		m := from(anon, groupMsg("/help"))
		m.Chat.ID = chat
		m.SenderChat = &telegram.Chat{ID: chat, Type: telegram.ChatGroup}
		h.handle(t, m)
		checkReply(t, h, chat, 0, 0, []string{"/start TOKEN"}, nil)
	}
}

// counter is the value of the counter name{labels} in reg (0 if absent).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if maps.Equal(got, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
