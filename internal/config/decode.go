package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder decodes an (expanded) node tree into a value, strictly: an
// unknown or duplicate key is an error naming its key path and line, and
// so is a value of the wrong type. It walks mappings, sequences and
// pointers itself so that it knows where it is; every leaf (a scalar, or a
// type with its own UnmarshalYAML/UnmarshalText) is decoded by yaml.v3,
// except Prometheus' yaml.v2-style types (http_config), which yaml.v2
// decodes strictly (see v2Leaf).
//
// Walking the original tree, rather than re-encoding it and decoding with
// yaml.v3's KnownFields(true), keeps the line numbers of the file the user
// wrote (a re-encoded document has different ones) and still applies
// strictness inside types with their own UnmarshalYAML, where yaml.v3 does
// not pass KnownFields on.
type decoder struct {
	original map[*yaml.Node]string // text before ${VAR} expansion
	skip     map[*yaml.Node]bool   // scalars whose expansion failed
	aliases  map[*yaml.Node]bool   // aliases being followed, to stop cycles
	set      map[string]bool       // key paths present in the file
	errs     []error
}

// defaulter is a type that sets its defaults on a fresh value before YAML
// is decoded into it (a slice element or a newly allocated pointer).
type defaulter interface{ setDefaults() }

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errs = append(d.errs, fmt.Errorf("line %d: %s", n.Line, msg))
}

// decode decodes n into v, which must be addressable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		if d.aliases[n] {
			d.errorf(n, path, "alias *%s refers to itself", n.Value)
			return
		}
		d.aliases[n] = true
		defer delete(d.aliases, n)
		n = n.Alias
	}
	if d.skip[n] {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// Like yaml.v3: null clears a pointer or slice and leaves the
		// rest (and so its default) alone.
		if k := v.Kind(); k == reflect.Pointer || k == reflect.Slice {
			v.SetZero()
		}
		return
	}
	t := reflect.PointerTo(v.Type())
	if t.Implements(v2UnmarshalerType) {
		d.v2Leaf(n, v, path)
		return
	}
	if t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType) {
		d.leaf(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		d.pointer(n, v, path)
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	default:
		d.leaf(n, v, path)
	}
}

// pointer decodes into a fresh value, so a default pointer is never
// written through.
func (d *decoder) pointer(n *yaml.Node, v reflect.Value, path string) {
	p := reflect.New(v.Type().Elem())
	if !v.IsNil() {
		p.Elem().Set(v.Elem())
	} else {
		setDefaults(p)
	}
	d.decode(n, p.Elem(), path)
	v.Set(p)
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", d.describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		setDefaults(s.Index(i).Addr())
		d.decode(c, s.Index(i), indexKey(path, i))
	}
	v.Set(s)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", d.describe(n))
		return
	}
	fields, names := yamlFields(v.Type())
	seen := make(map[string]int) // key → line
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			d.merge(value, v, path)
			continue
		}
		name := key.Value
		keyPath := joinKey(path, name)
		index, known := fields[name]
		switch {
		case key.Kind != yaml.ScalarNode:
			d.errorf(key, path, "a key must be a plain string, got %s", d.describe(key))
		case seen[name] != 0:
			d.errorf(key, keyPath, "duplicate key (first set on line %d)", seen[name])
		case !known:
			d.errorf(key, keyPath, "unknown key (known keys: %s)", strings.Join(names, ", "))
		default:
			seen[name] = key.Line
			d.set[keyPath] = true
			d.decode(value, v.Field(index), keyPath)
		}
	}
}

// merge applies a "<<" merge key: a mapping or a list of mappings decoded
// into the same struct first, so the mapping's own keys win (as in yaml.v3,
// a later mapping in the list wins over an earlier one).
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			d.decode(c, v, path)
		}
		return
	}
	d.decode(n, v, path)
}

// leaf lets yaml.v3 decode n and rewrites its error to name the key.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	err := n.Decode(v.Addr().Interface())
	if err == nil {
		return
	}
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
		d.errorf(n, path, "expected %s, got %s", describeType(v.Type()), d.describe(n))
		return
	}
	d.errorf(n, path, "%v", err)
}

// describe names what a node holds for an error message. An expanded
// scalar is quoted as written (with its ${VAR}), never with the value
// that came from the environment.
func (d *decoder) describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return describeKind(n)
	}
	if text, ok := d.original[n]; ok {
		return fmt.Sprintf("the expansion of %q", text)
	}
	return fmt.Sprintf("%q", n.Value)
}

func describeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a scalar"
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// yamlFields maps the YAML keys of a struct to field indexes, by the same
// rule as yaml.v3: the yaml tag's name, or the lower-cased field name;
// "-" and unexported fields are skipped. names lists the keys in order.
func yamlFields(t reflect.Type) (fields map[string]int, names []string) {
	fields = make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
		names = append(names, name)
	}
	return fields, names
}

// setDefaults calls setDefaults on *p if it has the method.
func setDefaults(p reflect.Value) {
	if d, ok := p.Interface().(defaulter); ok {
		d.setDefaults()
	}
}
