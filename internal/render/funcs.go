package render

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"
	commontemplates "github.com/prometheus/common/helpers/templates"
)

// escapeFunc is the name of the function the tree rewrite appends to every
// printing action. It is not meant to be called by template authors.
const escapeFunc = "_alertgram_escape"

// funcMap returns the documented template functions for one dialect:
// Alertmanager's own functions plus markup helpers that escape their
// arguments. now is the injected clock behind now/since.
func funcMap(d dialect, now func() time.Time) template.FuncMap {
	fm := template.FuncMap{}
	for k, v := range amtemplate.DefaultFuncs {
		fm[k] = v
	}
	m := markupFuncs{d: d}
	for k, v := range map[string]any{
		escapeFunc:        m.escape,
		"now":             now,
		"since":           func(t time.Time) time.Duration { return now().Sub(t) },
		"bold":            m.wrapper("b"),
		"italic":          m.wrapper("i"),
		"underline":       m.wrapper("u"),
		"strike":          m.wrapper("s"),
		"spoiler":         m.wrapper("spoiler"),
		"code":            m.code,
		"pre":             m.pre,
		"link":            m.link,
		"links":           m.links,
		"quote":           m.quote(false),
		"quoteExpandable": m.quote(true),
		"raw":             func(s string) Markup { return Markup(s) },
		"linkable":        LinkableURL,
		"truncate":        TruncateRunes,
		"duration":        duration,
		"severityIcon":    severityIcon,
		"default":         orDefault,
		"add":             func(a, b int) int { return a + b },
	} {
		fm[k] = v
	}
	return fm
}

type markupFuncs struct{ d dialect }

// escape turns anything printed by a template into markup: Markup passes
// through, everything else is escaped as text.
func (m markupFuncs) escape(v any) Markup {
	if mk, ok := v.(Markup); ok {
		return mk
	}
	return Markup(m.d.text(fmt.Sprint(v)))
}

func (m markupFuncs) join(args []any) Markup {
	var b strings.Builder
	for _, a := range args {
		b.WriteString(string(m.escape(a)))
	}
	return Markup(b.String())
}

func (m markupFuncs) wrapper(tag string) func(args ...any) Markup {
	return func(args ...any) Markup {
		inner := m.join(args)
		if inner == "" {
			return "" // an empty entity is pointless and some parsers reject it
		}
		return Markup(m.d.wrap(tag, inner))
	}
}

// plainString is fmt.Sprint for the helpers that take raw text (code, pre,
// URLs): markup there would be shown literally, so it is refused.
func plainString(fn string, v any) (string, error) {
	if _, ok := v.(Markup); ok {
		return "", fmt.Errorf("%s: argument is already markup; pass the raw value", fn)
	}
	return fmt.Sprint(v), nil
}

func (m markupFuncs) code(v any) (Markup, error) {
	s, err := plainString("code", v)
	if err != nil || s == "" {
		return "", err
	}
	return Markup(m.d.code(s)), nil
}

func (m markupFuncs) pre(lang string, v any) (Markup, error) {
	s, err := plainString("pre", v)
	if err != nil || s == "" {
		return "", err
	}
	return Markup(m.d.pre(lang, s)), nil
}

// link makes a text link; a URL Telegram would refuse leaves the text alone.
func (m markupFuncs) link(text any, u string) Markup {
	t := m.escape(text)
	if !LinkableURL(u) {
		return t
	}
	if t == "" {
		t = Markup(m.d.text(u))
	}
	return Markup(m.d.link(t, u))
}

// links takes text/URL pairs and joins the linkable ones with " · ".
func (m markupFuncs) links(pairs ...string) (Markup, error) {
	if len(pairs)%2 != 0 {
		return "", fmt.Errorf("links: needs text/url pairs, got %d arguments", len(pairs))
	}
	var parts []string
	for i := 0; i < len(pairs); i += 2 {
		if LinkableURL(pairs[i+1]) {
			parts = append(parts, string(m.link(pairs[i], pairs[i+1])))
		}
	}
	return Markup(strings.Join(parts, m.d.text(" · "))), nil
}

func (m markupFuncs) quote(expandable bool) func(args ...any) Markup {
	return func(args ...any) Markup {
		inner := m.join(args)
		if strings.TrimSpace(string(inner)) == "" {
			return ""
		}
		return Markup(m.d.quote(inner, expandable))
	}
}

// TruncateRunes shortens s to at most n runes, ending with "…" when cut.
func TruncateRunes(n int, s string) string {
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// duration formats the time between two instants the way Prometheus does
// ("1h 2m 3s"); a zero end means "until now" is unknown, so it gives "".
func duration(start, end time.Time) string {
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return ""
	}
	s, err := commontemplates.HumanizeDuration(end.Sub(start).Seconds())
	if err != nil {
		return ""
	}
	return s
}

var severityIcons = map[string]string{
	"critical": "🔴", "page": "🔴", "error": "🔴", "high": "🔴",
	"warning": "🟠", "warn": "🟠", "medium": "🟠",
	"info": "🔵", "low": "🔵", "none": "⚪",
}

func severityIcon(severity string) string {
	if i, ok := severityIcons[strings.ToLower(severity)]; ok {
		return i
	}
	return "⚪"
}

// orDefault returns v unless it is the zero value of its kind.
func orDefault(def, v any) any {
	switch x := v.(type) {
	case nil:
		return def
	case string:
		if x == "" {
			return def
		}
	case Markup:
		if x == "" {
			return def
		}
	}
	return v
}
