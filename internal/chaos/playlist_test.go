package chaos

import (
	"slices"
	"testing"
)

// playlistCases drive the rewrite tests and seed FuzzRewritePlaylist.
var playlistCases = []struct {
	name string
	in   string
	skip int
	// wantSkip is the playlist without its first skip segments; wantSkipErr
	// the error instead.
	wantSkip    string
	wantSkipErr string
	seq         uint64
	wantSeq     string // the playlist with EXT-X-MEDIA-SEQUENCE set to seq
	wantErr     string // parse error
}{
	{
		name: "basic",
		in: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n" +
			"#EXTINF:2.0,\nseg10.ts\n#EXTINF:2.0,\nseg11.ts\n#EXTINF:2.0,\nseg12.ts\n",
		skip: 2,
		wantSkip: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:12\n" +
			"#EXTINF:2.0,\nseg12.ts\n",
		seq: 0,
		wantSeq: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n" +
			"#EXTINF:2.0,\nseg10.ts\n#EXTINF:2.0,\nseg11.ts\n#EXTINF:2.0,\nseg12.ts\n",
	},
	{
		name: "skip keeps the last segment",
		in:   "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n",
		skip: 9,
		wantSkip: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:6\n" +
			"#EXTINF:2,\nb.ts\n",
		seq:     7,
		wantSeq: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n",
	},
	{
		name: "sequence tags inserted when absent",
		in:   "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts",
		skip: 2,
		wantSkip: "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-TARGETDURATION:2\n" +
			"#EXTINF:2,\nc.ts",
		seq:     3,
		wantSeq: "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts",
	},
	{
		name: "key, map and discontinuity sequence",
		in: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n" +
			"#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"k1\"\n" +
			"#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\n#EXTINF:4,\ns100.m4s\n" +
			"#EXT-X-DISCONTINUITY\n#EXT-X-CUE-OUT:30\n#EXTINF:4,\ns101.m4s\n" +
			"#EXT-X-KEY:METHOD=AES-128,URI=\"k2\"\n#EXTINF:4,\ns102.m4s\n",
		skip: 2,
		wantSkip: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:102\n#EXT-X-DISCONTINUITY-SEQUENCE:4\n" +
			"#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"k1\"\n" +
			"#EXT-X-KEY:METHOD=AES-128,URI=\"k2\"\n#EXTINF:4,\ns102.m4s\n",
		seq: 0,
		wantSeq: "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n" +
			"#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"k1\"\n" +
			"#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\n#EXTINF:4,\ns100.m4s\n" +
			"#EXT-X-DISCONTINUITY\n#EXT-X-CUE-OUT:30\n#EXTINF:4,\ns101.m4s\n" +
			"#EXT-X-KEY:METHOD=AES-128,URI=\"k2\"\n#EXTINF:4,\ns102.m4s\n",
	},
	{
		name:     "CRLF",
		in:       "#EXTM3U\r\n#EXT-X-TARGETDURATION:2\r\n#EXTINF:2,\r\na.ts\r\n#EXTINF:2,\r\nb.ts\r\n",
		skip:     1,
		wantSkip: "#EXTM3U\r\n#EXT-X-MEDIA-SEQUENCE:1\r\n#EXT-X-TARGETDURATION:2\r\n#EXTINF:2,\r\nb.ts\r\n",
		seq:      4,
		wantSeq:  "#EXTM3U\r\n#EXT-X-MEDIA-SEQUENCE:4\r\n#EXT-X-TARGETDURATION:2\r\n#EXTINF:2,\r\na.ts\r\n#EXTINF:2,\r\nb.ts\r\n",
	},
	{
		name:        "one segment",
		in:          "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:4\n#EXTINF:2,\na.ts\n",
		skip:        1,
		wantSkipErr: errNothingToSkip.Error(),
		seq:         0,
		wantSeq:     "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2,\na.ts\n",
	},
	{
		name:        "sequence overflow",
		in:          "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n",
		skip:        1,
		wantSkipErr: errSequenceOverflow.Error(),
		seq:         1,
		wantSeq:     "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n",
	},
	{
		name:    "multivariant",
		in:      "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nv0/index.m3u8\n",
		wantErr: errNotMedia.Error(),
	},
	{
		name:    "not a playlist",
		in:      "\x47\x40\x00\x10binary segment",
		wantErr: errNotPlaylist.Error(),
	},
	{
		name:    "bad media sequence",
		in:      "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n#EXTINF:2,\na.ts\n",
		wantErr: `line 2: #EXT-X-MEDIA-SEQUENCE: invalid value "-1"`,
	},
	{
		name:    "duplicate media sequence",
		in:      "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-MEDIA-SEQUENCE:2\n#EXTINF:2,\na.ts\n",
		wantErr: "line 3: duplicate #EXT-X-MEDIA-SEQUENCE",
	},
	{
		name:    "no media tags",
		in:      "#EXTM3U\n# just a comment\n",
		wantErr: errNotMedia.Error(),
	},
}

func TestRewritePlaylist(t *testing.T) {
	for _, tc := range playlistCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseMediaPlaylist([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("parse error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := string(m.withSequence(tc.seq)); got != tc.wantSeq {
				t.Errorf("withSequence(%d) =\n%q\nwant\n%q", tc.seq, got, tc.wantSeq)
			}
			got, _, err := m.skip(tc.skip)
			if tc.wantSkipErr != "" {
				if err == nil || err.Error() != tc.wantSkipErr {
					t.Fatalf("skip error = %v, want %q", err, tc.wantSkipErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("skip(%d): %v", tc.skip, err)
			}
			if string(got) != tc.wantSkip {
				t.Errorf("skip(%d) =\n%q\nwant\n%q", tc.skip, got, tc.wantSkip)
			}
		})
	}
}

// FuzzRewritePlaylist checks that the rewrites never panic and keep their
// promises on any input the scanner accepts: the result scans again, has the
// requested sequence numbers and exactly the expected segment URIs.
func FuzzRewritePlaylist(f *testing.F) {
	for _, tc := range playlistCases {
		f.Add([]byte(tc.in), uint8(tc.skip), tc.seq)
	}
	f.Fuzz(func(t *testing.T, data []byte, k uint8, seq uint64) {
		m, err := parseMediaPlaylist(data)
		if err != nil {
			return
		}
		uris := m.uris()

		out := m.withSequence(seq)
		r, err := parseMediaPlaylist(out)
		if err != nil {
			t.Fatalf("withSequence output does not scan: %v\n%q", err, out)
		}
		if r.seq != seq || r.disc != m.disc || !slices.Equal(r.uris(), uris) {
			t.Fatalf("withSequence(%d): seq %d disc %d uris %q, want disc %d uris %q", seq, r.seq, r.disc, r.uris(), m.disc, uris)
		}
		out, dropped, err := m.skip(int(k))
		if err != nil {
			return
		}
		if dropped < 1 || dropped > int(k) || dropped >= len(uris) {
			t.Fatalf("skip(%d) dropped %d of %d segments", k, dropped, len(uris))
		}
		r, err = parseMediaPlaylist(out)
		if err != nil {
			t.Fatalf("skip output does not scan: %v\n%q", err, out)
		}
		var discs uint64
		for _, s := range m.segs[:dropped] {
			discs += s.discontinuity
		}
		if r.seq != m.seq+uint64(dropped) || r.disc != m.disc+discs || !slices.Equal(r.uris(), uris[dropped:]) {
			t.Fatalf("skip(%d): seq %d disc %d uris %q, want seq %d disc %d uris %q",
				k, r.seq, r.disc, r.uris(), m.seq+uint64(dropped), m.disc+discs, uris[dropped:])
		}
	})
}
