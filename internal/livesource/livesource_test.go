package livesource

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// media is a parsed media playlist, enough for these tests.
type media struct {
	version, target  int
	seq, discSeq     uint64
	typ, mapTag, key string
	ended            bool
	segs             []seg
}

type seg struct {
	uri, pdt    string
	dur         float64
	disc        bool
	length, off int64
	tags        []string
}

func parseMedia(t *testing.T, body string) media {
	t.Helper()
	var m media
	var cur seg
	for i, l := range strings.Split(strings.TrimSpace(body), "\n") {
		if i == 0 {
			if l != "#EXTM3U" {
				t.Fatalf("playlist does not start with #EXTM3U:\n%s", body)
			}
			continue
		}
		tag, val, _ := strings.Cut(l, ":")
		switch tag {
		case "#EXT-X-VERSION":
			m.version, _ = strconv.Atoi(val)
		case "#EXT-X-TARGETDURATION":
			m.target, _ = strconv.Atoi(val)
		case "#EXT-X-MEDIA-SEQUENCE":
			m.seq, _ = strconv.ParseUint(val, 10, 64)
		case "#EXT-X-DISCONTINUITY-SEQUENCE":
			m.discSeq, _ = strconv.ParseUint(val, 10, 64)
		case "#EXT-X-PLAYLIST-TYPE":
			m.typ = val
		case "#EXT-X-MAP":
			m.mapTag = val
		case "#EXT-X-KEY":
			m.key = val
		case "#EXT-X-ENDLIST":
			m.ended = true
		case "#EXT-X-DISCONTINUITY":
			cur.disc = true
		case "#EXT-X-PROGRAM-DATE-TIME":
			cur.pdt = val
		case "#EXTINF":
			cur.dur, _ = strconv.ParseFloat(strings.TrimSuffix(val, ","), 64)
		case "#EXT-X-BYTERANGE":
			n, o, _ := strings.Cut(val, "@")
			cur.length, _ = strconv.ParseInt(n, 10, 64)
			cur.off, _ = strconv.ParseInt(o, 10, 64)
		default:
			if strings.HasPrefix(l, "#") {
				cur.tags = append(cur.tags, l)
				continue
			}
			cur.uri = l
			m.segs = append(m.segs, cur)
			cur = seg{}
		}
	}
	return m
}

func (m media) uris() []string {
	var u []string
	for _, s := range m.segs {
		u = append(u, s.uri)
	}
	return u
}

type fixture struct {
	t   *testing.T
	src *Source
	srv *httptest.Server
	set *testmedia.Set
}

func newFixture(t *testing.T, flavour string, cfg Config) *fixture {
	t.Helper()
	set := testmedia.MustLoad(flavour)
	cfg.Set = set
	src := New(cfg)
	srv := httptest.NewServer(src)
	t.Cleanup(srv.Close)
	return &fixture{t: t, src: src, srv: srv, set: set}
}

// get fetches path and returns status and body; hdr are request headers.
func (f *fixture) get(path string, hdr ...string) (int, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (f *fixture) playlist(rendition string) media {
	f.t.Helper()
	code, b := f.get(PlaylistPath(rendition))
	if code != http.StatusOK {
		f.t.Fatalf("GET %s: %d", PlaylistPath(rendition), code)
	}
	return parseMedia(f.t, string(b))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestWindowSlides(t *testing.T) {
	for _, fl := range []string{testmedia.TS, testmedia.FMP4} {
		t.Run(fl, func(t *testing.T) {
			f := newFixture(t, fl, Config{})
			ext := f.set.Rendition("video_hi").Ext()
			m := f.playlist("video_hi")
			want := []string{"video_hi/seg_0" + ext, "video_hi/seg_1" + ext, "video_hi/seg_2" + ext, "video_hi/seg_3" + ext}
			if m.seq != 0 || !slices.Equal(m.uris(), want) || m.ended || m.typ != "" || m.target != 1 {
				t.Fatalf("initial playlist: seq %d uris %v ended %v type %q", m.seq, m.uris(), m.ended, m.typ)
			}
			if fl == testmedia.FMP4 && m.mapTag != `URI="video_hi/init.mp4"` {
				t.Errorf("map %q", m.mapTag)
			}
			f.src.Advance(2)
			m = f.playlist("video_hi")
			want = []string{"video_hi/seg_2" + ext, "video_hi/seg_3" + ext, "video_hi/seg_4" + ext, "video_hi/seg_5" + ext}
			if m.seq != 2 || !slices.Equal(m.uris(), want) {
				t.Fatalf("after Advance(2): seq %d uris %v", m.seq, m.uris())
			}
			for _, r := range f.set.Renditions {
				if m := f.playlist(r.Name); m.seq != 2 || len(m.segs) != 4 {
					t.Errorf("%s: seq %d, %d segments", r.Name, m.seq, len(m.segs))
				}
			}
			// Segments carry the VOD bytes at position mod 8.
			for _, s := range m.segs {
				code, b := f.get("/" + s.uri)
				msn, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(s.uri, "video_hi/seg_"), ext))
				if code != 200 || !bytes.Equal(b, f.set.Rendition("video_hi").Segments[msn%8].Data) {
					t.Errorf("%s: status %d, bytes differ from VOD segment %d", s.uri, code, msn%8)
				}
			}
			if code, _ := f.get("/video_hi/seg_6" + ext); code != http.StatusNotFound {
				t.Errorf("unpublished segment: %d, want 404", code)
			}
			if fl == testmedia.FMP4 {
				if code, b := f.get("/video_hi/init.mp4"); code != 200 || !bytes.Equal(b, f.set.Rendition("video_hi").Init) {
					t.Errorf("init: %d", code)
				}
			}
			if code, b := f.get(MasterPath); code != 200 || !bytes.Equal(b, f.set.Master) {
				t.Errorf("master: %d", code)
			}
		})
	}
}

func TestDiscontinuityAtLoop(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{Window: 3})
	f.src.Advance(6) // positions 0..8 published, window 6,7,8
	m := f.playlist("audio")
	if m.seq != 6 || m.discSeq != 0 || len(m.segs) != 3 || m.segs[0].disc || m.segs[1].disc || !m.segs[2].disc {
		t.Fatalf("at loop: seq %d ds %d segs %+v", m.seq, m.discSeq, m.segs)
	}
	_, b := f.get("/" + m.segs[2].uri)
	if !bytes.Equal(b, f.set.Rendition("audio").Segments[0].Data) {
		t.Error("position 8 does not carry VOD segment 0")
	}
	f.src.Advance(2) // window 8,9,10: the discontinuity is still listed first
	if m := f.playlist("audio"); m.discSeq != 0 || !m.segs[0].disc {
		t.Fatalf("discontinuity first: ds %d segs %+v", m.discSeq, m.segs)
	}
	f.src.Advance(1) // it slid out
	if m := f.playlist("audio"); m.discSeq != 1 || m.segs[0].disc || m.seq != 9 {
		t.Fatalf("after slide-out: seq %d ds %d segs %+v", m.seq, m.discSeq, m.segs)
	}
	f.src.Advance(8) // second loop at position 16
	refs := f.src.Published("audio")
	for _, r := range refs {
		wantDisc := r.Position > 0 && r.Position%8 == 0
		if r.Discontinuity != wantDisc || r.DiscontinuitySequence != uint64(r.Position/8) {
			t.Errorf("position %d: disc %v ds %d", r.Position, r.Discontinuity, r.DiscontinuitySequence)
		}
		if r.SHA256 != sha(f.set.Rendition("audio").Segments[r.Position%8].Data) {
			t.Errorf("position %d: wrong sha", r.Position)
		}
	}
}

func TestSequenceOffsets(t *testing.T) {
	f := newFixture(t, testmedia.FMP4, Config{SequenceOffsets: map[string]uint64{"audio": 1000}})
	f.src.Advance(1)
	if m := f.playlist("video_hi"); m.seq != 1 || m.segs[0].uri != "video_hi/seg_1.m4s" {
		t.Errorf("video: seq %d %v", m.seq, m.uris())
	}
	m := f.playlist("audio")
	if m.seq != 1001 || m.segs[0].uri != "audio/seg_1001.m4s" {
		t.Errorf("audio: seq %d %v", m.seq, m.uris())
	}
	// Same programme position, same content, whatever the sequence number.
	_, b := f.get("/audio/seg_1001.m4s")
	if !bytes.Equal(b, f.set.Rendition("audio").Segments[1].Data) {
		t.Error("audio seg 1001 is not VOD segment 1")
	}
}

func TestEndAfter(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{EndAfter: 6})
	if m := f.playlist("video_lo"); m.ended {
		t.Fatal("ended too early")
	}
	f.src.Advance(5)
	m := f.playlist("video_lo")
	if !m.ended || m.seq != 2 || len(m.segs) != 4 || m.segs[3].uri != "video_lo/seg_5.ts" {
		t.Fatalf("ended %v seq %d uris %v", m.ended, m.seq, m.uris())
	}
	if !f.src.Ended("video_lo") {
		t.Error("Ended false")
	}
	f.src.Advance(3)
	if m2 := f.playlist("video_lo"); !slices.Equal(m2.uris(), m.uris()) {
		t.Errorf("advanced after end: %v", m2.uris())
	}
	if n := len(f.src.Published("video_lo")); n != 6 {
		t.Errorf("%d published, want 6", n)
	}
}

func TestByteRange(t *testing.T) {
	for _, fl := range []string{testmedia.TS, testmedia.FMP4} {
		t.Run(fl, func(t *testing.T) {
			f := newFixture(t, fl, Config{ByteRange: true})
			f.src.Advance(6) // positions 0..9, window 6..9 crossing the loop
			vod := f.set.Rendition("video_hi")
			m := f.playlist("video_hi")
			if m.version < 4 {
				t.Errorf("version %d, want >= 4", m.version)
			}
			file := "video_hi/stream_0.ts"
			wantOff := int64(0)
			if fl == testmedia.FMP4 {
				file = "video_hi/stream_0.mp4"
				wantOff = int64(len(vod.Init))
				if want := fmt.Sprintf(`URI="%s",BYTERANGE="%d@0"`, file, len(vod.Init)); m.mapTag != want {
					t.Errorf("map %q, want %q", m.mapTag, want)
				}
				code, b := f.get("/"+file, "Range", fmt.Sprintf("bytes=0-%d", len(vod.Init)-1))
				if code != http.StatusPartialContent || !bytes.Equal(b, vod.Init) {
					t.Errorf("init range: %d", code)
				}
			}
			for i := range 6 {
				wantOff += int64(len(vod.Segments[i%8].Data))
			}
			for i, s := range m.segs {
				pos := 6 + i
				if s.uri != file || s.off != wantOff || s.length != int64(len(vod.Segments[pos%8].Data)) {
					t.Errorf("segment %d: %s %d@%d, want %s %d@%d", pos, s.uri, s.length, s.off, file, len(vod.Segments[pos%8].Data), wantOff)
				}
				code, b := f.get("/"+s.uri, "Range", fmt.Sprintf("bytes=%d-%d", s.off, s.off+s.length-1))
				if code != http.StatusPartialContent || !bytes.Equal(b, vod.Segments[pos%8].Data) {
					t.Errorf("segment %d: range GET %d, bytes differ", pos, code)
				}
				wantOff += s.length
			}
			// The whole resource is init + every segment so far.
			_, whole := f.get("/" + file)
			var want []byte
			want = append(want, vod.Init...)
			for pos := range 10 {
				want = append(want, vod.Segments[pos%8].Data...)
			}
			if !bytes.Equal(whole, want) {
				t.Errorf("whole resource: %d bytes, want %d", len(whole), len(want))
			}
			refs := f.src.Offered("video_hi")
			if len(refs) != 4 || refs[0].RangeOffset != m.segs[0].off || refs[0].RangeLength != m.segs[0].length {
				t.Errorf("offered refs %+v", refs)
			}
		})
	}
}

func TestKey(t *testing.T) {
	for _, fl := range []string{testmedia.TS, testmedia.FMP4} {
		t.Run(fl, func(t *testing.T) {
			f := newFixture(t, fl, Config{Key: true, SequenceOffsets: map[string]uint64{"audio": 77}})
			code, key := f.get(KeyPath)
			if code != 200 || !bytes.Equal(key, Key()) || len(key) != 16 {
				t.Fatalf("key: %d %x", code, key)
			}
			for _, name := range []string{"video_hi", "audio"} {
				m := f.playlist(name)
				if m.key != `METHOD=AES-128,URI="key.bin"` {
					t.Errorf("%s: key tag %q", name, m.key)
				}
				for i, s := range m.segs {
					_, b := f.get("/" + s.uri)
					clear, err := Decrypt(key, SequenceIV(m.seq+uint64(i)), b)
					if err != nil {
						t.Fatalf("%s: %v", s.uri, err)
					}
					if !bytes.Equal(clear, f.set.Rendition(name).Segments[i].Data) {
						t.Errorf("%s: decrypted bytes differ from VOD segment %d", s.uri, i)
					}
					if ref := f.src.Offered(name)[i]; !ref.Encrypted || ref.SHA256 != sha(b) || ref.Size != len(b) {
						t.Errorf("%s: ref %+v", s.uri, ref)
					}
				}
				if fl == testmedia.FMP4 {
					if _, b := f.get("/" + name + "/init.mp4"); !bytes.Equal(b, f.set.Rendition(name).Init) {
						t.Errorf("%s: init is not clear", name)
					}
				}
			}
			m := f.playlist("subs")
			_, b := f.get("/" + m.segs[0].uri)
			if m.key != "" || !bytes.HasPrefix(b, []byte("WEBVTT")) {
				t.Errorf("subtitles encrypted: key %q", m.key)
			}
		})
	}
	if _, err := Decrypt(Key(), SequenceIV(0), []byte("short")); err == nil {
		t.Error("Decrypt accepted a short input")
	}
	f := newFixture(t, testmedia.TS, Config{})
	if code, _ := f.get(KeyPath); code != http.StatusNotFound {
		t.Errorf("key without Key mode: %d", code)
	}
}

func TestSingleMedia(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{SingleMedia: true})
	for path, want := range map[string]int{
		MasterPath:               404,
		PlaylistPath("video_hi"): 200,
		PlaylistPath("audio"):    404,
		PlaylistPath("video_lo"): 404,
		"/video_hi/seg_0.ts":     200,
		"/nope.m3u8":             404,
		"/nope/seg_0.ts":         404,
		"/video_hi/seg_99.ts":    404,
		"/video_hi/sub/x.m3u8":   404,
	} {
		if code, _ := f.get(path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
}

func TestEvent(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{Event: true, EndAfter: 14})
	f.src.Advance(6)
	m := f.playlist("video_hi")
	if m.typ != "EVENT" || m.seq != 0 || len(m.segs) != 10 || m.ended {
		t.Fatalf("type %q seq %d %d segs ended %v", m.typ, m.seq, len(m.segs), m.ended)
	}
	f.src.Advance(10)
	m = f.playlist("video_hi")
	if m.seq != 0 || len(m.segs) != 14 || !m.ended || !m.segs[8].disc {
		t.Fatalf("seq %d %d segs ended %v", m.seq, len(m.segs), m.ended)
	}
}

func TestExtraTags(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{ExtraTags: map[int][]string{
		5: {"#EXT-X-CUE-OUT:2", "#EXT-X-SCTE35:ID=1"},
		7: {"#EXT-X-CUE-IN"},
	}})
	f.src.Advance(4) // window 4..7
	for _, r := range f.set.Renditions {
		m := f.playlist(r.Name)
		got := [][]string{m.segs[0].tags, m.segs[1].tags, m.segs[2].tags, m.segs[3].tags}
		want := [][]string{nil, {"#EXT-X-CUE-OUT:2", "#EXT-X-SCTE35:ID=1"}, nil, {"#EXT-X-CUE-IN"}}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("%s segment %d tags %q, want %q", r.Name, 4+i, got[i], want[i])
			}
		}
	}
	if refs := f.src.Offered("audio"); !slices.Equal(refs[3].Tags, []string{"#EXT-X-CUE-IN"}) {
		t.Errorf("ref tags %q", refs[3].Tags)
	}
}

func TestResetSequence(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{SequenceOffsets: map[string]uint64{"audio": 50}})
	f.src.Advance(10) // positions 0..13, msn 10..13 listed
	f.src.ResetSequence()
	if m := f.playlist("video_hi"); m.seq != 10 {
		t.Fatalf("reset applied before next segment: seq %d", m.seq)
	}
	f.src.Advance(1)
	m := f.playlist("video_hi")
	if m.seq != 0 || len(m.segs) != 1 || m.segs[0].uri != "video_hi/seg_0_r1.ts" || !m.segs[0].disc || m.discSeq != 1 {
		t.Fatalf("after reset: seq %d ds %d segs %+v", m.seq, m.discSeq, m.segs)
	}
	if m := f.playlist("audio"); m.seq != 50 || m.segs[0].uri != "audio/seg_50_r1.ts" {
		t.Fatalf("audio after reset: seq %d %v", m.seq, m.uris())
	}
	f.src.Advance(5)
	m = f.playlist("video_hi")
	// Window: positions 16..19, msn 2..5; position 16 is a loop boundary.
	if m.seq != 2 || m.discSeq != 2 || !m.segs[0].disc {
		t.Fatalf("seq %d ds %d", m.seq, m.discSeq)
	}
	// Old-epoch segments remain fetchable; the new ones carry the programme on.
	if code, b := f.get("/video_hi/seg_0.ts"); code != 200 || !bytes.Equal(b, f.set.Rendition("video_hi").Segments[0].Data) {
		t.Errorf("old epoch seg_0: %d", code)
	}
	if _, b := f.get("/video_hi/seg_0_r1.ts"); !bytes.Equal(b, f.set.Rendition("video_hi").Segments[14%8].Data) {
		t.Error("seg_0_r1 is not position 14")
	}
	refs := f.src.Published("video_hi")
	last := refs[len(refs)-1]
	if last.Epoch != 1 || last.MediaSequence != 5 || last.Position != 19 {
		t.Errorf("last ref %+v", last)
	}
	if d, ok := f.src.Data("video_hi", 1, 5); !ok || sha(d) != last.SHA256 {
		t.Error("Data(video_hi, 1, 5)")
	}
	if _, ok := f.src.Data("video_hi", 1, 6); ok {
		t.Error("Data of an unpublished segment")
	}
}

func TestSkipSequence(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{})
	f.src.SkipSequence(3)
	f.src.Advance(2)
	m := f.playlist("video_hi")
	want := []string{"video_hi/seg_2.ts", "video_hi/seg_3.ts", "video_hi/seg_7.ts", "video_hi/seg_8.ts"}
	if m.seq != 2 || !slices.Equal(m.uris(), want) || !m.segs[3].disc {
		t.Fatalf("seq %d uris %v segs %+v", m.seq, m.uris(), m.segs)
	}
	if _, b := f.get("/video_hi/seg_7.ts"); !bytes.Equal(b, f.set.Rendition("video_hi").Segments[7].Data) {
		t.Error("seg_7 is not VOD segment 7")
	}
}

func TestAdvanceRendition(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{})
	f.src.AdvanceRendition("video_hi", 3)
	if m := f.playlist("video_hi"); m.seq != 3 {
		t.Errorf("video_hi seq %d", m.seq)
	}
	if m := f.playlist("audio"); m.seq != 0 {
		t.Errorf("audio seq %d", m.seq)
	}
	f.src.Advance(1)
	v, a := f.src.Window("video_hi"), f.src.Window("audio")
	if v[3].Position != 7 || a[3].Position != 4 {
		t.Errorf("positions video %d audio %d", v[3].Position, a[3].Position)
	}
}

func TestOfferedOnlyListed(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{Window: 2})
	if got := f.src.Offered("video_hi"); len(got) != 0 {
		t.Fatalf("offered before any request: %v", got)
	}
	f.playlist("video_hi") // lists 0,1
	f.src.Advance(5)       // 2..6 published, 5,6 listed
	f.playlist("video_hi")
	var got []uint64
	for _, r := range f.src.Offered("video_hi") {
		got = append(got, r.MediaSequence)
	}
	if !slices.Equal(got, []uint64{0, 1, 5, 6}) {
		t.Errorf("offered %v, want [0 1 5 6]", got)
	}
	if n := len(f.src.Published("video_hi")); n != 7 {
		t.Errorf("published %d, want 7", n)
	}
	if n := len(f.src.Offered("audio")); n != 0 {
		t.Errorf("audio offered %d without a request", n)
	}
	if w := f.src.Window("video_hi"); len(w) != 2 || w[0].MediaSequence != 5 {
		t.Errorf("window %+v", w)
	}
	if n := f.src.Requests(PlaylistPath("video_hi")); n != 2 {
		t.Errorf("requests %d, want 2", n)
	}
	if c := f.src.RequestCounts(); c[PlaylistPath("video_hi")] != 2 || len(c) != 1 {
		t.Errorf("counts %v", c)
	}
}

func TestClockAndPDT(t *testing.T) {
	clk := testutil.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	f := newFixture(t, testmedia.TS, Config{Clock: clk.Now, Interval: 500 * time.Millisecond, WithPDT: true})
	m := f.playlist("video_hi")
	if m.seq != 0 || len(m.segs) != 4 {
		t.Fatalf("seq %d", m.seq)
	}
	if m.segs[0].pdt != "2025-03-01T11:59:56.000Z" || m.segs[3].pdt != "2025-03-01T11:59:59.000Z" {
		t.Errorf("pdt %q .. %q", m.segs[0].pdt, m.segs[3].pdt)
	}
	clk.Add(1250 * time.Millisecond) // 2 intervals
	if m := f.playlist("video_hi"); m.seq != 2 || m.segs[3].pdt != "2025-03-01T12:00:01.000Z" || m.segs[3].dur != 1 {
		t.Fatalf("after 1.25 s: seq %d %+v", m.seq, m.segs[3])
	}
	f.src.Advance(1) // manual advance adds on top of the clock
	clk.Add(250 * time.Millisecond)
	if m := f.playlist("audio"); m.seq != 4 {
		t.Fatalf("after 1.5 s + 1: seq %d", m.seq)
	}
	refs := f.src.Published("video_hi")
	if got := refs[len(refs)-1].PDT; !got.Equal(time.Date(2025, 3, 1, 12, 0, 3, 0, time.UTC)) {
		t.Errorf("last PDT %v", got)
	}
}

func TestNoPDTByDefault(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{})
	for _, s := range f.playlist("video_hi").segs {
		if s.pdt != "" {
			t.Fatal("PDT without WithPDT")
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, testmedia.TS, Config{})
	resp, err := http.Post(f.srv.URL+MasterPath, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	resp, err = http.Head(f.srv.URL + PlaylistPath("video_hi"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestUnknownRenditionPanics(t *testing.T) {
	src := New(Config{Set: testmedia.MustLoad(testmedia.TS)})
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	src.Offered("nope")
}

// TestConcurrent polls playlists and segments while the source advances;
// run with -race.
func TestConcurrent(t *testing.T) {
	f := newFixture(t, testmedia.FMP4, Config{ByteRange: false, Key: true, WithPDT: true})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, name := range f.src.Renditions() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := f.srv.Client()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(f.srv.URL + PlaylistPath(name))
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				for _, l := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(l, name+"/seg_") {
						r, err := client.Get(f.srv.URL + "/" + l)
						if err != nil {
							t.Error(err)
							return
						}
						io.Copy(io.Discard, r.Body)
						r.Body.Close()
						if r.StatusCode != 200 {
							t.Errorf("%s: %d", l, r.StatusCode)
						}
					}
				}
			}
		}()
	}
	polls := func() int { return f.src.Requests(PlaylistPath("video_hi")) + f.src.Requests(PlaylistPath("audio")) }
	for i := range 50 {
		before := polls()
		testutil.Eventually(t, 10*time.Second, func() bool { return polls() > before }, "no poll")
		f.src.Advance(1)
		if i == 20 {
			f.src.ResetSequence()
		}
		if i == 30 {
			f.src.SkipSequence(2)
		}
		f.src.Offered("video_hi")
		f.src.RequestCounts()
	}
	close(stop)
	wg.Wait()
}

// TestFFprobeReadsLive checks that ffprobe plays finished live streams over
// HTTP (loopback) in several modes.
func TestFFprobeReadsLive(t *testing.T) {
	ffprobe := testutil.RequireTool(t, "ffprobe")
	for _, tc := range []struct {
		name    string
		flavour string
		cfg     Config
	}{
		{"ts", testmedia.TS, Config{}},
		{"fmp4", testmedia.FMP4, Config{}},
		{"ts-key", testmedia.TS, Config{Key: true}},
		{"fmp4-key", testmedia.FMP4, Config{Key: true}},
		{"ts-byterange", testmedia.TS, Config{ByteRange: true}},
		{"fmp4-byterange", testmedia.FMP4, Config{ByteRange: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.EndAfter = 6
			tc.cfg.WithPDT = true
			tc.cfg.SequenceOffsets = map[string]uint64{"audio": 1000}
			f := newFixture(t, tc.flavour, tc.cfg)
			f.src.Advance(2)
			out, err := exec.Command(ffprobe, "-v", "error", "-rw_timeout", "5000000",
				"-show_entries", "stream=codec_type,codec_name,width", "-of", "csv=p=0", f.srv.URL+MasterPath).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v\n%s", err, out)
			}
			if tc.cfg.Key && f.src.Requests(KeyPath) == 0 {
				t.Error("ffprobe did not fetch the key")
			}
			for _, want := range []string{"h264,video,320", "h264,video,160", "aac,audio"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("ffprobe output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
