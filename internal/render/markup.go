package render

import (
	"fmt"
	"html"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Markup is text that is already valid for the mode it was made for. Only
// the markup functions below produce it; everything else a template prints
// is escaped. This is what makes escaping correct by construction.
type Markup string

// Mode is an output dialect: Telegram's MarkdownV2, HTML, or plain text (no
// parse_mode, used as the fallback when Telegram rejects formatted text).
type Mode string

// The output modes.
const (
	MarkdownV2 Mode = "MarkdownV2"
	HTML       Mode = "HTML"
	Plain      Mode = ""
)

// dialect knows how to escape and wrap text for one Mode.
type dialect interface {
	text(s string) string             // escape for ordinary text
	code(s string) string             // inline code, content escaped
	pre(lang, s string) string        // code block
	wrap(tag string, s Markup) string // bold, italic, ... around markup
	link(text Markup, u string) string
	quote(s Markup, expandable bool) string
}

func dialectFor(m Mode) (dialect, error) {
	switch m {
	case MarkdownV2:
		return markdownV2{}, nil
	case HTML:
		return htmlDialect{}, nil
	case Plain:
		return plain{}, nil
	}
	return nil, fmt.Errorf("unknown parse mode %q", string(m))
}

// clean makes any string safe to send: valid UTF-8 and no control
// characters other than tab and newline (Telegram strips or rejects them,
// which would shift entity offsets).
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return -1
		case r < 0x20 || r == 0x7f:
			return ' '
		case r >= 0x80 && r < 0xa0:
			return ' '
		}
		return r
	}, s)
}

// --- MarkdownV2 (PROTOCOLS.md §4.1) ---

type markdownV2 struct{}

const mdReserved = "_*[]()~`>#+-=|{}.!\\"

func escapeWith(s, special string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if r < utf8.RuneSelf && strings.IndexByte(special, byte(r)) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (markdownV2) text(s string) string { return escapeWith(clean(s), mdReserved) }
func (markdownV2) code(s string) string { return "`" + escapeWith(clean(s), "`\\") + "`" }
func (markdownV2) pre(lang, s string) string {
	lang = strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || r == '+' || r == '#' || r >= '0' && r <= '9' || r|0x20 >= 'a' && r|0x20 <= 'z') {
			return r
		}
		return -1
	}, lang)
	return "```" + lang + "\n" + escapeWith(clean(s), "`\\") + "\n```"
}

var mdDelims = map[string]string{"b": "*", "i": "_", "u": "__", "s": "~", "spoiler": "||"}

func (markdownV2) wrap(tag string, s Markup) string {
	d := mdDelims[tag]
	return d + string(s) + d
}

func (markdownV2) link(text Markup, u string) string {
	return "[" + string(text) + "](" + escapeWith(u, ")\\") + ")"
}

func (markdownV2) quote(s Markup, expandable bool) string {
	lines := strings.Split(string(s), "\n")
	for i, l := range lines {
		lines[i] = ">" + l
	}
	out := strings.Join(lines, "\n")
	if expandable {
		out += "||"
	}
	return out
}

// --- HTML (PROTOCOLS.md §4.2) ---

type htmlDialect struct{}

// escapeHTML escapes only what Telegram's HTML parser needs; html.EscapeString
// would also be accepted, but numeric entities waste no length either way.
var htmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func (htmlDialect) text(s string) string { return htmlText.Replace(clean(s)) }
func (h htmlDialect) code(s string) string {
	return "<code>" + h.text(s) + "</code>"
}
func (h htmlDialect) pre(lang, s string) string {
	if lang == "" {
		return "<pre>" + h.text(s) + "</pre>"
	}
	return `<pre><code class="language-` + html.EscapeString(clean(lang)) + `">` + h.text(s) + "</code></pre>"
}

var htmlTags = map[string][2]string{
	"b": {"<b>", "</b>"}, "i": {"<i>", "</i>"}, "u": {"<u>", "</u>"},
	"s": {"<s>", "</s>"}, "spoiler": {"<tg-spoiler>", "</tg-spoiler>"},
}

func (htmlDialect) wrap(tag string, s Markup) string {
	t := htmlTags[tag]
	return t[0] + string(s) + t[1]
}

func (htmlDialect) link(text Markup, u string) string {
	return `<a href="` + html.EscapeString(u) + `">` + string(text) + "</a>"
}

func (htmlDialect) quote(s Markup, expandable bool) string {
	if expandable {
		return "<blockquote expandable>" + string(s) + "</blockquote>"
	}
	return "<blockquote>" + string(s) + "</blockquote>"
}

// --- plain text: the fallback that Telegram cannot reject ---

type plain struct{}

func (plain) text(s string) string              { return clean(s) }
func (plain) code(s string) string              { return clean(s) }
func (plain) pre(_, s string) string            { return clean(s) }
func (plain) wrap(_ string, s Markup) string    { return string(s) }
func (plain) link(text Markup, u string) string { return string(text) + " (" + u + ")" }
func (plain) quote(s Markup, _ bool) string     { return string(s) }

// LinkableURL reports whether Telegram accepts u as a text-link or button
// URL: an explicit http, https or tg scheme and, for http(s), a host that is
// an IPv4 literal or a dotted name other than localhost (PROTOCOLS.md §4.6).
// In-cluster URLs such as http://prometheus:9090 fail this test.
func LinkableURL(u string) bool {
	if u == "" || len(u) > 2048 || !utf8.ValidString(u) {
		return false
	}
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch strings.ToLower(p.Scheme) {
	case "tg":
		return p.Opaque != "" || p.Host != ""
	case "http", "https":
	default:
		return false
	}
	host := strings.ToLower(p.Hostname())
	if host == "" || strings.HasPrefix(p.Host, "[") {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.To4() != nil
	}
	return strings.Contains(strings.Trim(host, "."), ".") && host != "localhost" && !strings.HasSuffix(host, ".localhost")
}
