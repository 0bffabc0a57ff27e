package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/alertgram/alertgram/internal/telegram"
)

// UpdateHandler handles one Telegram update; an error asks Telegram to
// deliver it again.
type UpdateHandler interface {
	HandleUpdate(ctx context.Context, u telegram.Update) error
}

// telegramWebhook is POST /telegram/webhook: Telegram pushes updates here
// in webhook mode, with the secret from setWebhook in a header.
func telegramWebhook(d Deps) gin.HandlerFunc {
	return func(c *gin.Context) {
		if d.Updates == nil {
			abort(c, http.StatusNotFound, "webhook mode is off (telegram.updates is polling)")
			return
		}
		// An empty configured secret never matches: config validation
		// requires one in webhook mode, and this keeps it so.
		if d.WebhookSecret == "" || !equal(c.GetHeader("X-Telegram-Bot-Api-Secret-Token"), d.WebhookSecret) {
			d.Logger.Warn("telegram webhook request with a wrong or missing secret token", "remote", c.ClientIP())
			abort(c, http.StatusUnauthorized, "missing or wrong X-Telegram-Bot-Api-Secret-Token")
			return
		}
		var u telegram.Update
		body := http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)
		if err := json.NewDecoder(body).Decode(&u); err != nil || u.UpdateID == 0 {
			abort(c, http.StatusBadRequest, "body is not a Telegram update")
			return
		}
		if err := d.Updates.HandleUpdate(c.Request.Context(), u); err != nil {
			d.Logger.Error("handling telegram update failed; Telegram will redeliver it", "update_id", u.UpdateID, "err", err)
			abort(c, http.StatusInternalServerError, "update not handled; retry")
			return
		}
		c.JSON(http.StatusOK, gin.H{"ok": true})
	}
}
