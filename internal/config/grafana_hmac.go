package config

import (
	"fmt"
	"strings"
	"time"
)

// Defaults of webhook_auth.grafana_hmac (PROTOCOLS.md §3.3).
const (
	DefaultGrafanaHMACHeader = "X-Grafana-Alerting-Signature"
	DefaultGrafanaHMACMaxAge = 5 * time.Minute
)

// GrafanaHMAC verifies the signature Grafana 12+ puts on webhook requests
// (the contact point's hmacConfig): lowercase hex HMAC-SHA256 of the body,
// or of "<timestamp>:<body>" when a timestamp header is configured. It
// applies to /webhook/grafana/* only; nil (the key absent) means off.
type GrafanaHMAC struct {
	Secret     Secret `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	// Header carries the signature; default X-Grafana-Alerting-Signature,
	// with which X-Grafana-Alert-Signature (where Grafana puts it when its
	// hmacConfig.header is empty) is accepted too.
	Header string `yaml:"header"`
	// TimestampHeader carries the Unix seconds that were signed with the
	// body; empty (the default, as in Grafana) means no timestamp.
	TimestampHeader string `yaml:"timestamp_header"`
	// MaxAge is how far the timestamp may be from now, either way; default
	// 5m. Used only with TimestampHeader.
	MaxAge time.Duration `yaml:"max_age"`
}

// setDefaults is called when a grafana_hmac mapping is decoded.
func (h *GrafanaHMAC) setDefaults() {
	h.Header = DefaultGrafanaHMACHeader
	h.MaxAge = DefaultGrafanaHMACMaxAge
}

// Reveal returns the settings as plain values for the HTTP layer, the
// secret included; call it only where the values are used. A nil
// GrafanaHMAC (not configured) gives zero values: verification off.
func (h *GrafanaHMAC) Reveal() (secret, header, timestampHeader string, maxAge time.Duration) {
	if h == nil {
		return "", "", "", 0
	}
	return h.Secret.Reveal(), h.Header, h.TimestampHeader, h.MaxAge
}

// Format prints a GrafanaHMAC with its secret as <secret> for every verb
// (%d of the struct would otherwise print the Secret's bytes raw).
func (h GrafanaHMAC) Format(f fmt.State, _ rune) {
	switch {
	case f.Flag('#'):
		fmt.Fprintf(f, "config.GrafanaHMAC{Secret:%#v, SecretFile:%#v, Header:%#v, TimestampHeader:%#v, MaxAge:%#v}",
			h.Secret, h.SecretFile, h.Header, h.TimestampHeader, h.MaxAge)
	case f.Flag('+'):
		fmt.Fprintf(f, "{Secret:%+v SecretFile:%+v Header:%+v TimestampHeader:%+v MaxAge:%+v}",
			h.Secret, h.SecretFile, h.Header, h.TimestampHeader, h.MaxAge)
	default:
		fmt.Fprintf(f, "{%v %v %v %v %v}", h.Secret, h.SecretFile, h.Header, h.TimestampHeader, h.MaxAge)
	}
}

// grafanaHMAC validates webhook_auth.grafana_hmac.
func (p *problems) grafanaHMAC(h *GrafanaHMAC) {
	if h == nil {
		return
	}
	const key = "webhook_auth.grafana_hmac"
	if h.Secret.IsZero() {
		p.addf(key+".secret", "required (set secret or secret_file)")
	}
	if !isHeaderName(h.Header) {
		p.addf(key+".header", "%q is not an HTTP header name", h.Header)
	}
	if h.TimestampHeader != "" && !isHeaderName(h.TimestampHeader) {
		p.addf(key+".timestamp_header", "%q is not an HTTP header name", h.TimestampHeader)
	}
	if h.TimestampHeader != "" && strings.EqualFold(h.TimestampHeader, h.Header) {
		p.addf(key+".timestamp_header", "must differ from header (%q)", h.Header)
	}
	if h.MaxAge < time.Second || h.MaxAge > 24*time.Hour {
		p.addf(key+".max_age", "%v is outside 1s..24h", h.MaxAge)
	}
}

// isHeaderName reports whether s is an RFC 9110 field name: a token of
// visible ASCII without separators.
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	return true
}
