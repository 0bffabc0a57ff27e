// Package telegram is a typed client for the subset of the Telegram Bot API
// that alertgram uses. It is a leaf package: it imports nothing from
// alertgram's internal packages.
//
// Every request goes through one chokepoint, (*Client).call, which POSTs
// JSON, decodes the Bot API envelope and turns a non-ok answer into an
// *APIError. Callers inspect errors with errors.As or the Is*/RetryAfter/
// MigrateTo helpers.
//
// # Retries
//
// The client retries, with exponential backoff and jitter, only failures
// that say nothing about the request itself: transport errors and HTTP 5xx.
// It never retries a 4xx. In particular it does not retry 429 Too Many
// Requests: the *APIError carries RetryAfter (Telegram's
// parameters.retry_after) so the caller, which knows which chat is being
// throttled, can pause that chat for exactly that long. Nothing is retried
// once the context is done.
//
// # Secrets
//
// The bot token is part of every request URL. It never appears in an error
// string or in anything the client logs: transport errors are rewritten with
// the token replaced by "<redacted>" (for example
// "/bot<redacted>/sendMessage").
package telegram
