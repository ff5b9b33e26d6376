package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// PayloadError is a validation error for one field of an output payload.
// It wraps ErrInvalidPayload; its message is "<field>: <problem>", e.g.
// "ingestUrls[1].url: must be http or https". Field is a JSON path with
// dots for object keys and [i] for array indexes; it is "payload" for
// problems with the payload as a whole.
type PayloadError struct {
	Field string
	Msg   string
}

// Error implements error.
func (e *PayloadError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap returns ErrInvalidPayload.
func (e *PayloadError) Unwrap() error { return ErrInvalidPayload }

// Invalid returns a *PayloadError for field with a formatted message.
func Invalid(field, format string, args ...any) error {
	return &PayloadError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// DecodePayload strictly decodes the JSON object payload into v, which must
// be a pointer to a struct. An empty payload or JSON null decodes as {}.
// Keys must match the struct's json tags exactly (no case folding); unknown
// keys, values of the wrong JSON type, malformed JSON and trailing data are
// rejected with a *PayloadError naming the field. Error messages never quote
// payload values, so they are safe to return even when the payload holds
// secrets.
func DecodePayload(payload json.RawMessage, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("output: DecodePayload needs a non-nil pointer to a struct, got %T", v)
	}
	data := bytes.TrimSpace(payload)
	if len(data) == 0 || string(data) == "null" {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return Invalid("payload", "malformed JSON%s", syntaxOffset(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Invalid("payload", "unexpected data after the JSON object")
	}
	if _, ok := raw.(map[string]any); !ok {
		return Invalid("payload", "must be a JSON object")
	}
	if err := checkShape("", raw, rv.Elem().Type()); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		// checkShape accepts only what Unmarshal can decode; this is a
		// backstop that still names no value.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Invalid(te.Field, "must be %s", jsonKind(te.Type))
		}
		return Invalid("payload", "cannot be decoded")
	}
	return nil
}

// syntaxOffset describes where a JSON syntax error is without quoting input.
func syntaxOffset(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf(" at byte %d", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return " (unexpected end)"
	}
	return ""
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a valid value"
}

// jsonFields maps the JSON keys of struct type t to field types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		fields[name] = f.Type
	}
	return fields
}

// checkShape verifies that the generic JSON value val (decoded with
// UseNumber) fits type t: known keys only, matching JSON types.
func checkShape(path string, val any, t reflect.Type) error {
	if val == nil { // JSON null leaves the zero value
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	field := path
	if field == "" {
		field = "payload"
	}
	wrong := func() error { return Invalid(field, "must be %s", jsonKind(t)) }
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := val.(map[string]any)
		if !ok {
			return wrong()
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return Invalid(joinPath(path, k), "unknown field")
			}
			if err := checkShape(joinPath(path, k), obj[k], ft); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := val.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return wrong()
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := checkShape(joinPath(path, k), obj[k], t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Slice:
		arr, ok := val.([]any)
		if !ok {
			return wrong()
		}
		for i, e := range arr {
			if err := checkShape(fmt.Sprintf("%s[%d]", field, i), e, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.String:
		if _, ok := val.(string); !ok {
			return wrong()
		}
	case reflect.Bool:
		if _, ok := val.(bool); !ok {
			return wrong()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := val.(json.Number)
		if !ok {
			return wrong()
		}
		i, err := n.Int64()
		if err != nil || reflect.Zero(t).OverflowInt(i) {
			return wrong()
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := val.(json.Number)
		if !ok {
			return wrong()
		}
		i, err := n.Int64()
		if err != nil || i < 0 || reflect.Zero(t).OverflowUint(uint64(i)) {
			return wrong()
		}
	case reflect.Float32, reflect.Float64:
		n, ok := val.(json.Number)
		if !ok {
			return wrong()
		}
		if _, err := n.Float64(); err != nil {
			return wrong()
		}
	case reflect.Interface:
		// anything goes
	default:
		return wrong()
	}
	return nil
}

// Redacted is the value that replaces secrets in redacted payloads.
const Redacted = "***"

// Redact returns payload with the value of every key listed in f.Secrets,
// at any depth and compared case-insensitively, replaced by "***". Other
// values are kept (numbers exactly); object keys come out sorted. A
// payload that is not valid JSON gives null, so a secret can never leak
// through a malformed payload; an empty payload gives nil.
func (f Factory) Redact(payload json.RawMessage) json.RawMessage {
	return RedactJSON(payload, f.Secrets)
}

// RedactJSON is Factory.Redact for an explicit list of secret keys.
func RedactJSON(payload json.RawMessage, secrets []string) json.RawMessage {
	return RedactJSONFunc(payload, secrets, nil)
}

// RedactJSONFunc is RedactJSON that also passes every string value not
// under a secret key (object keys excepted) through str, when str is not
// nil: for example to hide passwords in URLs, or to replace every string.
func RedactJSONFunc(payload json.RawMessage, secrets []string, str func(string) string) json.RawMessage {
	data := bytes.TrimSpace(payload)
	if len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return json.RawMessage("null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return json.RawMessage("null")
	}
	v = redactValue(v, secrets, str)
	out, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return out
}

func isSecret(key string, secrets []string) bool {
	for _, s := range secrets {
		if strings.EqualFold(key, s) {
			return true
		}
	}
	return false
}

func redactValue(v any, secrets []string, str func(string) string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if isSecret(k, secrets) {
				x[k] = Redacted
			} else {
				x[k] = redactValue(e, secrets, str)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = redactValue(e, secrets, str)
		}
	case string:
		if str != nil {
			return str(x)
		}
	}
	return v
}

// ValidName reports whether name is safe to use as a file name in every
// output: 1 to 255 characters from [A-Za-z0-9._-], not starting with a dot
// and not containing ".." (so neither "." nor ".." nor hidden or temporary
// files), hence no path separators and no traversal.
func ValidName(name string) error {
	if name == "" {
		return errors.New("empty file name")
	}
	if len(name) > 255 {
		return fmt.Errorf("file name longer than 255 bytes")
	}
	if name[0] == '.' {
		return fmt.Errorf("file name %q starts with a dot", name)
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("file name %q contains \"..\"", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("file name %q has a character outside [A-Za-z0-9._-]", name)
		}
	}
	return nil
}

// ErrInvalidName is wrapped by targets when asked to store or delete a
// name that fails ValidName.
var ErrInvalidName = errors.New("invalid file name")

// CheckName returns nil for a valid name and otherwise an error wrapping
// ErrInvalidName. Every Target calls it before touching its destination.
func CheckName(name string) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidName, err)
	}
	return nil
}
