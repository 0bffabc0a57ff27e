package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	"gopkg.in/yaml.v3"
)

// v2Unmarshaler is yaml.v2's Unmarshaler, which Prometheus' config types
// implement. Node.Decode would call it, but not strictly, and this decoder
// cannot walk those types (they rely on yaml.v2 rules such as ",inline"),
// so they are decoded as leaves by yaml.v2's UnmarshalStrict, as
// Prometheus itself does.
type v2Unmarshaler interface {
	UnmarshalYAML(unmarshal func(any) error) error
}

var v2UnmarshalerType = reflect.TypeFor[v2Unmarshaler]()

// origin is where a line of the re-encoded subtree came from.
type origin struct {
	line int
	path string
}

// lineMap maps lines of the re-encoded subtree back to the file. yaml.v2
// reports an unknown key at the key's line and a wrong type at the value's
// first line, which for a mapping or list is its first child's line too,
// so keys and list items are kept apart from mappings and lists.
type lineMap struct {
	scalars, containers map[int]origin
}

func (m lineMap) find(line int, container bool) (origin, bool) {
	if container {
		if o, ok := m.containers[line]; ok {
			return o, true
		}
	}
	o, ok := m.scalars[line]
	return o, ok
}

// v2Leaf decodes n into v with yaml.v2: it re-encodes the subtree (after
// ${VAR} expansion) and maps yaml.v2's line numbers back to the file's, so
// errors name the key path and the line the user wrote.
func (d *decoder) v2Leaf(n *yaml.Node, v reflect.Value, path string) {
	plain, ok := d.plainCopy(n, path)
	if !ok {
		return // already reported (a failed expansion or an alias loop)
	}
	doc, err := yaml.Marshal(plain)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return
	}
	lines := lineMap{make(map[int]origin), make(map[int]origin)}
	var reparsed yaml.Node
	if err := yaml.Unmarshal(doc, &reparsed); err == nil && len(reparsed.Content) == 1 {
		lines.add(reparsed.Content[0], plain, path)
	}
	if err := yamlv2.UnmarshalStrict(doc, v.Addr().Interface()); err != nil {
		d.v2Errors(n, path, lines, err)
	}
}

// plainCopy copies the subtree at n with aliases replaced by their
// targets, in block style, without anchors or comments: a document that
// stands alone and puts every key on its own line. ok is false if the
// subtree holds a scalar whose expansion failed.
func (d *decoder) plainCopy(n *yaml.Node, path string) (*yaml.Node, bool) {
	if n.Kind == yaml.AliasNode {
		if d.aliases[n] {
			d.errorf(n, path, "alias *%s refers to itself", n.Value)
			return nil, false
		}
		d.aliases[n] = true
		defer delete(d.aliases, n)
		return d.plainCopy(n.Alias, path)
	}
	if d.skip[n] {
		return nil, false
	}
	c := *n
	c.Style &^= yaml.FlowStyle
	c.Anchor, c.HeadComment, c.LineComment, c.FootComment = "", "", "", ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		var ok bool
		if c.Content[i], ok = d.plainCopy(child, path); !ok {
			return nil, false
		}
	}
	return &c, true
}

// add records where the nodes of the re-encoded subtree re came from: orig
// is the same subtree as decoded from the file. On each line the first
// node of each sort wins (a key before its value).
func (m lineMap) add(re, orig *yaml.Node, path string) {
	if re.Kind != orig.Kind || len(re.Content) != len(orig.Content) {
		return
	}
	to := m.scalars
	if re.Kind != yaml.ScalarNode {
		to = m.containers
	}
	if _, seen := to[re.Line]; !seen {
		to[re.Line] = origin{orig.Line, path}
	}
	for i := 0; i < len(re.Content); i++ {
		switch re.Kind {
		case yaml.MappingNode:
			keyPath := joinKey(path, orig.Content[i].Value)
			m.add(re.Content[i], orig.Content[i], keyPath)
			i++
			m.add(re.Content[i], orig.Content[i], keyPath)
		case yaml.SequenceNode:
			m.add(re.Content[i], orig.Content[i], indexKey(path, i))
		}
	}
}

var (
	v2LineRE      = regexp.MustCompile(`^line (\d+): (.*)$`)
	v2UnknownRE   = regexp.MustCompile(`^field \S+ not found in type \S+$`)
	v2DuplicateRE = regexp.MustCompile(`^field \S+ already set in type \S+$`)
	// yaml.v2 quotes the value in type errors; it may have come from the
	// environment (a secret), so it is never shown.
	v2TypeRE = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `.*`)? into (.+)$")
)

// v2Errors rewrites yaml.v2's errors in this decoder's style.
func (d *decoder) v2Errors(n *yaml.Node, path string, lines lineMap, err error) {
	var te *yamlv2.TypeError
	if !errors.As(err, &te) {
		d.errorf(n, path, "%s", v2Message(err))
		return
	}
	for _, msg := range te.Errors {
		line := 0
		if m := v2LineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		typeErr := v2TypeRE.FindStringSubmatch(msg)
		switch {
		case v2UnknownRE.MatchString(msg):
			msg = "unknown key"
		case v2DuplicateRE.MatchString(msg):
			msg = "duplicate key"
		case typeErr != nil:
			msg = fmt.Sprintf("expected %s, got %s", describeV2Type(typeErr[2]), describeV2Tag(typeErr[1]))
		}
		at, ok := lines.find(line, typeErr != nil && (typeErr[1] == "seq" || typeErr[1] == "map"))
		if !ok {
			at = origin{n.Line, path}
		}
		d.errs = append(d.errs, fmt.Errorf("line %d: %s: %s", at.line, at.path, msg))
	}
}

// describeV2Tag names what a YAML tag in a yaml.v2 error holds.
func describeV2Tag(tag string) string {
	switch tag {
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	case "str":
		return "a string"
	case "int":
		return "an integer"
	case "float":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return "!!" + tag
}

// describeV2Type names a Go type in a yaml.v2 error as describeType does;
// Prometheus' structs are decoded through a local type called "plain".
func describeV2Type(name string) string {
	switch {
	case name == "bool":
		return "a boolean (true or false)"
	case name == "string":
		return "a string"
	case strings.HasPrefix(name, "float"):
		return "a number"
	case strings.HasPrefix(name, "int"), strings.HasPrefix(name, "uint"):
		return "an integer"
	case strings.HasPrefix(name, "[]"):
		return "a list"
	case strings.HasPrefix(name, "map["), strings.HasSuffix(name, ".plain"):
		return "a mapping"
	}
	return name
}

// v2Message is the text of a non-type error from a Prometheus type. A URL
// parse error quotes the whole URL, password included, so only its cause
// is kept.
func v2Message(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return "not a valid URL: " + ue.Err.Error()
	}
	return err.Error()
}
