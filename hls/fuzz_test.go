package hls

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parsers. It is seeded from every
// case of the case table (inline and testdata files) and every error case.
// The corpus in testdata/fuzz/FuzzParse holds inputs that once broke a
// property, named after the problem:
//
//   - header_tag_between_streaminf_and_uri: EXT-X-DEFINE between the first
//     EXT-X-STREAM-INF and its URI went to the variant's Tags, but to
//     Multivariant.Tags after a round trip. A variant now counts as seen
//     only once its URI is read.
//   - quote_after_vertical_tab: X-A=\v"x was read unquoted as `"x` and
//     written back quoted as `""x"`. Attribute values now skip all the
//     whitespace that lines are trimmed of.
//   - duration_rounds_to_limit: a duration just below the 1e9 s limit
//     rounded up to it, and the written value was then rejected. The limit
//     now applies after rounding.
//   - trailing_tags_without_segments: tags but no URI after the header.
//
// The llhls_* files are seeds, not past failures: Low-Latency HLS playlists
// with parts of complete segments and of the segment in progress, preload
// hints, rendition reports, a delta update (EXT-X-SKIP) and known tags
// among the trailing parts.
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
