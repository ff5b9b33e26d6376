package fetch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/faultcheck"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/output/mediapackage"
)

const (
	ingestDir = "/in/v2/1/a/"
	user      = "relay"
	pass      = "s3cret-pass"
)

// dest is a digest-auth sink that also checks, at every playlist PUT, that
// each segment the playlist references is already stored.
type dest struct {
	t    *testing.T
	sink *sink.Sink
	srv  *httptest.Server

	mu         sync.Mutex
	violations []string
	playlists  map[string][][]byte // every version pushed, by path
}

func newDest(t *testing.T) *dest {
	d := &dest{t: t, sink: sink.New(sink.Options{Username: user, Password: pass}), playlists: map[string][][]byte{}}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *dest) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, ".m3u8") && r.Header.Get("Authorization") != "" {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		d.mu.Lock()
		d.playlists[r.URL.Path] = append(d.playlists[r.URL.Path], body)
		d.mu.Unlock()
		for _, v := range faultcheck.CheckRefs(r.URL.Path, body, func(file string) bool {
			_, ok := d.sink.Get(file)
			return ok
		}) {
			d.violate("%s", v)
		}
	}
	d.sink.ServeHTTP(w, r)
}

func (d *dest) violate(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.violations = append(d.violations, fmt.Sprintf(format, args...))
}

func (d *dest) check() {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, v := range d.violations {
		d.t.Error(v)
	}
}

func (d *dest) ingestURL() string { return d.srv.URL + ingestDir + "channel" }

var segRe = regexp.MustCompile(`^` + regexp.QuoteMeta(ingestDir) + `channel_([A-Za-z0-9-]+)_(\d+)\.([a-z0-9]+)$`)

type put struct {
	seq  int64
	sha  string
	path string
}

// segmentPuts returns successful segment PUTs per rendition name, in order.
func (d *dest) segmentPuts() map[string][]put {
	out := map[string][]put{}
	for _, w := range d.sink.Writes() {
		if w.Method != http.MethodPut {
			continue
		}
		m := segRe.FindStringSubmatch(w.Path)
		if m == nil {
			continue
		}
		seq, _ := strconv.ParseInt(m[2], 10, 64)
		out[m[1]] = append(out[m[1]], put{seq: seq, sha: w.SHA256, path: w.Path})
	}
	return out
}

// srcName maps livesource rendition names to pushed rendition names.
func srcName(r string) string { return strings.ReplaceAll(r, "_", "-") }

type rig struct {
	t      *testing.T
	src    *livesource.Source
	srcSrv *httptest.Server
	dests  []*dest
	out    *mediapackage.Output
	prog   fetch.ProgressStore
	window time.Duration
	cancel context.CancelFunc
	done   chan error
	wait   func() error
	f      *fetch.Fetcher
}

func newRig(t *testing.T, set *testmedia.Set, cfg livesource.Config, ndest int) *rig {
	cfg.Set = set
	r := &rig{t: t, src: livesource.New(cfg)}
	r.srcSrv = httptest.NewServer(r.src)
	t.Cleanup(r.srcSrv.Close)
	for range ndest {
		r.dests = append(r.dests, newDest(t))
	}
	return r
}

func (r *rig) sourceURL() string {
	for _, n := range r.src.Renditions() {
		if r.src.Requests(livesource.MasterPath) >= 0 && n != "" {
			break
		}
	}
	return r.srcSrv.URL + livesource.MasterPath
}

// start runs a fetcher against url.
func (r *rig) start(url string) {
	r.t.Helper()
	var ingests []mediapackage.Ingest
	for _, d := range r.dests {
		ingests = append(ingests, mediapackage.Ingest{URL: d.ingestURL(), Username: user, Password: pass})
	}
	out, err := mediapackage.New(mediapackage.Config{IngestURLs: ingests, Timeout: 5 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	r.out = out
	window := r.window
	if window == 0 {
		window = 120 * time.Second
	}
	f, err := fetch.New(fetch.Config{
		ID: "t", URL: url, Output: out, Window: window,
		PollInterval: 30 * time.Millisecond, SpoolDir: r.t.TempDir(), Progress: r.prog,
		PushTimeout: 5 * time.Second,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.f = f
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	done := make(chan error, 1)
	r.done = done
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	var runErr error
	r.wait = func() error {
		once.Do(func() { runErr = <-done })
		return runErr
	}
	wait := r.wait
	r.t.Cleanup(func() { cancel(); wait() })
}

// stop cancels the fetcher and waits for it.
func (r *rig) stop() {
	r.cancel()
	if err := r.wait(); err != nil {
		r.t.Fatalf("fetcher: %v", err)
	}
}

// waitPushed waits until dest d has every segment the source published for
// each rendition in names.
func (r *rig) waitPushed(d *dest, names []string) {
	r.t.Helper()
	testutil.Eventually(r.t, 20*time.Second, func() bool {
		puts := d.segmentPuts()
		for _, n := range names {
			if len(puts[srcName(n)]) < len(r.src.Published(n)) {
				return false
			}
		}
		return true
	}, "destination did not receive every published segment; status %+v", r.f.Status())
}

// drive advances the source n times, waiting each time until everything
// published reached dest d.
func (r *rig) drive(d *dest, n int) {
	r.t.Helper()
	names := r.src.Renditions()
	r.waitPushed(d, names)
	for range n {
		r.src.Advance(1)
		r.waitPushed(d, names)
	}
}

// assertExactlyOnce checks that each rendition's offered segments reached d
// exactly once, in order, byte-identical, with consecutive output numbers.
func assertExactlyOnce(t *testing.T, src *livesource.Source, d *dest) {
	t.Helper()
	puts := d.segmentPuts()
	for _, n := range src.Renditions() {
		offered := src.Published(n)
		got := puts[srcName(n)]
		if len(got) != len(offered) {
			t.Errorf("%s: %d segments offered, %d pushed", n, len(offered), len(got))
			continue
		}
		seen := map[string]bool{}
		for i, p := range got {
			if seen[p.path] {
				t.Errorf("%s: %s pushed twice", n, p.path)
			}
			seen[p.path] = true
			if p.sha != offered[i].SHA256 {
				t.Errorf("%s: pushed segment %d (%s) differs from source msn %d", n, i, p.path, offered[i].MediaSequence)
			}
			if i > 0 && p.seq != got[i-1].seq+1 {
				t.Errorf("%s: output numbers not consecutive: %d after %d", n, p.seq, got[i-1].seq)
			}
		}
	}
}

// mediaPlaylist returns the last pushed media playlist of a rendition.
func mediaPlaylist(t *testing.T, d *dest, name string) *hls.Media {
	t.Helper()
	data, ok := d.sink.Get(ingestDir + "channel_" + name + ".m3u8")
	if !ok {
		t.Fatalf("no playlist for %s", name)
	}
	m, err := hls.ParseMedia(data)
	if err != nil {
		t.Fatalf("playlist %s: %v", name, err)
	}
	return m
}

func TestRelayTSLiveToMediaPackage(t *testing.T) {
	set := testmedia.MustLoad(testmedia.TS)
	r := newRig(t, set, livesource.Config{
		Window: 4, WithPDT: true, EndAfter: 16,
		SequenceOffsets: map[string]uint64{"audio": 1000, "subs": 37},
		ExtraTags:       map[int][]string{9: {"#EXT-X-CUE-OUT:2"}, 11: {"#EXT-X-CUE-IN"}},
	}, 1)
	d := r.dests[0]
	r.start(r.sourceURL())
	r.drive(d, 12)
	testutil.Eventually(t, 20*time.Second, func() bool {
		return r.f.Status().State == fetch.StateEnded
	}, "fetcher did not end after ENDLIST: %+v", r.f.Status())
	if err := r.wait(); err != nil {
		t.Fatal(err)
	}
	if st := r.f.Status(); st.State != fetch.StateEnded {
		t.Errorf("state %s, want ended", st.State)
	}
	d.check()
	assertExactlyOnce(t, r.src, d)

	// Final playlists: ENDLIST, only pushed files, numbering from the source.
	for _, n := range r.src.Renditions() {
		m := mediaPlaylist(t, d, srcName(n))
		if !m.Endlist {
			t.Errorf("%s: final playlist has no ENDLIST", n)
		}
		if len(m.Segments) != 16 {
			t.Errorf("%s: final playlist lists %d segments, want 16", n, len(m.Segments))
		}
		first := r.src.Published(n)[0].MediaSequence
		if m.MediaSequence != int64(first) {
			t.Errorf("%s: MEDIA-SEQUENCE %d, want source's %d", n, m.MediaSequence, first)
		}
		// A loop of the 8-segment VOD is a discontinuity: at positions 8.
		if !m.Segments[8].Discontinuity || m.Segments[7].Discontinuity {
			t.Errorf("%s: discontinuity not carried at position 8", n)
		}
		if got := m.Segments[9].Tags; len(got) != 1 || got[0] != "#EXT-X-CUE-OUT:2" {
			t.Errorf("%s: CUE-OUT not passed through: %q", n, got)
		}
		for i, s := range m.Segments {
			want := r.src.Published(n)[i].PDT
			if !s.ProgramDateTime.Equal(want) {
				t.Errorf("%s: segment %d PDT %v, want source's %v", n, i, s.ProgramDateTime, want)
				break
			}
		}
	}
	// The audio rendition numbering starts at 1000: renditions are independent.
	if m := mediaPlaylist(t, d, "audio"); m.MediaSequence != 1000 {
		t.Errorf("audio MEDIA-SEQUENCE %d, want 1000", m.MediaSequence)
	}
	master, ok := d.sink.Get(ingestDir + "channel.m3u8")
	if !ok {
		t.Fatal("no multivariant playlist pushed")
	}
	mv, err := hls.ParseMultivariant(master)
	if err != nil {
		t.Fatal(err)
	}
	if len(mv.Variants) != 2 || mv.Variants[0].URI != "channel_video-hi.m3u8" || mv.Variants[0].Codecs == "" {
		t.Errorf("multivariant variants not rewritten: %+v", mv.Variants)
	}
	groups := map[hls.MediaType]string{}
	for _, m := range mv.Renditions {
		groups[m.Type] = m.URI
	}
	if groups[hls.MediaTypeAudio] != "channel_audio.m3u8" || groups[hls.MediaTypeSubtitles] != "channel_subs.m3u8" {
		t.Errorf("multivariant renditions not rewritten: %v", groups)
	}

	// ffprobe reads and decodes what the destination holds.
	ffprobe := testutil.RequireTool(t, "ffprobe")
	out, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", d.srv.URL+ingestDir+"channel.m3u8").CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	if s := string(out); !strings.Contains(s, "video") || !strings.Contains(s, "audio") {
		t.Errorf("ffprobe streams: %q", s)
	}
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	dec, err := exec.Command(ffmpeg, "-v", "error", "-i", d.srv.URL+ingestDir+"channel_video-hi.m3u8", "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(dec)) > 0 {
		t.Errorf("ffmpeg decode of pushed video: %v\n%s", err, dec)
	}
}

func TestRelayFMP4InitSegmentsAndByteRange(t *testing.T) {
	set := testmedia.MustLoad(testmedia.FMP4)
	r := newRig(t, set, livesource.Config{Window: 4, ByteRange: true}, 1)
	d := r.dests[0]
	r.start(r.sourceURL())
	r.drive(d, 6)
	r.stop()
	d.check()
	assertExactlyOnce(t, r.src, d)
	for _, n := range []string{"video_hi", "audio"} {
		m := mediaPlaylist(t, d, srcName(n))
		if m.Segments[0].Map == nil {
			t.Fatalf("%s: no EXT-X-MAP", n)
		}
		initName := m.Segments[0].Map.URI
		if !strings.HasPrefix(initName, "channel_"+srcName(n)+"_init_") {
			t.Errorf("%s: MAP URI %q not rewritten to a pushed copy", n, initName)
		}
		data, ok := d.sink.Get(ingestDir + initName)
		if !ok {
			t.Fatalf("%s: init segment not pushed", n)
		}
		if !bytes.Equal(data, set.Rendition(n).Init) {
			t.Errorf("%s: pushed init segment differs from the source's", n)
		}
		initPuts := 0
		for _, w := range d.sink.Writes() {
			if w.Path == ingestDir+initName {
				initPuts++
			}
		}
		if initPuts != 1 {
			t.Errorf("%s: init segment pushed %d times, want once", n, initPuts)
		}
		for _, s := range m.Segments {
			if s.ByteRange != nil {
				t.Errorf("%s: pushed playlist still has BYTERANGE", n)
			}
		}
	}
}

func TestRelayCopiesKeysAndKeepsIV(t *testing.T) {
	set := testmedia.MustLoad(testmedia.TS)
	r := newRig(t, set, livesource.Config{Window: 4, Key: true}, 1)
	d := r.dests[0]
	r.start(r.sourceURL())
	r.drive(d, 3)
	r.stop()
	d.check()
	assertExactlyOnce(t, r.src, d)
	m := mediaPlaylist(t, d, "video-hi")
	k := m.Segments[0].Keys
	if len(k) != 1 || k[0].Method != "AES-128" || !strings.HasPrefix(k[0].URI, "channel_video-hi_key_") {
		t.Fatalf("KEY not rewritten to a pushed copy: %+v", k)
	}
	key, ok := d.sink.Get(ingestDir + k[0].URI)
	if !ok || !bytes.Equal(key, livesource.Key()) {
		t.Fatalf("key not pushed or wrong")
	}
	// Decrypt a pushed segment with the pushed key and the implied IV.
	seg, _ := d.sink.Get(ingestDir + m.Segments[1].URI)
	msn := uint64(m.MediaSequence + 1)
	plain, err := livesource.Decrypt(key, livesource.SequenceIV(msn), seg)
	if err != nil || len(plain) == 0 || plain[0] != 0x47 {
		t.Fatalf("pushed segment does not decrypt to TS: %v", err)
	}
}

func TestRelaySourceRestartDoesNotCollide(t *testing.T) {
	set := testmedia.MustLoad(testmedia.TS)
	r := newRig(t, set, livesource.Config{Window: 4}, 1)
	d := r.dests[0]
	r.start(r.sourceURL())
	r.drive(d, 4)
	r.src.ResetSequence()
	r.drive(d, 6)
	r.stop()
	d.check()
	assertExactlyOnce(t, r.src, d)
	m := mediaPlaylist(t, d, "video-hi")
	// The segment after the reset carries a DISCONTINUITY.
	disc := 0
	for _, s := range m.Segments {
		if s.Discontinuity {
			disc++
		}
	}
	if disc == 0 {
		t.Error("no DISCONTINUITY at the source restart")
	}
}

func TestRelaySourceMovingPastIsCountedAndMarked(t *testing.T) {
	set := testmedia.MustLoad(testmedia.TS)
	r := newRig(t, set, livesource.Config{Window: 4}, 1)
	d := r.dests[0]
	r.start(r.sourceURL())
	r.drive(d, 2)
	// The source moves 10 segments on at once: 6 leave its window unseen.
	r.src.Advance(10)
	names := r.src.Renditions()
	testutil.Eventually(t, 20*time.Second, func() bool {
		puts := d.segmentPuts()
		for _, n := range names {
			pub, got := r.src.Published(n), puts[srcName(n)]
			if len(got) == 0 || got[len(got)-1].sha != pub[len(pub)-1].SHA256 {
				return false
			}
		}
		return true
	}, "the newest segments were not pushed")
	r.stop()
	d.check()
	for _, rs := range r.f.Status().Renditions {
		if rs.SegmentsMissed != 6 {
			t.Errorf("%s: %d segments counted missed, want 6", rs.Name, rs.SegmentsMissed)
		}
	}
	puts := d.segmentPuts()
	for _, n := range names {
		offered := r.src.Offered(n)
		got := puts[srcName(n)]
		if len(got) != len(offered) {
			t.Fatalf("%s: %d offered, %d pushed", n, len(offered), len(got))
		}
		for i := range got {
			if got[i].sha != offered[i].SHA256 || (i > 0 && got[i].seq != got[i-1].seq+1) {
				t.Errorf("%s: push %d wrong content or numbering", n, i)
			}
		}
	}
	m := mediaPlaylist(t, d, "video-hi")
	var discAt []int
	for i, s := range m.Segments {
		if s.Discontinuity {
			discAt = append(discAt, i)
		}
	}
	if len(discAt) == 0 || discAt[0] != 6 {
		t.Errorf("the jump is not marked with a DISCONTINUITY at the first segment after it: %v", discAt)
	}
}

func TestRelayRedundantIngestOneFailing(t *testing.T) {
	set := testmedia.MustLoad(testmedia.TS)
	r := newRig(t, set, livesource.Config{Window: 4}, 2)
	good, bad := r.dests[0], r.dests[1]
	bad.sink.FailAll(http.StatusInternalServerError)
	r.start(r.sourceURL())
	r.drive(good, 8)
	good.check()
	assertExactlyOnce(t, r.src, good)
	if _, ok := good.sink.Get(ingestDir + "channel.m3u8"); !ok {
		t.Error("healthy ingest has no multivariant playlist")
	}
	st := r.f.Status()
	if len(st.Targets) != 2 {
		t.Fatalf("targets: %+v", st.Targets)
	}
	if st.Targets[1].PushFailures == 0 || !strings.Contains(st.Targets[1].LastError, "500") {
		t.Errorf("failing ingest not visible in status: %+v", st.Targets[1])
	}
	if st.Targets[0].SegmentsPushed == 0 || st.Targets[0].LastError != "" {
		t.Errorf("healthy ingest status: %+v", st.Targets[0])
	}
	if strings.Contains(fmt.Sprint(st), pass) {
		t.Error("status leaks the ingest password")
	}
	// When the failing ingest recovers it catches up from the spool, in order.
	bad.sink.FailAll(0)
	r.drive(bad, 1)
	r.stop()
	assertExactlyOnce(t, r.src, bad)
	bad.check()
}

func TestRelayRestartContinuesWithoutRepush(t *testing.T) {
	set := testmedia.MustLoad(testmedia.TS)
	r := newRig(t, set, livesource.Config{Window: 6}, 1)
	r.prog = &fetch.FileProgress{Path: t.TempDir() + "/state.json"}
	d := r.dests[0]
	r.start(r.sourceURL())
	r.drive(d, 4)
	r.stop()
	// Two segments appear while the relay is down; the source still lists them.
	r.src.Advance(2)
	r.start(r.sourceURL())
	r.drive(d, 3)
	r.stop()
	d.check()
	assertExactlyOnce(t, r.src, d)
}

func TestRelaySingleMediaPlaylistGetsAMaster(t *testing.T) {
	set := testmedia.MustLoad(testmedia.TS)
	r := newRig(t, set, livesource.Config{Window: 4, SingleMedia: true}, 1)
	d := r.dests[0]
	r.start(r.srcSrv.URL + livesource.PlaylistPath("video_hi"))
	names := []string{"video_hi"}
	r.waitPushed(d, names)
	r.src.Advance(2)
	r.waitPushed(d, names)
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, ok := d.sink.Get(ingestDir + "channel.m3u8")
		return ok
	}, "no multivariant playlist")
	r.stop()
	data, _ := d.sink.Get(ingestDir + "channel.m3u8")
	mv, err := hls.ParseMultivariant(data)
	if err != nil || len(mv.Variants) != 1 || mv.Variants[0].URI != "channel_video-hi.m3u8" || mv.Variants[0].Bandwidth <= 0 {
		t.Fatalf("synthesized master: %v %s", err, data)
	}
}

// sha returns the hex SHA-256 of b.
func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var _ = sort.Strings
var _ = sha
