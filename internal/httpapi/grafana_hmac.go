package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Defaults of GrafanaHMAC (PROTOCOLS.md §3.3).
const (
	// DefaultGrafanaHMACHeader is the header Grafana's contact point form
	// suggests for the signature.
	DefaultGrafanaHMACHeader = "X-Grafana-Alerting-Signature"
	DefaultGrafanaHMACMaxAge = 5 * time.Minute

	// grafanaFallbackHeader is where Grafana actually puts the signature
	// when hmacConfig.header is left empty (grafana/alerting http/hmac.go
	// defaultHeaderName), despite the form's placeholder. With the default
	// header configured, it is accepted too: otherwise a Grafana set up
	// with defaults would fail every notification, and Grafana does not
	// retry.
	grafanaFallbackHeader = "X-Grafana-Alert-Signature"
)

// GrafanaHMAC verifies the signature Grafana 12+ sends with a webhook when
// the contact point has an hmacConfig: lowercase hex HMAC-SHA256(secret,
// body) in Header, or of "<ts>:"+body when TimestampHeader is set and
// carries ts, the Unix seconds of sending. An empty Secret turns it off.
type GrafanaHMAC struct {
	Secret          string
	Header          string        // empty: DefaultGrafanaHMACHeader
	TimestampHeader string        // empty: no timestamp
	MaxAge          time.Duration // how far ts may be from now either way; 0: DefaultGrafanaHMACMaxAge
}

// NewGrafanaHMAC builds a GrafanaHMAC; its parameters are in the order of
// config.GrafanaHMAC.Reveal, so that app can write
// httpapi.NewGrafanaHMAC(cfg.WebhookAuth.GrafanaHMAC.Reveal()).
func NewGrafanaHMAC(secret, header, timestampHeader string, maxAge time.Duration) GrafanaHMAC {
	return GrafanaHMAC{Secret: secret, Header: header, TimestampHeader: timestampHeader, MaxAge: maxAge}
}

func (h GrafanaHMAC) header() string {
	if h.Header == "" {
		return DefaultGrafanaHMACHeader
	}
	return h.Header
}

// defaultHeader reports whether the signature header is the default one,
// which Grafana's own default is accepted for too.
func (h GrafanaHMAC) defaultHeader() bool {
	return strings.EqualFold(h.header(), DefaultGrafanaHMACHeader)
}

// signature returns the signature sent, from the configured header or,
// with the default header configured, from Grafana's default one.
func (h GrafanaHMAC) signature(header http.Header) string {
	if s := header.Get(h.header()); s != "" || !h.defaultHeader() {
		return s
	}
	return header.Get(grafanaFallbackHeader)
}

// headerNames names the header(s) the signature is read from.
func (h GrafanaHMAC) headerNames() string {
	if h.defaultHeader() {
		return h.header() + " (or " + grafanaFallbackHeader + ", Grafana's default)"
	}
	return h.header()
}

func (h GrafanaHMAC) maxAge() time.Duration {
	if h.MaxAge <= 0 {
		return DefaultGrafanaHMACMaxAge
	}
	return h.MaxAge
}

// verifyGrafanaHMAC is the middleware of /webhook/grafana/*: with a secret
// configured, a request needs a valid signature (and a fresh timestamp,
// when a timestamp header is configured) or it gets 401. It reads the
// body within the size limit and puts it back for the handler.
func (h *webhooks) verifyGrafanaHMAC(c *gin.Context) {
	cfg := h.deps.GrafanaHMAC
	if cfg.Secret == "" {
		return
	}
	signature := cfg.signature(c.Request.Header)
	if signature == "" {
		h.rejectSignature(c, "missing signature: header "+cfg.headerNames()+" is not set")
		return
	}
	var ts string
	if cfg.TimestampHeader != "" {
		if ts = c.GetHeader(cfg.TimestampHeader); ts == "" {
			h.rejectSignature(c, "missing timestamp: header "+cfg.TimestampHeader+" is not set")
			return
		}
	}
	body, err := h.readBody(c)
	if errors.Is(err, errBodyTooLarge) {
		h.metrics.received.WithLabelValues(sourceFromPath(c), "unknown", "too_large").Inc()
		abort(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the limit of %d bytes", h.deps.MaxBodyBytes))
		return
	}
	if err != nil {
		h.metrics.received.WithLabelValues(sourceFromPath(c), "unknown", "invalid").Inc()
		abort(c, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	if !validSignature(cfg.Secret, ts, body, signature) {
		h.rejectSignature(c, "bad signature: header "+cfg.headerNames()+" is not the HMAC-SHA256 of the body with the configured secret")
		return
	}
	if ts != "" {
		if msg := checkTimestamp(cfg.TimestampHeader, ts, h.now(), cfg.maxAge()); msg != "" {
			h.rejectSignature(c, msg)
		}
	}
}

// validSignature compares, in constant time, the hex signature with
// HMAC-SHA256(secret, body), or of ts+":"+body when ts is set.
func validSignature(secret, ts string, body []byte, signature string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	if ts != "" {
		mac.Write([]byte(ts + ":"))
	}
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// checkTimestamp says what is wrong with a signed timestamp, or "". It is
// checked after the signature, so a stale one is a genuine old request (a
// replay, or clocks apart) rather than a forgery.
func checkTimestamp(header, ts string, now time.Time, maxAge time.Duration) string {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Sprintf("bad timestamp: header %s is %q, not Unix seconds", header, ts)
	}
	age := now.Sub(time.Unix(sec, 0))
	switch {
	case age > maxAge:
		return fmt.Sprintf("stale timestamp: header %s is %s old, more than %s (a replay, or clocks apart)", header, age.Truncate(time.Second), maxAge)
	case -age > maxAge:
		return fmt.Sprintf("stale timestamp: header %s is %s in the future, more than %s (clocks apart)", header, (-age).Truncate(time.Second), maxAge)
	}
	return ""
}

func (h *webhooks) rejectSignature(c *gin.Context, msg string) {
	h.reject(c, `HMAC-SHA256 header="`+h.deps.GrafanaHMAC.header()+`"`, msg)
}
