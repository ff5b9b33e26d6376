package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/fetch/internal/naming"

	"github.com/pullpush/pullpush/fetch/internal/spool"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/void"
)

// noNetwork fails every request: fuzzed playlists name arbitrary hosts and
// tests talk to loopback only.
type noNetwork struct{}

func (noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fuzz: no network")
}

// fuzzFetcher returns a fetcher whose downloads fail at once without
// touching the network.
func fuzzFetcher(t testing.TB, dir string) *Fetcher {
	f, err := New(Config{ID: "fuzz", URL: "http://127.0.0.1:1/live/master.m3u8", Output: void.New(), SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f.client = &http.Client{Transport: noNetwork{}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.dlCtx = ctx
	if f.spool, err = spool.New[*entry](dir, DefaultSpoolBytes, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

var fuzzPlaylists = []string{
	"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n#EXTINF:2,\na10.ts\n#EXTINF:2,\na11.ts\n#EXTINF:2,\na12.ts\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:12\n#EXTINF:2,\na12.ts\n#EXTINF:2,\na13.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nb0.ts\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2,\na12.ts\n#EXTINF:2,\na13.ts\n#EXTINF:2,\na14.ts\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:2,\nc3.ts\n#EXT-X-GAP\n#EXTINF:2,\nc4.ts\n#EXT-X-ENDLIST\n",
	"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"700@0\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\"\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\n#EXTINF:1,\n#EXT-X-BYTERANGE:1000@700\ns.mp4\n#EXTINF:1,\n#EXT-X-BYTERANGE:1000\ns.mp4\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:6,\nhttp://cdn.example.com/x/../y/seg%2F1.ts?token=1\n#EXTINF:6,\n//other.example.org/seg.weird-ext\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:9223372036854775806\n#EXTINF:1,\nx.ts\n#EXTINF:1,\ny.ts\n#EXTINF:1,\nz.ts\n",
	llFuzzA,
	llFuzzB,
}

// Two successive reloads of a Low-Latency HLS source.
const (
	llFuzzA = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6\n#EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1,\ns4.mp4\n#EXT-X-PART:DURATION=0.2,URI=\"p5.0.mp4\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.2,URI=\"p5.1.mp4\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p5.2.mp4\"\n#EXT-X-RENDITION-REPORT:URI=\"a.m3u8\",LAST-MSN=5,LAST-PART=1\n"
	llFuzzB = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6\n#EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1,\ns4.mp4\n#EXT-X-PART:DURATION=0.2,URI=\"p5.0.mp4\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.2,URI=\"p5.1.mp4\"\n#EXT-X-PART:DURATION=0.6,URI=\"s5.mp4\",BYTERANGE=\"900@0\"\n#EXTINF:1,\ns5.mp4\n#EXT-X-PART:DURATION=0.2,URI=\"s6.mp4\",BYTERANGE=\"300@0\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.2,URI=\"s6.mp4\",BYTERANGE=\"300\",GAP=YES\n"
)

var fuzzProgress = []string{
	"",
	`{"version":1,"renditions":{"v":{"offset":5,"nextSeq":18,"headSrc":12,"headUri":"http://127.0.0.1:1/live/a12.ts","targets":{"void":{"pushed":17,"discSeq":2}}}}}`,
	`{"version":1,"renditions":{"v":{"offset":-9223372036854775808,"nextSeq":9223372036854775807,"headSrc":-1,"targets":{"void":{"pushed":-5}}}}}`,
}

// FuzzApplyPlaylists drives one rendition through restored progress and
// two successive source playlists, as the poller does. The corpus in
// testdata/fuzz/FuzzApplyPlaylists holds the seeds and, named after it,
// the input that broke a property:
//
//   - media_sequence_overflow: EXT-X-MEDIA-SEQUENCE near 2^63 overflowed the
//     segments' numbers; every reload then took the playlist as new. Such
//     playlists are now refused.
//   - restored_progress_out_of_range: saved numbers near +-2^63 made the
//     restart's skip past reserved numbers loop for ever. Such progress is
//     now ignored.
//
// The seeds llhls_* are Low-Latency HLS reloads (parts of the segment in
// progress, then of the completed segment, byte-range and gap parts).
//
// Properties: no panic; the rendition's entries have consecutive output
// sequence numbers ending just before nextSeq; every pushed name (parts'
// too) is a valid output file name; the pushed playlist parses; applying
// the same playlist again adds nothing.
func FuzzApplyPlaylists(f *testing.F) {
	for _, p := range fuzzProgress {
		for i, a := range fuzzPlaylists {
			f.Add([]byte(p), []byte(a), []byte(fuzzPlaylists[(i+1)%len(fuzzPlaylists)]))
		}
	}
	dir := f.TempDir()
	base, _ := url.Parse("http://127.0.0.1:1/live/v.m3u8")
	f.Fuzz(func(t *testing.T, progress, first, second []byte) {
		fe := fuzzFetcher(t, dir)
		var doc progressDoc
		if json.Unmarshal(progress, &doc) == nil {
			fe.progress = &doc
		}
		r := newRendition(fe, "v", base.String(), "v.m3u8", "video")
		fe.anyParts, r.tg[0].parts = true, true // track LL-HLS parts as for a target that takes them
		apply := func(data []byte) bool {
			pl, err := hls.ParseMedia(data)
			if err != nil {
				return false
			}
			segs, err := resolveSegments(base, pl)
			if err != nil {
				return false
			}
			r.apply(pl, segs)
			r.applyParts(pl, base, false)
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, ps := range r.ll.segs {
				for _, p := range ps.parts {
					if err := output.ValidName(p.name); err != nil {
						t.Fatalf("pushed part name: %v", err)
					}
				}
			}
			if pl, err := hls.ParseMedia(r.buildPlaylist(0, false, nil)); err != nil || len(pl.Parts) != 0 {
				t.Fatalf("pushed playlist: %v, %d parts of a segment in progress though none was pushed", err, len(pl.Parts))
			}
			for i, e := range r.entries {
				if i > 0 && e.seq != r.entries[i-1].seq+1 {
					t.Fatalf("entry %d has output sequence %d after %d", i, e.seq, r.entries[i-1].seq)
				}
				if err := output.ValidName(e.name); err != nil {
					t.Fatalf("pushed name: %v", err)
				}
				if e.initMap != nil {
					if err := output.ValidName(e.initMap.name); err != nil {
						t.Fatalf("pushed init name: %v", err)
					}
				}
				for _, a := range e.keyAux {
					if err := output.ValidName(a.name); err != nil {
						t.Fatalf("pushed key name: %v", err)
					}
				}
			}
			if n := len(r.entries); n > 0 && r.entries[n-1].seq+1 != r.num.Next {
				t.Fatalf("last entry %d, nextSeq %d", r.entries[n-1].seq, r.num.Next)
			}
			return true
		}
		if !apply(first) {
			return
		}
		apply(second)
		r.mu.Lock()
		n := len(r.entries)
		r.mu.Unlock()
		if apply(second) {
			r.mu.Lock()
			again := len(r.entries)
			r.mu.Unlock()
			if again != n {
				t.Fatalf("the same playlist applied again added %d entries\n%s", again-n, second)
			}
		}
	})
}

// FuzzRenditionNames checks the names derived from source playlist URIs.
//
// Properties: names are unique, non-empty, [A-Za-z0-9-] only, and the
// playlist and segment names built from them are valid output file names.
func FuzzRenditionNames(f *testing.F) {
	for _, s := range []string{
		"http://h/a/video.m3u8\nhttp://h/b/video.m3u8\nhttp://h/audio/en.m3u8",
		"http://h/..\nhttp://h/../../etc/passwd\nhttp://h/%2e%2e/x.m3u8",
		"http://h/\nhttp://h/?x=1\nhttp://h/#frag",
		"http://h/a b/ü.m3u8\nhttp://h/a_b/ü.m3u8\nhttp://h/a-b/u.m3u8",
		"http://h/" + strings.Repeat("x", 300) + ".m3u8",
	} {
		f.Add(s, "seg.ts")
	}
	f.Fuzz(func(t *testing.T, list, seg string) {
		var uris []string
		seen := map[string]bool{}
		for _, u := range strings.Split(list, "\n") {
			if !seen[u] {
				seen[u] = true
				uris = append(uris, u)
			}
		}
		names := naming.RenditionNames(uris)
		used := map[string]string{}
		for _, u := range uris {
			n := names[u]
			if n == "" || strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
				t.Fatalf("name %q for %q", n, u)
			}
			if prev, dup := used[n]; dup {
				t.Fatalf("name %q for both %q and %q", n, prev, u)
			}
			used[n] = u
			for _, file := range []string{"channel_" + n + ".m3u8", "channel_" + n + "_12" + naming.SegmentExt(seg, ".ts")} {
				if err := output.ValidName(file); err != nil {
					t.Fatalf("%v", err)
				}
			}
		}
	})
}
