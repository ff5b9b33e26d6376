package channel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/hls"
)

// get fetches a URL and returns status, Content-Type and body.
func get(t testing.TB, u string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

func resolveURL(t testing.TB, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).String()
}

// TestEverySegmentServed walks the default channel like a player: master,
// every media playlist, every segment it references, at instants that cover
// a whole loop; each segment is served with the asset file's bytes and the
// right Content-Type.
func TestEverySegmentServed(t *testing.T) {
	c := newClock(config.DefaultStart())
	e := engineFor(t, DefaultConfig(), nil, c)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	embedded := EmbeddedFS()
	served := map[string]bool{}
	loopStart := config.DefaultStart().Add(40 * 90 * time.Second)
	for _, at := range []time.Duration{10 * time.Second, 55 * time.Second, 80 * time.Second} {
		c.Set(loopStart.Add(at))
		masterURL := srv.URL + "/channels/1/master.m3u8"
		status, ctype, body := get(t, masterURL)
		if status != http.StatusOK || ctype != mpegURL {
			t.Fatalf("master: %d %s", status, ctype)
		}
		mv, err := hls.ParseMultivariant(body)
		if err != nil {
			t.Fatalf("master: %v", err)
		}
		var uris []string
		for _, v := range mv.Variants {
			uris = append(uris, v.URI)
		}
		for _, r := range mv.Renditions {
			uris = append(uris, r.URI)
		}
		if len(uris) != 4 {
			t.Fatalf("master lists %d playlists, want 4 (2 video, audio, subtitles):\n%s", len(uris), body)
		}
		for _, u := range uris {
			plURL := resolveURL(t, masterURL, u)
			status, ctype, body := get(t, plURL)
			if status != http.StatusOK || ctype != mpegURL {
				t.Fatalf("%s: %d %s", u, status, ctype)
			}
			m, err := hls.ParseMedia(body)
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			for _, s := range m.Segments {
				segURL := resolveURL(t, plURL, s.URI)
				status, ctype, got := get(t, segURL)
				name := resourceName(t, e, "1", s.URI)
				want, err := fs.ReadFile(embedded, name)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				wantType := map[string]string{".ts": "video/mp2t", ".vtt": "text/vtt; charset=utf-8"}[filepath.Ext(name)]
				if status != http.StatusOK || ctype != wantType || !bytes.Equal(got, want) {
					t.Fatalf("%s (%s): status %d, type %q (want %q), %d bytes (want %d, equal %v)",
						s.URI, name, status, ctype, wantType, len(got), len(want), bytes.Equal(got, want))
				}
				served[name] = true
			}
		}
	}
	// Every segment of the three assets was served at least once.
	for _, dir := range []string{"a", "b", "c"} {
		for _, r := range []string{"v0", "v1", "aud", "sub"} {
			data, err := fs.ReadFile(embedded, dir+"/"+r+"/index.m3u8")
			if err != nil {
				t.Fatal(err)
			}
			m, err := hls.ParseMedia(data)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range m.Segments {
				if i == len(m.Segments)-1 && s.Duration < 0.1 {
					continue // the 21 ms audio tail is merged into the previous segment
				}
				if name := dir + "/" + r + "/" + s.URI; !served[name] {
					t.Errorf("%s never served", name)
				}
			}
		}
	}
}

func TestHandlerNotFound(t *testing.T) {
	c := newClock(config.DefaultStart().Add(time.Hour))
	e := engineFor(t, DefaultConfig(), nil, c)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	for _, p := range []string{
		"/channels/2/master.m3u8",
		"/channels/1/video_9.m3u8",
		"/channels/1/index.m3u8",
		"/channels/1/seg/a/99999.ts",
		"/channels/1/seg/a/1.mp4",
		"/channels/1/seg/a/01.ts",
		"/channels/1/seg/zz/1.ts",
		"/channels/1/seg/a/x.ts",
	} {
		if status, _, _ := get(t, srv.URL+p); status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, status)
		}
	}
	if status, _, _ := get(t, srv.URL+"/channels/1/seg/a/1.ts"); status != http.StatusOK {
		t.Errorf("a resource: status %d", status)
	}
}

func TestNotStarted(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Channels[0].Start = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newClock(time.Date(2029, 12, 31, 23, 59, 0, 0, time.UTC))
	e := engineFor(t, cfg, nil, c)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/channels/1/video_0.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "62" {
		t.Errorf("status %d, Retry-After %q; want 503, 62", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	c.Set(cfg.Channels[0].Start.Add(2 * time.Second))
	m := playlist(t, e, "1", "video_0.m3u8")
	if len(m.Segments) != 1 || m.MediaSequence != 0 || m.DiscontinuitySequence != 0 || m.Segments[0].Discontinuity {
		t.Errorf("first playlist: %s", m.Encode())
	}
}

func postJSON(t testing.TB, u, body string) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: decode: %v", u, err)
	}
	return resp.StatusCode, resp.Header, out
}

func TestSessions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SessionTTL = time.Minute
	cfg.MaxSessions = 2
	c := newClock(time.Date(2026, 5, 1, 12, 0, 0, 300, time.UTC))
	e := engineFor(t, cfg, nil, c)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()

	status, hdr, out := postJSON(t, srv.URL+"/channels", `{"assets": ["a", "c"]}`)
	if status != http.StatusCreated {
		t.Fatalf("POST: %d %v", status, out)
	}
	u, _ := out["url"].(string)
	id, _ := out["id"].(string)
	if u != srv.URL+"/channels/"+id+"/master.m3u8" || hdr.Get("Location") != u || out["session"] != true {
		t.Fatalf("POST: %v, Location %q", out, hdr.Get("Location"))
	}
	if status, _, _ := get(t, u); status != http.StatusOK {
		t.Fatalf("session master: %d", status)
	}
	// The session starts one window back: its playlist is full at once.
	m := playlist(t, e, id, "video_0.m3u8")
	if got := end(m).Sub(m.Segments[0].ProgramDateTime); got < 50*time.Second {
		t.Errorf("new session window holds %s, want about 60s", got)
	}
	if !strings.HasPrefix(m.Segments[0].URI, "seg/a/") {
		t.Errorf("session starts with %s, want asset a", m.Segments[0].URI)
	}

	resp, err := http.Get(srv.URL + "/channels/new?assets=b,c&order=shuffle&seed=3")
	if err != nil {
		t.Fatal(err)
	}
	var second ChannelInfo
	if err := json.NewDecoder(resp.Body).Decode(&second); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || second.Order != config.OrderShuffle || len(second.Assets) != 2 || second.Expires == nil {
		t.Fatalf("GET /channels/new: %d %+v", resp.StatusCode, second)
	}

	// Limit reached.
	if status, _, out := postJSON(t, srv.URL+"/channels", `{"assets": ["a"]}`); status != http.StatusTooManyRequests {
		t.Errorf("third session: %d %v", status, out)
	}
	for body, want := range map[string]string{
		`{"assets": ["zz"]}`:              `session: unknown asset "zz"`,
		`{"assets": []}`:                  `session: 'assets' must list at least one asset`,
		`{"assets": ["a"], "order": "x"}`: `session: 'order' must be "sequential" or "shuffle", got "x"`,
		`{"assets": ["a"], "bogus": 1}`:   `session: invalid JSON body: json: unknown field "bogus"`,
	} {
		// Unknown-asset checks come before the limit.
		status, _, out := postJSON(t, srv.URL+"/channels", body)
		if status == http.StatusCreated || out["error"] != want {
			t.Errorf("POST %s: %d %v, want error %q", body, status, out, want)
		}
	}

	list := func() []string {
		_, _, body := get(t, srv.URL+"/channels")
		var l struct{ Channels []ChannelInfo }
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ch := range l.Channels {
			ids = append(ids, ch.ID)
		}
		return ids
	}
	if got := list(); fmt.Sprint(got) != fmt.Sprint([]string{"1", id, second.ID}) {
		t.Fatalf("list: %v", got)
	}
	// Requests keep a session alive; idle ones expire after the TTL.
	for i := 0; i < 3; i++ {
		c.Add(50 * time.Second)
		if status, _, _ := get(t, srv.URL+"/channels/"+id+"/video_0.m3u8"); status != http.StatusOK {
			t.Fatalf("used session expired after %d requests", i)
		}
	}
	if got := list(); fmt.Sprint(got) != fmt.Sprint([]string{"1", id}) {
		t.Fatalf("after the idle session's TTL: %v", got)
	}
	if status, _, _ := get(t, srv.URL+"/channels/"+second.ID+"/master.m3u8"); status != http.StatusNotFound {
		t.Errorf("expired session: %d", status)
	}
	c.Add(61 * time.Second)
	if status, _, _ := get(t, u); status != http.StatusNotFound {
		t.Errorf("expired session: %d", status)
	}
	if got := list(); fmt.Sprint(got) != "[1]" {
		t.Fatalf("after expiry: %v", got)
	}
	// Room again.
	if status, _, out := postJSON(t, srv.URL+"/channels", `{"assets": ["b"]}`); status != http.StatusCreated {
		t.Errorf("session after expiry: %d %v", status, out)
	}
}

// upstream serves the embedded assets over http, counting requests and
// failing paths on demand.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	hits  map[string]int
	fail  func(path string) bool
	total atomic.Int64
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{hits: map[string]int{}, fail: func(string) bool { return false }}
	files := http.FileServerFS(EmbeddedFS())
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.total.Add(1)
		u.mu.Lock()
		u.hits[r.URL.Path]++
		fail := u.fail(r.URL.Path)
		u.mu.Unlock()
		if fail {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) setFail(f func(string) bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.fail = f
}

func (u *upstream) count(p string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[p]
}

// TestHTTPAssetProxied: segments of http assets are proxied through the
// cache: one upstream request per segment however many clients ask.
func TestHTTPAssetProxied(t *testing.T) {
	up := newUpstream(t)
	cfg := oneChannel(60*time.Second, up.URL+"/a/master.m3u8", up.URL+"/b/master.m3u8")
	c := newClock(config.DefaultStart().Add(time.Hour + 20*time.Second))
	e := newEngine(t, cfg, c, nil, WithHTTPClient(up.Client()))
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	m := playlist(t, e, "x", "video_1.m3u8")
	seg := m.Segments[len(m.Segments)-1]
	name := resourceName(t, e, "x", seg.URI)
	path := strings.TrimPrefix(name, up.URL)
	before := up.count(path)
	want, err := fs.ReadFile(EmbeddedFS(), strings.TrimPrefix(path, "/"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, ctype, got := get(t, srv.URL+"/channels/x/"+seg.URI)
			if status != http.StatusOK || ctype != "video/mp2t" || !bytes.Equal(got, want) {
				t.Errorf("proxied %s: %d %s %d bytes", seg.URI, status, ctype, len(got))
			}
		}()
	}
	wg.Wait()
	if got := up.count(path) - before; got > 1 {
		t.Errorf("%d upstream requests for one segment, want at most 1", got)
	}
	// A Range request (BYTERANGE players) is answered from the cache.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/channels/x/"+seg.URI, nil)
	req.Header.Set("Range", "bytes=188-375")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, want[188:376]) {
		t.Errorf("range: %d, %d bytes", resp.StatusCode, len(part))
	}
}

// TestFailedAssetsPlaySlate: unreachable, unparsable and unfetchable assets
// are replaced by the slate and logged once; the channel still plays. An
// asset whose playlists load but whose segments cannot be fetched keeps its
// duration: the slate loops for it.
func TestFailedAssetsPlaySlate(t *testing.T) {
	up := newUpstream(t)
	up.setFail(func(p string) bool { return strings.HasPrefix(p, "/c/") && strings.HasSuffix(p, ".ts") })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "master.m3u8"), []byte("this is not a playlist\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{Channels: []config.ChannelConfig{{ID: "x", Start: config.DefaultStart(), Assets: []config.AssetConfig{
		{ID: "a", URI: "embed:a"},
		{ID: "missing", URI: "embed:nope"},
		{ID: "garbage", URI: dir},
		{ID: "down", URI: up.URL + "/nothing/master.m3u8"},
		{ID: "segfail", URI: up.URL + "/c/master.m3u8"},
		{ID: "b", URI: up.URL + "/b/master.m3u8"},
	}}}}
	var logs logBuffer
	c := newClock(config.DefaultStart())
	e, err := New(cfg, WithClock(c.Now), WithHTTPClient(up.Client()), WithLogger(slogTo(&logs)))
	if err != nil {
		t.Fatal(err)
	}
	wantFailed := map[string]string{
		"missing": "open embed:nope: file does not exist",
		"garbage": "parse " + dir + "/master.m3u8: ",
		"down":    "get " + up.URL + "/nothing/master.m3u8: 404 Not Found",
		"segfail": "get " + up.URL + "/c/v0/0.ts: 500 Internal Server Error",
	}
	info := e.Channels()[0]
	var loop time.Duration
	for _, a := range info.Assets {
		want, failed := wantFailed[a.ID]
		if failed != (a.Failed != "") || !strings.HasPrefix(a.Failed, want) {
			t.Errorf("asset %s: failed %q, want %q", a.ID, a.Failed, want)
		}
		wantDur := 6.0
		if a.ID == "segfail" {
			wantDur = 30 // the duration of asset c, whose segments fail
		}
		if failed && a.Duration != wantDur {
			t.Errorf("asset %s: slate of %vs, want %vs", a.ID, a.Duration, wantDur)
		}
		loop += time.Duration(a.Duration * float64(time.Second))
	}
	if loop != 108*time.Second {
		t.Errorf("loop %s, want 108s (30 + 3x6 + 30 + 30)", loop)
	}
	for id := range wantFailed {
		if n := strings.Count(logs.String(), "asset="+id+" "); n != 1 {
			t.Errorf("asset %s logged %d times, want once:\n%s", id, n, logs.String())
		}
	}
	if strings.Contains(logs.String(), "asset=a ") || strings.Contains(logs.String(), "asset=b ") {
		t.Errorf("healthy assets logged:\n%s", logs.String())
	}

	// The slate plays between a and b, with discontinuities, and is served.
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	c.Set(config.DefaultStart().Add(100 * 108 * time.Second).Add(60 * time.Second))
	for _, name := range []string{"video_0.m3u8", "audio_0.m3u8", "subs_0.m3u8"} {
		m := playlist(t, e, "x", name)
		slates, discs := 0, 0
		for _, s := range m.Segments {
			if s.Discontinuity {
				discs++
			}
			if strings.HasPrefix(s.URI, "seg/_slate-ts/") {
				slates++
				if status, _, body := get(t, srv.URL+"/channels/x/"+s.URI); status != http.StatusOK || len(body) == 0 {
					t.Errorf("slate segment %s: %d", s.URI, status)
				}
			}
		}
		// a (30 s), three 6 s slates, then 12 s of segfail's looped slate:
		// a discontinuity every 6 s.
		if slates != 15 || discs != 6 {
			t.Errorf("%s: %d slate segments and %d discontinuities in the window, want 15 and 6:\n%s", name, slates, discs, m.Encode())
		}
	}

	// A segment that fails later answers 502 and is logged once.
	c.Set(config.DefaultStart().Add(101 * 108 * time.Second))
	up.setFail(func(p string) bool { return strings.HasPrefix(p, "/b/v1/") })
	var uri string
	for _, s := range playlist(t, e, "x", "video_1.m3u8").Segments {
		if strings.HasPrefix(s.URI, "seg/b/") && up.count(strings.TrimPrefix(resourceName(t, e, "x", s.URI), up.URL)) == 0 {
			uri = s.URI
		}
	}
	if uri == "" {
		t.Fatal("no uncached segment of b in the window")
	}
	for i := 0; i < 3; i++ {
		if status, _, _ := get(t, srv.URL+"/channels/x/"+uri); status != http.StatusBadGateway {
			t.Errorf("failing segment: status %d, want 502", status)
		}
	}
	if n := strings.Count(logs.String(), "segment failed"); n != 1 {
		t.Errorf("segment failure logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestLadderMismatch: assets that cannot share the channel's ladder (other
// segment format, a group kind missing or extra) are an error at load that
// names them. Other rendition counts are mapped: TestLadderMapping.
func TestLadderMismatch(t *testing.T) {
	noAudio := basic(10, 2)
	noAudio.audio = nil
	noSubs := basic(10, 2)
	noSubs.subs = nil
	fmp4 := basic(10, 2)
	fmp4.fmp4 = true
	fsys := testFS(map[string]synth{
		"ok": basic(10, 2), "noaudio": noAudio, "nosubs": noSubs, "fmp4": fmp4,
	})
	cases := []struct {
		assets []config.AssetConfig
		window time.Duration
		err    string
	}{
		{[]config.AssetConfig{{ID: "ok", URI: "embed:ok"}, {ID: "noaudio", URI: "embed:noaudio"}}, 0,
			`channel "x": asset "noaudio": no audio group, the channel has audio group "aud" (ladder of asset "ok")`},
		{[]config.AssetConfig{{ID: "noaudio", URI: "embed:noaudio"}, {ID: "ok", URI: "embed:ok"}}, 0,
			`channel "x": asset "ok": audio group "aud", the channel has none (ladder of asset "noaudio")`},
		{[]config.AssetConfig{{ID: "ok", URI: "embed:ok"}, {ID: "nosubs", URI: "embed:nosubs"}}, 0,
			`channel "x": asset "nosubs": no subtitles group, the channel has subtitles group "sub" (ladder of asset "ok")`},
		{[]config.AssetConfig{{ID: "ok", URI: "embed:ok"}, {ID: "fmp4", URI: "embed:fmp4"}}, 0,
			`channel "x": asset "fmp4": fmp4 segments, the channel has ts (ladder of asset "ok")`},
		{[]config.AssetConfig{{ID: "ok", URI: "embed:ok", Offset: time.Minute}}, 0,
			`channel "x": asset "ok": in point 1m0s is not before the end of the asset (20s)`},
		{[]config.AssetConfig{{ID: "ok", URI: "embed:ok", Out: time.Minute}}, 0,
			`channel "x": asset "ok": out point 1m0s is after the end of the asset (20s)`},
		{[]config.AssetConfig{{ID: "ok", URI: "embed:ok"}}, 9 * time.Second,
			`channel "x": window 9s is shorter than five target durations (10s)`},
	}
	for _, tc := range cases {
		cfg := config.Config{Channels: []config.ChannelConfig{{ID: "x", Window: tc.window, Assets: tc.assets}}}
		_, err := New(cfg, WithFS(fsys), WithLogger(quietLogger()))
		if err == nil || err.Error() != tc.err {
			t.Errorf("error\n got: %v\nwant: %s", err, tc.err)
		}
	}
}

// TestPassThrough: fMP4 assets get EXT-X-MAP on the first segment and after
// every discontinuity; EXT-X-KEY (and METHOD=NONE after an encrypted asset),
// EXT-X-BYTERANGE (with explicit offsets), EXT-X-DATERANGE (moved to the
// live timeline) and CUE tags pass through, and the keys, init sections and
// byte ranges they reference are served.
func TestPassThrough(t *testing.T) {
	enc := synth{
		video: [][]float64{uniform(6, 2)}, audio: [][]float64{uniform(6, 2)}, fmp4: true, byteRange: true,
		tags: map[int][]string{
			0: {"#EXT-X-PROGRAM-DATE-TIME:2020-01-01T00:00:00Z", `#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x000102030405060708090a0b0c0d0e0f`},
			2: {"#EXT-X-CUE-OUT:4"},
			3: {`#EXT-X-DATERANGE:ID="ad1",CLASS="com.example.ad",START-DATE="2020-01-01T00:00:07Z",DURATION=4,X-COM-EXAMPLE="yes"`},
			4: {"#EXT-X-CUE-IN"},
		},
	}
	plain := synth{video: [][]float64{uniform(5, 2)}, audio: [][]float64{uniform(5, 2)}, fmp4: true}
	fsys := testFS(map[string]synth{"enc": enc, "plain": plain})
	for _, r := range []string{"v0", "a0"} {
		fsys["enc/"+r+"/key.bin"] = &fstest.MapFile{Data: []byte("0123456789abcdef")}
	}
	cfg := config.Config{Channels: []config.ChannelConfig{{ID: "p", Start: config.DefaultStart(), Window: 30 * time.Second, Assets: []config.AssetConfig{
		{ID: "enc", URI: "embed:enc"}, {ID: "plain", URI: "embed:plain"},
	}}}}
	loopStart := config.DefaultStart().Add(10 * 22 * time.Second)
	c := newClock(loopStart.Add(21 * time.Second))
	e := newEngine(t, cfg, c, fsys)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	base := srv.URL + "/channels/p/"
	for _, rend := range []string{"v0", "a0"} {
		name := map[string]string{"v0": "video_0.m3u8", "a0": "audio_0.m3u8"}[rend]
		m := playlist(t, e, "p", name)
		if m.Version < 6 {
			t.Errorf("%s: version %d, want >= 6 for EXT-X-MAP", name, m.Version)
		}
		var boundaries int
		for i, s := range m.Segments {
			isEnc := strings.HasPrefix(s.URI, "seg/enc/")
			asset := map[bool]string{true: "enc", false: "plain"}[isEnc]
			if s.Discontinuity {
				boundaries++
			}
			if (s.Map != nil) != (i == 0 || s.Discontinuity) {
				t.Errorf("%s: segment %d: EXT-X-MAP %v, discontinuity %v", name, i, s.Map, s.Discontinuity)
			}
			if s.Map != nil {
				if _, _, b := get(t, base+s.Map.URI); string(b) != asset+"/"+rend+"/init" {
					t.Errorf("%s: init section %s is %q", name, s.Map.URI, b)
				}
			}
			firstOfAsset := i == 0 || s.Discontinuity
			switch {
			case isEnc && firstOfAsset:
				if len(s.Keys) != 1 || s.Keys[0].Method != "AES-128" || s.Keys[0].IV != "0x000102030405060708090a0b0c0d0e0f" {
					t.Fatalf("%s: segment %d: keys %+v", name, i, s.Keys)
				}
				status, ctype, b := get(t, base+s.Keys[0].URI)
				if status != http.StatusOK || ctype != "application/octet-stream" || string(b) != "0123456789abcdef" {
					t.Errorf("%s: key %s: %d %s %q", name, s.Keys[0].URI, status, ctype, b)
				}
			case !isEnc && s.Discontinuity:
				if len(s.Keys) != 1 || s.Keys[0].Method != "NONE" {
					t.Errorf("%s: segment %d after the encrypted asset: keys %+v, want METHOD=NONE", name, i, s.Keys)
				}
			default:
				if len(s.Keys) != 0 {
					t.Errorf("%s: segment %d repeats EXT-X-KEY", name, i)
				}
			}
			if !isEnc {
				continue
			}
			k := int(s.ProgramDateTime.Sub(loopStart) / (2 * time.Second))
			if s.ByteRange == nil || s.ByteRange.Offset == nil {
				t.Fatalf("%s: segment %d: byte range %+v without offset", name, i, s.ByteRange)
			}
			req, _ := http.NewRequest(http.MethodGet, base+s.URI, nil)
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", *s.ByteRange.Offset, *s.ByteRange.Offset+s.ByteRange.Length-1))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("enc/%s/%d.m4s", rend, k); string(b) != want {
				t.Errorf("%s: segment %d: range holds %q, want %q", name, i, b, want)
			}
			wantTags := map[int]string{2: "#EXT-X-CUE-OUT:4", 4: "#EXT-X-CUE-IN"}[k]
			if got := strings.Join(s.Tags, "\n"); got != wantTags {
				t.Errorf("%s: enc segment %d: tags %q, want %q", name, k, got, wantTags)
			}
			if k == 3 {
				if len(s.DateRanges) != 1 {
					t.Fatalf("%s: enc segment 3 has %d date ranges", name, len(s.DateRanges))
				}
				dr := s.DateRanges[0]
				if dr.ID != "ad1-10-0" || dr.Class != "com.example.ad" || !dr.StartDate.Equal(s.ProgramDateTime.Add(time.Second)) ||
					dr.Duration == nil || *dr.Duration != 4 || len(dr.Extra) != 1 || dr.Extra[0].Key != "X-COM-EXAMPLE" {
					t.Errorf("%s: date range %+v (segment at %s)", name, dr, s.ProgramDateTime)
				}
			} else if len(s.DateRanges) != 0 {
				t.Errorf("%s: enc segment %d has date ranges", name, k)
			}
		}
		if boundaries != 2 {
			t.Errorf("%s: %d boundaries in the window, want 2:\n%s", name, boundaries, m.Encode())
		}
	}
}
