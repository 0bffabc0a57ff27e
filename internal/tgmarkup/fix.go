package tgmarkup

// lengthLimit is the server-side byte limit fix_formatted_text and
// clean_input_string truncate to.
const lengthLimit = 35000

// fixFormattedText is TDLib's fix_formatted_text as run for an outgoing
// message (sendMessage): clean the text, fix entities, trim spaces and line
// breaks at both ends. It ports the allow_empty path: an empty or
// invisible-only result is returned as "" (TDLib's "Text must be
// non-empty"). Entities TDLib would add by itself (URLs, mentions, ...) are
// not searched for: they change no length.
func fixFormattedText(text string, es []entity) (string, []entity) {
	var result string
	if len(es) == 0 {
		result = cleanInputString(text)
	} else {
		es = fixEntities(removeEmptyEntities(es))
		result, es = cleanInputStringWithEntities(text, es)
	}
	lastPos, lastUTF16, es := removeInvalidEntities(result, es)
	if lastUTF16 == -1 {
		return "", nil
	}
	es = fixEntities(es)
	result, es = trimFormattedText(result, es, lastPos, lastUTF16)
	if isEmptyString(result) {
		return "", nil
	}
	return truncateToLimit(result, es)
}

// removeInvalidEntities is remove_invalid_entities: it drops empty entities
// and finds the last byte and UTF-16 offset that is not ' ' or '\n'
// (-1 when there is none).
func removeInvalidEntities(text string, es []entity) (int, int, []entity) {
	if len(es) == 0 {
		for pos := len(text) - 1; pos >= 0; pos-- {
			if text[pos] != '\n' && text[pos] != ' ' {
				return pos, 0, es
			}
		}
		return len(text), -1, es
	}
	es = removeEmptyEntities(es)
	lastPos, lastUTF16, utf16 := len(text), -1, 0
	for pos := 0; pos < len(text); pos++ {
		if c := text[pos]; c != '\n' && c != ' ' {
			for !isFirstCodeUnit(byteAt(text, pos+1)) {
				pos++
			}
			utf16 += utf16Units(c) - 1
			lastPos, lastUTF16 = pos, utf16
		}
		utf16++
	}
	return lastPos, lastUTF16, es
}

// trimFormattedText cuts trailing whitespace (shortening entities that
// reach into it) and leading whitespace before the first entity.
func trimFormattedText(text string, es []entity, lastPos, lastUTF16 int) (string, []entity) {
	text = text[:lastPos+1]
	for len(es) > 0 && es[len(es)-1].offset > lastUTF16 {
		es = es[:len(es)-1]
	}
	needSort := false
	for i := range es {
		if es[i].end() > lastUTF16+1 {
			es[i].length = lastUTF16 + 1 - es[i].offset
			needSort = true
		}
	}
	if needSort {
		sortEntities(es)
	}
	// The first entity's UTF-16 offset bounds a byte index here, as in
	// TDLib; only ASCII is skipped, so the two agree.
	firstEntity := len(text)
	if len(es) > 0 {
		firstEntity = es[0].offset
	}
	n := 0
	for n < firstEntity && (text[n] == ' ' || text[n] == '\n') {
		n++
	}
	for i := range es {
		es[i].offset -= n
	}
	return text[n:], es
}

// truncateToLimit applies the 35000-byte server limit, dropping entities
// that would end past the cut.
func truncateToLimit(text string, es []entity) (string, []entity) {
	if len(text) <= lengthLimit {
		return text, es
	}
	n := lengthLimit
	for !isFirstCodeUnit(text[n]) {
		n--
	}
	text = text[:n]
	size := utf16Length(text)
	kept := es[:0]
	for _, e := range es {
		if e.end() <= size {
			kept = append(kept, e)
		}
	}
	return text, kept
}

// fixEntities is fix_entities: it makes entities nest properly, dropping
// intersecting continuous entities and splitting or merging bold, italic,
// underline, strikethrough and spoiler around them.
func fixEntities(es []entity) []entity {
	sortEntities(es)
	if areEntitiesValid(es) {
		return es
	}
	var continuous, quotes, splittable []entity
	for _, e := range es {
		switch {
		case e.kind.splittable():
			splittable = append(splittable, e)
		case e.kind.blockquote():
			quotes = append(quotes, e)
		default:
			continuous = append(continuous, e)
		}
	}
	continuous = removeIntersectingEntities(continuous)
	if len(quotes) > 0 {
		quotes = removeIntersectingEntities(quotes)
		continuous = removeEntitiesIntersectingBlockquote(continuous, quotes)
		continuous = append(continuous, quotes...)
		sortEntities(continuous)
	}
	return resplitEntities(splittable, continuous)
}

func resplitEntities(splittable, es []entity) []entity {
	if len(splittable) == 0 {
		return es
	}
	splittable = splitEntities(splittable, es)
	if len(es) == 0 {
		return splittable
	}
	es = append(es, splittable...)
	sortEntities(es)
	return es
}

// removeIntersectingEntities keeps, in order, only entities that start
// after the previous kept one ended (nested ones go too).
func removeIntersectingEntities(es []entity) []entity {
	kept, lastEnd := es[:0], 0
	for _, e := range es {
		if e.offset >= lastEnd {
			lastEnd = e.end()
			kept = append(kept, e)
		}
	}
	return kept
}

// removeEntitiesIntersectingBlockquote drops entities that cross a quote
// boundary; entities fully inside a quote stay.
func removeEntitiesIntersectingBlockquote(es, quotes []entity) []entity {
	kept, q := es[:0], 0
	for _, e := range es {
		for q < len(quotes) && (!quotes[q].kind.blockquote() || quotes[q].end() <= e.offset) {
			q++
		}
		if q < len(quotes) && (quotes[q].end() < e.end() ||
			e.offset < quotes[q].offset && quotes[q].offset < e.end()) {
			continue
		}
		kept = append(kept, e)
	}
	return kept
}
