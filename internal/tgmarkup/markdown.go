package tgmarkup

import "fmt"

// mdv1 is the state of TDLib's parse_markdown (the legacy "Markdown" mode):
// entities cannot nest and only _ * ` [ can be escaped.
//
// Like the C++, it writes the result over the text it is reading (buf[:n]
// is the result so far). That is visible in one place: a link without
// "(url)" takes its URL from buf, which earlier escapes may have shifted
// result bytes into.
type mdv1 struct {
	in       []byte
	i        int
	n        int
	utf16    int
	entities []entity
}

func parseMarkdown(text string) (string, []entity, error) {
	p := &mdv1{in: []byte(text)}
	for ; p.i < len(p.in); p.i++ {
		if err := p.step(); err != nil {
			return "", nil, err
		}
	}
	return string(p.in[:p.n]), p.entities, nil
}

func (p *mdv1) at(i int) byte {
	if i >= len(p.in) {
		return 0
	}
	return p.in[i]
}

func (p *mdv1) put(c byte) {
	p.in[p.n] = c
	p.n++
}

func isMarkdownV1Special(c byte) bool { return c == '_' || c == '*' || c == '`' || c == '[' }

func (p *mdv1) step() error {
	c := p.in[p.i]
	if c == '\\' && isMarkdownV1Special(p.at(p.i+1)) {
		p.i++
		p.put(p.in[p.i])
		p.utf16++
		return nil
	}
	if !isMarkdownV1Special(c) {
		p.copyByte()
		return nil
	}
	return p.entity(c)
}

func (p *mdv1) copyByte() {
	if c := p.in[p.i]; isFirstCodeUnit(c) {
		p.utf16 += utf16Units(c)
	}
	p.put(p.in[p.i])
}

// entity copies everything up to the closing character verbatim.
func (p *mdv1) entity(c byte) error {
	begin := p.i
	endChar := c
	if c == '[' {
		endChar = ']'
	}
	p.i++
	isPre, lang := false, ""
	if c == '`' && p.at(p.i) == '`' && p.at(p.i+1) == '`' {
		isPre, lang = true, p.preHeader()
	}
	offset := p.utf16
	for p.i < len(p.in) && (p.in[p.i] != endChar || isPre && !(p.at(p.i+1) == '`' && p.at(p.i+2) == '`')) { //nolint:staticcheck // QF1001: "not followed by ``" reads better negated whole
		p.copyByte()
		p.i++
	}
	if p.i == len(p.in) {
		return parseError(fmt.Sprintf("Can't find end of the entity starting at byte offset %d", begin))
	}
	if offset != p.utf16 {
		p.add(c, begin, entity{offset: offset, length: p.utf16 - offset}, isPre, lang)
	}
	if isPre {
		p.i += 2
	}
	return nil
}

// preHeader skips the rest of the opening fence, reads an optional language
// and skips one line break.
func (p *mdv1) preHeader() string {
	p.i += 2
	lang := ""
	end := p.i
	for !isSpace(p.at(end)) && p.at(end) != '`' {
		end++
	}
	if p.i != end && end < len(p.in) && p.at(end) != '`' {
		lang = string(p.in[p.i:end])
		p.i = end
	}
	if c := p.at(p.i); c == '\n' || c == '\r' {
		if n := p.at(p.i + 1); (n == '\n' || n == '\r') && c != n {
			p.i += 2
		} else {
			p.i++
		}
	}
	return lang
}

func (p *mdv1) add(c byte, begin int, e entity, isPre bool, lang string) {
	switch {
	case c == '_':
		e.kind = kindItalic
	case c == '*':
		e.kind = kindBold
	case c == '[':
		if !p.link(begin, &e) {
			return
		}
	case isPre && lang == "":
		e.kind = kindPre
	case isPre:
		e.kind, e.arg = kindPreCode, lang
	default:
		e.kind = kindCode
	}
	p.entities = append(p.entities, e)
}

// link reads "(url)" after "]" or uses the text as the URL.
func (p *mdv1) link(begin int, e *entity) bool {
	url := string(p.in[begin+1 : p.i])
	if p.at(p.i+1) == '(' {
		p.i += 2
		start := p.i
		for p.i < len(p.in) && p.in[p.i] != ')' {
			p.i++
		}
		url = string(p.in[start:p.i])
	}
	if id, ok := linkUserID(url); ok {
		e.kind, e.userID = kindMentionName, id
		return true
	}
	checked, ok := checkedLink(url)
	e.kind, e.arg = kindTextURL, checked
	return ok
}
