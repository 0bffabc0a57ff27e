package testutil

import (
	"strconv"

	"github.com/alertgram/alertgram/internal/tgmarkup"
)

// messageJSON is the Bot API Message for a stored message; call with
// f.mu held.
func (f *Telegram) messageJSON(chatID int64, m *storedMessage) map[string]any {
	c := f.chat(chatID)
	out := map[string]any{"message_id": m.id, "date": m.date.Unix(), "chat": c.info, "from": m.from}
	if m.fromBot {
		out["from"] = f.bot
	}
	if m.threadID != 0 {
		out["message_thread_id"], out["is_topic_message"] = m.threadID, true
	}
	f.addContent(out, chatID, m)
	if m.markup != nil {
		out["reply_markup"] = m.markup
	}
	if !m.edited.IsZero() {
		out["edit_date"] = m.edited.Unix()
	}
	if r, ok := c.messages[m.replyTo]; ok && m.replyTo != 0 {
		reply := *r
		reply.replyTo = 0 // Telegram does not nest replies further
		out["reply_to_message"] = f.messageJSON(chatID, &reply)
	}
	return out
}

func (f *Telegram) addContent(out map[string]any, chatID int64, m *storedMessage) {
	if m.photo == "" {
		out["text"] = m.text
		if len(m.entities) > 0 {
			out["entities"] = entitiesJSON(m.entities)
		}
		return
	}
	id := "fake-photo-" + strconv.FormatInt(chatID, 10) + "-" + strconv.FormatInt(m.id, 10)
	out["photo"] = []map[string]any{{"file_id": id, "file_unique_id": id, "width": 1280, "height": 720, "file_size": 65536}}
	if m.text != "" {
		out["caption"] = m.text
	}
	if len(m.entities) > 0 {
		out["caption_entities"] = entitiesJSON(m.entities)
	}
}

// entitiesJSON renders entities as Bot API MessageEntity objects.
func entitiesJSON(es []tgmarkup.Entity) []map[string]any {
	out := make([]map[string]any, 0, len(es))
	for _, e := range es {
		j := map[string]any{"type": e.Type, "offset": e.Offset, "length": e.Length}
		switch {
		case e.URL != "":
			j["url"] = e.URL
		case e.Language != "":
			j["language"] = e.Language
		case e.UserID != 0:
			j["user"] = map[string]any{"id": e.UserID, "is_bot": false, "first_name": ""}
		case e.CustomEmojiID != "":
			j["custom_emoji_id"] = e.CustomEmojiID
		case e.Type == "date_time":
			j["unix_time"] = e.UnixTime
			if e.DateTimeFormat != "" {
				j["date_time_format"] = e.DateTimeFormat
			}
		}
		out = append(out, j)
	}
	return out
}
