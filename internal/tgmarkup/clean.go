package tgmarkup

// cleanByte classifies one byte the way clean_input_string does.
type cleanAction int

const (
	keepByte  cleanAction = iota
	spaceByte             // control characters become ' ' ('\n' stays)
	dropByte              // '\r' is removed
	dropChar              // U+2028..U+202E and some combining marks are removed
)

// cleanAt decides what happens to text[pos] and, for dropChar, how many
// bytes the removed character has.
func cleanAt(text string, pos int) (cleanAction, int) {
	c := text[pos]
	switch {
	case c == '\r':
		return dropByte, 1
	case c <= 32 && c != '\n':
		return spaceByte, 1
	case c == 0xe2 && pos+2 < len(text) && text[pos+1] == 0x80 && 0xa8 <= text[pos+2] && text[pos+2] <= 0xae:
		return dropChar, 3
	case c == 0xcc && pos+1 < len(text) && (text[pos+1] == 0xb3 || text[pos+1] == 0xbf || text[pos+1] == 0x8a):
		return dropChar, 2 // vertical lines
	}
	return keepByte, 1
}

// cleanInputString is clean_input_string for valid UTF-8 (checked
// earlier): it also stops just short of the 35000-byte limit.
func cleanInputString(text string) string {
	out := make([]byte, 0, len(text))
	for pos := 0; pos < len(text); pos++ {
		action, size := cleanAt(text, pos)
		switch action {
		case spaceByte:
			out = append(out, ' ')
		case keepByte:
			out = append(out, text[pos])
		case dropChar:
			pos += size - 1
		}
		if len(out) >= lengthLimit-3 && isFirstCodeUnit(out[len(out)-1]) {
			out = out[:len(out)-1]
			break
		}
	}
	return replaceOffendingCharacters(out)
}

// openEntity is an entity whose end cleanInputStringWithEntities has not
// reached yet, with the UTF-16 units removed before it started.
type openEntity struct {
	index         int
	skippedBefore int
}

// cleanInputStringWithEntities is clean_input_string_with_entities: the
// same cleaning, moving entity offsets and lengths over removed characters.
// Its errors (entities splitting a surrogate pair or outside the text)
// cannot happen for entities the parsers produce, so they are not ported.
func cleanInputStringWithEntities(text string, es []entity) (string, []entity) {
	var stack []openEntity
	next, utf16, skipped := 0, 0, 0
	out := make([]byte, 0, len(text))
	for pos := 0; pos <= len(text); pos++ {
		if c := byteAt(text, pos); pos == len(text) || isFirstCodeUnit(c) {
			for len(stack) > 0 && utf16 >= es[stack[len(stack)-1].index].end() {
				top := stack[len(stack)-1]
				es[top.index].offset -= top.skippedBefore
				es[top.index].length -= skipped - top.skippedBefore
				stack = stack[:len(stack)-1]
			}
			for ; next < len(es) && utf16 >= es[next].offset; next++ {
				stack = append(stack, openEntity{index: next, skippedBefore: skipped})
			}
		}
		if pos == len(text) {
			break
		}
		action, size := cleanAt(text, pos)
		switch action {
		case spaceByte:
			out = append(out, ' ')
			utf16++
		case dropByte:
			utf16++
			skipped++
		case dropChar:
			utf16++
			skipped++
			pos += size - 1
		default:
			if isFirstCodeUnit(text[pos]) {
				utf16 += utf16Units(text[pos])
			}
			out = append(out, text[pos])
		}
	}
	return replaceOffendingCharacters(out), es
}

// replaceOffendingCharacters is replace_offending_characters: in a run of
// LRM/RLM marks all but the last become ZERO WIDTH NON-JOINER.
func replaceOffendingCharacters(b []byte) string {
	isMark := func(i int) bool {
		return i+2 < len(b) && b[i] == 0xe2 && b[i+1] == 0x80 && (b[i+2] == 0x8e || b[i+2] == 0x8f)
	}
	for pos := 0; pos < len(b); pos++ {
		if !isMark(pos) {
			continue
		}
		for isMark(pos + 3) {
			b[pos+2] = 0x8c
			pos += 3
		}
		pos += 2
	}
	return string(b)
}
