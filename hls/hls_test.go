package hls

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// dump renders a playlist for failure messages.
func dump(p any) string {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestDecode(t *testing.T) {
	for _, c := range allCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.input))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.want != nil && !reflect.DeepEqual(got, c.want) {
				t.Errorf("Parse mismatch\ngot:  %s\nwant: %s", dump(got), dump(c.want))
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	for _, c := range allCases(t) {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse([]byte(c.input))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := p.Encode()
			if c.file == "" {
				if string(got) != c.output {
					t.Errorf("Encode:\n%s\nwant:\n%s", got, c.output)
				}
				// The writer does not depend on the parser: the expected
				// model encodes to the same text.
				if w := c.want.Encode(); string(w) != c.output {
					t.Errorf("want.Encode():\n%s\nwant:\n%s", w, c.output)
				}
				return
			}
			golden := filepath.Join("testdata", "golden", c.file)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./hls -run TestEncode -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Encode differs from %s:\n%s", golden, got)
			}
		})
	}
}

// TestRoundTrip: parse → encode → parse gives the first parse again, and the
// encoding is a fixed point.
func TestRoundTrip(t *testing.T) {
	for _, c := range allCases(t) {
		t.Run(c.name, func(t *testing.T) {
			p1, err := Parse([]byte(c.input))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out1 := p1.Encode()
			p2, err := Parse(out1)
			if err != nil {
				t.Fatalf("Parse(Encode()): %v\n%s", err, out1)
			}
			if !reflect.DeepEqual(p1, p2) {
				t.Errorf("round trip changed the model\nfirst:  %s\nsecond: %s", dump(p1), dump(p2))
			}
			if out2 := p2.Encode(); !bytes.Equal(out1, out2) {
				t.Errorf("Encode is not a fixed point:\n%s\nthen:\n%s", out1, out2)
			}
			// The specific parsers agree with Parse.
			var p3 Playlist
			switch p1.(type) {
			case *Media:
				p3, err = ParseMedia([]byte(c.input))
			case *Multivariant:
				p3, err = ParseMultivariant([]byte(c.input))
			}
			if err != nil || !reflect.DeepEqual(p1, p3) {
				t.Errorf("specific parser differs from Parse: %v", err)
			}
		})
	}
}

// unknownPositions lists each unmodelled tag of a media playlist with the
// number of URI lines before it.
func unknownPositions(text string) []string {
	var out []string
	uris := 0
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, bom))
		switch {
		case line == "":
		case !strings.HasPrefix(line, "#"):
			uris++
		case strings.HasPrefix(line, "#EXT"):
			name, _, _ := strings.Cut(line, ":")
			if tagKind(name) == kindUnknown {
				out = append(out, strconv.Itoa(uris)+" "+line)
			}
		}
	}
	return out
}

// TestUnknownTagPositions: in every media case each unknown tag is written
// between the same two segments as in the input.
func TestUnknownTagPositions(t *testing.T) {
	n := 0
	for _, c := range allCases(t) {
		p, err := Parse([]byte(c.input))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, ok := p.(*Media); !ok {
			continue
		}
		in, out := unknownPositions(c.input), unknownPositions(string(p.Encode()))
		if !reflect.DeepEqual(in, out) {
			t.Errorf("%s: unknown tags moved\ninput:  %q\noutput: %q", c.name, in, out)
		}
		n += len(in)
	}
	if n < 20 {
		t.Errorf("only %d unknown tags checked", n)
	}
}

// errorCase is an input that must fail with exactly this message.
type errorCase struct {
	name  string
	input string
	want  string // exact error message
	is    error  // sentinel the error wraps, if any
}

const h = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n"

// errorCases also seed FuzzParse.
var errorCases = []errorCase{
	{"empty", "", "hls: missing #EXTM3U header", ErrMissingHeader},
	{"no header", "#EXT-X-TARGETDURATION:6\n", "hls: line 1: missing #EXTM3U header", ErrMissingHeader},
	{"header not first", "\n# hi\n#EXTM3U\n", "hls: line 2: missing #EXTM3U header", ErrMissingHeader},
	{"bad duration", h + "#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00Z\n#EXTINF:abc,\nx.ts\n", `hls: line 7: EXTINF: invalid duration "abc"`, nil},
	{"negative duration", h + "#EXTINF:-1,\nx.ts\n", `hls: line 3: EXTINF: invalid duration "-1"`, nil},
	{"exponent duration", h + "#EXTINF:1e3,\nx.ts\n", `hls: line 3: EXTINF: invalid duration "1e3"`, nil},
	{"huge duration", h + "#EXTINF:99999999999,\nx.ts\n", `hls: line 3: EXTINF: invalid duration "99999999999"`, nil},
	{"EXTINF without value", h + "#EXTINF\nx.ts\n", "hls: line 3: EXTINF: missing value", nil},
	{"no target duration", "#EXTM3U\n#EXTINF:1,\nx.ts\n", "hls: EXT-X-TARGETDURATION: missing required tag", ErrMissingTag},
	{"bad target duration", "#EXTM3U\n#EXT-X-TARGETDURATION:six\n", `hls: line 2: EXT-X-TARGETDURATION: invalid value "six"`, nil},
	{"EXTINF without URI at end", h + "#EXTINF:1,\n", "hls: line 3: EXTINF: missing URI line", ErrMissingURI},
	{"EXTINF followed by EXTINF", h + "#EXTINF:1,\n#EXTINF:1,\nx.ts\n", "hls: line 3: EXTINF: missing URI line", ErrMissingURI},
	{"URI without EXTINF", h + "x.ts\n", `hls: line 3: unexpected URI line "x.ts": no EXTINF before it`, ErrUnexpectedURI},
	{"STREAM-INF without URI", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\nb.m3u8\n", "hls: line 2: EXT-X-STREAM-INF: missing URI line", ErrMissingURI},
	{"STREAM-INF at end", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n# no uri\n", "hls: line 2: EXT-X-STREAM-INF: missing URI line", ErrMissingURI},
	{"URI without STREAM-INF", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"a\"\na.m3u8\n", `hls: line 3: unexpected URI line "a.m3u8": no EXT-X-STREAM-INF before it`, ErrUnexpectedURI},
	{"STREAM-INF without BANDWIDTH", "#EXTM3U\n#EXT-X-STREAM-INF:CODECS=\"avc1\"\na.m3u8\n", "hls: line 2: EXT-X-STREAM-INF: missing required attribute BANDWIDTH", nil},
	{"bad BANDWIDTH", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1.5\na.m3u8\n", `hls: line 2: EXT-X-STREAM-INF: invalid BANDWIDTH "1.5"`, nil},
	{"BANDWIDTH overflow", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=99999999999999999999\na.m3u8\n", `hls: line 2: EXT-X-STREAM-INF: invalid BANDWIDTH "99999999999999999999"`, nil},
	{"bad RESOLUTION", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640\na.m3u8\n", `hls: line 2: EXT-X-STREAM-INF: invalid RESOLUTION "640"`, nil},
	{"unterminated quote", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1\na.m3u8\n", "hls: line 2: EXT-X-STREAM-INF: unterminated quoted string in attribute CODECS", nil},
	{"attribute without value", h + "#EXT-X-KEY:METHOD\n", `hls: line 3: EXT-X-KEY: attribute "METHOD" has no value`, nil},
	{"junk after quoted value", h + "#EXT-X-KEY:METHOD=AES-128,URI=\"k\"x\n", `hls: line 3: EXT-X-KEY: unexpected 'x' after quoted value of attribute URI`, nil},
	{"KEY without METHOD", h + "#EXT-X-KEY:URI=\"k\"\n", "hls: line 3: EXT-X-KEY: missing required attribute METHOD", nil},
	{"bad IV", h + "#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0xZZ\n", `hls: line 3: EXT-X-KEY: invalid IV "0xZZ"`, nil},
	{"MAP without URI", h + "#EXT-X-MAP:BYTERANGE=\"1@0\"\n", "hls: line 3: EXT-X-MAP: missing required attribute URI", nil},
	{"bad MAP byterange", h + "#EXT-X-MAP:URI=\"i\",BYTERANGE=\"x\"\n", `hls: line 3: EXT-X-MAP: invalid BYTERANGE "x"`, nil},
	{"bad BYTERANGE", h + "#EXT-X-BYTERANGE:10@\n", `hls: line 3: EXT-X-BYTERANGE: invalid byte range "10@"`, nil},
	{"bad PDT", h + "#EXT-X-PROGRAM-DATE-TIME:yesterday\n", `hls: line 3: EXT-X-PROGRAM-DATE-TIME: invalid date-time "yesterday"`, nil},
	{"PDT day out of range", h + "#EXT-X-PROGRAM-DATE-TIME:2026-02-29T00:00:00Z\n", `hls: line 3: EXT-X-PROGRAM-DATE-TIME: invalid date-time "2026-02-29T00:00:00Z"`, nil},
	{"DATERANGE without ID", h + "#EXT-X-DATERANGE:START-DATE=\"2026-11-26T10:00:00Z\"\n", "hls: line 3: EXT-X-DATERANGE: missing required attribute ID", nil},
	{"bad DATERANGE duration", h + "#EXT-X-DATERANGE:ID=\"a\",DURATION=NaN\n", `hls: line 3: EXT-X-DATERANGE: invalid DURATION "NaN"`, nil},
	{"bad END-ON-NEXT", h + "#EXT-X-DATERANGE:ID=\"a\",END-ON-NEXT=MAYBE\n", `hls: line 3: EXT-X-DATERANGE: invalid END-ON-NEXT "MAYBE"`, nil},
	{"bad PLAYLIST-TYPE", h + "#EXT-X-PLAYLIST-TYPE:LIVE\n", `hls: line 3: EXT-X-PLAYLIST-TYPE: invalid value "LIVE": want EVENT or VOD`, nil},
	{"START without TIME-OFFSET", h + "#EXT-X-START:PRECISE=YES\n", "hls: line 3: EXT-X-START: missing required attribute TIME-OFFSET", nil},
	{"bad BITRATE", h + "#EXT-X-BITRATE:-5\n", `hls: line 3: EXT-X-BITRATE: invalid value "-5"`, nil},
	{"bad MEDIA TYPE", "#EXTM3U\n#EXT-X-MEDIA:TYPE=TEXT,GROUP-ID=\"a\",NAME=\"a\"\n", `hls: line 2: EXT-X-MEDIA: invalid TYPE "TEXT"`, nil},
	{"MEDIA without NAME", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\"\n", "hls: line 2: EXT-X-MEDIA: missing required attribute NAME", nil},
	{"bad DEFAULT", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"a\",DEFAULT=yes\n", `hls: line 2: EXT-X-MEDIA: invalid DEFAULT "yes"`, nil},
	{"I-FRAME without URI", "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1\n", "hls: line 2: EXT-X-I-FRAME-STREAM-INF: missing required attribute URI", nil},
	{"SESSION-DATA without DATA-ID", "#EXTM3U\n#EXT-X-SESSION-DATA:VALUE=\"v\"\n", "hls: line 2: EXT-X-SESSION-DATA: missing required attribute DATA-ID", nil},
	{"multivariant tag in media", h + "#EXTINF:1,\nx.ts\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", "hls: line 5: EXT-X-STREAM-INF: multivariant playlist tag in a media playlist", ErrMultivariantTag},
	{"media tag in multivariant", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:1,\nx.ts\n", "hls: line 4: EXTINF: media playlist tag in a multivariant playlist", ErrMediaTag},
}

func TestErrors(t *testing.T) {
	long := "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:1,\n" + strings.Repeat("a", MaxLineLength+1) + "\n"
	tests := append([]errorCase{
		{"line too long", long, "hls: line 4: line longer than 1 MiB", ErrLineTooLong},
		{"too large", "#EXTM3U\n" + strings.Repeat("#\n", MaxPlaylistSize/2), "hls: playlist larger than 16 MiB (16777224 bytes)", ErrTooLarge},
	}, errorCases...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.input))
			if err == nil {
				t.Fatalf("Parse succeeded: %s", dump(p))
			}
			if p != nil {
				t.Errorf("Parse returned %#v with the error", p)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *ParseError", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	mv := []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n")
	md := []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n")
	if p, err := Parse(mv); err != nil {
		t.Fatal(err)
	} else if _, ok := p.(*Multivariant); !ok {
		t.Errorf("Parse(multivariant) = %T", p)
	}
	if p, err := Parse(md); err != nil {
		t.Fatal(err)
	} else if _, ok := p.(*Media); !ok {
		t.Errorf("Parse(media) = %T", p)
	}
	if _, err := ParseMedia(mv); !errors.Is(err, ErrMultivariantTag) {
		t.Errorf("ParseMedia(multivariant) error = %v", err)
	}
	if _, err := ParseMultivariant(md); !errors.Is(err, ErrMediaTag) {
		t.Errorf("ParseMultivariant(media) error = %v", err)
	}
}

func TestWriteTo(t *testing.T) {
	for _, c := range inlineCases {
		var buf bytes.Buffer
		var n int64
		var err error
		switch p := c.want.(type) {
		case *Media:
			n, err = p.WriteTo(&buf)
		case *Multivariant:
			n, err = p.WriteTo(&buf)
		}
		if err != nil || n != int64(len(c.output)) || buf.String() != c.output {
			t.Errorf("%s: WriteTo = %d, %v; wrote %q", c.name, n, err, buf.String())
		}
	}
}

func TestParseAttributes(t *testing.T) {
	tests := []struct {
		in   string
		want []Attr
		err  string
	}{
		{``, nil, ""},
		{`A=1`, []Attr{{"A", "1", false}}, ""},
		{`CODECS="avc1.4d401f,mp4a.40.2",BANDWIDTH=1,RESOLUTION=640x360`,
			[]Attr{{"CODECS", "avc1.4d401f,mp4a.40.2", true}, {"BANDWIDTH", "1", false}, {"RESOLUTION", "640x360", false}}, ""},
		{` A = "x" , B=2 ,,C=,D=""`, []Attr{{"A", "x", true}, {"B", "2", false}, {"C", "", false}, {"D", "", true}}, ""},
		{`X-URL="http://h/p?a=1,b=2"`, []Attr{{"X-URL", "http://h/p?a=1,b=2", true}}, ""},
		{`A="1`, nil, "hls: invalid attribute list: unterminated quoted string in attribute A"},
		{`A`, nil, `hls: invalid attribute list: attribute "A" has no value`},
		{`=1`, nil, "hls: invalid attribute list: attribute without a name"},
		{`A="1"B`, nil, `hls: invalid attribute list: unexpected 'B' after quoted value of attribute A`},
	}
	for _, tt := range tests {
		got, err := ParseAttributes(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseAttributes(%q) error = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAttributes(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
		// FormatAttributes is the inverse.
		back, err := ParseAttributes(FormatAttributes(got))
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("ParseAttributes(FormatAttributes(%#v)) = %#v, %v", got, back, err)
		}
	}
}

func TestAttrWriterQuoting(t *testing.T) {
	// Values that cannot be written the way the model says are written the
	// way that reads back the same.
	k := &Key{Method: "A,B", URI: `a"b`, Extra: []Attr{{Key: "X", Value: " y"}, {Key: "Z", Value: `q"`, Quoted: true}}}
	got := k.Encode()
	want := `#EXT-X-KEY:METHOD="A,B",URI=a"b,X=" y",Z=q"`
	if got != want {
		t.Errorf("Encode = %s, want %s", got, want)
	}
}

func TestTagEncoders(t *testing.T) {
	off := int64(5)
	tests := []struct{ got, want string }{
		{(&Key{Method: "AES-128", URI: "k", IV: "0x1"}).Encode(), `#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x1`},
		{(&Map{URI: "i.mp4", ByteRange: &ByteRange{Length: 10, Offset: &off}}).Encode(), `#EXT-X-MAP:URI="i.mp4",BYTERANGE="10@5"`},
		{(&DateRange{ID: "x", StartDate: mustTime("2026-11-26T10:00:00Z"), Duration: f64(1.5)}).Encode(), `#EXT-X-DATERANGE:ID="x",START-DATE="2026-11-26T10:00:00.000Z",DURATION=1.5`},
		{(&Start{TimeOffset: 2.5}).Encode(), `#EXT-X-START:TIME-OFFSET=2.5`},
		{(&Rendition{Type: MediaTypeClosedCaptions, GroupID: "cc", Name: "CC1", InstreamID: "CC1"}).Encode(), `#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",INSTREAM-ID="CC1"`},
		{(&Variant{Bandwidth: 1, FrameRate: 25, URI: "v.m3u8"}).Encode(), "#EXT-X-STREAM-INF:BANDWIDTH=1,FRAME-RATE=25.000\nv.m3u8"},
		{(&IFrameVariant{Bandwidth: 1, URI: "i.m3u8"}).Encode(), `#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="i.m3u8"`},
		{(&SessionData{DataID: "d", URI: "u"}).Encode(), `#EXT-X-SESSION-DATA:DATA-ID="d",URI="u"`},
		{(&ByteRange{Length: 7}).String(), "7"},
		{Resolution{1920, 1080}.String(), "1920x1080"},
		{Attr{Key: "A", Value: "b,c", Quoted: true}.String(), `A="b,c"`},
		{string((&Segment{Duration: 6.006, URI: "s.ts"}).Append(nil)), "#EXTINF:6.006,\ns.ts\n"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
}

func TestResolveURI(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:8080/live/channel/master.m3u8?token=abc")
	tests := []struct{ ref, want string }{
		{"v1/index.m3u8", "http://127.0.0.1:8080/live/channel/v1/index.m3u8"},
		{"../other/index.m3u8", "http://127.0.0.1:8080/live/other/index.m3u8"},
		{"/abs/seg.ts", "http://127.0.0.1:8080/abs/seg.ts"},
		{"seg.ts?x=1", "http://127.0.0.1:8080/live/channel/seg.ts?x=1"},
		{"https://[::1]:9/x.ts", "https://[::1]:9/x.ts"},
		{"//127.0.0.1:9/x.ts", "http://127.0.0.1:9/x.ts"},
	}
	for _, tt := range tests {
		u, err := ResolveURI(base, tt.ref)
		if err != nil || u.String() != tt.want {
			t.Errorf("ResolveURI(%q) = %v, %v; want %s", tt.ref, u, err, tt.want)
		}
	}
	if u, err := ResolveURI(nil, "a/b.ts"); err != nil || u.String() != "a/b.ts" {
		t.Errorf("ResolveURI(nil) = %v, %v", u, err)
	}
	if _, err := ResolveURI(base, "http://[::1"); err == nil || !strings.HasPrefix(err.Error(), "hls: resolve URI: ") {
		t.Errorf("ResolveURI(bad) error = %v", err)
	}
}

func TestDuration(t *testing.T) {
	m := &Media{}
	for range 1000 {
		m.Segments = append(m.Segments, &Segment{Duration: 1.92})
	}
	m.Segments = append(m.Segments, &Segment{Duration: 0.001})
	if got := m.Duration(); got != 1920.001 {
		t.Errorf("Duration = %v, want 1920.001", got)
	}
	if got := (&Media{}).Duration(); got != 0 {
		t.Errorf("empty Duration = %v", got)
	}
}

// TestFixedExact: for any duration on the microsecond grid, the written text
// is the shortest decimal with at least 3 decimals and reads back to the
// same float64 as strconv.ParseFloat does.
func TestFixedExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		us := r.Int64N(1e9 * 1e6)
		if i < 1000 {
			us = r.Int64N(100e6) // the common range
		}
		text := strconv.FormatInt(us/1e6, 10) + "." + strings.TrimRight(strconv.FormatInt(1e6+us%1e6, 10)[1:], "0")
		text = strings.TrimSuffix(text, ".")
		f, ok := parseFixed(text, 6)
		want, _ := strconv.ParseFloat(text, 64)
		if !ok || f != want {
			t.Fatalf("parseFixed(%s) = %v, %v; ParseFloat = %v", text, f, ok, want)
		}
		out := string(appendFixed(nil, f, 6, 3))
		back, _ := strconv.ParseFloat(out, 64)
		if back != f {
			t.Fatalf("appendFixed(%v) = %s reads back as %v", f, out, back)
		}
		if frac := out[strings.IndexByte(out, '.')+1:]; len(frac) < 3 || len(frac) > 3 && frac[len(frac)-1] == '0' {
			t.Fatalf("appendFixed(%v) = %s: want 3-6 decimals without trailing zeros", f, out)
		}
	}
}

func TestParseTime(t *testing.T) {
	good := map[string]string{
		"2026-11-26T10:00:00Z":                "2026-11-26T10:00:00.000Z",
		"2026-11-26T10:00:00.9999Z":           "2026-11-26T10:00:00.999Z",
		"2026-11-26T23:30:00-01:00":           "2026-11-27T00:30:00.000Z",
		"2024-02-29T00:00:00+0100":            "2024-02-28T23:00:00.000Z",
		"2026-11-26 10:00:00+01":              "2026-11-26T09:00:00.000Z",
		"2026-12-31T23:59:60Z":                "2027-01-01T00:00:00.000Z",
		"2026-11-26T10:00:00,5Z":              "2026-11-26T10:00:00.500Z",
		"0000-01-01T00:00:00.000-01:00":       "0000-01-01T01:00:00.000Z",
		"2026-11-26T10:00:00.123456789+00:00": "2026-11-26T10:00:00.123Z",
	}
	for in, want := range good {
		tm, ok := parseTime(in)
		if got := string(appendTime(nil, tm)); !ok || got != want {
			t.Errorf("parseTime(%s) = %s, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{
		"", "2026-11-26", "2026-11-26T10:00Z", "2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z",
		"2023-02-29T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T10:00:00.Z", "2026-11-26T10:00:00+1",
		"2026-11-26T10:00:00+24:00", "2026-11-26T10:00:00 Z", "0000-01-01T00:00:00+01:00",
		"9999-12-31T23:00:00-01:00", "+2026-11-26T10:00:00Z", "2026-11-26X10:00:00Z",
	} {
		if tm, ok := parseTime(in); ok {
			t.Errorf("parseTime(%q) = %v, want failure", in, tm)
		}
	}
}

// TestInvalidLowLatencyTags: an LL-HLS tag that does not parse is kept
// verbatim like a tag the model has no field for (a relay of whole segments
// never stops over one), at its position, and the error its parser gives
// names the attribute.
func TestInvalidLowLatencyTags(t *testing.T) {
	cases := []struct{ name, line, msg string }{
		{"PART without URI", "#EXT-X-PART:DURATION=1", "hls: line 3: EXT-X-PART: missing required attribute URI"},
		{"PART without DURATION", "#EXT-X-PART:URI=\"p\"", "hls: line 3: EXT-X-PART: missing required attribute DURATION"},
		{"PART bad duration", "#EXT-X-PART:DURATION=x,URI=\"p\"", `hls: line 3: EXT-X-PART: invalid DURATION "x"`},
		{"PART bad INDEPENDENT", "#EXT-X-PART:DURATION=1,URI=\"p\",INDEPENDENT=1", `hls: line 3: EXT-X-PART: invalid INDEPENDENT "1"`},
		{"PART bad BYTERANGE", "#EXT-X-PART:DURATION=1,URI=\"p\",BYTERANGE=\"a@1\"", `hls: line 3: EXT-X-PART: invalid BYTERANGE "a@1"`},
		{"PART without value", "#EXT-X-PART", "missing required attribute DURATION"},
		{"PART-INF without PART-TARGET", "#EXT-X-PART-INF:X=1", "hls: line 3: EXT-X-PART-INF: missing required attribute PART-TARGET"},
		{"SERVER-CONTROL bad HOLD-BACK", "#EXT-X-SERVER-CONTROL:HOLD-BACK=-1", `hls: line 3: EXT-X-SERVER-CONTROL: invalid HOLD-BACK "-1"`},
		{"SERVER-CONTROL bad CAN-BLOCK-RELOAD", "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=yes", `hls: line 3: EXT-X-SERVER-CONTROL: invalid CAN-BLOCK-RELOAD "yes"`},
		{"SKIP without SKIPPED-SEGMENTS", "#EXT-X-SKIP:RECENTLY-REMOVED-DATERANGES=\"a\"", "hls: line 3: EXT-X-SKIP: missing required attribute SKIPPED-SEGMENTS"},
		{"PRELOAD-HINT without TYPE", "#EXT-X-PRELOAD-HINT:URI=\"p\"", "hls: line 3: EXT-X-PRELOAD-HINT: missing required attribute TYPE"},
		{"PRELOAD-HINT bad length", "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p\",BYTERANGE-LENGTH=-5", `hls: line 3: EXT-X-PRELOAD-HINT: invalid BYTERANGE-LENGTH "-5"`},
		{"RENDITION-REPORT without URI", "#EXT-X-RENDITION-REPORT:LAST-MSN=1", "hls: line 3: EXT-X-RENDITION-REPORT: missing required attribute URI"},
		{"RENDITION-REPORT bad LAST-PART", "#EXT-X-RENDITION-REPORT:URI=\"a\",LAST-PART=x", `hls: line 3: EXT-X-RENDITION-REPORT: invalid LAST-PART "x"`},
	}
	for _, c := range cases {
		line := strings.ReplaceAll(c.line, `\"`, `"`)
		for _, input := range []string{h + line + "\n", h + line + "\n#EXTINF:1,\na.ts\n", h + "#EXTINF:1,\na.ts\n" + line + "\n#EXTINF:1,\nb.ts\n"} {
			m, err := ParseMedia([]byte(input))
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			var kept []string
			kept = append(kept, m.Tags...)
			kept = append(kept, m.TrailingTags...)
			for _, s := range m.Segments {
				kept = append(kept, s.Tags...)
			}
			if !slices.Contains(kept, line) || m.ServerControl != nil || m.PartInf != nil || m.Skip != nil || m.Parts != nil || m.PreloadHints != nil || m.RenditionReports != nil {
				t.Errorf("%s: %q not kept verbatim: %s", c.name, line, dump(m))
			}
			if !strings.Contains(string(m.Encode()), "\n"+line+"\n") {
				t.Errorf("%s: encoding lost %q:\n%s", c.name, line, m.Encode())
			}
			checkRoundTrip(t, []byte(input))
		}
		name, value, _ := splitTag(line)
		var err error
		switch name {
		case "#EXT-X-PART":
			_, err = parsePart(value)
		case "#EXT-X-PART-INF":
			_, err = parsePartInf(value)
		case "#EXT-X-SERVER-CONTROL":
			_, err = parseServerControl(value)
		case "#EXT-X-SKIP":
			_, err = parseSkip(value)
		case "#EXT-X-PRELOAD-HINT":
			_, err = parsePreloadHint(value)
		case "#EXT-X-RENDITION-REPORT":
			_, err = parseRenditionReport(value)
		}
		if err == nil || !strings.HasSuffix(c.msg, err.Error()) {
			t.Errorf("%s: parser error %v, want the end of %q", c.name, err, c.msg)
		}
	}
}
