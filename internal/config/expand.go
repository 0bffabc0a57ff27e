package config

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// lookupFunc finds an environment variable, like os.LookupEnv.
type lookupFunc func(name string) (string, bool)

// expander replaces ${VAR} in the scalar values of a node tree, in place.
// Keys are never expanded. It remembers each changed node's original text so
// that later errors can quote what the user wrote, not what the environment
// held (which may be a secret).
type expander struct {
	lookup   lookupFunc
	original map[*yaml.Node]string
	failed   map[*yaml.Node]bool // not decoded, so one mistake gives one error
	errs     []error
}

// tree expands every scalar value below n; path is n's key path.
// An alias is not followed: the anchored node it points to is expanded
// once, where it is defined, so "$${" never gets expanded twice.
func (e *expander) tree(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			e.tree(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			e.tree(n.Content[i+1], joinKey(path, n.Content[i].Value))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			e.tree(c, indexKey(path, i))
		}
	case yaml.ScalarNode:
		e.scalar(n, path)
	}
}

func (e *expander) scalar(n *yaml.Node, path string) {
	value, errs := expandString(n.Value, e.lookup)
	for _, err := range errs {
		e.errs = append(e.errs, fmt.Errorf("line %d: %s: %w", n.Line, path, err))
	}
	if len(errs) > 0 {
		e.failed[n] = true
		return
	}
	if value == n.Value {
		return
	}
	e.original[n] = n.Value
	n.Value = value
	n.Tag = expandedTag(n, value)
}

// expandedTag is the tag of a scalar after expansion. A quoted, block or
// explicitly tagged scalar keeps its tag. A plain one becomes what YAML
// would make of the value written there (so `max_body_bytes: ${MAX}` and
// `send_resolved: ${SEND}` work), but only for numbers and booleans: an
// empty value or "null" stays a string, and structure is never created
// because the value is never parsed as YAML.
func expandedTag(n *yaml.Node, value string) string {
	const nonPlain = yaml.TaggedStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
	if n.Style&nonPlain != 0 {
		return n.Tag
	}
	switch tag := (&yaml.Node{Kind: yaml.ScalarNode, Value: value}).ShortTag(); tag {
	case "!!int", "!!float", "!!bool":
		return tag
	}
	return "!!str"
}

// expandString replaces each ${NAME} in s with the value of the environment
// variable NAME; "$${" is a literal "${". A bare $NAME is left alone. It
// returns one error per unset variable or malformed reference.
func expandString(s string, lookup lookupFunc) (string, []error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var (
		b    strings.Builder
		errs []error
	)
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), errs
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return b.String(), append(errs, errors.New(`unterminated "${" (write "$${" for a literal "${")`))
		}
		name := s[i+2 : i+2+end]
		s = s[i+2+end+1:]
		if !validEnvName(name) {
			errs = append(errs, fmt.Errorf(`invalid variable reference "${%s}" (a name is letters, digits and _; write "$${" for a literal "${")`, name))
			continue
		}
		value, ok := lookup(name)
		if !ok {
			errs = append(errs, fmt.Errorf("environment variable %s is not set", name))
			continue
		}
		b.WriteString(value)
	}
}

func validEnvName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, r := range name {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexKey(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
