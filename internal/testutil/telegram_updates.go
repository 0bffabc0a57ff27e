package testutil

import (
	"maps"
	"strconv"
	"time"
	"unicode/utf8"
)

// Long polling limits of telegram-bot-api.
const (
	maxPollTimeout   = 50 // seconds, LONG_POLL_MAX_TIMEOUT
	maxUpdatesLimit  = 100
	maxAnswerTextLen = 200
)

type queuedUpdate struct {
	id   int
	body map[string]any
}

func (u queuedUpdate) json() map[string]any {
	out := maps.Clone(u.body)
	out["update_id"] = u.id
	return out
}

// enqueue adds an update for getUpdates or the webhook; call with f.mu
// held.
func (f *Telegram) enqueue(body map[string]any) int {
	id := f.nextUpdate
	f.nextUpdate++
	f.updates = append(f.updates, queuedUpdate{id: id, body: body})
	f.notify()
	return id
}

// InjectUpdate queues a raw update (its update_id is assigned by the fake)
// and returns the update id.
func (f *Telegram) InjectUpdate(raw map[string]any) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	body := maps.Clone(raw)
	delete(body, "update_id")
	return f.enqueue(body)
}

// InjectMessage queues a message update from user from in chat, with
// bot_command entities as Telegram adds them, and returns the update id.
// The message gets the chat's next message id, so bot messages can reply
// to it.
func (f *Telegram) InjectMessage(chat Chat, from User, text string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.learn(chat, from)
	m := &storedMessage{id: c.nextID, from: from, date: f.now(), text: text}
	c.nextID++
	c.messages[m.id] = m
	msg := f.messageJSON(chat.ID, m)
	delete(msg, "entities")
	if es := botCommandEntities(text); len(es) > 0 {
		msg["entities"] = es
	}
	return f.enqueue(map[string]any{"message": msg})
}

// InjectCallback queues a callback_query update for a button press on
// message messageID of chat and returns the callback query id, which
// answerCallbackQuery then accepts once.
func (f *Telegram) InjectCallback(chat Chat, from User, messageID int64, data string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.learn(chat, from)
	id := strconv.Itoa(f.nextQuery)
	f.nextQuery++
	f.queries[id] = true
	q := map[string]any{"id": id, "from": from, "chat_instance": strconv.FormatInt(-chat.ID*7919, 10), "data": data}
	if m, ok := c.messages[messageID]; ok {
		q["message"] = f.messageJSON(chat.ID, m)
	} else {
		q["message"] = map[string]any{"chat": c.info, "message_id": messageID, "date": 0} // inaccessible
	}
	f.enqueue(map[string]any{"callback_query": q})
	return id
}

// learn records the chat and user of an injected update; call with f.mu
// held.
func (f *Telegram) learn(chat Chat, from User) *chatState {
	c := f.chat(chat.ID)
	if chat.Type == "private" || chat.Type == "" && chat.ID > 0 {
		chat.FirstName, chat.LastName, chat.Username = from.FirstName, from.LastName, from.Username
	}
	c.setInfo(chat)
	f.users[from.ID] = from
	return c
}

func (f *Telegram) answerCallbackQuery(req *request) (any, *apiError) {
	id := req.str("callback_query_id")
	text := req.str("text")
	cache, aerr := req.integer("cache_time")
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.queries[id] {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	if utf8.RuneCountInString(text) > maxAnswerTextLen {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	delete(f.queries, id)
	f.answers = append(f.answers, Answer{CallbackQueryID: id, Text: text, ShowAlert: req.boolean("show_alert"),
		URL: req.str("url"), CacheTime: int(cache), Time: f.now()})
	f.notify()
	return true, nil
}

// pollParams are getUpdates' offset, limit and timeout, normalised like
// telegram-bot-api does.
type pollParams struct {
	offset  int
	limit   int
	timeout time.Duration
}

func readPoll(req *request) (pollParams, *apiError) {
	var p pollParams
	var vals [3]int64
	for i, k := range []string{"offset", "limit", "timeout"} {
		v, aerr := req.integer(k)
		if aerr != nil {
			return p, aerr
		}
		vals[i] = v
	}
	p.offset, p.limit = int(vals[0]), int(vals[1])
	if p.limit <= 0 || p.limit > maxUpdatesLimit {
		p.limit = maxUpdatesLimit
	}
	p.timeout = time.Duration(min(max(vals[2], 0), maxPollTimeout)) * time.Second
	return p, nil
}

// getUpdates confirms updates below offset, then returns pending ones,
// waiting up to timeout for the first. A newer getUpdates or a setWebhook
// ends a waiting one with 409 Conflict, as on the real server.
func (f *Telegram) getUpdates(req *request) (any, *apiError) {
	p, aerr := readPoll(req)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.webhook.url != "" {
		return nil, conflict("can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
	}
	f.pollGen++
	f.notify() // ends an older waiting getUpdates
	f.confirm(p.offset)
	return f.waitUpdates(req, p, f.pollGen)
}

// waitUpdates returns pending updates, waiting for some until the
// timeout, the client going away or the fake closing; call with f.mu held.
func (f *Telegram) waitUpdates(req *request, p pollParams, gen int) (any, *apiError) {
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	for {
		if ups := f.pending(p.limit); len(ups) > 0 || p.timeout == 0 {
			return ups, nil
		}
		if aerr := f.pollTerminated(gen); aerr != nil {
			return nil, aerr
		}
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			p.timeout = 0
		case <-req.ctx.Done():
			p.timeout = 0
		case <-f.ctx.Done():
			p.timeout = 0
		}
		f.mu.Lock()
	}
}

func (f *Telegram) pollTerminated(gen int) *apiError {
	if f.webhook.url != "" {
		return conflict("terminated by setWebhook request")
	}
	if f.pollGen != gen {
		return conflict("terminated by other getUpdates request; make sure that only one bot instance is running")
	}
	return nil
}

// confirm forgets updates before offset; a negative offset keeps only the
// last -offset updates. Call with f.mu held.
func (f *Telegram) confirm(offset int) {
	switch {
	case offset > 0:
		i := 0
		for i < len(f.updates) && f.updates[i].id < offset {
			i++
		}
		f.updates = f.updates[i:]
	case offset < 0 && -offset < len(f.updates):
		f.updates = f.updates[len(f.updates)+offset:]
	}
}

func (f *Telegram) pending(limit int) []map[string]any {
	out := []map[string]any{}
	for _, u := range f.updates {
		if len(out) == limit {
			break
		}
		out = append(out, u.json())
	}
	return out
}
