// Package render turns an alert group into a Telegram message: Go templates
// (embedded defaults, overridable from a user directory) whose every literal
// and every printed value is escaped for the target parse mode, reduced at
// the model level until Telegram will accept its length.
package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/tgmarkup"
	"github.com/alertgram/alertgram/templates"
)

// MaxTextLength is Telegram's limit for a message text, in code points after
// entity parsing (PROTOCOLS.md §4.3).
const MaxTextLength = 4096

// Options configure a Renderer.
type Options struct {
	// UserDir holds *.tmpl files parsed after the defaults, so they can add
	// templates or redefine any default block. Empty: defaults only.
	UserDir string
	// Now is the clock behind the now and since functions; time.Now if nil.
	Now func() time.Time
	// MaxLength caps the parsed text length; if zero, MaxTextLength less
	// NoteRoom, so that a state note ("Silenced by …") can be added to any
	// message later. Tests lower it to exercise reduction.
	MaxLength int
}

// Renderer executes message templates. It is safe for concurrent use.
type Renderer struct {
	sets      map[Mode]*template.Template
	maxLength int
}

// Message is a rendered message ready for sendMessage.
type Message struct {
	Text      string
	ParseMode Mode
	Shown     int // alerts shown
	Omitted   int // alerts left out (alertgram's reduction + Alertmanager's max_alerts)
}

// MaxCaptionLength is Telegram's limit for a photo caption, in code points
// after entity parsing (PROTOCOLS.md §4.3).
const MaxCaptionLength = 1024

// FitsCaption reports whether m is valid, non-empty markup no longer than
// a photo caption.
func (m Message) FitsCaption() bool {
	n, err := tgmarkup.Length(string(m.ParseMode), m.Text)
	return err == nil && n > 0 && n <= MaxCaptionLength
}

// New parses the default templates and those in opts.UserDir once per mode.
func New(opts Options) (*Renderer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxLength == 0 {
		opts.MaxLength = MaxTextLength - NoteRoom
	}
	r := &Renderer{sets: map[Mode]*template.Template{}, maxLength: opts.MaxLength}
	for _, m := range []Mode{MarkdownV2, HTML, Plain} {
		t, err := parseSet(m, opts)
		if err != nil {
			return nil, err
		}
		r.sets[m] = t
	}
	return r, nil
}

func parseSet(m Mode, opts Options) (*template.Template, error) {
	d, err := dialectFor(m)
	if err != nil {
		return nil, err
	}
	t := template.New("alertgram").Option("missingkey=zero").Funcs(funcMap(d, opts.Now))
	if t, err = t.ParseFS(templates.FS, "*.tmpl"); err != nil {
		return nil, fmt.Errorf("default templates: %w", err)
	}
	if opts.UserDir != "" {
		if t, err = parseUserDir(t, opts.UserDir); err != nil {
			return nil, err
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			escapeTree(tt.Tree, d)
		}
	}
	return t, nil
}

func parseUserDir(t *template.Template, dir string) (*template.Template, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.tmpl"))
	if err != nil {
		return nil, fmt.Errorf("templates_dir %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("templates_dir: %w", err)
	}
	if len(matches) == 0 {
		return t, nil
	}
	if t, err = t.ParseFiles(matches...); err != nil {
		return nil, fmt.Errorf("templates_dir: %w", err)
	}
	return t, nil
}

// escapeTree rewrites a parsed template so that it cannot produce invalid
// markup: literal text is escaped for the dialect, and every action that
// prints gets the escape function appended to its pipeline, which passes
// Markup through and escapes everything else.
func escapeTree(tree *parse.Tree, d dialect) {
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.TextNode:
			n.Text = []byte(d.text(string(n.Text)))
		case *parse.ActionNode:
			if len(n.Pipe.Decl) == 0 && !n.Pipe.IsAssign {
				id := parse.NewIdentifier(escapeFunc).SetTree(tree).SetPos(n.Pos)
				n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos, Args: []parse.Node{id}})
			}
		case *parse.IfNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.List)
			walk(n.ElseList)
		}
	}
	walk(tree.Root)
}

// Has reports whether a template called name exists.
func (r *Renderer) Has(name string) bool {
	return r.sets[Plain].Lookup(name) != nil
}

// entry picks the template to execute for g: "<name>.firing" or
// "<name>.resolved" when defined, else "<name>".
func (r *Renderer) entry(t *template.Template, name string, status alert.Status) string {
	if specific := name + "." + string(status); t.Lookup(specific) != nil {
		return specific
	}
	return name
}

// Render renders g with template name in mode, leaving out alerts (and then
// shortening values) until the parsed text fits Telegram's limit. If the
// template fails, it returns the error: callers fall back to Fallback.
func (r *Renderer) Render(g *alert.Group, name string, mode Mode) (Message, error) {
	t, ok := r.sets[mode]
	if !ok {
		return Message{}, fmt.Errorf("unknown parse mode %q", string(mode))
	}
	if t.Lookup(name) == nil {
		return Message{}, fmt.Errorf("template %q is not defined", name)
	}
	entry := r.entry(t, name, g.Status)
	for _, limit := range []int{0, 1024, 256, 64} {
		msg, err := r.fit(t, entry, newData(g, limit), mode)
		if !errors.Is(err, errTooLong) {
			return msg, err
		}
	}
	return Message{}, fmt.Errorf("template %q: %w even with one alert and short values", name, errTooLong)
}

var (
	errTooLong = errors.New("message too long")
	errEmpty   = errors.New("empty message")
)

// fit finds the largest number of alerts (at least one, when there are any)
// whose rendering fits, by binary search: length grows with the alerts shown.
func (r *Renderer) fit(t *template.Template, entry string, d *Data, mode Mode) (Message, error) {
	msg, n, err := r.try(t, entry, d, len(d.Alerts), mode)
	if err != nil || n <= r.maxLength {
		return msg, err
	}
	lo, hi := 0, len(d.Alerts)-1 // lo: known to fit (or 0), hi: largest candidate
	if len(d.Alerts) > 0 {
		lo = 1
		if best, n, err := r.try(t, entry, d, 1, mode); err != nil || n > r.maxLength {
			if err == nil {
				err = errTooLong
			}
			return Message{}, err
		} else {
			msg = best
		}
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		m, n, err := r.try(t, entry, d, mid, mode)
		if err != nil {
			return Message{}, err
		}
		if n <= r.maxLength {
			lo, msg = mid, m
		} else {
			hi = mid - 1
		}
	}
	if len(d.Alerts) == 0 {
		return Message{}, errTooLong
	}
	return msg, nil
}

// try renders d showing n alerts and returns the message and its length as
// Telegram will count it.
func (r *Renderer) try(t *template.Template, entry string, d *Data, n int, mode Mode) (Message, int, error) {
	view := d.keep(n)
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, entry, view); err != nil {
		return Message{}, 0, fmt.Errorf("template %q: %w", entry, err)
	}
	text := b.String()
	length, err := measure(mode, text)
	if err != nil {
		return Message{}, 0, fmt.Errorf("template %q: %w", entry, err)
	}
	return Message{Text: text, ParseMode: mode, Shown: len(view.Alerts), Omitted: view.OmittedAlerts}, length, nil
}

// measure returns the length Telegram will count for text, or an error if
// Telegram would reject it as invalid markup or an empty message.
func measure(mode Mode, text string) (int, error) {
	length, err := tgmarkup.Length(string(mode), text)
	if err != nil {
		return 0, fmt.Errorf("produced invalid %s: %w", modeName(mode), err)
	}
	if length == 0 {
		return 0, fmt.Errorf("produced an %w", errEmpty)
	}
	return length, nil
}

func modeName(m Mode) string {
	if m == Plain {
		return "plain text"
	}
	return string(m)
}

// Fallback renders g with the built-in minimal plain-text template. It is
// what alertgram sends when a user template fails or Telegram rejects the
// formatted message, so that no alert is lost over formatting.
func (r *Renderer) Fallback(g *alert.Group) Message {
	msg, err := r.Render(g, "fallback", Plain)
	if err != nil {
		// Cannot happen with the embedded template; still never lose the alert.
		return Message{Text: fmt.Sprintf("%s: %s (%d alerts)", strings.ToUpper(string(g.Status)), groupTitle(g), len(g.Alerts))}
	}
	return msg
}
