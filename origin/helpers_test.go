package origin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/output"
)

const (
	testChannel = "live"
	testUser    = "pusher"
	testPass    = "p4ss-w0rd"
)

// newClock returns the settable clock shared by the origin and the test
// pusher.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// env is an origin served over loopback HTTP with a fake clock.
type env struct {
	t     *testing.T
	o     *Origin
	srv   *httptest.Server
	clock *testutil.Clock
	dir   string
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	clock := newClock()
	dir := t.TempDir()
	cfg := Config{
		DataDir: dir,
		Channels: []ChannelConfig{{
			ID: testChannel, Username: testUser, Password: testPass,
			ManifestWindow: 5 * time.Second,
		}},
		Now: clock.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler())
	t.Cleanup(func() {
		srv.Close()
		o.Close()
	})
	return &env{t: t, o: o, srv: srv, clock: clock, dir: dir}
}

func (e *env) url(p string) string { return e.srv.URL + p }

// get fetches a playback URL and returns status and body.
func (e *env) get(p string) (int, []byte) {
	e.t.Helper()
	resp, err := http.Get(e.url(p))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// media fetches and parses a media playlist, failing on non-200.
func (e *env) media(p string) *hls.Media {
	e.t.Helper()
	code, b := e.get(p)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", p, code, b)
	}
	m, err := hls.ParseMedia(b)
	if err != nil {
		e.t.Fatalf("parse %s: %v\n%s", p, err, b)
	}
	return m
}

// pusher pushes MediaPackage-style files to one input with digest auth.
type pusher struct {
	t      *testing.T
	base   string // .../in/v2/{channel}/{input}/
	client *http.Client
	// target, when set, pushes through a pullpush output target instead.
	target output.Target
}

func (e *env) pusher(input string) *pusher {
	return &pusher{
		t:      e.t,
		base:   e.url("/in/v2/" + testChannel + "/" + input + "/"),
		client: &http.Client{Transport: &digest.Transport{Username: testUser, Password: testPass}},
	}
}

func (p *pusher) put(name string, data []byte) {
	p.t.Helper()
	if p.target != nil {
		err := p.target.Put(context.Background(), output.File{Name: name, Size: int64(len(data)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
		if err != nil {
			p.t.Fatalf("output put %s: %v", name, err)
		}
		return
	}
	// A 503 (shared storage refusing a write that came too late, on a
	// loaded machine) is retried, as a relay does.
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequest(http.MethodPut, p.base+name, bytes.NewReader(data))
		if err != nil {
			p.t.Fatal(err)
		}
		resp, err := p.client.Do(req)
		if err != nil {
			p.t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && attempt < 5 {
			p.t.Logf("PUT %s: %d %s; retrying", name, resp.StatusCode, body)
			continue
		}
		if resp.StatusCode != http.StatusCreated {
			p.t.Fatalf("PUT %s: %d %s", name, resp.StatusCode, body)
		}
		return
	}
}

func (p *pusher) del(name string) int {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, p.base+name, nil)
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// live turns a testmedia set into an endless live channel with
// MediaPackage names (channel.m3u8, channel_<r>.m3u8, channel_<r>_<n>.<ext>)
// and PROGRAM-DATE-TIME; segment n of every rendition is the set's segment
// n%8 and starts at epoch+n seconds.
type live struct {
	set    *testmedia.Set
	epoch  time.Time
	window int  // segments per pushed media playlist
	noPDT  bool // omit PROGRAM-DATE-TIME
	// tags adds verbatim tags before segment n of every rendition.
	tags func(n int) []string
	// skip lists segments left out of the playlists (a lossy pusher).
	skip map[int]bool
}

func newLive(t *testing.T, flavour string, epoch time.Time) *live {
	t.Helper()
	set, err := testmedia.Load(flavour)
	if err != nil {
		t.Fatal(err)
	}
	return &live{set: set, epoch: epoch, window: 4}
}

func segName(r *testmedia.Rendition, n int) string {
	return fmt.Sprintf("channel_%s_%d%s", r.Name, n, r.Ext())
}

func initName(r *testmedia.Rendition) string { return "channel_" + r.Name + "_init.mp4" }

// segData returns the bytes of segment n of rendition r.
func (l *live) segData(r *testmedia.Rendition, n int) []byte {
	return r.Segments[n%len(r.Segments)].Data
}

// master returns the multivariant playlist with renamed media playlists.
func (l *live) master() []byte {
	m, err := hls.ParseMultivariant(l.set.Master)
	if err != nil {
		panic(err)
	}
	for _, v := range m.Variants {
		v.URI = "channel_" + strings.TrimSuffix(v.URI, ".m3u8") + ".m3u8"
	}
	for _, r := range m.Renditions {
		if r.URI != "" {
			r.URI = "channel_" + strings.TrimSuffix(r.URI, ".m3u8") + ".m3u8"
		}
	}
	return m.Encode()
}

// playlist returns the media playlist of r after segment n was produced.
func (l *live) playlist(r *testmedia.Rendition, n int) []byte {
	first := max(0, n-l.window+1)
	m := &hls.Media{Version: 3, TargetDuration: 1, MediaSequence: int64(first)}
	if r.Init != nil {
		m.Version = 6
	}
	for i := first; i <= n; i++ {
		if l.skip[i] {
			continue
		}
		s := &hls.Segment{Duration: r.Segments[i%len(r.Segments)].Duration, URI: segName(r, i)}
		if !l.noPDT {
			s.ProgramDateTime = l.epoch.Add(time.Duration(i) * time.Second)
		}
		if len(m.Segments) == 0 && r.Init != nil {
			s.Map = &hls.Map{URI: initName(r)}
		}
		if l.tags != nil {
			s.Tags = l.tags(i)
		}
		m.Segments = append(m.Segments, s)
	}
	return m.Encode()
}

// push pushes segment n of every rendition, then the playlists (and the
// master and init segments on n == 0), like a MediaPackage pusher.
func (l *live) push(p *pusher, n int) {
	if n == 0 {
		p.put("channel.m3u8", l.master())
	}
	for _, r := range l.set.Renditions {
		if n == 0 && r.Init != nil {
			p.put(initName(r), r.Init)
		}
		p.put(segName(r, n), l.segData(r, n))
		p.put("channel_"+r.Name+".m3u8", l.playlist(r, n))
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// ffprobe runs ffprobe with args and returns its stdout.
func ffprobe(t *testing.T, args ...string) string {
	t.Helper()
	bin := testutil.RequireTool(t, "ffprobe")
	cmd := exec.Command(bin, append([]string{"-v", "error", "-protocol_whitelist", "file,http,tcp,crypto,data"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// filesUnder counts regular files under dir.
func filesUnder(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// newLoopbackServer serves h on 127.0.0.1 until the test ends.
func newLoopbackServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
