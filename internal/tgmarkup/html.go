package tgmarkup

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// htmlTags are the start tags TDLib's parse_html accepts, plus tg-time,
// which the Bot API documents and newer TDLib revisions accept.
var htmlTags = map[string]bool{
	"a": true, "b": true, "strong": true, "i": true, "em": true, "s": true, "strike": true, "del": true,
	"u": true, "ins": true, "tg-spoiler": true, "tg-emoji": true, "span": true, "pre": true, "code": true,
	"blockquote": true, "tg-time": true,
}

// html is the state of TDLib's parse_html.
type html struct {
	in       string
	i        int
	out      []byte
	utf16    int
	nested   []htmlOpen
	entities []entity
	// recheck is need_recheck_utf8: an entity decoded to half a surrogate.
	recheck bool
}

type htmlOpen struct {
	tag    string
	arg    string
	attrs  map[string]string // tg-time only
	utf16  int
	outPos int
}

func parseHTML(text string) (string, []entity, error) {
	p := &html{in: text}
	for ; p.i < len(p.in); p.i++ {
		if err := p.step(); err != nil {
			return "", nil, err
		}
	}
	if len(p.nested) > 0 {
		return "", nil, parseError(fmt.Sprintf("Can't find end tag corresponding to start tag \"%s\"", p.nested[len(p.nested)-1].tag))
	}
	for i := range p.entities {
		if p.entities[i].kind == kindCode {
			p.entities[i].arg = "" // a language only survives on pre
		}
	}
	sortEntities(p.entities)
	if p.recheck && !utf8.Valid(p.out) {
		return "", nil, parseError("Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units")
	}
	return string(p.out), p.entities, nil
}

func (p *html) at(i int) byte { return byteAt(p.in, i) }

func (p *html) step() error {
	c := p.in[p.i]
	if c == '&' {
		if code := decodeHTMLEntity(p.in, &p.i); code != 0 {
			p.i-- // the loop increments
			p.addCode(code)
			return nil
		}
	}
	if c != '<' {
		if isFirstCodeUnit(c) {
			p.utf16 += utf16Units(c)
		}
		p.out = append(p.out, c)
		return nil
	}
	begin := p.i
	p.i++
	if p.at(p.i) != '/' {
		return p.startTag(begin)
	}
	return p.endTag(begin)
}

func (p *html) addCode(code uint32) {
	p.utf16++
	if code > 0xffff {
		p.utf16++
	}
	if code >= 0xd800 && code <= 0xdfff {
		p.recheck = true
	}
	p.out = appendUTF8Unsafe(p.out, code)
}

// decodeHTMLEntity is decode_html_entity: numeric references and the four
// named ones; on failure it returns 0 and the '&' is kept as text. The
// trailing ';' is optional.
func decodeHTMLEntity(s string, pos *int) uint32 {
	end := *pos + 1
	var res uint32
	if byteAt(s, *pos+1) == '#' {
		end++
		if byteAt(s, *pos+2) == 'x' {
			end++
			for ; isHexDigit(byteAt(s, end)); end++ {
				res = res*16 + hexToInt(s[end])
			}
		} else {
			for ; isDigit(byteAt(s, end)); end++ {
				res = res*10 + uint32(s[end]-'0')
			}
		}
		if res == 0 || res >= 0x10ffff || end-*pos >= 10 {
			return 0
		}
	} else {
		for isAlpha(byteAt(s, end)) {
			end++
		}
		if res = namedHTMLEntity(s[*pos+1 : end]); res == 0 {
			return 0
		}
	}
	if byteAt(s, end) == ';' {
		end++
	}
	*pos = end
	return res
}

func namedHTMLEntity(name string) uint32 {
	switch name {
	case "lt":
		return '<'
	case "gt":
		return '>'
	case "amp":
		return '&'
	case "quot":
		return '"'
	}
	return 0 // &apos; and every other name are not decoded
}

func (p *html) startTag(begin int) error {
	for !isSpace(p.at(p.i)) && p.at(p.i) != '>' {
		p.i++
	}
	if p.at(p.i) == 0 {
		return parseError(fmt.Sprintf("Unclosed start tag at byte offset %d", begin))
	}
	tag := toLowerASCII(p.in[begin+1 : p.i])
	if !htmlTags[tag] {
		return parseError(fmt.Sprintf("Unsupported start tag \"%s\" at byte offset %d", tag, begin))
	}
	o := htmlOpen{tag: tag}
	if err := p.attributes(begin, &o); err != nil {
		return err
	}
	if tag == "span" && o.arg != "spoiler" {
		return parseError(fmt.Sprintf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin))
	}
	o.utf16, o.outPos = p.utf16, len(p.out)
	p.nested = append(p.nested, o)
	return nil
}

// attributes reads name, name=token and name="string" attributes up to '>'
// and keeps the ones TDLib looks at.
func (p *html) attributes(begin int, o *htmlOpen) error {
	for p.at(p.i) != '>' {
		p.skipSpaces()
		if p.at(p.i) == '>' {
			break
		}
		name, hasValue, err := p.attributeName(begin, o.tag)
		if err != nil {
			return err
		}
		if !hasValue {
			if o.tag == "blockquote" && name == "expandable" {
				o.arg = "1"
			}
			continue
		}
		value, err := p.attributeValue(begin, o.tag)
		if err != nil {
			return err
		}
		p.attribute(o, name, value)
	}
	return nil
}

func (p *html) skipSpaces() {
	for p.at(p.i) != 0 && isSpace(p.at(p.i)) {
		p.i++
	}
}

// attributeName reads a name and reports whether '=' follows; the '=' is
// consumed.
func (p *html) attributeName(begin int, tag string) (string, bool, error) {
	start := p.i
	for c := p.at(p.i); !isSpace(c) && c != '=' && c != '>' && c != '/' && c != '"' && c != '\''; c = p.at(p.i) {
		p.i++
	}
	name := p.in[start:p.i]
	if name == "" {
		return "", false, parseError(fmt.Sprintf("Empty attribute name in the tag \"%s\" at byte offset %d", tag, begin))
	}
	p.skipSpaces()
	if p.at(p.i) != '=' {
		if p.at(p.i) == 0 {
			return "", false, parseError(fmt.Sprintf("Unclosed start tag \"%s\" at byte offset %d", tag, begin))
		}
		return name, false, nil
	}
	p.i++
	p.skipSpaces()
	if p.at(p.i) == 0 {
		return "", false, parseError(fmt.Sprintf("Unclosed start tag \"%s\" at byte offset %d", tag, begin))
	}
	return name, true, nil
}

func (p *html) attributeValue(begin int, tag string) (string, error) {
	var value string
	if c := p.at(p.i); c != '\'' && c != '"' {
		// A name token: letters, digits, periods or hyphens, not case
		// sensitive.
		start := p.i
		for c := p.at(p.i); isAlnum(c) || c == '.' || c == '-'; c = p.at(p.i) {
			p.i++
		}
		value = toLowerASCII(p.in[start:p.i])
		if c := p.at(p.i); !isSpace(c) && c != '>' {
			return "", parseError(fmt.Sprintf("Unexpected end of name token at byte offset %d", start))
		}
	} else {
		value = p.quoted()
	}
	if p.at(p.i) == 0 {
		return "", parseError(fmt.Sprintf("Unclosed start tag at byte offset %d", begin))
	}
	return value, nil
}

// quoted reads a string literal, decoding entities; a missing closing
// quote is only noticed as the end of the text.
func (p *html) quoted() string {
	quote := p.in[p.i]
	p.i++
	var b []byte
	for p.at(p.i) != quote && p.at(p.i) != 0 {
		if p.in[p.i] == '&' {
			if code := decodeHTMLEntity(p.in, &p.i); code != 0 {
				b = appendUTF8Unsafe(b, code)
				continue
			}
		}
		b = append(b, p.in[p.i])
		p.i++
	}
	if p.at(p.i) == quote {
		p.i++
	}
	return string(b)
}

// attribute keeps what TDLib keeps: attribute names are case sensitive.
func (p *html) attribute(o *htmlOpen, name, value string) {
	switch {
	case o.tag == "a" && name == "href", o.tag == "tg-emoji" && name == "emoji-id":
		o.arg = value
	case o.tag == "code" && name == "class" && strings.HasPrefix(value, "language-"):
		o.arg = value[len("language-"):]
	case o.tag == "span" && name == "class" && strings.HasPrefix(value, "tg-"):
		o.arg = value[len("tg-"):]
	case o.tag == "blockquote" && name == "expandable":
		o.arg = "1"
	case o.tag == "tg-time" && (name == "unix" || name == "format"):
		if o.attrs == nil {
			o.attrs = map[string]string{}
		}
		o.attrs[name] = value
	}
}

func (p *html) endTag(begin int) error {
	if len(p.nested) == 0 {
		return parseError(fmt.Sprintf("Unexpected end tag at byte offset %d", begin))
	}
	for !isSpace(p.at(p.i)) && p.at(p.i) != '>' {
		p.i++
	}
	name := toLowerASCII(p.in[begin+2 : p.i])
	for isSpace(p.at(p.i)) && p.at(p.i) != 0 {
		p.i++
	}
	if p.at(p.i) != '>' {
		return parseError(fmt.Sprintf("Unclosed end tag at byte offset %d", begin))
	}
	o := &p.nested[len(p.nested)-1]
	if name != "" && name != o.tag {
		return parseError(fmt.Sprintf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, o.tag, name))
	}
	var err error
	if p.utf16 > o.utf16 {
		err = p.close(o)
	}
	p.nested = p.nested[:len(p.nested)-1]
	return err
}

var htmlSimpleKinds = map[string]kind{
	"i": kindItalic, "em": kindItalic, "b": kindBold, "strong": kindBold,
	"s": kindStrikethrough, "strike": kindStrikethrough, "del": kindStrikethrough,
	"u": kindUnderline, "ins": kindUnderline, "tg-spoiler": kindSpoiler, "span": kindSpoiler,
}

// close turns a non-empty element into its entity.
func (p *html) close(o *htmlOpen) error {
	e := entity{offset: o.utf16, length: p.utf16 - o.utf16}
	if k, ok := htmlSimpleKinds[o.tag]; ok {
		e.kind = k
		p.entities = append(p.entities, e)
		return nil
	}
	switch o.tag {
	case "tg-emoji":
		return p.closeEmoji(o, e)
	case "tg-time":
		return p.closeTime(o, e)
	case "a":
		p.closeLink(o, e)
	case "pre":
		p.closePre(e)
	case "code":
		p.closeCode(o, e)
	case "blockquote":
		e.kind = kindBlockQuote
		if o.arg != "" {
			e.kind = kindExpandableBlockQuote
		}
		p.entities = append(p.entities, e)
	}
	return nil
}

func (p *html) closeEmoji(o *htmlOpen, e entity) error {
	id, ok := toIntegerSafe(o.arg)
	if !ok || id == 0 {
		return parseError("Invalid custom emoji identifier specified")
	}
	e.kind, e.emojiID = kindCustomEmoji, id
	p.entities = append(p.entities, e)
	return nil
}

// closeLink: an empty href means the text is the URL; a URL TDLib does not
// accept drops the entity without an error.
func (p *html) closeLink(o *htmlOpen, e entity) {
	url := o.arg
	if url == "" {
		url = string(p.out[o.outPos:])
	}
	if id, ok := linkUserID(url); ok {
		e.kind, e.userID = kindMentionName, id
		p.entities = append(p.entities, e)
		return
	}
	if checked, ok := checkedLink(url); ok {
		e.kind, e.arg = kindTextURL, checked
		p.entities = append(p.entities, e)
	}
}

// closePre merges with a just-closed <code class="language-x"> of the same
// range into a pre with a language.
func (p *html) closePre(e entity) {
	if last := p.lastSameRange(kindCode, e); last != nil && last.arg != "" {
		last.kind = kindPreCode
		return
	}
	e.kind = kindPre
	p.entities = append(p.entities, e)
}

func (p *html) closeCode(o *htmlOpen, e entity) {
	if last := p.lastSameRange(kindPre, e); last != nil && o.arg != "" {
		last.kind, last.arg = kindPreCode, o.arg
		return
	}
	e.kind, e.arg = kindCode, o.arg
	p.entities = append(p.entities, e)
}

func (p *html) lastSameRange(k kind, e entity) *entity {
	if len(p.entities) == 0 {
		return nil
	}
	last := &p.entities[len(p.entities)-1]
	if last.kind != k || last.offset != e.offset || last.length != e.length {
		return nil
	}
	return last
}
