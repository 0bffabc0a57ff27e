package telegram

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// APIError is a Bot API answer with ok=false, or a non-2xx HTTP answer
// without a usable envelope (then Description is the HTTP status text).
type APIError struct {
	Method      string // Bot API method, e.g. "sendMessage"
	Code        int    // HTTP status; the Bot API sets it equal to error_code
	Description string // e.g. "Bad Request: message is not modified: ..."
	// RetryAfter is parameters.retry_after (or the Retry-After header) on a
	// 429. The client does not retry 429s; the caller should pause the chat
	// for exactly this long before sending to it again.
	RetryAfter time.Duration
	// MigrateToChatID is parameters.migrate_to_chat_id: the group became
	// this supergroup, and the request should be resent there.
	MigrateToChatID int64
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: telegram api error %d: %s", e.Method, e.Code, e.Description)
}

func (c *Client) apiError(method string, resp *http.Response, env envelope) *APIError {
	e := &APIError{Method: method, Code: resp.StatusCode, Description: c.redact(env.Description)}
	if resp.StatusCode/100 == 2 && env.ErrorCode != 0 {
		e.Code = env.ErrorCode // ok=false over HTTP 200: trust the envelope
	}
	if e.Description == "" {
		e.Description = http.StatusText(resp.StatusCode)
	}
	if p := env.Parameters; p != nil {
		e.RetryAfter = time.Duration(p.RetryAfter) * time.Second
		e.MigrateToChatID = p.MigrateToChatID
	}
	if e.RetryAfter == 0 && e.Code == http.StatusTooManyRequests {
		e.RetryAfter = retryAfterHeader(resp.Header)
	}
	return e
}

func retryAfterHeader(h http.Header) time.Duration {
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

func asAPIError(err error) (*APIError, bool) {
	return errors.AsType[*APIError](err)
}

func descriptionHas(err error, substrs ...string) bool {
	e, ok := asAPIError(err)
	if !ok {
		return false
	}
	d := strings.ToLower(e.Description)
	for _, s := range substrs {
		if strings.Contains(d, s) {
			return true
		}
	}
	return false
}

func hasCode(err error, code int) bool {
	e, ok := asAPIError(err)
	return ok && e.Code == code
}

// IsParseError reports a 400 "can't parse entities": the markup is invalid.
// Resend once as plain text; never loop.
func IsParseError(err error) bool {
	return hasCode(err, http.StatusBadRequest) && descriptionHas(err, "can't parse entities")
}

// IsNotModified reports "message is not modified"; treat it as success.
func IsNotModified(err error) bool {
	return descriptionHas(err, "message is not modified")
}

// IsForbidden reports a 403: the bot was blocked, kicked, or cannot write to
// the chat. Do not retry.
func IsForbidden(err error) bool {
	return hasCode(err, http.StatusForbidden)
}

// IsTooManyRequests reports a 429. See RetryAfter.
func IsTooManyRequests(err error) bool {
	return hasCode(err, http.StatusTooManyRequests)
}

// RetryAfter returns how long Telegram asked the caller to wait, if it did.
func RetryAfter(err error) (time.Duration, bool) {
	e, ok := asAPIError(err)
	if !ok || e.RetryAfter <= 0 {
		return 0, false
	}
	return e.RetryAfter, true
}

// MigrateTo returns the supergroup id a group chat was upgraded to, if the
// error says so.
func MigrateTo(err error) (int64, bool) {
	e, ok := asAPIError(err)
	if !ok || e.MigrateToChatID == 0 {
		return 0, false
	}
	return e.MigrateToChatID, true
}

// IsPermanent reports a 4xx other than 429: resending the same request
// cannot succeed.
func IsPermanent(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.Code >= 400 && e.Code < 500 && e.Code != http.StatusTooManyRequests
}

// IsMessageMissing reports that the message to edit, reply to or delete no
// longer exists.
func IsMessageMissing(err error) bool {
	return descriptionHas(err,
		"message to edit not found",
		"message to be replied not found",
		"message to delete not found")
}

const redacted = "<redacted>"

func newRedactor(token string) *strings.Replacer {
	return strings.NewReplacer(token, redacted, url.QueryEscape(token), redacted)
}

func (c *Client) redact(s string) string { return c.redactor.Replace(s) }

// wrap prefixes err with the method name after removing the token from it.
func (c *Client) wrap(method string, err error) error {
	return fmt.Errorf("%s: %w", method, c.scrub(err))
}

// scrub removes the token from err. A top-level *url.Error is rebuilt with a
// redacted URL, keeping its cause for errors.Is/As. Any other error whose
// text still holds the token is replaced by an opaque, redacted copy.
func (c *Client) scrub(err error) error {
	if ue, ok := err.(*url.Error); ok { //nolint:errorlint // only a top-level *url.Error: errors.As would replace a wrapping error (e.g. giveUp's "giving up after") with the bare *url.Error
		err = &url.Error{Op: ue.Op, URL: c.redact(ue.URL), Err: ue.Err}
	}
	if msg := err.Error(); c.redact(msg) != msg {
		return errors.New(c.redact(msg))
	}
	return err
}
