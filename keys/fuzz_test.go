package keys

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// quotedValue matches how yaml.v3 quotes the start of a value in a type
// error.
var quotedValue = regexp.MustCompile("cannot unmarshal [^ ]+ `")

// FuzzParseStatic checks the static key file parser: it never panics; a
// refused file gets an error that says so ("static keys: ...") and never
// shows a key value; an accepted file written out again (every key in
// canonical hex) parses to the same keys, and serves every period of every
// channel without panicking.
//
// The seeds are in testdata/fuzz/FuzzParseStatic: misindented_key and
// newline_in_tag were errors that quoted a key's first characters and
// spanned lines before yamlError.
func FuzzParseStatic(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStatic(data)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "static keys: ") || strings.Contains(msg, "\n") || quotedValue.MatchString(msg) {
				t.Fatalf("error %q: want one line starting %q, quoting no YAML value", msg, "static keys: ")
			}
			for _, v := range keyValues(data) {
				if strings.Contains(msg, v) {
					t.Fatalf("error %q shows the key value %q", msg, v)
				}
			}
			return
		}
		if s == nil || len(s.byChannel) == 0 {
			t.Fatalf("ParseStatic(%q) = %v, nil: no keys and no error", data, s)
		}
		out, err := yaml.Marshal(encodeStatic(s))
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := ParseStatic(out)
		if err != nil {
			t.Fatalf("written out again, %q does not parse: %v", out, err)
		}
		if !reflect.DeepEqual(again.byChannel, s.byChannel) {
			t.Fatalf("round trip changed the keys:\n%+v\n%+v", s.byChannel, again.byChannel)
		}
		for ch, l := range s.byChannel {
			for p := int64(-3); p <= int64(len(l))+1; p++ {
				k, err := s.Key(context.Background(), ch, p)
				if err != nil {
					t.Fatalf("Key(%q, %d): %v", ch, p, err)
				}
				if got, ok := s.Lookup(ch, k.ID); !ok || got.ID != k.ID {
					t.Fatalf("Lookup(%q, %s) does not find the key Key returned", ch, k.ID)
				}
			}
		}
	})
}

// encodeStatic writes s back as a StaticFile, keys in canonical hex.
func encodeStatic(s *Static) StaticFile {
	var f StaticFile
	for ch, l := range s.byChannel {
		for _, k := range l {
			e := StaticKey{Channel: ch, KID: k.ID.String(), Key: hex.EncodeToString(k.Value.Bytes()), URI: k.URI}
			if k.IV != nil {
				e.IV = hex.EncodeToString(k.IV)
			}
			f.Keys = append(f.Keys, e)
		}
	}
	return f
}

// keyValues returns the 'key' values of a document that decodes as a
// StaticFile, leaving out those too short to tell from the text of a
// message and those that also appear elsewhere in the document (as a kid
// an error may quote, or as a field name).
func keyValues(data []byte) []string {
	var f StaticFile
	if yaml.Unmarshal(data, &f) != nil {
		return nil
	}
	var out []string
	for _, e := range f.Keys {
		if len(e.Key) >= 8 && strings.Count(string(data), e.Key) == 1 {
			out = append(out, e.Key)
		}
	}
	return out
}

// FuzzParseKID checks that a key ID either parses, and then its hex and
// UUID forms parse back to it, or is refused with an error naming it
// (seeds in testdata/fuzz/FuzzParseKID).
func FuzzParseKID(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKID(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("key ID %q: ", s)) {
				t.Fatalf("ParseKID(%q) error %q does not name the input", s, err)
			}
			return
		}
		if len(k.String()) != 32 || strings.ToLower(k.String()) != k.String() {
			t.Fatalf("ParseKID(%q).String() = %q", s, k)
		}
		for _, form := range []string{k.String(), k.UUID(), "0x" + strings.ToUpper(k.String())} {
			if again, err := ParseKID(form); err != nil || again != k {
				t.Fatalf("ParseKID(%q) = %v, %v; want %v (from %q)", form, again, err, k, s)
			}
		}
	})
}

// FuzzParseSecret checks that a key either parses, and then round trips
// through hex and never shows in any formatted or logged form, or is
// refused with one of two fixed messages that never quote the input
// (seeds in testdata/fuzz/FuzzParseSecret).
func FuzzParseSecret(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseSecret(s)
		if err != nil {
			if m := err.Error(); m != "key: want 32 hex digits" && m != "key: not hexadecimal" {
				t.Fatalf("ParseSecret error %q", m)
			}
			return
		}
		h := hex.EncodeToString(k.Bytes())
		if again, err := ParseSecret(h); err != nil || again != k {
			t.Fatalf("ParseSecret(%q) = %v; from %q", h, err, s)
		}
		var logged strings.Builder
		var kid KID // differs from k in every byte, so its hex never matches k's
		for i := range kid {
			kid[i] = ^k[i]
		}
		slog.New(slog.NewTextHandler(&logged, nil)).Info("k", "key", k, "keys", []Secret{k}, "whole", Key{ID: kid, Value: k})
		text, _ := k.MarshalText()
		js, _ := k.MarshalJSON()
		all := strings.ToLower(fmt.Sprintf("%v %s %x %X %d %+v %#v %q", k, k, k, k, k, k, k, k) +
			logged.String() + string(text) + string(js) + k.String() + k.GoString())
		if strings.Contains(all, h) || strings.Contains(all, strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))) {
			t.Fatalf("the key shows in %q", all)
		}
	})
}
