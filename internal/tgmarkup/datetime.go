package tgmarkup

import (
	"regexp"
	"strings"
)

// Date-time entities (<tg-time unix= format=> and ![text](tg://time?...))
// are newer than the TDLib revision this package ports, so they follow the
// Bot API documentation ("Date-time entity formatting") rather than TDLib
// code, and the error texts below are this package's, not Telegram's.

// dateTimeFormat is the documented format grammar: r|w?[dD]?[tT]?.
var dateTimeFormat = regexp.MustCompile(`^(r|w?[dD]?[tT]?)$`)

// isTimeLink reports whether a "![...](url)" URL is a tg://time link
// rather than a custom emoji.
func isTimeLink(url string) bool {
	_, ok := tgLinkQuery(url, "time")
	return ok
}

// linkDateTime fills e from tg://time?unix=N[&format=F]. Unlike the rest
// of a tg: link, the arguments keep their case: d/D and t/T differ.
func linkDateTime(url string, e *entity) error {
	unix, format := "", ""
	if _, query, ok := strings.Cut(url, "?"); ok {
		query, _, _ = strings.Cut(query, "#")
		for _, arg := range strings.Split(query, "&") {
			switch key, value, _ := strings.Cut(arg, "="); key {
			case "unix":
				unix = value
			case "format":
				format = value
			}
		}
	}
	return setDateTime(e, unix, format)
}

func setDateTime(e *entity, unix, format string) error {
	t, ok := toIntegerSafe(unix)
	if !ok || t < 0 {
		return parseError("Invalid Unix time specified for the date-time entity")
	}
	if !dateTimeFormat.MatchString(format) {
		return parseError("Invalid date-time entity format specified")
	}
	e.kind, e.unixTime, e.format = kindDateTime, t, format
	return nil
}

// closeTime turns <tg-time unix="N" format="F">text</tg-time> into a
// date_time entity.
func (p *html) closeTime(o *htmlOpen, e entity) error {
	if err := setDateTime(&e, o.attrs["unix"], o.attrs["format"]); err != nil {
		return err
	}
	p.entities = append(p.entities, e)
	return nil
}
