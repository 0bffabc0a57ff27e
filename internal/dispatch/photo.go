package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/telegram"
)

// errCaptionTooLong: the caption Telegram could not parse has a plain-text
// fallback too long for a caption; the message goes out as text instead.
var errCaptionTooLong = errors.New("plain-text caption too long")

// shown is how a new message went out.
type shown struct {
	msg   render.Message // as Telegram accepted it: the message or its plain-text fallback
	photo bool           // a photo with msg as its caption
	image string         // the image it shows, as the photo or as the link preview; "" for none
}

// imageOf returns the image a message about g shows: the first alert image
// Telegram can fetch itself (an http(s) URL with a public-looking host),
// "" for none.
func imageOf(g *alert.Group) string {
	for _, a := range g.Alerts {
		u := a.ImageURL
		lower := strings.ToLower(u)
		if (strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://")) && render.LinkableURL(u) {
			return u
		}
	}
	return ""
}

// sendNew sends the new message of a single-group job. With an image, a
// message that fits a caption goes out as one photo carrying it; a longer
// one as text with the image as its link preview. If Telegram refuses the
// photo (it could not fetch the URL, ...), the text goes out without it:
// an image never costs the alert.
func (d *Dispatcher) sendNew(ctx context.Context, j *job) (telegram.Message, shown, error) {
	msg, image := j.msg, j.image
	if image != "" && msg.FitsCaption() {
		sent, used, err := d.sendPhoto(ctx, j)
		switch {
		case err == nil:
			return sent, shown{msg: used, photo: true, image: image}, nil
		case errors.Is(err, errCaptionTooLong):
			msg = used
		case photoRefused(err):
			j.log.Warn("telegram refused the alert image; sending the text without it", "image_url", image, "err", err)
			image = ""
		default:
			return sent, shown{msg: used}, err
		}
	}
	sent, used, err := d.send(ctx, j.log, j.to, msg, j.quiet, nil, j.keyboard, j.fallback, image)
	return sent, shown{msg: used, image: image}, err
}

// sendPhoto sends j's image with j's message as the caption, resending as
// send does: once as plain text when Telegram cannot parse it, once
// without a keyboard it refuses, once without a topic that is gone.
func (d *Dispatcher) sendPhoto(ctx context.Context, j *job) (telegram.Message, render.Message, error) {
	sendCtx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	msg := j.msg
	p := telegram.SendPhotoParams{
		ChatID: j.to.ChatID, MessageThreadID: j.to.ThreadID, Photo: j.image,
		Caption: msg.Text, ParseMode: string(msg.ParseMode),
		ReplyMarkup: j.keyboard, DisableNotification: j.quiet,
	}
	sent, err := d.sender.SendPhoto(sendCtx, p)
	if telegram.IsParseError(err) && p.ParseMode != "" {
		j.log.Error("telegram rejected the formatted caption, resending as plain text", "err", err)
		d.metrics.fallbacks.Inc()
		msg = j.fallback()
		if !msg.FitsCaption() {
			return telegram.Message{}, msg, errCaptionTooLong
		}
		p.Caption, p.ParseMode = msg.Text, string(msg.ParseMode)
		sent, err = d.sender.SendPhoto(sendCtx, p)
	}
	if isButtonError(err) && p.ReplyMarkup != nil {
		j.log.Error("telegram rejected the buttons, sending without them", "err", err)
		p.ReplyMarkup = nil
		sent, err = d.sender.SendPhoto(sendCtx, p)
	}
	if isThreadMissing(err) && p.MessageThreadID != 0 {
		j.log.Warn("forum topic not found, sending to the chat's main thread", "thread_id", p.MessageThreadID)
		p.MessageThreadID = 0
		sent, err = d.sender.SendPhoto(sendCtx, p)
	}
	return sent, msg, err
}

// photoRefused is a 400 left after sendPhoto's own resends: mostly
// Telegram failing to fetch or use the image ("wrong file identifier/HTTP
// URL specified", "failed to get HTTP URL content", "IMAGE_PROCESS_FAILED",
// ...). The text is sent instead; should the 400 be about the chat, the
// text gets it too and it is handled as for any message. A migrated group
// is handled at once.
func photoRefused(err error) bool {
	var apiErr *telegram.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 400 {
		return false
	}
	_, migrated := telegram.MigrateTo(err)
	return !migrated
}

// editOriginal edits the message a resolve job replaces: its caption if it
// is a photo, else its text. A reference that has the kind wrong (Telegram
// says there is no text, or no caption, to edit) is corrected by one edit
// of the other kind. It returns whether the message is a photo.
func (d *Dispatcher) editOriginal(ctx context.Context, j *job) (photo bool, err error) {
	photo = j.editPhoto
	err = d.editAs(ctx, j, photo)
	if isWrongEditKind(err) {
		j.log.Warn("the original message is not what its reference says; editing it as the other kind", "photo", !photo)
		photo = !photo
		err = d.editAs(ctx, j, photo)
	}
	return photo, err
}

func (d *Dispatcher) editAs(ctx context.Context, j *job, photo bool) error {
	g := j.items[0].g
	var err error
	if photo {
		_, err = d.editCaption(ctx, j.log, j.to.ChatID, j.editID, j.msg, g)
	} else {
		_, err = d.edit(ctx, j.log, j.to.ChatID, j.editID, j.msg, g, j.image)
	}
	return err
}

func isWrongEditKind(err error) bool {
	var apiErr *telegram.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 400 &&
		(strings.Contains(apiErr.Description, "there is no text in the message to edit") ||
			strings.Contains(apiErr.Description, "there is no caption in the message to edit"))
}

// editCaption replaces a photo's caption; "message is not modified" is
// success. A message too long for a caption (the resolved form may be
// longer than the firing one), or one Telegram cannot parse, is replaced
// by the plain-text fallback, cut to the caption limit.
func (d *Dispatcher) editCaption(ctx context.Context, l *slog.Logger, chat, messageID int64, msg render.Message, g *alert.Group) (telegram.Message, error) {
	sendCtx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	if !msg.FitsCaption() {
		l.Info("resolved message too long for a caption, using the plain-text fallback")
		msg = d.captionFallback(g)
	}
	p := telegram.EditMessageCaptionParams{ChatID: chat, MessageID: messageID, Caption: msg.Text, ParseMode: string(msg.ParseMode)}
	m, err := d.sender.EditMessageCaption(sendCtx, p)
	if telegram.IsParseError(err) && p.ParseMode != "" {
		l.Error("telegram rejected the formatted caption in an edit, using plain text", "err", err)
		d.metrics.fallbacks.Inc()
		fb := d.captionFallback(g)
		p.Caption, p.ParseMode = fb.Text, string(fb.ParseMode)
		m, err = d.sender.EditMessageCaption(sendCtx, p)
	}
	if telegram.IsNotModified(err) {
		return m, nil
	}
	return m, err
}

// captionFallback is g's plain-text fallback, cut to the caption limit.
func (d *Dispatcher) captionFallback(g *alert.Group) render.Message {
	fb := d.renderer.Fallback(g)
	r := []rune(strings.TrimSpace(fb.Text))
	if len(r) > render.MaxCaptionLength {
		fb.Text = string(r[:render.MaxCaptionLength-1]) + "…"
	}
	return fb
}
