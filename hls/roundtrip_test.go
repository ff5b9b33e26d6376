package hls

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// TestRoundTripExhaustive parses every sequence of four lines from a
// vocabulary of tags and checks that encoding is a fixed point and keeps the
// model, the property FuzzParse checks, without relying on the fuzzer to
// stumble on orderings such as a header tag between entries.
func TestRoundTripExhaustive(t *testing.T) {
	vocab := []string{"#EXTM3U", "#EXT-X-DEFINE", "#EXT-X-STREAM-INF:BANDWIDTH=1", "0", "#EXT-FOO", "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"b\"", "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"x\"", "#EXT-X-VERSION:3", "", "#x", "#EXT-X-START:TIME-OFFSET=1", "#EXT-X-SESSION-DATA:DATA-ID=\"a\",VALUE=\"b\"", " ", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXTINF:1,", "#EXT-X-TARGETDURATION:2", "#EXT-X-DISCONTINUITY", "#EXT-X-MAP:URI=\"i\"", "#EXT-X-KEY:METHOD=NONE", "#EXT-X-CUE-OUT:1", "#EXT-X-PART-INF:PART-TARGET=1", "#EXT-X-ENDLIST", "#EXT-X-PROGRAM-DATE-TIME:2020-01-01T00:00:00Z", "#EXT-X-GAP", "#EXT-X-BITRATE:5", "#EXT-X-MEDIA-SEQUENCE:3", "#EXT-X-PART:DURATION=1,URI=\"p\"", "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"h\""}
	n := len(vocab)
	var idx [4]int
	for {
		var lines []string
		for _, i := range idx {
			lines = append(lines, vocab[i])
		}
		data := []byte("#EXTM3U\n" + strings.Join(lines, "\n"))
		checkRoundTrip(t, data)
		k := 0
		for k < len(idx) {
			idx[k]++
			if idx[k] < n {
				break
			}
			idx[k] = 0
			k++
		}
		if k == len(idx) {
			return
		}
	}
}

func checkRoundTrip(t *testing.T, data []byte) {
	p1, err := Parse(data)
	if err != nil {
		return
	}
	out1 := p1.Encode()
	p2, err := Parse(out1)
	if err != nil {
		t.Fatalf("no parse %q: %v", data, err)
	}
	if out2 := p2.Encode(); !bytes.Equal(out1, out2) || !reflect.DeepEqual(p1, p2) {
		t.Fatalf("mismatch %q\n%s\n%s", data, out1, out2)
	}
}
