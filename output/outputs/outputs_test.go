package outputs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
)

func TestRegister(t *testing.T) {
	r := output.NewRegistry()
	outputs.Register(r)
	var names []string
	for _, f := range r.List() {
		names = append(names, f.Name)
		var schema map[string]any
		if err := json.Unmarshal(f.Schema, &schema); err != nil {
			t.Errorf("%s: schema: %v", f.Name, err)
		}
	}
	if got := strings.Join(names, ","); got != "file,mediapackage,mediapackagev2,s3,void,webdav" {
		t.Errorf("registered %s", got)
	}
	o, err := r.Build("void", nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	_, err = r.Build("mediapackage", json.RawMessage(`{"ingestUrls":[{"url":"ftp://h/channel"}]}`))
	if !errors.Is(err, output.ErrInvalidPayload) || err.Error() != "output mediapackage: ingestUrls[0].url: must be http or https" {
		t.Errorf("Build = %v", err)
	}
}

func TestRedact(t *testing.T) {
	r := output.NewRegistry()
	outputs.Register(r)
	cases := []struct{ name, in, want string }{
		{"mediapackage", `{"ingestUrls":[{"url":"http://h/a/channel","username":"u","password":"pw1"},{"url":"http://h/b/channel","username":"u","password":"pw2"}]}`,
			`{"ingestUrls":[{"password":"***","url":"http://h/a/channel","username":"u"},{"password":"***","url":"http://h/b/channel","username":"u"}]}`},
		{"webdav", `{"url":"http://h/","auth":"digest","username":"u","password":"pw","headers":{"X-Key":"k"}}`,
			`{"auth":"digest","headers":"***","password":"***","url":"http://h/","username":"u"}`},
		{"s3", `{"bucket":"b","accessKeyId":"AK","secretAccessKey":"SK","sessionToken":"ST"}`,
			`{"accessKeyId":"AK","bucket":"b","secretAccessKey":"***","sessionToken":"***"}`},
		{"file", `{"dir":"/x"}`, `{"dir":"/x"}`},
		{"void", ``, ``},
		{"unknown-output", `{"token":"t","n":1,"list":["a"]}`, `{"list":["***"],"n":1,"token":"***"}`},
		{"mediapackage", `{"password":"x"`, `null`},
	}
	for _, c := range cases {
		if got := string(outputs.Redact(c.name, json.RawMessage(c.in), r)); got != c.want {
			t.Errorf("Redact(%s, %s) = %s, want %s", c.name, c.in, got, c.want)
		}
	}
	if got := string(outputs.Redact("s3", json.RawMessage(`{"secretAccessKey":"SK"}`), nil)); got != `{"secretAccessKey":"***"}` {
		t.Errorf("Redact with a nil registry = %s", got)
	}
}

// FuzzRedact checks that no secret of any output survives redaction, and
// that an unknown output leaks no string at all.
func FuzzRedact(f *testing.F) {
	f.Add("mediapackage", []byte(`{"ingestUrls":[{"url":"http://h/a/channel","username":"u","password":"pw1"}]}`))
	f.Add("webdav", []byte(`{"url":"http://h/","password":"pw","headers":{"X-Key":"k"}}`))
	f.Add("s3", []byte(`{"bucket":"b","secretAccessKey":"SK","sessionToken":"ST"}`))
	f.Add("other", []byte(`{"a":["b",{"c":"d"}]}`))
	f.Add("s3", []byte(`[{"SecretAccessKey":{"x":"y"}}, "z"]`))
	r := output.NewRegistry()
	outputs.Register(r)
	f.Fuzz(func(t *testing.T, name string, payload []byte) {
		red := outputs.Redact(name, payload, r)
		if red == nil {
			return
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(red))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("Redact output %q is not JSON: %v", red, err)
		}
		fac, known := r.Lookup(name)
		var check func(v any, secret bool)
		check = func(v any, secret bool) {
			switch x := v.(type) {
			case string:
				if (secret || !known) && x != output.Redacted {
					t.Fatalf("Redact(%s, %q) = %s keeps %q", name, payload, red, x)
				}
			case map[string]any:
				if secret {
					t.Fatalf("Redact(%s, %q) = %s keeps a secret object", name, payload, red)
				}
				for k, e := range x {
					s := false
					for _, sk := range fac.Secrets {
						s = s || strings.EqualFold(k, sk)
					}
					check(e, s)
				}
			case []any:
				if secret {
					t.Fatalf("Redact(%s, %q) = %s keeps a secret array", name, payload, red)
				}
				for _, e := range x {
					check(e, false)
				}
			default:
				if secret {
					t.Fatalf("Redact(%s, %q) = %s keeps a secret value %v", name, payload, red, x)
				}
			}
		}
		check(v, false)
	})
}
