package testutil

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/alertgram/alertgram/internal/tgmarkup"
)

// Telegram's limits on parsed text, counted in code points.
const (
	maxTextLength    = 4096
	maxCaptionLength = 1024
)

// outgoing is a validated sendMessage or sendPhoto before the chat-level
// checks.
type outgoing struct {
	msg      Message
	deferred *apiError // a button Telegram's server refuses
	reply    replyTarget
}

func (f *Telegram) sendMessage(req *request) (any, *apiError) {
	out, aerr := f.readOutgoing(req)
	if aerr != nil {
		return nil, aerr
	}
	out.msg.Text = req.str("text")
	if out.msg.Text == "" {
		return nil, badRequest("message text is empty")
	}
	parsed, aerr := parseText(req, out.msg.Text, maxTextLength, "message is too long")
	if aerr != nil {
		return nil, aerr
	}
	if parsed.Text == "" {
		return nil, badRequest("message text is empty")
	}
	out.msg.ParsedText, out.msg.Entities = parsed.Text, parsed.Entities
	return f.accept(out)
}

func (f *Telegram) sendPhoto(req *request) (any, *apiError) {
	out, aerr := f.readOutgoing(req)
	if aerr != nil {
		return nil, aerr
	}
	out.msg.Photo = req.str("photo")
	if name, ok := req.files["photo"]; ok {
		out.msg.Photo = name
	}
	if out.msg.Photo == "" {
		return nil, badRequest("there is no photo in the request")
	}
	out.msg.Text = req.str("caption")
	parsed, aerr := parseText(req, out.msg.Text, maxCaptionLength, "message caption is too long")
	if aerr != nil {
		return nil, aerr
	}
	out.msg.ParsedText, out.msg.Entities = parsed.Text, parsed.Entities
	return f.accept(out)
}

// parseText parses text per parse_mode as telegram-bot-api and TDLib do
// and checks the code-point limit.
func parseText(req *request, text string, limit int, tooLong string) (tgmarkup.Result, *apiError) {
	r, err := tgmarkup.Parse(req.str("parse_mode"), text)
	if err != nil {
		var perr *tgmarkup.ParseError
		if !errors.As(err, &perr) {
			panic(fmt.Sprintf("tgmarkup.Parse returned %T, not a *tgmarkup.ParseError: %v", err, err))
		}
		return r, badRequest(perr.Description)
	}
	if utf8.RuneCountInString(r.Text) > limit {
		return r, badRequest(tooLong)
	}
	return r, nil
}

// readOutgoing reads what sendMessage and sendPhoto share.
func (f *Telegram) readOutgoing(req *request) (outgoing, *apiError) {
	var out outgoing
	chatID, aerr := f.chatID(req, "chat_id")
	if aerr != nil {
		return out, aerr
	}
	thread, aerr := req.integer("message_thread_id")
	if aerr != nil {
		return out, aerr
	}
	markup, deferred, aerr := parseReplyMarkup(req)
	if aerr != nil {
		return out, aerr
	}
	reply, aerr := readReply(req, chatID)
	if aerr != nil {
		return out, aerr
	}
	out.msg = Message{Method: req.method, ChatID: chatID, ThreadID: thread, ParseMode: req.str("parse_mode"),
		ReplyMarkup: markup, DisableNotification: req.boolean("disable_notification"),
		ProtectContent: req.boolean("protect_content")}
	out.deferred, out.reply = deferred, reply
	return out, nil
}

// accept runs the chat-level checks in roughly Telegram's order (TDLib's
// own checks, then the server's, then flood control) and stores the
// message.
func (f *Telegram) accept(out outgoing) (any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &out.msg
	if aerr := f.access(m.ChatID); aerr != nil {
		return nil, aerr
	}
	if m.ThreadID != 0 && !f.chat(m.ChatID).topics[m.ThreadID] {
		return nil, badRequest("message thread not found")
	}
	replyTo, aerr := f.resolveReply(out.reply)
	if aerr != nil {
		return nil, aerr
	}
	if out.deferred != nil {
		return nil, out.deferred
	}
	if aerr := f.allow(m.ChatID, false); aerr != nil {
		return nil, aerr
	}
	m.ReplyTo, m.Time = replyTo, f.now()
	stored := f.store(m)
	f.messages = append(f.messages, *m)
	f.notify()
	return f.messageJSON(m.ChatID, stored), nil
}

// store gives m the chat's next message id and keeps it for edits,
// replies and callbacks; call with f.mu held.
func (f *Telegram) store(m *Message) *storedMessage {
	c := f.chat(m.ChatID)
	m.MessageID = c.nextID
	c.nextID++
	s := &storedMessage{id: m.MessageID, threadID: m.ThreadID, fromBot: true, date: m.Time, text: m.ParsedText,
		entities: m.Entities, markup: m.ReplyMarkup, photo: m.Photo, replyTo: m.ReplyTo}
	c.messages[s.id] = s
	return s
}
