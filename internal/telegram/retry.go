package telegram

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// checkRetry retries transport errors (except those retryablehttp knows to
// be permanent: bad scheme, bad header, redirect loop, untrusted
// certificate) and 5xx answers. It never retries a 4xx, 429 included: a 429
// is returned to the caller with RetryAfter set. Nothing is retried once ctx
// is done.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, nil, err)
	}
	return resp.StatusCode >= 500, nil
}

// backoff doubles minWait per attempt up to maxWait, then picks a uniformly
// random wait in [d/2, d] so that clients do not retry in lockstep.
func backoff(minWait, maxWait time.Duration, attempt int, _ *http.Response) time.Duration {
	d := minWait
	for i := 0; i < attempt && d < maxWait; i++ {
		d = min(2*d, maxWait)
		if d <= 0 { // overflow
			d = maxWait
		}
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d-d/2+1)
}

// retryLogger adapts the client's slog.Logger to retryablehttp's
// LeveledLogger. retryablehttp logs request URLs, which contain the token, so
// every message and value is redacted first. Everything goes out at Debug:
// the outcome of a call is returned to the caller, who decides how loud to be.
type retryLogger struct{ c *Client }

var _ retryablehttp.LeveledLogger = retryLogger{}

func (l retryLogger) Error(msg string, kv ...any) { l.log(msg, kv) }
func (l retryLogger) Warn(msg string, kv ...any)  { l.log(msg, kv) }
func (l retryLogger) Info(msg string, kv ...any)  { l.log(msg, kv) }
func (l retryLogger) Debug(msg string, kv ...any) { l.log(msg, kv) }

func (l retryLogger) log(msg string, kv []any) {
	args := make([]any, len(kv))
	for i, v := range kv {
		if i%2 == 0 && v == "error" {
			v = "err" // the project's key for errors
		}
		args[i] = l.c.scrubValue(v)
	}
	l.c.log.Debug(l.c.redact(msg), args...)
}

// scrubValue keeps plain numbers and durations and renders everything else
// as a redacted string, so no value can carry the token into a log line.
func (c *Client) scrubValue(v any) any {
	switch v := v.(type) {
	case bool, int, int64, time.Duration:
		return v
	default:
		return c.redact(fmt.Sprint(v))
	}
}
