package hls

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parsers. It is seeded from every
// case of the case table (inline and testdata files) and every error case;
// the corpus under testdata/fuzz/FuzzParse holds inputs that once broke a
// property (see the comment line at the top of each file's input).
//
// Properties: no panic; a failure is a *ParseError and returns no playlist;
// when parsing succeeds, the encoding parses again to the same model and is
// a fixed point of encode∘parse.
func FuzzParse(f *testing.F) {
	for _, c := range allCases(f) {
		f.Add([]byte(c.input))
	}
	for _, c := range errorCases {
		f.Add([]byte(c.input))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The specific parsers must not panic either.
		_, _ = ParseMedia(data)
		_, _ = ParseMultivariant(data)

		p1, err := Parse(data)
		if err != nil {
			var pe *ParseError
			if p1 != nil || !errors.As(err, &pe) {
				t.Fatalf("Parse error %v (%T) with playlist %v", err, err, p1)
			}
			return
		}
		out1 := p1.Encode()
		p2, err := Parse(out1)
		if err != nil {
			t.Fatalf("encoding does not parse: %v\ninput:\n%q\nencoding:\n%s", err, data, out1)
		}
		if out2 := p2.Encode(); !bytes.Equal(out1, out2) {
			t.Fatalf("encoding is not a fixed point\ninput:\n%q\nfirst:\n%s\nsecond:\n%s", data, out1, out2)
		}
		if !reflect.DeepEqual(p1, p2) {
			t.Fatalf("round trip changed the model\ninput:\n%q\nfirst:  %s\nsecond: %s", data, dump(p1), dump(p2))
		}
	})
}
