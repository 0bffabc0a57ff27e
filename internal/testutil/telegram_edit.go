package testutil

import (
	"reflect"

	"github.com/alertgram/alertgram/internal/tgmarkup"
)

const notModified = "message is not modified: specified new message content and reply markup are exactly " +
	"the same as a current content and reply markup of the message"

// editTarget is a validated edit before the message-level checks.
type editTarget struct {
	edit     Edit
	deferred *apiError
}

func (f *Telegram) editMessageText(req *request) (any, *apiError) {
	t, aerr := f.readEdit(req)
	if aerr != nil {
		return nil, aerr
	}
	t.edit.Text, t.edit.ParseMode = req.str("text"), req.str("parse_mode")
	if t.edit.Text == "" {
		return nil, badRequest("message text is empty")
	}
	parsed, aerr := parseText(req, t.edit.Text, maxTextLength, "message is too long")
	if aerr != nil {
		return nil, aerr
	}
	if parsed.Text == "" {
		return nil, badRequest("message text is empty")
	}
	t.edit.ParsedText, t.edit.Entities = parsed.Text, parsed.Entities
	return f.applyEdit(t, editText)
}

// editMessageCaption edits the caption of a photo; an empty caption is
// allowed (it removes the caption).
func (f *Telegram) editMessageCaption(req *request) (any, *apiError) {
	t, aerr := f.readEdit(req)
	if aerr != nil {
		return nil, aerr
	}
	t.edit.Text, t.edit.ParseMode = req.str("caption"), req.str("parse_mode")
	parsed, aerr := parseText(req, t.edit.Text, maxCaptionLength, "message caption is too long")
	if aerr != nil {
		return nil, aerr
	}
	t.edit.ParsedText, t.edit.Entities = parsed.Text, parsed.Entities
	return f.applyEdit(t, editCaption)
}

func (f *Telegram) editMessageReplyMarkup(req *request) (any, *apiError) {
	t, aerr := f.readEdit(req)
	if aerr != nil {
		return nil, aerr
	}
	return f.applyEdit(t, editMarkup)
}

// editKind is what an edit replaces besides the keyboard.
type editKind int

const (
	editMarkup  editKind = iota // the keyboard only
	editText                    // a text message's text
	editCaption                 // a photo's caption
)

// readEdit reads chat_id, message_id and reply_markup; inline messages
// are not modelled.
func (f *Telegram) readEdit(req *request) (editTarget, *apiError) {
	var t editTarget
	if req.str("inline_message_id") != "" {
		return t, badRequest("MESSAGE_ID_INVALID")
	}
	chatID, aerr := f.chatID(req, "chat_id")
	if aerr != nil {
		return t, aerr
	}
	id, aerr := req.integer("message_id")
	if aerr != nil {
		return t, aerr
	}
	if id == 0 {
		return t, badRequest("message identifier is not specified")
	}
	markup, deferred, aerr := parseReplyMarkup(req)
	if aerr != nil {
		return t, aerr
	}
	t.edit = Edit{Method: req.method, ChatID: chatID, MessageID: id, ReplyMarkup: markup}
	t.deferred = deferred
	return t, nil
}

// applyEdit checks the message and stores the edit. Editing the text or
// caption without reply_markup removes the keyboard, as in Telegram.
func (f *Telegram) applyEdit(t editTarget, kind editKind) (any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := &t.edit
	m, aerr := f.editable(e.ChatID, e.MessageID, kind)
	if aerr != nil {
		return nil, aerr
	}
	if kind == editMarkup {
		e.ParsedText, e.Entities = m.text, m.entities
	}
	if sameContent(m, e.ParsedText, e.Entities) && sameMarkup(m.markup, e.ReplyMarkup) {
		return nil, badRequest(notModified)
	}
	if t.deferred != nil {
		return nil, t.deferred
	}
	if aerr := f.allow(e.ChatID, true); aerr != nil {
		return nil, aerr
	}
	e.Time = f.now()
	m.text, m.entities, m.markup, m.edited = e.ParsedText, e.Entities, e.ReplyMarkup, e.Time
	f.edits = append(f.edits, *e)
	f.notify()
	return f.messageJSON(e.ChatID, m), nil
}

// editable finds a message the bot may edit; call with f.mu held.
func (f *Telegram) editable(chatID, id int64, kind editKind) (*storedMessage, *apiError) {
	if aerr := f.access(chatID); aerr != nil {
		return nil, aerr
	}
	m, ok := f.chat(chatID).messages[id]
	switch {
	case !ok:
		return nil, badRequest("message to edit not found")
	case !m.fromBot:
		return nil, badRequest("message can't be edited")
	case kind == editText && m.photo != "":
		return nil, badRequest("there is no text in the message to edit")
	case kind == editCaption && m.photo == "":
		return nil, badRequest("there is no caption in the message to edit")
	}
	return m, nil
}

func sameContent(m *storedMessage, text string, entities []tgmarkup.Entity) bool {
	return m.text == text && (len(m.entities) == 0 && len(entities) == 0 || reflect.DeepEqual(m.entities, entities))
}

func (f *Telegram) deleteMessage(req *request) (any, *apiError) {
	chatID, aerr := f.chatID(req, "chat_id")
	if aerr != nil {
		return nil, aerr
	}
	id, aerr := req.integer("message_id")
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if aerr := f.access(chatID); aerr != nil {
		return nil, aerr
	}
	c := f.chat(chatID)
	if _, ok := c.messages[id]; !ok {
		return nil, badRequest("message to delete not found")
	}
	delete(c.messages, id)
	f.notify()
	return true, nil
}
