// Package strictyaml decodes configuration YAML (or JSON) strictly, the
// one way every config loader of pullpush does: a key the target type does
// not have, or a key given twice, is an error that names the key by its
// path (channels[0].endpoints[1].packaging) and line; documents are bounded
// in size and in what their aliases expand to.
package strictyaml

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxBytes bounds the size of a document.
const MaxBytes = 4 << 20

// MaxAliasValues bounds how many values aliases may add to a document
// when expanded (a "billion laughs" document is refused, not expanded).
const MaxAliasValues = 100_000

// Parse parses data into its document node, refusing documents larger
// than MaxBytes, aliases that refer to themselves and aliases that expand
// to more than MaxAliasValues values. An empty document is a DocumentNode
// without content.
func Parse(data []byte) (*yaml.Node, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxBytes)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if err := checkAliases(&doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// Decode decodes data into v, a pointer, strictly (see the package doc).
// An empty document leaves v as it is.
func Decode(data []byte, v any) error {
	doc, err := Parse(data)
	if err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("strictyaml: Decode needs a non-nil pointer")
	}
	if err := check(doc.Content[0], rv.Type().Elem(), ""); err != nil {
		return err
	}
	if err := doc.Content[0].Decode(v); err != nil {
		return err
	}
	return nil
}

var (
	yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// check walks node n against type t and returns an error for the first
// unknown or repeated key.
func check(n *yaml.Node, t reflect.Type, path string) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(yamlUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil // decodes itself
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder says what is wrong with it
		}
		fields := map[string]reflect.Type{}
		structFields(t, fields)
		return eachKey(n, path, func(key string, v *yaml.Node) error {
			ft, ok := fields[key]
			if !ok {
				return fmt.Errorf("line %d: %s: unknown key", v.Line, join(path, key))
			}
			return check(v, ft, join(path, key))
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		return eachKey(n, path, func(key string, v *yaml.Node) error {
			return check(v, t.Elem(), join(path, key))
		})
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			if err := check(item, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// eachKey calls fn for each key of mapping n, refusing a key given twice.
func eachKey(n *yaml.Node, path string, fn func(key string, v *yaml.Node) error) error {
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen[k.Value] {
			return fmt.Errorf("line %d: %s: key given twice", k.Line, join(path, k.Value))
		}
		seen[k.Value] = true
		if err := fn(k.Value, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// structFields adds the YAML keys of struct t (with its inline fields) to
// fields.
func structFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				structFields(ft, fields)
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default key
		}
		fields[name] = f.Type
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// checkAliases refuses a document whose aliases, expanded, would add more
// than MaxAliasValues values to it. It costs the size of the document.
func checkAliases(doc *yaml.Node) error {
	// expanded[n] is the number of values under n with aliases expanded,
	// saturated at limit; -1 while n is being counted (an alias cycle).
	expanded := map[*yaml.Node]int{}
	nodes := 0
	const limit = 1 << 40
	var count func(n *yaml.Node) (int, error)
	count = func(n *yaml.Node) (int, error) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch c, ok := expanded[n]; {
		case ok && c < 0:
			return 0, fmt.Errorf("line %d: alias refers to itself", n.Line)
		case ok:
			return c, nil
		}
		expanded[n] = -1
		nodes++
		total := 1
		for _, child := range n.Content {
			c, err := count(child)
			if err != nil {
				return 0, err
			}
			total = min(total+c, limit)
		}
		expanded[n] = total
		return total, nil
	}
	total, err := count(doc)
	if err != nil {
		return err
	}
	if total-nodes > MaxAliasValues {
		return fmt.Errorf("aliases expand to more than %d values", MaxAliasValues)
	}
	return nil
}
