package bot_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/bot"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
)

// checkReply asserts that the chat received exactly one message since
// before, in thread, as plain text without a link preview, containing
// every want and none of notWant. It returns the text.
func checkReply(t *testing.T, h *harness, chat, thread int64, before int, want, notWant []string) string {
	t.Helper()
	got := h.fake.MessagesIn(chat)
	if len(got) != before+1 {
		t.Fatalf("chat %d got %d new messages, want 1: %+v", chat, len(got)-before, got[before:])
	}
	m := got[before]
	if m.ThreadID != thread {
		t.Errorf("reply in thread %d, want %d", m.ThreadID, thread)
	}
	if m.ParseMode != "" {
		t.Errorf("reply parse mode %q, want plain text", m.ParseMode)
	}
	for _, w := range want {
		if !strings.Contains(m.Text, w) {
			t.Errorf("reply %q lacks %q", m.Text, w)
		}
	}
	for _, w := range notWant {
		if strings.Contains(m.Text, w) {
			t.Errorf("reply %q contains %q", m.Text, w)
		}
	}
	calls := h.fake.Calls("sendMessage")
	var preview telegram.LinkPreviewOptions
	if err := calls[len(calls)-1].Decode("link_preview_options", &preview); err != nil || !preview.IsDisabled {
		t.Errorf("reply link_preview_options = %q (%v), want is_disabled", calls[len(calls)-1].Params["link_preview_options"], err)
	}
	return m.Text
}

func checkNoMessages(t *testing.T, h *harness) {
	t.Helper()
	if got := h.fake.Messages(); len(got) != 0 {
		t.Errorf("bot sent %d messages, want none: %+v", len(got), got)
	}
}

func checkSubs(t *testing.T, h *harness, chat int64, want []sub) {
	t.Helper()
	if got := h.subs(t, chat); !sameSubs(got, want) {
		t.Errorf("chat %d subscriptions = %+v, want %+v", chat, got, want)
	}
}

const unknownToken = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func TestStartRedeemsLinkTokens(t *testing.T) {
	oncall := bot.LinkRequest{Route: "oncall", Matchers: []string{"severity=critical"}}
	tests := []struct {
		name   string
		link   bot.LinkRequest
		before func(t *testing.T, h *harness, l bot.Link) // runs after the link is made
		msg    func(token string) telegram.Message
		chat   int64
		thread int64
		// want are substrings of the one reply; nil: no reply at all.
		want     []string
		refusal  bool // a token refusal: must differ from the other refusals
		subs     []sub
		unusable bool // the token can no longer be redeemed afterwards
	}{
		{
			name: "private chat subscribes with matchers",
			link: oncall,
			msg:  func(tok string) telegram.Message { return privateMsg("/start " + tok) },
			chat: privateChat,
			want: []string{"✅ Subscribed", `route "oncall"`, `severity="critical"`, "/stop oncall", "/status"},
			subs: []sub{{route: "oncall", matchers: []string{`severity="critical"`}}}, unusable: true,
		},
		{
			name: "group start addressed to the bot",
			link: bot.LinkRequest{Route: "oncall", Group: true},
			msg:  func(tok string) telegram.Message { return groupMsg("/start@" + botName + " " + tok) },
			chat: groupChat,
			want: []string{"✅ Subscribed", `route "oncall"`, "/stop oncall"},
			subs: []sub{{route: "oncall"}}, unusable: true,
		},
		{
			name: "bot username matches case-insensitively, command too",
			link: bot.LinkRequest{Route: "oncall", Group: true},
			msg:  func(tok string) telegram.Message { return groupMsg("/START@Alertgram_Test_Bot   " + tok + "  ") },
			chat: groupChat,
			want: []string{"✅ Subscribed", `route "oncall"`},
			subs: []sub{{route: "oncall"}}, unusable: true,
		},
		{
			name: "forum topic subscribes only that topic",
			link: bot.LinkRequest{Route: "db", Group: true, Matchers: []string{`team=~"db|infra"`}},
			msg: func(tok string) telegram.Message {
				return forumMsg(topicA, "/start@"+botName+" "+tok)
			},
			chat: forumChat, thread: topicA,
			want: []string{"✅ Subscribed", `route "db"`, "(in this topic)", `team=~"db|infra"`, "/stop db"},
			subs: []sub{{thread: topicA, route: "db", matchers: []string{`team=~"db|infra"`}}}, unusable: true,
		},
		{
			name: "no token explains how to get a link",
			link: oncall,
			msg:  func(string) telegram.Message { return privateMsg("/start") },
			chat: privateChat,
			want: []string{"not subscribed yet", "alertgram link"},
			subs: []sub{},
		},
		{
			name: "unknown token",
			link: oncall,
			msg:  func(string) telegram.Message { return privateMsg("/start " + unknownToken) },
			chat: privateChat, refusal: true,
			want: []string{"I don't know this subscription link"},
			subs: []sub{},
		},
		{
			name:   "expired token",
			link:   bot.LinkRequest{Route: "oncall", TTL: time.Hour},
			before: func(_ *testing.T, h *harness, l bot.Link) { h.clk.Set(l.ExpiresAt.Add(time.Second)) },
			msg:    func(tok string) telegram.Message { return privateMsg("/start " + tok) },
			chat:   privateChat, refusal: true,
			want: []string{"has expired"},
			subs: []sub{}, unusable: true,
		},
		{
			name:   "token expires at ExpiresAt exactly",
			link:   bot.LinkRequest{Route: "oncall", TTL: time.Hour},
			before: func(_ *testing.T, h *harness, l bot.Link) { h.clk.Set(l.ExpiresAt) },
			msg:    func(tok string) telegram.Message { return privateMsg("/start " + tok) },
			chat:   privateChat,
			want:   []string{"has expired"},
			subs:   []sub{}, unusable: true,
		},
		{
			name: "token used by another chat",
			link: oncall,
			before: func(t *testing.T, h *harness, l bot.Link) {
				if !h.redeemable(t, l.Token) {
					t.Fatal("fresh token not redeemable")
				}
			},
			msg:  func(tok string) telegram.Message { return privateMsg("/start " + tok) },
			chat: privateChat, refusal: true,
			want: []string{"already used"},
			subs: []sub{}, unusable: true,
		},
		{
			name: "token used by this chat keeps the subscription",
			link: oncall,
			before: func(t *testing.T, h *harness, l bot.Link) {
				if _, err := h.st.RedeemLinkToken(t.Context(), l.Token, h.clk.Now(), store.Subscription{ChatID: privateChat}); err != nil {
					t.Fatal(err)
				}
			},
			msg:  func(tok string) telegram.Message { return privateMsg("/start " + tok) },
			chat: privateChat,
			want: []string{"already used"},
			subs: []sub{{route: "oncall", matchers: []string{`severity="critical"`}}}, unusable: true,
		},
		{
			name: "start addressed to another bot is ignored",
			link: oncall,
			msg:  func(tok string) telegram.Message { return groupMsg("/start@otherbot " + tok) },
			chat: groupChat,
			subs: []sub{},
		},
	}
	refusals := map[string]string{} // reply → row
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			l := h.link(t, tt.link)
			if tt.before != nil {
				tt.before(t, h, l)
			}
			u := h.handle(t, tt.msg(l.Token))
			if tt.want == nil {
				checkNoMessages(t, h)
			} else {
				var notWant []string // only a redemption may say it subscribed
				if !strings.Contains(strings.Join(tt.want, " "), "Subscribed") {
					notWant = []string{"Subscribed"}
				}
				text := checkReply(t, h, tt.chat, tt.thread, 0, tt.want, notWant)
				if n := len(h.fake.Messages()); n != 1 {
					t.Errorf("bot sent %d messages in all, want 1", n)
				}
				if tt.refusal {
					if other, dup := refusals[text]; dup {
						t.Errorf("refusal %q is the same as for %q", text, other)
					}
					refusals[text] = tt.name
				}
			}
			checkSubs(t, h, tt.chat, tt.subs)
			if !h.handled(t, u.UpdateID) {
				t.Errorf("update %d not recorded as handled: a user mistake is answered, not retried", u.UpdateID)
			}
			if got := h.redeemable(t, l.Token); got == tt.unusable {
				t.Errorf("token redeemable afterwards = %v, want %v", got, !tt.unusable)
			}
		})
	}
}

func TestStartThrottlesPerChat(t *testing.T) {
	h := newHarness(t, harnessOpts{opts: bot.Options{StartLimit: 2, StartWindow: time.Hour}})
	valid := h.link(t, bot.LinkRequest{Route: "oncall"})

	h.handle(t, privateMsg("/start"))
	h.handle(t, privateMsg("/start "+unknownToken))
	if n := len(h.fake.MessagesIn(privateChat)); n != 2 {
		t.Fatalf("first two /start got %d replies, want 2", n)
	}
	// The third is refused with one request to slow down, the fourth with
	// silence; neither redeems its token.
	third := h.handle(t, privateMsg("/start "+valid.Token))
	checkReply(t, h, privateChat, 0, 2, []string{"slow"}, []string{"Subscribed"})
	h.handle(t, privateMsg("/start "+valid.Token))
	if n := len(h.fake.MessagesIn(privateChat)); n != 3 {
		t.Errorf("fourth /start got a reply; want it ignored")
	}
	checkSubs(t, h, privateChat, []sub{})
	if !h.handled(t, third.UpdateID) {
		t.Errorf("update %d not recorded as handled: an ignored /start is still handled", third.UpdateID)
	}

	// Other commands of the chat, and /start in other chats, are not held
	// by the /start limit.
	h.handle(t, privateMsg("/status"))
	checkReply(t, h, privateChat, 0, 3, []string{"no subscriptions"}, nil)
	group := h.link(t, bot.LinkRequest{Route: "oncall", Group: true})
	h.handle(t, groupMsg("/start@"+botName+" "+group.Token))
	checkReply(t, h, groupChat, 0, 0, []string{`route "oncall"`}, nil)
	checkSubs(t, h, groupChat, []sub{{route: "oncall"}})
}

func TestStop(t *testing.T) {
	// The forum has oncall and db outside topics, oncall in topic A and db
	// in topic B.
	all := []sub{{route: "db"}, {route: "oncall"}, {thread: topicA, route: "oncall"}, {thread: topicB, route: "db"}}
	tests := []struct {
		name   string
		chat   int64
		thread int64
		text   string
		want   string
		subs   []sub // the forum's afterwards
	}{
		{name: "stop outside topics ends every route in every topic", chat: forumChat, text: "/stop",
			want: "Alerts will no longer be posted here", subs: []sub{}},
		{name: "stop addressed to the bot", chat: forumChat, text: "/stop@" + botName,
			want: "Alerts will no longer be posted here", subs: []sub{}},
		{name: "stop ROUTE ends only that route, in every topic", chat: forumChat, text: "/stop db",
			want: `Unsubscribed from route "db"`, subs: []sub{{route: "oncall"}, {thread: topicA, route: "oncall"}}},
		{name: "stop in a topic ends only that topic", chat: forumChat, thread: topicA, text: "/stop",
			want: "Unsubscribed (1 subscription(s) ended)", subs: []sub{{route: "db"}, {route: "oncall"}, {thread: topicB, route: "db"}}},
		{name: "stop ROUTE in a topic", chat: forumChat, thread: topicB, text: "/stop db",
			want: `Unsubscribed from route "db"`, subs: []sub{{route: "db"}, {route: "oncall"}, {thread: topicA, route: "oncall"}}},
		{name: "stop ROUTE the topic lacks", chat: forumChat, thread: topicA, text: "/stop db",
			want: `was not subscribed to route "db"`, subs: all},
		{name: "stop unknown route", chat: forumChat, text: "/stop nosuch",
			want: `was not subscribed to route "nosuch"`, subs: all},
		{name: "stop in a chat without subscriptions", chat: privateChat, text: "/stop",
			want: "had no subscriptions", subs: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.subscribe(t, forumChat, 0, "oncall")
			h.subscribe(t, forumChat, 0, "db")
			h.subscribe(t, forumChat, topicA, "oncall")
			h.subscribe(t, forumChat, topicB, "db")
			h.subscribe(t, groupChat, 0, "db")
			var m telegram.Message
			if tt.chat == forumChat {
				m = forumMsg(tt.thread, tt.text)
			} else {
				m = privateMsg(tt.text)
			}
			h.handle(t, m)
			checkReply(t, h, tt.chat, tt.thread, 0, []string{tt.want}, nil)
			checkSubs(t, h, forumChat, tt.subs)
			checkSubs(t, h, groupChat, []sub{{route: "db"}}) // other chats keep theirs
		})
	}
}

func TestStatus(t *testing.T) {
	const since = " — since 2026-03-14 09:26 UTC by @alice (42)"
	tests := []struct {
		name   string
		setup  func(t *testing.T, h *harness)
		thread int64
		want   string // the whole reply, or a prefix ending in "…"
	}{
		{name: "no subscriptions", want: "This chat has no subscriptions. Ask your operator…"},
		{
			name: "lists every topic's subscriptions with matchers",
			setup: func(t *testing.T, h *harness) {
				h.subscribe(t, forumChat, topicA, "db")
				h.subscribe(t, forumChat, 0, "oncall", `severity="critical"`)
			},
			want: "This chat receives alerts for:\n" +
				"• oncall — only severity=\"critical\"" + since + "\n" +
				"• db (topic 7)" + since,
		},
		{
			name: "asked in a topic, answered there, listing the whole chat",
			setup: func(t *testing.T, h *harness) {
				h.subscribe(t, forumChat, topicA, "db")
			},
			thread: topicB,
			want:   "This chat receives alerts for:\n• db (topic 7)" + since,
		},
		{
			name: "unsubscribed routes are not listed",
			setup: func(t *testing.T, h *harness) {
				h.subscribe(t, forumChat, 0, "oncall")
				if _, err := h.st.Unsubscribe(t.Context(), forumChat, 0, true, ""); err != nil {
					t.Fatal(err)
				}
			},
			want: "This chat has no subscriptions.…",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			if tt.setup != nil {
				tt.setup(t, h)
			}
			h.subscribe(t, groupChat, 0, "unrelated-route") // another chat's: never listed
			h.handle(t, forumMsg(tt.thread, "/status"))
			got := checkReply(t, h, forumChat, tt.thread, 0, nil, []string{"unrelated-route"})
			if prefix, ok := strings.CutSuffix(tt.want, "…"); ok {
				if !strings.HasPrefix(got, prefix) {
					t.Errorf("reply = %q, want it to start with %q", got, prefix)
				}
			} else if got != tt.want {
				t.Errorf("reply =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestOtherMessages covers /help and what the bot must leave alone.
func TestOtherMessages(t *testing.T) {
	tests := []struct {
		name string
		msg  telegram.Message
		want []string // nil: no reply
	}{
		{name: "help", msg: privateMsg("/help"), want: []string{"/start TOKEN", "/stop ROUTE", "/status", "/help"}},
		{name: "help addressed to the bot in a group", msg: groupMsg("/help@" + botName), want: []string{"/start TOKEN"}},
		{name: "help in a topic", msg: forumMsg(topicA, "/help"), want: []string{"/start TOKEN"}},
		{name: "help addressed to another bot", msg: groupMsg("/help@otherbot")},
		{name: "stop addressed to another bot", msg: groupMsg("/stop@otherbot")},
		{name: "unknown command", msg: privateMsg("/frobnicate now")},
		{name: "plain text", msg: privateMsg("hello /start")},
		{name: "slash alone", msg: privateMsg("/")},
		{name: "message without text", msg: privateMsg("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.subscribe(t, groupChat, 0, "oncall")
			u := h.handle(t, tt.msg)
			if tt.want == nil {
				checkNoMessages(t, h)
			} else {
				checkReply(t, h, tt.msg.Chat.ID, tt.msg.MessageThreadID, 0, tt.want, nil)
			}
			checkSubs(t, h, groupChat, []sub{{route: "oncall"}})
			if !h.handled(t, u.UpdateID) {
				t.Errorf("update %d not recorded as handled", u.UpdateID)
			}
		})
	}
}

func TestDuplicateUpdateIsIgnored(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	l := h.link(t, bot.LinkRequest{Route: "oncall"})
	start := h.handle(t, privateMsg("/start "+l.Token))
	checkReply(t, h, privateChat, 0, 0, []string{"Subscribed"}, nil)
	help := h.handle(t, privateMsg("/help"))
	checkReply(t, h, privateChat, 0, 1, []string{"/start TOKEN"}, nil)

	// A webhook retry or a redelivery after a crash: the latest id, and an
	// older one that was handled.
	for _, dup := range []telegram.Update{help, start} {
		if err := h.bot.HandleUpdate(t.Context(), dup); err != nil {
			t.Fatalf("HandleUpdate(duplicate %d): %v", dup.UpdateID, err)
		}
	}
	// A restarted bot on the same database knows them too.
	restarted := bot.New(h.client, openStore(t, h.dbPath, nil), bot.Options{Now: h.clk.Now}, slog.New(slog.DiscardHandler), nil)
	restarted.SetUsername(botName)
	for _, dup := range []telegram.Update{start, help} {
		if err := restarted.HandleUpdate(t.Context(), dup); err != nil {
			t.Fatalf("restarted HandleUpdate(duplicate %d): %v", dup.UpdateID, err)
		}
	}
	if got := h.fake.Messages(); len(got) != 2 {
		t.Errorf("duplicates got replies (want none): %+v", got[2:])
	}
	checkSubs(t, h, privateChat, []sub{{route: "oncall"}})
}

// Deliveries of one update racing each other (a webhook retry while the
// first delivery is still being handled) handle it once.
func TestConcurrentDeliveriesHandleOnce(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	u := h.update(privateMsg("/help"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
				t.Errorf("HandleUpdate: %v", err)
			}
		})
	}
	wg.Wait()
	if got := h.fake.Messages(); len(got) != 1 {
		t.Errorf("%d replies to one update delivered 8 times, want 1: %+v", len(got), got)
	}
}

func TestMyChatMember(t *testing.T) {
	tests := []struct {
		status string
		gone   bool
	}{
		{telegram.MemberKicked, true},
		{telegram.MemberLeft, true},
		{telegram.MemberMember, false},
		{telegram.MemberAdministrator, false},
		{telegram.MemberRestricted, false},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.subscribe(t, groupChat, 0, "oncall")
			h.subscribe(t, groupChat, 0, "db")
			h.subscribe(t, privateChat, 0, "oncall")
			botUser := telegram.User{ID: 123456, IsBot: true, FirstName: "Alertgram Test", Username: botName}
			u := h.nextUpdate()
			u.MyChatMember = &telegram.ChatMemberUpdated{
				Chat: telegram.Chat{ID: groupChat, Type: telegram.ChatGroup, Title: "Oncall"}, From: bob, Date: t0.Unix(),
				OldChatMember: telegram.ChatMember{Status: telegram.MemberMember, User: botUser},
				NewChatMember: telegram.ChatMember{Status: tt.status, User: botUser},
			}
			if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
				t.Fatal(err)
			}
			want := []sub{{route: "db"}, {route: "oncall"}}
			if tt.gone {
				want = []sub{}
			}
			checkSubs(t, h, groupChat, want)
			checkSubs(t, h, privateChat, []sub{{route: "oncall"}})
			checkNoMessages(t, h)
			if !h.handled(t, u.UpdateID) {
				t.Errorf("update %d not recorded as handled", u.UpdateID)
			}
		})
	}
}

func TestMigrateToChatIDMovesSubscriptions(t *testing.T) {
	const supergroup = int64(-1009998887776)
	h := newHarness(t, harnessOpts{})
	h.subscribe(t, groupChat, 0, "oncall", `severity="critical"`)
	h.subscribe(t, groupChat, 0, "db")
	h.subscribe(t, privateChat, 0, "oncall")

	m := groupMsg("")
	m.MigrateToChatID = supergroup
	u := h.handle(t, m)

	checkSubs(t, h, groupChat, []sub{})
	checkSubs(t, h, supergroup, []sub{{route: "db"}, {route: "oncall", matchers: []string{`severity="critical"`}}})
	checkSubs(t, h, privateChat, []sub{{route: "oncall"}})
	checkNoMessages(t, h)
	if !h.handled(t, u.UpdateID) {
		t.Errorf("update %d not recorded as handled", u.UpdateID)
	}
}

// TestChatGoneAndMigrated covers the entry points the dispatcher calls on
// 403 and on migrate_to_chat_id.
func TestChatGoneAndMigrated(t *testing.T) {
	const supergroup = int64(-1009998887776)
	h := newHarness(t, harnessOpts{})
	h.subscribe(t, groupChat, 0, "oncall")
	h.subscribe(t, forumChat, topicA, "oncall")
	h.subscribe(t, forumChat, 0, "db")
	h.subscribe(t, privateChat, 0, "oncall")

	if err := h.bot.ChatGone(t.Context(), privateChat, "bot was blocked by the user"); err != nil {
		t.Fatal(err)
	}
	checkSubs(t, h, privateChat, []sub{})
	if err := h.bot.ChatGone(t.Context(), privateChat, "again"); err != nil {
		t.Errorf("ChatGone of a chat without subscriptions: %v", err)
	}

	if err := h.bot.ChatMigrated(t.Context(), forumChat, supergroup); err != nil {
		t.Fatal(err)
	}
	checkSubs(t, h, forumChat, []sub{})
	checkSubs(t, h, supergroup, []sub{{route: "db"}, {thread: topicA, route: "oncall"}})
	if err := h.bot.ChatMigrated(t.Context(), groupChat, groupChat); err != nil {
		t.Errorf("ChatMigrated to itself: %v", err)
	}
	checkSubs(t, h, groupChat, []sub{{route: "oncall"}})
	checkNoMessages(t, h)

	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.bot.ChatGone(t.Context(), groupChat, "kicked"); err == nil {
		t.Error("ChatGone with a closed store returned nil")
	}
	if err := h.bot.ChatMigrated(t.Context(), groupChat, supergroup); err == nil {
		t.Error("ChatMigrated with a closed store returned nil")
	}
}

func TestStoreFailureRetriesTheUpdate(t *testing.T) {
	t.Run("closed store", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		l := h.link(t, bot.LinkRequest{Route: "oncall"})
		first := h.handle(t, privateMsg("/help"))
		if err := h.st.Close(); err != nil {
			t.Fatal(err)
		}
		u := h.update(privateMsg("/start " + l.Token))
		if err := h.bot.HandleUpdate(t.Context(), u); err == nil {
			t.Fatal("HandleUpdate with a closed store returned nil")
		}
		if n := len(h.fake.Messages()); n != 1 {
			t.Errorf("bot sent %d messages, want only the /help reply", n)
		}
		h.st = openStore(t, h.dbPath, nil)
		if h.handled(t, u.UpdateID) || !h.handled(t, first.UpdateID) {
			t.Errorf("after the failure update %d recorded as handled = %v, want false (and %d's = true)",
				u.UpdateID, h.handled(t, u.UpdateID), first.UpdateID)
		}
		if !h.redeemable(t, l.Token) {
			t.Error("token was used by the failed update")
		}
	})

	t.Run("store fails while handling", func(t *testing.T) {
		injected := store.ErrNotFound // any error but the token refusals
		var fs *faultyStore
		h := newHarness(t, harnessOpts{wrap: func(s store.Store) bot.Store {
			fs = &faultyStore{Store: s}
			return fs
		}})
		l := h.link(t, bot.LinkRequest{Route: "oncall"})
		first := h.handle(t, privateMsg("/help"))
		fs.redeem = func(_ context.Context, _ string, _ time.Time, _ store.Subscription) (store.Subscription, error) {
			return store.Subscription{}, injected
		}
		u := h.update(privateMsg("/start " + l.Token))
		err := h.bot.HandleUpdate(t.Context(), u)
		if !errors.Is(err, injected) {
			t.Fatalf("HandleUpdate = %v, want the store's error", err)
		}
		if n := len(h.fake.Messages()); n != 1 {
			t.Errorf("bot sent %d messages, want only the /help reply", n)
		}
		if h.handled(t, u.UpdateID) || !h.handled(t, first.UpdateID) {
			t.Errorf("after the failure update %d recorded as handled = %v, want false (and %d's = true)",
				u.UpdateID, h.handled(t, u.UpdateID), first.UpdateID)
		}

		// Telegram delivers it again once the store is back.
		fs.redeem = nil
		if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
			t.Fatalf("redelivered update: %v", err)
		}
		checkReply(t, h, privateChat, 0, 1, []string{`route "oncall"`}, nil)
		checkSubs(t, h, privateChat, []sub{{route: "oncall"}})
		if !h.handled(t, u.UpdateID) {
			t.Errorf("redelivered update %d not recorded as handled", u.UpdateID)
		}
	})
}

// A /start that failed on the store is delivered again (Poll backs off 1 s,
// 2 s, 4 s, ...; Telegram retries a webhook). Each delivery counts against
// the chat's /start limit, so after StartLimit failed deliveries the next
// one is "throttled": no reply, the token is not redeemed, and HandleUpdate
// returns nil, which confirms the update. The user's /start is lost.
func TestStartRetryIsNotThrottled(t *testing.T) {
	var fs *faultyStore
	h := newHarness(t, harnessOpts{opts: bot.Options{StartLimit: 2, StartWindow: time.Hour},
		wrap: func(s store.Store) bot.Store { fs = &faultyStore{Store: s}; return fs }})
	l := h.link(t, bot.LinkRequest{Route: "oncall"})
	fs.redeem = func(context.Context, string, time.Time, store.Subscription) (store.Subscription, error) {
		return store.Subscription{}, store.ErrNotFound
	}
	u := h.update(privateMsg("/start " + l.Token))
	for range 2 {
		if err := h.bot.HandleUpdate(t.Context(), u); err == nil {
			t.Fatal("HandleUpdate with a failing store returned nil")
		}
	}
	fs.redeem = nil // the store is back
	if err := h.bot.HandleUpdate(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	checkReply(t, h, privateChat, 0, 0, []string{"✅ Subscribed"}, nil)
	checkSubs(t, h, privateChat, []sub{{route: "oncall"}})
}

// recordingPacer is a bot.Pacer with WaitLow that records the chats it is
// asked for, and with which priority, and refuses every slot when refuse
// is set.
type recordingPacer struct {
	mu     sync.Mutex
	chats  []int64
	low    []bool
	refuse bool
}

func (p *recordingPacer) Wait(_ context.Context, chatID int64) error { return p.wait(chatID, false) }

func (p *recordingPacer) WaitLow(_ context.Context, chatID int64) error { return p.wait(chatID, true) }

func (p *recordingPacer) wait(chatID int64, low bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chats = append(p.chats, chatID)
	p.low = append(p.low, low)
	if p.refuse {
		return context.Canceled
	}
	return nil
}

// TestRepliesArePaced: the bot's answers wait for the chat's slot in the
// dispatcher's pacer, like alert messages, so a command typed during a
// storm cannot push the chat over Telegram's limit, and they wait at low
// priority, behind the chat's alerts; a reply whose slot never comes
// (shutdown) is not sent.
func TestRepliesArePaced(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			pacer := &recordingPacer{refuse: refuse}
			h := newHarness(t, harnessOpts{opts: bot.Options{Pacer: pacer}})
			u := h.handle(t, groupMsg("/help@"+botName))
			if !slices.Equal(pacer.chats, []int64{groupChat}) || !slices.Equal(pacer.low, []bool{true}) {
				t.Errorf("pacer asked for chats %v with low priority %v, want [%d] [true]", pacer.chats, pacer.low, groupChat)
			}
			if refuse {
				checkNoMessages(t, h)
			} else {
				checkReply(t, h, groupChat, 0, 0, []string{"/start TOKEN"}, nil)
			}
			if !h.handled(t, u.UpdateID) {
				t.Errorf("update %d not recorded as handled", u.UpdateID)
			}
		})
	}
}
