package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// ErrSilenceNotFound is returned (wrapped) when the silence does not exist.
// Callers expiring a silence treat it as "already gone".
var ErrSilenceNotFound = errors.New("silence not found")

// maxMessageBytes bounds the message taken from an error body: it ends up
// in a Telegram message and in logs.
const maxMessageBytes = 512

// APIError is a non-2xx answer from Alertmanager (or Grafana).
type APIError struct {
	Method  string
	URL     string // without credentials
	Status  int
	Message string // from the body; see errorMessage

	service string // "alertmanager" or "grafana", for Error
}

// Error reads well to an on-call user, e.g.
// "alertmanager: 400 Failed to create silence: end time can't be in the past".
func (e *APIError) Error() string {
	service := e.service
	if service == "" {
		service = Upstream.String()
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s: %d %s", service, e.Status, msg)
}

// Is makes errors.Is(err, ErrSilenceNotFound) true for a missing silence.
func (e *APIError) Is(target error) bool {
	return target == ErrSilenceNotFound && e.silenceNotFound()
}

// peerTrouble reports a status that says "this peer cannot serve now"
// rather than "the request is wrong": 429 and 5xx, except Alertmanager
// 0.25's 500 for an unknown silence, which is an answer.
func (e *APIError) peerTrouble() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500 && !e.silenceNotFound()
}

// silenceNotFound: 404 (Alertmanager 0.26+, Grafana), or the 500 with the
// body "silence not found" that Alertmanager 0.25 and older send for an
// unknown id.
func (e *APIError) silenceNotFound() bool {
	return e.Status == http.StatusNotFound ||
		e.Status == http.StatusInternalServerError && strings.EqualFold(e.Message, ErrSilenceNotFound.Error())
}

// errorMessage extracts the message of an error body. Alertmanager sends a
// JSON string ("Failed to create silence: ..."), or for schema errors an
// object {"code":602,"message":"..."}; Grafana sends {"message":"..."}.
// Anything else is shown as the raw text. The result is one line, at most
// maxMessageBytes long.
func errorMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	var text string
	if err := json.Unmarshal(body, &text); err != nil {
		var obj struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		switch {
		case json.Unmarshal(body, &obj) == nil && obj.Message != "":
			text = obj.Message
		case obj.Error != "":
			text = obj.Error
		default:
			text = string(body)
		}
	}
	return shorten(strings.Join(strings.Fields(strings.ToValidUTF8(text, "\uFFFD")), " "))
}

// shorten cuts s to maxMessageBytes on a rune boundary.
func shorten(s string) string {
	if len(s) <= maxMessageBytes {
		return s
	}
	cut := maxMessageBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// allFailedError is returned when every peer failed; it wraps the last
// peer's error.
type allFailedError struct {
	service string
	tried   int
	last    error
}

func (e *allFailedError) Error() string {
	last := strings.TrimPrefix(e.last.Error(), e.service+": ")
	return fmt.Sprintf("%s: all %d peers failed; last error: %s", e.service, e.tried, last)
}

func (e *allFailedError) Unwrap() error { return e.last }
