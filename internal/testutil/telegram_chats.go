package testutil

import (
	"strconv"
	"strings"
	"time"

	"github.com/alertgram/alertgram/internal/tgmarkup"
)

// supergroupIDBase: supergroup and channel ids are -100… (-1e12 - n).
const supergroupIDBase = -1000000000000

// chatState is what the fake knows about one chat.
type chatState struct {
	info      Chat
	nextID    int64
	messages  map[int64]*storedMessage
	blocked   bool
	migrateTo int64
	topics    map[int64]bool
	members   map[int64]string // user id -> ChatMember status
}

// storedMessage is the current state of a message in a chat.
type storedMessage struct {
	id       int64
	threadID int64
	fromBot  bool
	from     User
	date     time.Time
	edited   time.Time
	text     string // plain text or caption
	entities []tgmarkup.Entity
	markup   *InlineKeyboardMarkup
	photo    string
	replyTo  int64
}

// chat returns the state of a chat, creating it on first use; call with
// f.mu held.
func (f *Telegram) chat(id int64) *chatState {
	c, ok := f.chats[id]
	if !ok {
		c = &chatState{info: inferChat(id), nextID: 1, messages: map[int64]*storedMessage{},
			topics: map[int64]bool{}, members: map[int64]string{}}
		f.chats[id] = c
	}
	return c
}

func inferChat(id int64) Chat {
	switch {
	case id > 0:
		return Chat{ID: id, Type: "private", FirstName: "User " + strconv.FormatInt(id, 10)}
	case id <= supergroupIDBase:
		return Chat{ID: id, Type: "supergroup", Title: "Supergroup " + strconv.FormatInt(id, 10)}
	}
	return Chat{ID: id, Type: "group", Title: "Group " + strconv.FormatInt(id, 10)}
}

// setInfo merges chat details from the test: zero fields keep what the
// fake already knows.
func (c *chatState) setInfo(info Chat) {
	merge := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	merge(&c.info.Type, info.Type)
	merge(&c.info.Title, info.Title)
	merge(&c.info.Username, info.Username)
	merge(&c.info.FirstName, info.FirstName)
	merge(&c.info.LastName, info.LastName)
	c.info.IsForum = c.info.IsForum || info.IsForum
}

// AddChat tells the fake about a chat (type, title, username, forum).
func (f *Telegram) AddChat(c Chat) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chat(c.ID).setInfo(c)
	if c.Username != "" {
		f.usernames[strings.ToLower(c.Username)] = c.ID
	}
}

// usernameChat resolves @username to a chat id, inventing a channel for an
// unknown username.
func (f *Telegram) usernameChat(username string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := strings.ToLower(username)
	if id, ok := f.usernames[key]; ok {
		return id
	}
	id := int64(supergroupIDBase - 1 - len(f.usernames))
	f.usernames[key] = id
	f.chat(id).setInfo(Chat{ID: id, Type: "channel", Title: username, Username: username})
	return id
}

// Block makes the chat refuse the bot: 403 "bot was blocked by the user"
// for private chats, "bot was kicked from the group chat" (or supergroup
// or channel chat) otherwise.
func (f *Telegram) Block(chatID int64) { f.setBlocked(chatID, true) }

// Unblock undoes Block.
func (f *Telegram) Unblock(chatID int64) { f.setBlocked(chatID, false) }

func (f *Telegram) setBlocked(chatID int64, blocked bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chat(chatID).blocked = blocked
}

// Migrate upgrades group oldID to supergroup newID: sends to oldID fail
// with 400 "group chat was upgraded to a supergroup chat" and
// parameters.migrate_to_chat_id = newID.
func (f *Telegram) Migrate(oldID, newID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chat(oldID).migrateTo = newID
	f.chat(newID)
}

// AddTopic creates forum topic threadID in the chat, so message_thread_id
// threadID is accepted there.
func (f *Telegram) AddTopic(chatID, threadID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.chat(chatID)
	c.topics[threadID] = true
	c.info.IsForum = true
}

// SetChatMember sets what getChatMember reports for user in the chat
// ("creator", "administrator", "member", "restricted", "left", "kicked").
func (f *Telegram) SetChatMember(chatID int64, user User, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chat(chatID).members[user.ID] = status
}

// access refuses sends to migrated and blocked chats; call with f.mu held.
func (f *Telegram) access(chatID int64) *apiError {
	c := f.chat(chatID)
	if c.migrateTo != 0 {
		e := badRequest("group chat was upgraded to a supergroup chat")
		e.migrateTo = c.migrateTo
		return e
	}
	if !c.blocked {
		return nil
	}
	if c.info.Type == "private" {
		return forbidden("bot was blocked by the user")
	}
	return forbidden("bot was kicked from the " + c.info.Type + " chat")
}

func (f *Telegram) getMe(*request) (any, *apiError) {
	return map[string]any{
		"id": f.bot.ID, "is_bot": true, "first_name": f.bot.FirstName, "username": f.bot.Username,
		"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
		"can_connect_to_business": false, "has_main_web_app": false,
	}, nil
}

func (f *Telegram) getChat(req *request) (any, *apiError) {
	id, aerr := f.chatID(req, "chat_id")
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if aerr := f.access(id); aerr != nil && (aerr.code == 400 || id < 0) {
		return nil, aerr
	}
	info := f.chat(id).info
	return map[string]any{"id": info.ID, "type": info.Type, "title": info.Title, "username": info.Username,
		"first_name": info.FirstName, "is_forum": info.IsForum, "accent_color_id": 0, "max_reaction_count": 11}, nil
}

func (f *Telegram) getChatMember(req *request) (any, *apiError) {
	id, aerr := f.chatID(req, "chat_id")
	if aerr != nil {
		return nil, aerr
	}
	userID, aerr := req.integer("user_id")
	if aerr != nil || userID <= 0 {
		return nil, badRequest("invalid user_id specified")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]any{"status": f.memberStatus(id, userID), "user": f.user(userID)}, nil
}

func (f *Telegram) memberStatus(chatID, userID int64) string {
	c := f.chat(chatID)
	if s, ok := c.members[userID]; ok {
		return s
	}
	if userID == f.bot.ID && c.blocked && chatID < 0 {
		return "kicked"
	}
	return "member"
}

// user returns what the fake knows about a user id; call with f.mu held.
func (f *Telegram) user(id int64) User {
	if id == f.bot.ID {
		return f.bot
	}
	if u, ok := f.users[id]; ok {
		return u
	}
	if c, ok := f.chats[id]; ok && c.info.Type == "private" {
		return User{ID: id, FirstName: c.info.FirstName, LastName: c.info.LastName, Username: c.info.Username}
	}
	return User{ID: id, FirstName: "User " + strconv.FormatInt(id, 10)}
}

func botIDFromToken(token string) int64 {
	id, _ := strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64)
	return id
}
