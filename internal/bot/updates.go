package bot

import (
	"context"
	"errors"
	"time"

	"github.com/alertgram/alertgram/internal/telegram"
)

// UpdatesAPI is the part of the Bot API that receives updates.
type UpdatesAPI interface {
	GetUpdates(ctx context.Context, p telegram.GetUpdatesParams) ([]telegram.Update, error)
	DeleteWebhook(ctx context.Context, dropPendingUpdates bool) error
	SetWebhook(ctx context.Context, p telegram.SetWebhookParams) error
}

// PollTimeout is the long-poll timeout (Telegram caps it at 50 s).
const PollTimeout = 30 * time.Second

// Poll receives updates by long polling until ctx ends; it returns nil
// then. An update is confirmed to Telegram (by the next call's offset) only
// after it was handled; a failed update is retried after a backoff.
// deleteWebhook runs first so polling works after webhook mode was used.
//
// The first call sends no offset: Telegram answers with the unconfirmed
// updates, and HandleUpdate skips those handled before a restart. After a
// call that brought nothing, which confirmed what came before, the next
// one sends no offset either: after a week without updates Telegram
// restarts update ids at a random value, and an offset left from before,
// which may be above the new ids, would confirm them unseen.
func (b *Bot) Poll(ctx context.Context, api UpdatesAPI) error {
	if err := api.DeleteWebhook(ctx, false); err != nil && ctx.Err() == nil {
		b.log.Warn("deleteWebhook failed; getUpdates will fail while a webhook is set", "err", err)
	}
	var offset int64 // 0 sends none
	wait := newBackoff(time.Second, 30*time.Second)
	for ctx.Err() == nil {
		updates, err := api.GetUpdates(ctx, telegram.GetUpdatesParams{
			Offset: offset, Timeout: int(PollTimeout / time.Second), AllowedUpdates: AllowedUpdates,
		})
		if err != nil {
			b.logPollError(ctx, err)
			wait.sleep(ctx)
			continue
		}
		wait.reset()
		if len(updates) == 0 {
			offset = 0
			continue
		}
		for _, u := range updates {
			if err := b.HandleUpdate(ctx, u); err != nil {
				b.log.Error("handling update failed; will retry", "update_id", u.UpdateID, "err", err)
				wait.sleep(ctx)
				break
			}
			offset = u.UpdateID + 1
		}
	}
	return nil
}

func (b *Bot) logPollError(ctx context.Context, err error) {
	var apiErr *telegram.APIError
	switch {
	case ctx.Err() != nil:
		b.log.Debug("polling stopped", "err", err)
	case errors.As(err, &apiErr) && apiErr.Code == 409:
		b.log.Error("getUpdates conflict: another alertgram instance is polling with this token, or a webhook is set; only one poller per bot token can run",
			"err", err)
	default:
		b.log.Warn("getUpdates failed; retrying", "err", err)
	}
}

// RegisterWebhook makes Telegram push updates to url with secret in the
// X-Telegram-Bot-Api-Secret-Token header. One connection at a time keeps
// a chat's updates in the order they were sent (a /start before the /stop
// that follows it).
func (b *Bot) RegisterWebhook(ctx context.Context, api UpdatesAPI, url, secret string) error {
	return api.SetWebhook(ctx, telegram.SetWebhookParams{
		URL: url, SecretToken: secret, AllowedUpdates: AllowedUpdates, MaxConnections: 1,
	})
}

// backoff doubles a wait from min to max; sleep returns early when ctx ends.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max, cur: min} }

func (w *backoff) reset() { w.cur = w.min }

func (w *backoff) sleep(ctx context.Context) {
	t := time.NewTimer(w.cur)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	w.cur = min(2*w.cur, w.max)
}
