package tgmarkup

import (
	"strings"
	"unicode/utf8"
)

// spaceCharacters are the characters strip_empty_characters turns into
// ' ' (U+202E only when stripping RTLO, which is_empty_string does not).
var spaceCharacters = []string{
	"\u1680", "\u180E", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007",
	"\u2008", "\u2009", "\u200A", "\u202F", "\u205F", "\u2800", "\u3000", "\uFFFC",
}

// invisibleCharacters count as empty: zero-width space, ZWNJ, ZWJ, LRM,
// RLM, RLO, BOM and no-break space.
var invisibleCharacters = []string{
	"\u200B", "\u200C", "\u200D", "\u200E", "\u200F", "\u202E", "\uFEFF", "\u00A0",
}

// isEmptyString is is_empty_string (strip_empty_characters(str).empty()):
// after turning exotic spaces and tag characters into spaces and trimming,
// nothing but spaces, line breaks and invisible characters is left.
func isEmptyString(s string) bool {
	s = strings.Trim(replaceSpaceCharacters(s), " \t\r\n\x00\v")
	for s != "" {
		switch {
		case s[0] == ' ' || s[0] == '\n':
			s = s[1:]
		case hasAnyPrefix(s, invisibleCharacters):
			_, size := utf8.DecodeRuneInString(s)
			s = s[size:]
		default:
			return false
		}
	}
	return true
}

func replaceSpaceCharacters(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case hasAnyPrefix(s[i:], spaceCharacters):
			b.WriteByte(' ')
			i += 3
		case isTagCharacter(s[i:]):
			b.WriteByte(' ')
			i += 4
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// isTagCharacter matches U+E0000..U+E007F (F3 A0 80|81 xx).
func isTagCharacter(s string) bool {
	return len(s) >= 4 && s[0] == 0xF3 && s[1] == 0xA0 && s[2]&0xFE == 0x80
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
