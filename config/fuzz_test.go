package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// loadYAML is what LoadServe does with a config file: defaults, the file's
// keys, validation. Data is preset (as from --data) so that files without
// it can still be valid.
func loadYAML(data []byte) (Serve, error) {
	c := DefaultServe()
	c.Data = "data"
	if err := c.applyYAML(data); err != nil {
		return Serve{}, err
	}
	return c, c.Validate()
}

// encodeYAML writes every key of c as a YAML mapping of strings.
func encodeYAML(t *testing.T, c Serve) []byte {
	m := make(map[string]string, len(serveSettings))
	for _, s := range serveSettings {
		m[s.key] = s.get(&c)
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatalf("encode %+v: %v", c, err)
	}
	return out
}

// canaryToken returns data with the value of a top-level apiToken key
// prefixed by a marker, or nil when data has no such key.
func canaryToken(data []byte, marker string) []byte {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0]
	found := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "apiToken" && m.Content[i+1].Kind == yaml.ScalarNode {
			v := m.Content[i+1]
			v.Value, v.Tag, v.Style = marker+v.Value, "!!str", yaml.DoubleQuotedStyle
			found = true
		}
	}
	if !found {
		return nil
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil
	}
	return out
}

// FuzzServeYAML checks the serve config file loader: it never panics; a
// refused file gets a one-line error, and the API token's value never
// shows in it; an accepted file written back out (every key through the
// same formatting the flags' defaults use) loads to the same
// configuration, so each key's parse and format agree. Seeds are in
// testdata/fuzz/FuzzServeYAML.
func FuzzServeYAML(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := loadYAML(data)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("loadYAML(%q) error %q: want one non-empty line", data, msg)
			}
			const marker = "CANARY-7f3a"
			if marked := canaryToken(data, marker); marked != nil {
				if _, err := loadYAML(marked); err != nil && strings.Contains(err.Error(), marker) {
					t.Fatalf("loadYAML(%q) error %q shows the API token", marked, err)
				}
			}
			return
		}
		out := encodeYAML(t, c)
		again, err := loadYAML(out)
		if err != nil {
			t.Fatalf("written back out, %q does not load: %v", out, err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v\n(written as %q)", c, again, out)
		}
	})
}

// FuzzParseBytes checks that a byte count either parses to a value in
// [0, 2^62] that its plain decimal form gives back, or is refused with a
// message that quotes it and shows the expected form (seeds in
// testdata/fuzz/FuzzParseBytes).
func FuzzParseBytes(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err != nil {
			if want := fmt.Sprintf("%q is not a byte count (e.g. 536870912 or 512MiB)", s); err.Error() != want {
				t.Fatalf("ParseBytes(%q) error %q, want %q", s, err, want)
			}
			return
		}
		if n < 0 || n > 1<<62 {
			t.Fatalf("ParseBytes(%q) = %d, out of range", s, n)
		}
		if again, err := ParseBytes(strconv.FormatInt(n, 10)); err != nil || again != n {
			t.Fatalf("ParseBytes(%d) = %d, %v (from %q)", n, again, err, s)
		}
	})
}
