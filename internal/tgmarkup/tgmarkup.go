// Package tgmarkup parses Telegram message markup (MarkdownV2 and HTML)
// exactly as the Bot API server does, so that alertgram can measure a
// rendered message the way Telegram will count it, and the project's fake
// Bot API can reject what Telegram would reject. It is a leaf.
//
// The parsers are ports of tdlib/td td/telegram/MessageEntity.cpp
// (parse_markdown_v2, parse_markdown, parse_html, decode_html_entity,
// fix_formatted_text and the entity fixing it relies on), of
// td/telegram/LinkManager.cpp (check_link_impl, get_link_user_id,
// get_link_custom_emoji_id) and of tdutils/td/utils/HttpUrl.cpp (parse_url).
// Error descriptions are TDLib's, with the first letter lowered the way
// telegram-bot-api's Client::fail_query_with_error does it.
package tgmarkup

import "unicode/utf8"

// Entity is one formatting entity of a parsed message. Offset and Length are
// in UTF-16 code units, as in the Bot API.
type Entity struct {
	Type     string // bold, italic, underline, strikethrough, spoiler, code, pre, text_link, blockquote, expandable_blockquote, custom_emoji, ...
	Offset   int
	Length   int
	URL      string // text_link
	Language string // pre

	UserID         int64  // text_mention: the user of a tg://user?id= link
	CustomEmojiID  string // custom_emoji
	UnixTime       int64  // date_time
	DateTimeFormat string // date_time
}

// Result is a parsed message: the plain text a user sees and its entities.
type Result struct {
	Text     string
	Entities []Entity
}

// ParseError is a parse failure. Description is exactly Telegram's text after
// "Bad Request: ", e.g. "can't parse entities: Character '-' is reserved and
// must be escaped with the preceding '\'".
type ParseError struct {
	Description string
}

func (e *ParseError) Error() string { return e.Description }

// Parse modes accepted by Parse.
const (
	MarkdownV2 = "MarkdownV2"
	HTML       = "HTML"
	// Markdown is the legacy mode; Telegram still accepts it.
	Markdown = "Markdown"
)

// Parse parses text in the given mode ("MarkdownV2", "HTML", "Markdown", or
// "" for plain text) exactly as the Bot API server does and then applies
// Telegram's post-processing (fix_formatted_text: control characters,
// trimming of leading/trailing whitespace, entity merging) so that
// utf8.RuneCountInString(Result.Text) is the length Telegram checks against
// 4096. Modes are matched case-insensitively, like telegram-bot-api does.
//
// A text that Telegram would consider empty (nothing left after trimming, or
// only invisible characters) yields an empty Result and no error: the
// caller decides whether that is "message text is empty" or an allowed empty
// caption. The error, if any, is a *ParseError.
func Parse(mode, text string) (Result, error) {
	parse, err := parserFor(mode)
	if err != nil {
		return Result{}, err
	}
	if !utf8.ValidString(text) {
		return Result{}, utf8Error(mode)
	}
	plain, entities, err := parse(text)
	if err != nil {
		return Result{}, err
	}
	plain, entities = fixFormattedText(plain, entities)
	return Result{Text: plain, Entities: publicEntities(entities)}, nil
}

// Length returns the number of Unicode code points of the parsed text, the
// length Telegram compares with its 4096 (text) and 1024 (caption) limits.
func Length(mode, text string) (int, error) {
	r, err := Parse(mode, text)
	if err != nil {
		return 0, err
	}
	return utf8.RuneCountInString(r.Text), nil
}

type parseFunc func(text string) (string, []entity, error)

// parserFor maps a parse_mode the way telegram-bot-api's
// Client::get_formatted_text does: lower-cased, "" and "none" mean no
// parsing, anything unknown is refused.
func parserFor(mode string) (parseFunc, error) {
	switch toLowerASCII(mode) {
	case "", "none":
		return func(text string) (string, []entity, error) { return text, nil, nil }, nil
	case "markdownv2":
		return parseMarkdownV2, nil
	case "html":
		return parseHTML, nil
	case "markdown":
		return parseMarkdown, nil
	}
	return nil, &ParseError{Description: "unsupported parse_mode"}
}

// utf8Error is TDLib's refusal of invalid UTF-8: parseTextEntities checks
// the text before parsing, fix_formatted_text checks plain text.
func utf8Error(mode string) error {
	if mode == "" || toLowerASCII(mode) == "none" {
		return &ParseError{Description: "strings must be encoded in UTF-8"}
	}
	return &ParseError{Description: "text must be encoded in UTF-8"}
}

// parseError wraps a TDLib parser message the way parseTextEntities
// ("Can't parse entities: ...") and telegram-bot-api (first letter
// lowered) present it.
func parseError(msg string) error {
	return &ParseError{Description: "can't parse entities: " + msg}
}
