package tgmarkup

import (
	"fmt"
	"strings"
)

// mdv2 is the state of TDLib's parse_markdown_v2, split into methods; the
// C++ is one loop over the bytes of the text with these same variables.
type mdv2 struct {
	in       string
	i        int
	out      []byte
	utf16    int
	nested   []mdv2Open
	entities []entity
	// haveQuote and canStartQuote are have_blockquote and
	// can_start_blockquote: '>' starts a quote only at a line start.
	haveQuote     bool
	canStartQuote bool
}

// mdv2Open is an entity whose end is still to be found (EntityInfo).
type mdv2Open struct {
	kind       kind
	arg        string
	utf16      int // entity_offset
	byteOffset int // entity_byte_offset, reported in errors
	outPos     int // entity_begin_pos, in the parsed text
}

const mdv2Reserved = "_*[]()~`>#+-=|{}.!\n"

func parseMarkdownV2(text string) (string, []entity, error) {
	p := &mdv2{in: text, canStartQuote: true}
	for ; p.i < len(p.in); p.i++ {
		if err := p.step(); err != nil {
			return "", nil, err
		}
	}
	if err := p.finish(); err != nil {
		return "", nil, err
	}
	sortEntities(p.entities)
	return string(p.out), p.entities, nil
}

func (p *mdv2) at(i int) byte { return byteAt(p.in, i) }

func (p *mdv2) top() *mdv2Open { return &p.nested[len(p.nested)-1] }

func (p *mdv2) pop() { p.nested = p.nested[:len(p.nested)-1] }

func (p *mdv2) step() error {
	c := p.in[p.i]
	if p.escape(c) {
		return nil
	}
	if !strings.ContainsRune(p.reserved(), rune(c)) {
		p.plain(c)
		return nil
	}
	if p.isEnd(c) {
		return p.end(c)
	}
	return p.begin(c)
}

// escape handles "\x" for any x in 1..126, anywhere outside a URL.
func (p *mdv2) escape(c byte) bool {
	next := p.at(p.i + 1)
	if c != '\\' || next == 0 || next > 126 {
		return false
	}
	p.i++
	p.utf16++
	p.out = append(p.out, next)
	if next != '\r' {
		p.canStartQuote = next == '\n'
	}
	return true
}

// reserved is the set of characters that are markup here: inside code and
// pre only '`' is.
func (p *mdv2) reserved() string {
	if len(p.nested) > 0 && p.top().kind.pre() {
		return "`"
	}
	return mdv2Reserved
}

func (p *mdv2) plain(c byte) {
	if isFirstCodeUnit(c) {
		p.utf16 += utf16Units(c)
		if c != '\r' {
			p.canStartQuote = false
		}
	}
	p.out = append(p.out, c)
}

// isEnd decides whether c closes the innermost open entity; inside a quote a
// line break not followed by '>' closes it, whatever is open.
func (p *mdv2) isEnd(c byte) bool {
	if len(p.nested) == 0 {
		return false
	}
	if p.haveQuote && c == '\n' && (p.i+1 == len(p.in) || p.at(p.i+1) != '>') {
		return true
	}
	next := p.at(p.i + 1)
	switch p.top().kind {
	case kindBold:
		return c == '*'
	case kindItalic:
		return c == '_' && next != '_'
	case kindCode:
		return c == '`'
	case kindPre, kindPreCode:
		return c == '`' && next == '`' && p.at(p.i+2) == '`'
	case kindTextURL, kindCustomEmoji:
		return c == ']'
	case kindUnderline:
		return c == '_' && next == '_'
	case kindStrikethrough:
		return c == '~'
	case kindSpoiler:
		return c == '|' && next == '|'
	}
	return false // BlockQuote
}

func reservedError(c byte) error {
	return parseError(fmt.Sprintf("Character '%c' is reserved and must be escaped with the preceding '\\'", c))
}

func noEndError(o *mdv2Open) error {
	return parseError(fmt.Sprintf("Can't find end of %s entity at byte offset %d", o.kind, o.byteOffset))
}

// begin opens an entity at c, or handles a line break or quote marker.
func (p *mdv2) begin(c byte) error {
	start := p.i
	var k kind
	var arg string
	switch c {
	case '_':
		k = kindItalic
		if p.at(p.i+1) == '_' {
			k = kindUnderline
			p.i++
		}
	case '*':
		k = kindBold
	case '~':
		k = kindStrikethrough
	case '[':
		k = kindTextURL
	case '`':
		k, arg = p.beginCode()
	case '|', '!':
		var err error
		if k, err = p.beginDouble(c); err != nil {
			return err
		}
	case '\n':
		p.newline()
		return nil
	case '>':
		if open, err := p.beginQuote(c); !open {
			return err
		}
		k = kindBlockQuote
	default:
		return reservedError(c)
	}
	p.nested = append(p.nested, mdv2Open{kind: k, arg: arg, utf16: p.utf16, byteOffset: start, outPos: len(p.out)})
	return nil
}

// beginQuote opens a quote at a line start; in an open quote the '>' just
// continues it.
func (p *mdv2) beginQuote(c byte) (bool, error) {
	if !p.canStartQuote {
		return false, reservedError(c)
	}
	if p.haveQuote {
		return false, nil
	}
	p.haveQuote = true
	return true, nil
}

// beginDouble opens "||" spoilers and "![" custom emoji; a lone '|' or '!'
// is a reserved character.
func (p *mdv2) beginDouble(c byte) (kind, error) {
	if c == '|' && p.at(p.i+1) == '|' {
		p.i++
		return kindSpoiler, nil
	}
	if c == '!' && p.at(p.i+1) == '[' {
		p.i++
		return kindCustomEmoji, nil
	}
	return 0, reservedError(c)
}

func (p *mdv2) newline() {
	p.utf16++
	p.out = append(p.out, '\n')
	p.canStartQuote = true
}

// beginCode opens `code` or ```pre```, taking a language up to the first
// space and skipping one line break after the opening fence.
func (p *mdv2) beginCode() (kind, string) {
	if p.at(p.i+1) != '`' || p.at(p.i+2) != '`' {
		return kindCode, ""
	}
	p.i += 3
	k, lang := kindPre, ""
	end := p.i
	for !isSpace(p.at(end)) && p.at(end) != '`' {
		end++
	}
	if p.i != end && end < len(p.in) && p.at(end) != '`' {
		k, lang = kindPreCode, p.in[p.i:end]
		p.i = end
	}
	if c := p.at(p.i); c == '\n' || c == '\r' {
		if n := p.at(p.i + 1); (n == '\n' || n == '\r') && c != n {
			p.i += 2
		} else {
			p.i++
		}
	}
	p.i-- // the loop increments
	return k, lang
}

// end closes the innermost open entity at c.
func (p *mdv2) end(c byte) error {
	k, err := p.endKind(c)
	if err != nil {
		return err
	}
	o := p.top()
	e := entity{kind: k, arg: o.arg}
	skip := p.utf16 == o.utf16
	switch k {
	case kindUnderline, kindSpoiler:
		p.i++
	case kindPre, kindPreCode:
		p.i += 2
	case kindTextURL:
		if skip, err = p.endTextURL(o, &e, skip); err != nil {
			return err
		}
	case kindCustomEmoji:
		if err = p.endCustomEmoji(&e); err != nil {
			return err
		}
	case kindBlockQuote, kindExpandableBlockQuote:
		p.endQuote(c)
		skip = false
	}
	if !skip {
		e.offset, e.length = o.utf16, p.utf16-o.utf16
		p.entities = append(p.entities, e)
	}
	p.pop()
	return nil
}

// endKind resolves a line break that ends a quote: only "||" right before
// it (an expandable quote) may be open above the quote itself.
func (p *mdv2) endKind(c byte) (kind, error) {
	o := p.top()
	if c != '\n' || o.kind == kindBlockQuote {
		return o.kind, nil
	}
	cr := len(p.out) != 0 && p.out[len(p.out)-1] == '\r'
	if o.kind != kindSpoiler || !(o.byteOffset == p.i-2 || o.byteOffset == p.i-3 && cr) { //nolint:staticcheck // QF1001: "not a spoiler that opened right before the line break" reads better negated whole
		return 0, noEndError(o)
	}
	p.pop()
	if p.top().kind != kindBlockQuote {
		return 0, noEndError(p.top())
	}
	return kindExpandableBlockQuote, nil
}

func (p *mdv2) endQuote(c byte) {
	p.haveQuote = false
	p.out = append(p.out, c)
	p.canStartQuote = true
	p.utf16++
}

// endTextURL reads "(url)" or uses the link text as the URL. A URL TDLib
// does not accept drops the entity silently; tg://user?id= makes a mention.
func (p *mdv2) endTextURL(o *mdv2Open, e *entity, skip bool) (bool, error) {
	url := string(p.out[o.outPos:])
	if p.at(p.i+1) == '(' {
		var err error
		if url, err = p.readURL("Can't find end of a URL at byte offset %d"); err != nil {
			return skip, err
		}
	}
	if id, ok := linkUserID(url); ok {
		e.kind, e.userID, e.arg = kindMentionName, id, ""
		return skip, nil
	}
	checked, ok := checkedLink(url)
	if !ok {
		return true, nil
	}
	e.arg = checked
	return skip, nil
}

func (p *mdv2) endCustomEmoji(e *entity) error {
	if p.at(p.i+1) != '(' {
		return parseError("Custom emoji entity must contain a tg://emoji URL")
	}
	url, err := p.readURL("Can't find end of a custom emoji URL at byte offset %d")
	if err != nil {
		return err
	}
	if isTimeLink(url) {
		return linkDateTime(url, e)
	}
	id, err := linkCustomEmojiID(url)
	e.emojiID = id
	return err
}

// readURL reads the "(...)" part where only ')' and '\' are special.
func (p *mdv2) readURL(unclosed string) (string, error) {
	p.i += 2
	begin := p.i
	var url []byte
	for p.i < len(p.in) && p.in[p.i] != ')' {
		if n := p.at(p.i + 1); p.in[p.i] == '\\' && n > 0 && n <= 126 {
			url = append(url, n)
			p.i += 2
			continue
		}
		url = append(url, p.in[p.i])
		p.i++
	}
	if p.at(p.i) != ')' {
		return "", parseError(fmt.Sprintf(unclosed, begin))
	}
	return string(url), nil
}

// finish closes a quote still open at the end of the text ("||" right at
// the end makes it expandable) and refuses any other open entity.
func (p *mdv2) finish() error {
	if p.haveQuote {
		k := kindBlockQuote
		if o := p.top(); o.kind == kindSpoiler && o.byteOffset == len(p.in)-2 {
			p.pop()
			k = kindExpandableBlockQuote
		}
		if o := p.top(); o.kind == kindBlockQuote {
			p.haveQuote = false
			if n := p.utf16 - o.utf16; n != 0 {
				p.entities = append(p.entities, entity{kind: k, offset: o.utf16, length: n})
			}
			p.pop()
		}
	}
	if len(p.nested) > 0 {
		return noEndError(p.top())
	}
	return nil
}
