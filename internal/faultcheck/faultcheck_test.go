package faultcheck

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
)

const dir = "/in/v2/1/a/"

// miniRelay copies what a test source offers to a destination the way the
// relay names files, with hooks to break the copy.
type miniRelay struct {
	t        *testing.T
	src      *Source
	srcURL   string
	dst      *Dest
	dstURL   string
	seq      int64
	listed   []*hls.Segment
	first    int64
	seenURIs map[string]bool
}

func newMiniRelay(t *testing.T) *miniRelay {
	m := &miniRelay{t: t, seenURIs: map[string]bool{}}
	m.src = NewSource(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: 4, SingleMedia: true})
	s := httptest.NewServer(m.src)
	t.Cleanup(s.Close)
	m.srcURL = s.URL
	m.dst = NewDest(sink.Options{})
	d := httptest.NewServer(m.dst)
	t.Cleanup(d.Close)
	m.dstURL = d.URL
	return m
}

func (m *miniRelay) get(p string) []byte {
	m.t.Helper()
	resp, err := http.Get(m.srcURL + p)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		m.t.Fatal(err)
	}
	return b
}

func (m *miniRelay) put(name string, body []byte) {
	m.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, m.dstURL+dir+name, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	resp.Body.Close()
}

// poll loads the playlist and handles each new segment with copy, which
// returns the bytes to push (nil: push nothing and list the segment as a
// gap when gap is true, or not at all).
func (m *miniRelay) poll(copyFn func(uri string, body []byte) (out []byte, gap bool)) {
	m.t.Helper()
	pl, err := hls.ParseMedia(m.get("/video_hi.m3u8"))
	if err != nil {
		m.t.Fatal(err)
	}
	if m.seq == 0 {
		m.seq, m.first = pl.MediaSequence, pl.MediaSequence
	}
	for _, s := range pl.Segments {
		if m.seenURIs[s.URI] {
			continue
		}
		m.seenURIs[s.URI] = true
		out, gap := copyFn(s.URI, m.get("/"+s.URI))
		name := fmt.Sprintf("channel_video-hi_%d.ts", m.seq)
		if out != nil {
			m.put(name, out)
		}
		if out != nil || gap {
			m.listed = append(m.listed, &hls.Segment{Duration: s.Duration, URI: name, Gap: out == nil})
			m.seq++
		}
	}
	media := &hls.Media{Version: 3, TargetDuration: 1, MediaSequence: m.first, Segments: m.listed}
	m.put("channel_video-hi.m3u8", media.Encode())
}

func (m *miniRelay) check() Report {
	return Check(m.src, m.dst, Options{Dir: dir}).Renditions["video_hi"]
}

func keep(_ string, b []byte) ([]byte, bool) { return b, false }

func TestCheckPerfectCopy(t *testing.T) {
	m := newMiniRelay(t)
	m.poll(keep)
	m.src.Advance(3)
	m.poll(keep)
	rep := m.check()
	if rep.Offered != 7 || rep.Delivered != 7 || rep.Gaps != 0 || rep.Lost != 0 || len(rep.Violations) != 0 {
		t.Fatalf("perfect copy: %v %v", rep, rep.Violations)
	}
	if v := m.dst.Violations(); len(v) != 0 {
		t.Fatalf("dest violations: %v", v)
	}
}

func TestCheckFindsBreaches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		copy  func(uri string, b []byte) ([]byte, bool)
		check func(t *testing.T, r Report)
	}{
		{"marked gap", func(uri string, b []byte) ([]byte, bool) {
			if strings.HasSuffix(uri, "seg_5.ts") {
				return nil, true
			}
			return b, false
		}, func(t *testing.T, r Report) {
			if r.Gaps != 1 || r.Marked != 1 || r.Lost != 0 || len(r.Violations) != 0 {
				t.Errorf("%v %v", r, r.Violations)
			}
		}},
		{"silently dropped", func(uri string, b []byte) ([]byte, bool) {
			if strings.HasSuffix(uri, "seg_5.ts") {
				return nil, false
			}
			return b, false
		}, func(t *testing.T, r Report) {
			if r.Lost != 1 || len(r.Violations) == 0 {
				t.Errorf("%v %v", r, r.Violations)
			}
		}},
		{"truncated", func(uri string, b []byte) ([]byte, bool) {
			if strings.HasSuffix(uri, "seg_5.ts") {
				return b[:len(b)/2], false
			}
			return b, false
		}, func(t *testing.T, r Report) {
			if !hasViolation(r, "truncated or corrupt") {
				t.Errorf("%v %v", r, r.Violations)
			}
		}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			m := newMiniRelay(t)
			m.poll(tc.copy)
			m.src.Advance(3)
			m.poll(tc.copy)
			tc.check(t, m.check())
		})
	}
}

func TestCheckFindsDuplicatesAndReputs(t *testing.T) {
	m := newMiniRelay(t)
	m.poll(keep)
	// The same source segment stored again under the next name.
	body := m.get("/video_hi/seg_3.ts")
	m.put(fmt.Sprintf("channel_video-hi_%d.ts", m.seq), body)
	m.seq++
	// The same name stored again with the same bytes: a re-PUT, not a duplicate.
	m.put("channel_video-hi_3.ts", body)
	rep := m.check()
	if rep.Duplicates != 1 || rep.RePuts != 1 || !hasViolation(rep, "stored 2 times") {
		t.Fatalf("%v %v", rep, rep.Violations)
	}
}

func TestDestFlagsPlaylistBeforeSegment(t *testing.T) {
	m := newMiniRelay(t)
	media := &hls.Media{Version: 3, TargetDuration: 1, Segments: []*hls.Segment{{Duration: 1, URI: "channel_video-hi_0.ts"}}}
	m.put("channel_video-hi.m3u8", media.Encode())
	if v := m.dst.Violations(); len(v) != 1 || !strings.Contains(v[0], "before it was stored") {
		t.Fatalf("violations %v", v)
	}
}

func hasViolation(r Report, s string) bool {
	for _, v := range r.Violations {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// TestCheckRefs covers what a playlist references: segments unless marked
// as gaps, init sections, keys (not METHOD=NONE), and in a multivariant
// playlist the variants and the renditions that have a URI.
func TestCheckRefs(t *testing.T) {
	media := "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n" +
		"#EXT-X-KEY:METHOD=AES-128,URI=\"k.key\"\n#EXT-X-MAP:URI=\"init.mp4\"\n" +
		"#EXTINF:1,\ns0.m4s\n#EXT-X-GAP\n#EXTINF:1,\ngap.m4s\n#EXTINF:1,\ns1.m4s\n"
	multi := "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio.m3u8\"\n" +
		"#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"cc1\",INSTREAM-ID=\"CC1\"\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO=\"a\"\nvideo.m3u8\n"
	cases := []struct {
		name, body string
		have       []string
		want       []string
	}{
		{"media, all stored", media, []string{"k.key", "init.mp4", "s0.m4s", "s1.m4s"}, nil},
		{"media, gap not needed, one missing", media, []string{"k.key", "init.mp4", "s0.m4s"},
			[]string{"playlist /d/p.m3u8 references s1.m4s before it was stored"}},
		{"media, nothing stored", media, nil, []string{
			"playlist /d/p.m3u8 references s0.m4s before it was stored",
			"playlist /d/p.m3u8 references init.mp4 before it was stored",
			"playlist /d/p.m3u8 references k.key before it was stored",
			"playlist /d/p.m3u8 references s1.m4s before it was stored",
		}},
		{"multivariant", multi, []string{"audio.m3u8"},
			[]string{"playlist /d/p.m3u8 references video.m3u8 before it was stored"}},
		{"not a playlist", "nope", nil, []string{"playlist /d/p.m3u8 does not parse: "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			have := map[string]bool{}
			for _, h := range c.have {
				have["/d/"+h] = true
			}
			got := CheckRefs("/d/p.m3u8", []byte(c.body), func(p string) bool { return have[p] })
			if len(got) != len(c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], c.want[i]) {
					t.Errorf("[%d] = %q, want %q", i, got[i], c.want[i])
				}
			}
		})
	}
}

// TestCheckIgnoreHead: a relay that starts after the source published its
// first segments (they left the window before it polled) loses them when
// every published segment counts, and nothing with IgnoreHead.
func TestCheckIgnoreHead(t *testing.T) {
	m := newMiniRelay(t)
	m.src.Advance(6)
	m.poll(keep)
	m.src.Advance(2)
	m.poll(keep)
	all := Check(m.src, m.dst, Options{Dir: dir, Published: true}).Renditions["video_hi"]
	if all.Lost == 0 || all.Delivered != 6 {
		t.Fatalf("every published segment: %v %v", all, all.Violations)
	}
	head := Check(m.src, m.dst, Options{Dir: dir, Published: true, IgnoreHead: true}).Renditions["video_hi"]
	if head.Lost != 0 || head.Gaps != 0 || head.Offered != 6 || head.Delivered != 6 || len(head.Violations) != 0 {
		t.Fatalf("IgnoreHead: %v %v", head, head.Violations)
	}
}
