package outputtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/output"
)

// canary replaces secret values in CheckPayload so leaks are unambiguous.
const canary = "Zq9canaryXk"

// CheckPayload is the body of every factory's payload fuzz target. It
// builds an output from payload with f.New and checks that:
//   - nothing panics, and every error wraps output.ErrInvalidPayload;
//   - with every secret value replaced by a canary, neither the error nor
//     the target names quote it;
//   - f.Redact never outputs a secret value: every secret key in its
//     output (at any depth, any case) holds "***".
func CheckPayload(t testing.TB, f output.Factory, payload []byte) {
	t.Helper()
	build := func(p []byte) (string, error) {
		o, err := f.New(json.RawMessage(p))
		if err != nil {
			if !errors.Is(err, output.ErrInvalidPayload) {
				t.Fatalf("New(%q) error %q does not wrap ErrInvalidPayload", p, err)
			}
			return err.Error(), err
		}
		var names []string
		for _, tg := range o.Targets() {
			names = append(names, tg.Name())
		}
		if err := o.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return strings.Join(names, "\n"), nil
	}
	build(payload)

	// Replace secrets with canaries and check nothing quotes them.
	var v any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if !bytes.Contains(payload, []byte(canary)) && dec.Decode(&v) == nil {
		n := 0
		v = walkSecrets(v, f.Secrets, func(old any) any {
			if s, ok := old.(string); ok && s != "" {
				n++
				return fmt.Sprintf("%s%d", canary, n)
			}
			return old
		})
		canaried, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if text, _ := build(canaried); strings.Contains(text, canary) {
			t.Fatalf("New(%s) leaks a secret in %q", canaried, text)
		}
		if red := f.Redact(canaried); bytes.Contains(red, []byte(canary)) {
			t.Fatalf("Redact(%s) = %s leaks a secret", canaried, red)
		}
	}

	red := f.Redact(payload)
	if red == nil {
		if len(bytes.TrimSpace(payload)) != 0 {
			t.Fatalf("Redact(%q) = nil for a non-empty payload", payload)
		}
		return
	}
	var rv any
	rdec := json.NewDecoder(bytes.NewReader(red))
	rdec.UseNumber()
	if err := rdec.Decode(&rv); err != nil {
		t.Fatalf("Redact(%q) = %q is not JSON: %v", payload, red, err)
	}
	walkSecrets(rv, f.Secrets, func(old any) any {
		if old != output.Redacted {
			t.Fatalf("Redact(%q) = %s keeps a secret value %v", payload, red, old)
		}
		return old
	})
}

// walkSecrets calls fn for the value of every secret key of v at any depth
// (keys compared case-insensitively) and stores its result.
func walkSecrets(v any, secrets []string, fn func(any) any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			secret := false
			for _, s := range secrets {
				secret = secret || strings.EqualFold(k, s)
			}
			if secret {
				x[k] = fn(e)
			} else {
				x[k] = walkSecrets(e, secrets, fn)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = walkSecrets(e, secrets, fn)
		}
	}
	return v
}

// CheckSchema checks that f.Schema is a draft 2020-12 JSON Schema of a
// closed object whose properties (recursively, through arrays of objects)
// are exactly the json keys of the payload struct, and that f.Secrets are
// all payload keys.
func CheckSchema(t testing.TB, f output.Factory, payload any) {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal(f.Schema, &s); err != nil {
		t.Fatalf("%s: schema is not JSON: %v", f.Name, err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("%s: $schema = %v", f.Name, s["$schema"])
	}
	keys := make(map[string]bool)
	checkSchemaType(t, f.Name, s, reflect.TypeOf(payload), keys)
	for _, sec := range f.Secrets {
		if !keys[sec] {
			t.Errorf("%s: secret %q is not a payload key", f.Name, sec)
		}
	}
	if f.Name == "" || f.Description == "" || f.New == nil {
		t.Errorf("factory %q lacks a name, description or New", f.Name)
	}
}

func checkSchemaType(t testing.TB, path string, s map[string]any, typ reflect.Type, keys map[string]bool) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Struct:
		if s["type"] != "object" || s["additionalProperties"] != false {
			t.Errorf("%s: schema must be a closed object (type object, additionalProperties false)", path)
		}
		props, _ := s["properties"].(map[string]any)
		var want, got []string
		fields := map[string]reflect.Type{}
		for i := 0; i < typ.NumField(); i++ {
			fl := typ.Field(i)
			name, _, _ := strings.Cut(fl.Tag.Get("json"), ",")
			if name == "" {
				name = fl.Name
			}
			want = append(want, name)
			fields[name] = fl.Type
			keys[name] = true
		}
		for k := range props {
			got = append(got, k)
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("%s: schema properties %v, payload keys %v", path, got, want)
		}
		for k, ft := range fields {
			if p, ok := props[k].(map[string]any); ok {
				checkSchemaType(t, path+"."+k, p, ft, keys)
			}
		}
	case reflect.Slice:
		if s["type"] != "array" {
			t.Errorf("%s: schema type = %v, want array", path, s["type"])
		}
		if items, ok := s["items"].(map[string]any); ok {
			checkSchemaType(t, path+"[]", items, typ.Elem(), keys)
		} else {
			t.Errorf("%s: array schema without items", path)
		}
	case reflect.Map:
		if s["type"] != "object" {
			t.Errorf("%s: schema type = %v, want object", path, s["type"])
		}
	case reflect.String:
		if s["type"] != "string" {
			t.Errorf("%s: schema type = %v, want string", path, s["type"])
		}
	case reflect.Bool:
		if s["type"] != "boolean" {
			t.Errorf("%s: schema type = %v, want boolean", path, s["type"])
		}
	}
}
