package testutil

// replyTarget is what a send replies to: reply_parameters, or the older
// reply_to_message_id and allow_sending_without_reply.
type replyTarget struct {
	chatID       int64
	messageID    int64
	allowMissing bool
}

type replyParameters struct {
	MessageID                int64 `json:"message_id"`
	ChatID                   int64 `json:"chat_id"`
	AllowSendingWithoutReply bool  `json:"allow_sending_without_reply"`
}

func readReply(req *request, chatID int64) (replyTarget, *apiError) {
	t := replyTarget{chatID: chatID, allowMissing: req.boolean("allow_sending_without_reply")}
	id, aerr := req.integer("reply_to_message_id")
	if aerr != nil {
		return t, aerr
	}
	t.messageID = id
	var p replyParameters
	ok, err := req.object("reply_parameters", &p)
	if err != nil {
		return t, badRequest("can't parse reply parameters JSON object")
	}
	if ok {
		t.messageID, t.allowMissing = p.MessageID, p.AllowSendingWithoutReply
		if p.ChatID != 0 {
			t.chatID = p.ChatID
		}
	}
	return t, nil
}

// resolveReply returns the id replied to, 0 for none; call with f.mu held.
func (f *Telegram) resolveReply(t replyTarget) (int64, *apiError) {
	if t.messageID == 0 {
		return 0, nil
	}
	if _, ok := f.chat(t.chatID).messages[t.messageID]; ok {
		return t.messageID, nil
	}
	if t.allowMissing {
		return 0, nil
	}
	return 0, badRequest("message to be replied not found")
}
