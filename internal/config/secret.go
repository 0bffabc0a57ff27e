package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

const redacted = "<secret>"

// Secret is a string that never prints: fmt (every verb), YAML, JSON, text
// and slog all see "<secret>". Marshalling an empty Secret gives "" so a
// dumped config still shows which secrets are unset. Reveal returns the value.
type Secret string

// Reveal returns the real value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is unset.
func (s Secret) IsZero() bool { return s == "" }

// String returns "<secret>".
func (s Secret) String() string { return redacted }

// GoString returns "<secret>", for %#v.
func (s Secret) GoString() string { return redacted }

// Format prints "<secret>" for every verb. Without it a verb that does not
// use String (for example %d) would fall back to printing the raw string.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(redacted))
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// LogValue makes slog print "<secret>".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalYAML emits "<secret>" ("" when unset).
func (s Secret) MarshalYAML() (any, error) { return s.masked(), nil }

// MarshalJSON emits "<secret>" ("" when unset).
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.masked()) }

// MarshalText emits "<secret>" ("" when unset).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.masked()), nil }

func (s Secret) masked() string {
	if s == "" {
		return ""
	}
	return redacted
}
