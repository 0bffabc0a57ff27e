package tgmarkup

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

type validCase struct {
	name     string
	in       string
	text     string
	entities []Entity
}

func e(typ string, offset, length int) Entity {
	return Entity{Type: typ, Offset: offset, Length: length}
}

func link(offset, length int, url string) Entity {
	return Entity{Type: "text_link", Offset: offset, Length: length, URL: url}
}

func pre(offset, length int, lang string) Entity {
	return Entity{Type: "pre", Offset: offset, Length: length, Language: lang}
}

func runValid(t *testing.T, mode string, cases []validCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(mode, tc.in)
			if err != nil {
				t.Fatalf("Parse(%q, %q) error: %v", mode, tc.in, err)
			}
			if got.Text != tc.text {
				t.Errorf("text = %q, want %q", got.Text, tc.text)
			}
			if !reflect.DeepEqual(got.Entities, tc.entities) {
				t.Errorf("entities = %+v\nwant       %+v", got.Entities, tc.entities)
			}
		})
	}
}

type invalidCase struct {
	name string
	in   string
	want string // description after "Bad Request: "
}

func runInvalid(t *testing.T, mode string, cases []invalidCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(mode, tc.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q, %q) error = %v, want *ParseError", mode, tc.in, err)
			}
			if pe.Description != tc.want {
				t.Errorf("description = %q\nwant          %q", pe.Description, tc.want)
			}
		})
	}
}

func TestMarkdownV2Valid(t *testing.T) {
	runValid(t, MarkdownV2, []validCase{
		{"plain", "hello world", "hello world", nil},
		{"all simple entities", "*b* _i_ __u__ ~s~ ||p|| `c`", "b i u s p c", []Entity{
			e("bold", 0, 1), e("italic", 2, 1), e("underline", 4, 1), e("strikethrough", 6, 1),
			e("spoiler", 8, 1), e("code", 10, 1)}},
		{"every reserved character escaped", `\_\*\[\]\(\)\~` + "\\`" + `\>\#\+\-\=\|\{\}\.\!`, "_*[]()~`>#+-=|{}.!", nil},
		{"escaped backslash", `a\\b`, `a\b`, nil},
		{"any ASCII may be escaped", `\a\ \"`, `a "`, nil},
		{"lone trailing backslash is text", `a\`, `a\`, nil},
		{"backslash before non-ASCII is text", `\é`, `\é`, nil},
		{"nesting splits the outer entity", "*a _b_ c*", "a b c", []Entity{
			e("bold", 0, 2), e("bold", 2, 3), e("italic", 2, 1)}},
		{"italic underline", "___italic underline_**__", "italic underline", []Entity{
			e("italic", 0, 16), e("underline", 0, 16)}},
		{"adjacent bold merges", "*a**b*", "ab", []Entity{e("bold", 0, 2)}},
		{"empty bold is dropped", "a**b", "ab", nil},
		{"code keeps markup characters", "`a*b_c\\`d\\\\`", "a*b_c`d\\", []Entity{e("code", 0, 8)}},
		{"pre with language", "```go\nx := 1\n```", "x := 1", []Entity{pre(0, 6, "go")}},
		{"pre without language", "```\nline\n```", "line", []Entity{pre(0, 4, "")}},
		{"pre inside text", "a ```x``` b", "a x b", []Entity{pre(2, 1, "")}},
		{"link", "[site](http://example.com)", "site", []Entity{link(0, 4, "http://example.com/")}},
		{"link URL escapes", `[a](http://ex.com/\)x\\y)`, "a", []Entity{link(0, 1, `http://ex.com/)x\y`)}},
		{"link URL keeps reserved characters", "[a](https://ex.com/a_b*c.d-e)", "a", []Entity{link(0, 1, "https://ex.com/a_b*c.d-e")}},
		{"link text is the URL", "[example\\.com]", "example.com", []Entity{link(0, 11, "http://example.com/")}},
		{"single-label host link dropped", "[x](http://prometheus:9090/graph)", "x", nil},
		{"localhost link dropped", "[x](http://localhost:9093)", "x", nil},
		{"IPv4 link kept", "[x](http://10.0.0.1:9093/x)", "x", []Entity{link(0, 1, "http://10.0.0.1:9093/x")}},
		{"tg link", "[x](tg://resolve?domain=bot)", "x", []Entity{link(0, 1, "tg://resolve?domain=bot")}},
		{"user mention", "[Bob](tg://user?id=123456789)", "Bob", []Entity{
			{Type: "text_mention", Offset: 0, Length: 3, UserID: 123456789}}},
		{"custom emoji", "![👍](tg://emoji?id=5368324170671202286)", "👍", []Entity{
			{Type: "custom_emoji", Offset: 0, Length: 2, CustomEmojiID: "5368324170671202286"}}},
		{"date time", "![22:45](tg://time?unix=1647531900&format=wDT)", "22:45", []Entity{
			{Type: "date_time", Offset: 0, Length: 5, UnixTime: 1647531900, DateTimeFormat: "wDT"}}},
		{"blockquote", ">line1\n>line2", "line1\nline2", []Entity{e("blockquote", 0, 11)}},
		{"blockquote ends at a line without >", ">a\nb", "a\nb", []Entity{e("blockquote", 0, 2)}},
		{"expandable blockquote at end", ">a\n>b||", "a\nb", []Entity{e("expandable_blockquote", 0, 3)}},
		{"expandable blockquote then text", ">a||\nb", "a\nb", []Entity{e("expandable_blockquote", 0, 2)}},
		{"two quotes separated by empty bold", ">a\n**>b", "a\nb", []Entity{e("blockquote", 0, 2), e("blockquote", 2, 1)}},
		{"bold inside quote", ">*a*\n>b", "a\nb", []Entity{e("blockquote", 0, 3), e("bold", 0, 1)}},
		{"escaped > at line start", "\\>a", ">a", nil},
		{"cyrillic offsets", "Привет *мир* _x_", "Привет мир x", []Entity{e("bold", 7, 3), e("italic", 11, 1)}},
		{"emoji offsets are UTF-16", "🔥 *🔥🔥* _x_", "🔥 🔥🔥 x", []Entity{e("bold", 3, 4), e("italic", 8, 1)}},
		{"trim spaces and line breaks", " \n *a* \n ", "a", []Entity{e("bold", 0, 1)}},
		{"trim shortens entity", "*a * ", "a", []Entity{e("bold", 0, 1)}},
		{"carriage return removed", "a\r\nb", "a\nb", nil},
		{"control characters become spaces", "a\tb\x01c", "a b c", nil},
		{"line separator removed, entity moves", "a\u2028*b*", "ab", []Entity{e("bold", 1, 1)}},
		{"pre splits bold", "*a ```x``` b*", "a x b", []Entity{e("bold", 0, 2), pre(2, 1, ""), e("bold", 3, 2)}},
		{"nested same kind", "*a _b *c* d_ e*", "a b c d e", []Entity{e("bold", 0, 2), e("bold", 2, 7), e("italic", 2, 5)}},
	})
}

func TestMarkdownV2Invalid(t *testing.T) {
	reserved := func(c string) string {
		return "can't parse entities: Character '" + c + "' is reserved and must be escaped with the preceding '\\'"
	}
	noEnd := func(typ string, off string) string {
		return "can't parse entities: Can't find end of " + typ + " entity at byte offset " + off
	}
	cases := []invalidCase{
		{"minus", "CPU > 90% - high", reserved(">")},
		{"dash", "a-b", reserved("-")},
		{"unclosed bold", "text *bold", noEnd("Bold", "5")},
		{"unclosed italic", "a_b", noEnd("Italic", "1")},
		{"unclosed underline", "__u", noEnd("Underline", "0")},
		{"unclosed strikethrough", "~s", noEnd("Strikethrough", "0")},
		{"unclosed spoiler", "x ||s", noEnd("Spoiler", "2")},
		{"unclosed code", "`c", noEnd("Code", "0")},
		{"unclosed pre", "```\ncode", noEnd("Pre", "0")},
		{"unclosed pre with language", "```go\ncode", noEnd("PreCode", "0")},
		{"unclosed link text", "[a", noEnd("TextUrl", "0")},
		{"unclosed URL", "[a](http://x", "can't parse entities: Can't find end of a URL at byte offset 4"},
		{"unclosed custom emoji", "![a", noEnd("CustomEmoji", "0")},
		{"emoji without URL", "![x]", "can't parse entities: Custom emoji entity must contain a tg://emoji URL"},
		{"emoji URL scheme", "![x](http://e.com)", "can't parse entities: Custom emoji URL must have scheme tg"},
		{"emoji URL host", "![x](tg://emoj?id=1)", `can't parse entities: Custom emoji URL must have host "emoji"`},
		{"emoji URL without id", "![x](tg://emoji)", "can't parse entities: Custom emoji URL must have an emoji identifier"},
		{"emoji URL bad id", "![x](tg://emoji?id=abc)", "can't parse entities: Invalid custom emoji identifier specified"},
		{"unclosed emoji URL", "![x](tg://emoji?id=1", "can't parse entities: Can't find end of a custom emoji URL at byte offset 5"},
		{"bold across quote end", ">a *b\nc", noEnd("Bold", "3")},
		{"> in the middle of a line", "a > b", reserved(">")},
		{"lone pipe", "a|b", reserved("|")},
		{"lone bang", "hi!", reserved("!")},
		{"byte offset counts UTF-8 bytes", "Привет *мир", noEnd("Bold", "13")},
		{"emoji before error", "🔥 *x", noEnd("Bold", "5")},
	}
	for _, c := range "]()#+={}." {
		cases = append(cases, invalidCase{"reserved " + string(c), "a" + string(c), reserved(string(c))})
	}
	runInvalid(t, MarkdownV2, cases)
}

func TestHTMLValid(t *testing.T) {
	runValid(t, HTML, []validCase{
		{"all simple tags", "<b>b</b><strong>b</strong><i>i</i><em>i</em><u>u</u><ins>u</ins>" +
			"<s>s</s><strike>s</strike><del>s</del>", "bbiiuusss", []Entity{
			e("bold", 0, 2), e("italic", 2, 2), e("underline", 4, 2), e("strikethrough", 6, 3)}},
		{"spoilers", `<tg-spoiler>a</tg-spoiler> <span class="tg-spoiler">b</span>`, "a b", []Entity{
			e("spoiler", 0, 1), e("spoiler", 2, 1)}},
		{"entities", "&lt;&gt;&amp;&quot;&#39;&#x41;&#128293;", `<>&"'A🔥`, nil},
		{"apos and unknown names stay", "&apos;&nbsp;&copy", "&apos;&nbsp;&copy", nil},
		{"stray ampersand", "a & b &", "a & b &", nil},
		{"semicolon optional", "&lt b &ampx", "< b &ampx", nil},
		{"numeric zero stays", "&#0;", "&#0;", nil},
		{"link", `<a href="https://example.com/x?a=1&amp;b=2">l</a>`, "l", []Entity{link(0, 1, "https://example.com/x?a=1&b=2")}},
		{"single quotes", `<a href='http://example.com'>l</a>`, "l", []Entity{link(0, 1, "http://example.com/")}},
		{"unquoted value is lowercased", `<a href=Example.COM>l</a>`, "l", []Entity{link(0, 1, "http://example.com/")}},
		{"link text is the URL", `<a>example.com</a>`, "example.com", []Entity{link(0, 11, "http://example.com/")}},
		{"invalid link dropped", `<a href="http://grafana:3000/d/x">dash</a>`, "dash", nil},
		{"mention", `<a href="tg://user?id=42">u</a>`, "u", []Entity{{Type: "text_mention", Offset: 0, Length: 1, UserID: 42}}},
		{"uppercase tags", "<B>x</B>", "x", []Entity{e("bold", 0, 1)}},
		{"empty end tag", "<b>x</>", "x", []Entity{e("bold", 0, 1)}},
		{"space inside tags", "<b >x</b >", "x", []Entity{e("bold", 0, 1)}},
		{"code", "<code>a&lt;b</code>", "a<b", []Entity{e("code", 0, 3)}},
		{"code language only on pre", `<code class="language-go">x</code>`, "x", []Entity{e("code", 0, 1)}},
		{"pre", "<pre>x\ny</pre>", "x\ny", []Entity{pre(0, 3, "")}},
		{"pre with language", `<pre><code class="language-go">x</code></pre>`, "x", []Entity{pre(0, 1, "go")}},
		{"code around pre", `<code class="language-go"><pre>x</pre></code>`, "x", []Entity{pre(0, 1, "go")}},
		{"pre code without language", `<pre><code>x</code></pre>`, "x", []Entity{pre(0, 1, "")}},
		{"blockquote", "<blockquote>q</blockquote>", "q", []Entity{e("blockquote", 0, 1)}},
		{"expandable blockquote", "<blockquote expandable>q</blockquote>", "q", []Entity{e("expandable_blockquote", 0, 1)}},
		{"custom emoji", `<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`, "👍", []Entity{
			{Type: "custom_emoji", Offset: 0, Length: 2, CustomEmojiID: "5368324170671202286"}}},
		{"tg-time", `<tg-time unix="1647531900" format="t">22:45</tg-time>`, "22:45", []Entity{
			{Type: "date_time", Offset: 0, Length: 5, UnixTime: 1647531900, DateTimeFormat: "t"}}},
		{"unknown attributes ignored", `<b class="x" data-y=1>x</b>`, "x", []Entity{e("bold", 0, 1)}},
		{"cyrillic and emoji offsets", "<b>Привет</b> 🔥<i>x</i>", "Привет 🔥x", []Entity{e("bold", 0, 6), e("italic", 9, 1)}},
		{"leading space inside first entity is kept", "  <b> x </b>  ", " x", []Entity{e("bold", 0, 2)}},
		{"empty element", "<b></b>x", "x", nil},
		{"only tags is empty", "<b> </b>", "", nil},
		{"html-escaped template output", "CPU &gt; 90&#37; on &#34;db&#34;", `CPU > 90% on "db"`, nil},
	})
}

func TestHTMLInvalid(t *testing.T) {
	p := "can't parse entities: "
	runInvalid(t, HTML, []invalidCase{
		{"br", "<br>", p + `Unsupported start tag "br" at byte offset 0`},
		{"self-closing br", "a <br/>", p + `Unsupported start tag "br/" at byte offset 2`},
		{"less than space", "a < b", p + `Unsupported start tag "" at byte offset 2`},
		{"unknown tag offset in bytes", "Привет <p>", p + `Unsupported start tag "p" at byte offset 13`},
		{"unclosed element", "<b>x", p + `Can't find end tag corresponding to start tag "b"`},
		{"mismatched end tag", "<b>x</i>", p + `Unmatched end tag at byte offset 4, expected "</b>", found "</i>"`},
		{"unexpected end tag", "x</b>", p + "Unexpected end tag at byte offset 1"},
		{"unclosed start tag", "<b", p + "Unclosed start tag at byte offset 0"},
		{"unclosed quoted value", `<a href="x`, p + "Unclosed start tag at byte offset 0"},
		{"unclosed unquoted value", `<a href=x`, p + "Unclosed start tag at byte offset 0"},
		{"attribute at end", `<a href`, p + `Unclosed start tag "a" at byte offset 0`},
		{"equals at end", `<a href=`, p + `Unclosed start tag "a" at byte offset 0`},
		{"URL as name token", `<a href=http://e.com>l</a>`, p + "Unexpected end of name token at byte offset 8"},
		{"bad name token", `<a href=x"y">`, p + "Unexpected end of name token at byte offset 8"},
		{"empty attribute name", `<a ="x">`, p + `Empty attribute name in the tag "a" at byte offset 0`},
		{"span without class", "<span>x</span>", p + `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{"unclosed end tag", "<b>x</b", p + "Unclosed end tag at byte offset 4"},
		{"bad emoji id", `<tg-emoji emoji-id="abc">x</tg-emoji>`, p + "Invalid custom emoji identifier specified"},
		{"lone surrogate", "&#xD83D;", p + "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units"},
	})
}

func TestPlainAndLegacy(t *testing.T) {
	runValid(t, "", []validCase{
		{"plain keeps markup", "*a* <b>", "*a* <b>", nil},
		{"plain trims", "  hello \n", "hello", nil},
		{"empty", "", "", nil},
		{"only spaces", " \n ", "", nil},
		{"only invisible characters", "\u200b\u00a0", "", nil},
		{"LRM run", "a\u200e\u200f\u200eb", "a\u200c\u200c\u200eb", nil},
	})
	runValid(t, Markdown, []validCase{
		{"legacy entities", "*b* _i_ `c` [l](http://example.com) \\*", "b i c l *", []Entity{
			e("bold", 0, 1), e("italic", 2, 1), e("code", 4, 1), link(6, 1, "http://example.com/")}},
		{"legacy pre", "```py\nx```", "x", []Entity{pre(0, 1, "py")}},
		{"legacy keeps other characters", "a-b.c!", "a-b.c!", nil},
	})
	runInvalid(t, Markdown, []invalidCase{
		{"legacy unclosed", "a *b", "can't parse entities: Can't find end of the entity starting at byte offset 2"},
	})
}

func TestParseModes(t *testing.T) {
	for _, mode := range []string{"html", "Html", "markdownv2", "MARKDOWNV2", "none"} {
		if _, err := Parse(mode, "x"); err != nil {
			t.Errorf("Parse(%q) error: %v", mode, err)
		}
	}
	var pe *ParseError
	if _, err := Parse("markdownv3", "x"); !errors.As(err, &pe) || pe.Description != "unsupported parse_mode" {
		t.Errorf("unknown mode error = %v", err)
	}
	if _, err := Parse(HTML, "\xff"); !errors.As(err, &pe) || pe.Description != "text must be encoded in UTF-8" {
		t.Errorf("invalid UTF-8 error = %v", err)
	}
}

func TestLength(t *testing.T) {
	tests := []struct {
		mode, text string
		want       int
	}{
		{MarkdownV2, strings.Repeat(`\.`, 4096), 4096},
		{HTML, strings.Repeat("&lt;", 4097), 4097},
		{HTML, "<b>🔥</b>", 1}, // code points, not UTF-16 units
		{"", " x ", 1},
		{HTML, "<i> </i>", 0},
	}
	for _, tc := range tests {
		got, err := Length(tc.mode, tc.text)
		if err != nil || got != tc.want {
			t.Errorf("Length(%q, %.20q) = %d, %v; want %d", tc.mode, tc.text, got, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"*b* _i_ __u__ ~s~ ||p|| `c` ```go\nx```", "[a](http://e.com/\\)) ![x](tg://emoji?id=1)",
		">a\n>b||\n**>c", "<b>x</b> <a href='http://e.com'>l</a> &lt; &#128293; &#xD83D;",
		"<pre><code class=\"language-go\">x</code></pre>", "  \r\n\t\u200b", "Привет 🔥 \\- *мир*",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, mode := range []string{"", MarkdownV2, HTML, Markdown} {
			r, err := Parse(mode, text)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("%s: error %T is not *ParseError", mode, err)
				}
				continue
			}
			checkResult(t, mode, text, r)
		}
	})
}

func checkResult(t *testing.T, mode, in string, r Result) {
	t.Helper()
	if !utf8.ValidString(r.Text) {
		t.Fatalf("%s %q: invalid UTF-8 text %q", mode, in, r.Text)
	}
	size := len(utf16.Encode([]rune(r.Text)))
	for _, en := range r.Entities {
		if en.Offset < 0 || en.Length <= 0 || en.Offset+en.Length > size {
			t.Fatalf("%s %q: entity %+v outside text %q (%d UTF-16 units)", mode, in, en, r.Text, size)
		}
	}
}
