package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxWebhookAttempts bounds delivery of one update ("a reasonable amount
// of attempts"); after that the update is dropped.
const maxWebhookAttempts = 3

const maxSecretTokenLength = 256

// webhook is the state set by setWebhook.
type webhook struct {
	url            string
	secret         string
	maxConnections int
	allowed        []string
	attempts       int // failed attempts for the first queued update
	lastErrorDate  time.Time
	lastError      string
}

// deliveryJob is one POST of the first queued update.
type deliveryJob struct {
	update  queuedUpdate
	url     string
	secret  string
	attempt int
}

func (f *Telegram) setWebhook(req *request) (any, *apiError) {
	u := strings.TrimSpace(req.str("url"))
	if u == "" {
		return f.deleteWebhook(req)
	}
	if aerr := checkSecretToken(req.str("secret_token")); aerr != nil {
		return nil, aerr
	}
	if aerr := checkWebhookURL(u); aerr != nil {
		return nil, aerr
	}
	maxConn, aerr := req.integer("max_connections")
	if aerr != nil {
		return nil, aerr
	}
	var allowed []string
	_, _ = req.object("allowed_updates", &allowed)
	f.mu.Lock()
	defer f.mu.Unlock()
	description := "Webhook was set"
	if f.webhook.url == u {
		description = "Webhook is already set"
	}
	f.webhook = webhook{url: u, secret: req.str("secret_token"), maxConnections: int(maxConn), allowed: allowed}
	if !isLoopbackURL(u) {
		f.webhook.lastErrorDate, f.webhook.lastError = f.now(), "fake Telegram delivers only to loopback addresses"
	}
	f.dropPendingIf(req.boolean("drop_pending_updates"))
	f.notify()
	return described{result: true, description: description}, nil
}

// checkSecretToken: 0-256 characters of A-Z, a-z, 0-9, _ and -.
func checkSecretToken(s string) *apiError {
	if len(s) > maxSecretTokenLength {
		return badRequest("secret token is too long")
	}
	if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		return badRequest("secret token contains unallowed characters")
	}
	return nil
}

// checkWebhookURL wants HTTPS like Telegram, except that the fake also
// takes plain HTTP to a loopback address, where tests listen.
func checkWebhookURL(s string) *apiError {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return badRequest("bad webhook: invalid webhook URL specified")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackURL(s)) { //nolint:staticcheck // QF1001: the exception (plain HTTP to loopback) reads better as one negated case
		return badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	return nil
}

func isLoopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (f *Telegram) deleteWebhook(req *request) (any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	description := "Webhook was deleted"
	if f.webhook.url == "" {
		description = "Webhook is already deleted"
	}
	f.webhook = webhook{}
	f.dropPendingIf(req.boolean("drop_pending_updates"))
	f.notify()
	return described{result: true, description: description}, nil
}

func (f *Telegram) dropPendingIf(drop bool) {
	if drop {
		f.updates = nil
	}
}

func (f *Telegram) getWebhookInfo(*request) (any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.webhook
	info := map[string]any{"url": w.url, "has_custom_certificate": false, "pending_update_count": len(f.updates)}
	if w.url != "" {
		info["max_connections"] = cmpOr(w.maxConnections, 40)
		if w.allowed != nil {
			info["allowed_updates"] = w.allowed
		}
	}
	if w.lastError != "" {
		info["last_error_date"], info["last_error_message"] = w.lastErrorDate.Unix(), w.lastError
	}
	return info, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// runWebhookSender POSTs queued updates, one at a time and in order, while
// a loopback webhook is set.
func (f *Telegram) runWebhookSender() {
	defer f.wg.Done()
	for {
		f.mu.Lock()
		job, ok := f.nextDelivery()
		changed := f.changed
		f.mu.Unlock()
		if ok {
			status, err := f.post(job)
			f.mu.Lock()
			f.finishDelivery(job, status, err)
			f.mu.Unlock()
			continue
		}
		select {
		case <-changed:
		case <-f.ctx.Done():
			return
		}
	}
}

// nextDelivery picks the first queued update; call with f.mu held.
func (f *Telegram) nextDelivery() (deliveryJob, bool) {
	w := f.webhook
	if w.url == "" || len(f.updates) == 0 || !isLoopbackURL(w.url) || f.ctx.Err() != nil {
		return deliveryJob{}, false
	}
	return deliveryJob{update: f.updates[0], url: w.url, secret: w.secret, attempt: w.attempts + 1}, true
}

func (f *Telegram) post(job deliveryJob) (int, error) {
	body, err := json.Marshal(job.update.json())
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(f.ctx, http.MethodPost, job.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if job.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", job.secret)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// finishDelivery records an attempt and, on success or after the last
// attempt, removes the update; call with f.mu held.
func (f *Telegram) finishDelivery(job deliveryJob, status int, err error) {
	d := Delivery{UpdateID: job.update.id, URL: job.url, Attempt: job.attempt, Status: status}
	if err != nil {
		d.Err = err.Error()
	}
	f.deliveries = append(f.deliveries, d)
	defer f.notify()
	if f.webhook.url != job.url || len(f.updates) == 0 || f.updates[0].id != job.update.id {
		return // the webhook or the queue changed meanwhile
	}
	if err == nil && status >= 200 && status < 300 {
		f.updates, f.webhook.attempts = f.updates[1:], 0
		return
	}
	f.webhook.lastErrorDate, f.webhook.lastError = f.now(), deliveryError(status, err)
	if f.webhook.attempts++; f.webhook.attempts >= maxWebhookAttempts {
		f.updates, f.webhook.attempts = f.updates[1:], 0
	}
}

func deliveryError(status int, err error) string {
	if err != nil {
		return "Connection failed: " + err.Error()
	}
	return fmt.Sprintf("Wrong response from the webhook: %d %s", status, http.StatusText(status))
}
