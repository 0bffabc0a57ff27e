package tgmarkup

import "strconv"

// Byte helpers with the exact semantics of tdutils/td/utils/misc.h. TDLib
// parsers read past the end of a std::string and see '\0'; byteAt gives Go
// code the same view.

func byteAt(s string, i int) byte {
	if i < 0 || i >= len(s) {
		return 0
	}
	return s[i]
}

// isSpace is td::is_space: note that '\0' and '\v' count, '\f' does not.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0 || c == '\v'
}

func isAlpha(c byte) bool {
	c |= 0x20
	return 'a' <= c && c <= 'z'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

func isHexDigit(c byte) bool {
	if isDigit(c) {
		return true
	}
	c |= 0x20
	return 'a' <= c && c <= 'f'
}

func hexToInt(c byte) uint32 {
	if isDigit(c) {
		return uint32(c - '0')
	}
	return uint32(c|0x20-'a') + 10
}

// isFirstCodeUnit is is_utf8_character_first_code_unit.
func isFirstCodeUnit(c byte) bool { return c&0xc0 != 0x80 }

// utf16Units is how many UTF-16 code units the character starting with the
// byte c takes: TDLib's "1 + (c >= 0xf0)".
func utf16Units(c byte) int {
	if c >= 0xf0 {
		return 2
	}
	return 1
}

// utf16Length is utf8_utf16_length.
func utf16Length(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isFirstCodeUnit(s[i]) {
			n += utf16Units(s[i])
		}
	}
	return n
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// toIntegerSafe is to_integer_safe<int64>: the text must be exactly the
// canonical decimal form of the number.
func toIntegerSafe(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// appendUTF8Unsafe is append_utf8_character_unsafe: it encodes surrogates
// too, which is why parse_html re-checks UTF-8 afterwards.
func appendUTF8Unsafe(b []byte, ch uint32) []byte {
	switch {
	case ch <= 0x7f:
		return append(b, byte(ch))
	case ch <= 0x7ff:
		return append(b, byte(0xc0|ch>>6), byte(0x80|ch&0x3f))
	case ch <= 0xffff:
		return append(b, byte(0xe0|ch>>12), byte(0x80|(ch>>6)&0x3f), byte(0x80|ch&0x3f))
	}
	return append(b, byte(0xf0|ch>>18), byte(0x80|(ch>>12)&0x3f), byte(0x80|(ch>>6)&0x3f), byte(0x80|ch&0x3f))
}
