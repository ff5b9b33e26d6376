package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testutil"
)

// target is a loopback origin that counts the requests reaching it.
type target struct {
	*httptest.Server
	hits atomic.Int64
}

func newTarget(t *testing.T, h http.HandlerFunc) *target {
	t.Helper()
	tg := &target{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(tg.Close)
	return tg
}

// okTarget answers every request 200 "ok".
func okTarget(t *testing.T) *target {
	return newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
}

// newProxy serves a Proxy to tg with rules on a loopback server.
func newProxy(t *testing.T, tg *target, rules []Rule, opts ...Option) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(tg.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := New(u, opts...)
	if err := p.SetRules(rules); err != nil {
		t.Fatalf("SetRules: %v", err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		p.Close()
		srv.Close()
	})
	return p, srv.URL
}

// newClient returns a client with its own connection pool.
func newClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// do sends a request and returns status and body; err is the transport or
// body read error.
func do(c *http.Client, method, u string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func mustDo(t *testing.T, c *http.Client, method, u string) (int, string) {
	t.Helper()
	code, body, err := do(c, method, u, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return code, string(body)
}

func TestStatusFault(t *testing.T) {
	tg := okTarget(t)
	p, base := newProxy(t, tg, []Rule{
		{Fault: FaultStatus, Methods: []string{"PUT"}},
		{Fault: FaultStatus, Status: 404, Path: "missing.ts"},
	})
	c := newClient(t, 5*time.Second)
	if code, _, err := do(c, "PUT", base+"/live/a.ts", []byte("segment")); err != nil || code != 503 {
		t.Fatalf("PUT = %d, %v; want 503", code, err)
	}
	if code, _ := mustDo(t, c, "GET", base+"/live/missing.ts"); code != 404 {
		t.Fatalf("GET missing.ts = %d, want 404", code)
	}
	if tg.hits.Load() != 0 {
		t.Fatalf("target was contacted %d times by status faults", tg.hits.Load())
	}
	if code, body := mustDo(t, c, "GET", base+"/live/b.ts"); code != 200 || body != "ok" {
		t.Fatalf("GET b.ts = %d %q, want 200 ok", code, body)
	}
	st := p.Stats()
	if st.Requests != 3 || st.Forwarded != 1 || st.Faults[FaultStatus] != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestDelayFault(t *testing.T) {
	const delay = 150 * time.Millisecond
	tg := okTarget(t)
	p, base := newProxy(t, tg, []Rule{{Fault: FaultDelay, Delay: delay}})
	c := newClient(t, 10*time.Second)
	start := time.Now()
	code, body := mustDo(t, c, "GET", base+"/a.ts")
	if elapsed := time.Since(start); elapsed < delay {
		t.Fatalf("answered after %s, want at least %s", elapsed, delay)
	}
	if code != 200 || body != "ok" {
		t.Fatalf("GET = %d %q, want the forwarded answer", code, body)
	}
	if ev := p.Events(); len(ev) != 1 || ev[0].Fault != FaultDelay || ev[0].Status != 200 {
		t.Fatalf("events = %+v", ev)
	}
}

func TestHangRespectsClientTimeout(t *testing.T) {
	tg := okTarget(t)
	p, base := newProxy(t, tg, []Rule{{Fault: FaultHang, Path: "*.ts"}})
	c := newClient(t, 200*time.Millisecond)
	_, _, err := do(c, "GET", base+"/a.ts", nil)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("GET = %v, want a client timeout", err)
	}
	// The handler notices the client is gone and returns.
	testutil.Eventually(t, 5*time.Second, func() bool { return len(p.Events()) == 1 }, "hung handler did not return")
	if ev := p.Events()[0]; ev.Fault != FaultHang || ev.Status != 0 {
		t.Fatalf("event = %+v", ev)
	}
	if tg.hits.Load() != 0 {
		t.Fatal("hang contacted the target")
	}
}

func TestHangWithDelayDropsConnection(t *testing.T) {
	const hold = 100 * time.Millisecond
	_, base := newProxy(t, okTarget(t), []Rule{{Fault: FaultHang, Delay: hold}})
	c := newClient(t, 10*time.Second)
	start := time.Now()
	_, _, err := do(c, "GET", base+"/a.ts", nil)
	if err == nil {
		t.Fatal("GET succeeded, want the connection dropped")
	}
	if elapsed := time.Since(start); elapsed < hold {
		t.Fatalf("dropped after %s, want at least %s", elapsed, hold)
	}
}

func TestCloseReleasesHangsWithoutLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	tg := okTarget(t)
	u, _ := url.Parse(tg.URL)
	p := New(u)
	if err := p.SetRules([]Rule{{Fault: FaultHang}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	tr := &http.Transport{}
	c := &http.Client{Transport: tr} // no timeout: only Close can end the requests
	const n = 3
	errs := make(chan error, n)
	for range n {
		go func() {
			_, _, err := do(c, "GET", srv.URL+"/a.ts", nil)
			errs <- err
		}()
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Stats().Faults[FaultHang] == n }, "requests did not hang")

	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return with requests hanging")
	}
	for range n {
		if err := <-errs; err == nil {
			t.Error("hung request succeeded after Close, want an error")
		}
	}
	if code, _ := mustDo(t, c, "GET", srv.URL+"/a.ts"); code != http.StatusServiceUnavailable {
		t.Errorf("after Close: %d, want 503", code)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	srv.Close()
	tg.Close()
	tr.CloseIdleConnections()
	testutil.Eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= before },
		"goroutines leaked: %d before, %d after", before, runtime.NumGoroutine())
}

func TestResetFault(t *testing.T) {
	tg := okTarget(t)
	p, base := newProxy(t, tg, []Rule{{Fault: FaultReset}})
	c := newClient(t, 5*time.Second)
	if _, _, err := do(c, "GET", base+"/a.ts", nil); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("GET error = %v, want a connection reset", err)
	}
	if _, _, err := do(c, "PUT", base+"/a.ts", bytes.Repeat([]byte("x"), 64<<10)); err == nil {
		t.Fatal("PUT succeeded, want a connection error")
	}
	if tg.hits.Load() != 0 {
		t.Fatal("reset contacted the target")
	}
	if n := p.Stats().Faults[FaultReset]; n != 2 {
		t.Fatalf("reset count = %d, want 2", n)
	}
}

func TestTruncateFault(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes
	cases := []struct {
		name    string
		chunked bool
		rule    Rule
		want    int
	}{
		{"bytes", false, Rule{Fault: FaultTruncate, Bytes: 100}, 100},
		{"percent", false, Rule{Fault: FaultTruncate, Percent: 50}, 500},
		{"nothing", false, Rule{Fault: FaultTruncate}, 0},
		{"more than the body", false, Rule{Fault: FaultTruncate, Bytes: 5000}, 999},
		{"chunked upstream", true, Rule{Fault: FaultTruncate, Percent: 25}, 250},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.chunked {
					w.(http.Flusher).Flush() // no Content-Length
				} else {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				_, _ = w.Write(body)
			})
			_, base := newProxy(t, tg, []Rule{tc.rule})
			resp, err := newClient(t, 5*time.Second).Get(base + "/seg.ts")
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) {
				t.Fatalf("status %d, Content-Length %d; want 200 and %d", resp.StatusCode, resp.ContentLength, len(body))
			}
			got, err := io.ReadAll(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("read error = %v, want unexpected EOF", err)
			}
			if !bytes.Equal(got, body[:tc.want]) {
				t.Fatalf("got %d bytes, want the first %d", len(got), tc.want)
			}
		})
	}
}

// playlistTarget serves a live media playlist at /live/index.m3u8 whose
// window (3 segments) moves on by one segment at every request, starting at
// sequence first, and "segment" for anything else.
func playlistTarget(t *testing.T, first uint64) *target {
	var n atomic.Uint64
	return newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/live/index.m3u8" {
			_, _ = io.WriteString(w, "segment")
			return
		}
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		_, _ = io.WriteString(w, livePlaylist(first+n.Add(1)-1))
	})
}

func livePlaylist(seq uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n", seq)
	for i := seq; i < seq+3; i++ {
		fmt.Fprintf(&b, "#EXTINF:1.0,\nseg%d.ts\n", i)
	}
	return b.String()
}

// scan returns the media sequence and segment URIs of a playlist answer.
func scan(t *testing.T, body string) (uint64, []string) {
	t.Helper()
	m, err := parseMediaPlaylist([]byte(body))
	if err != nil {
		t.Fatalf("answer is not a media playlist: %v\n%s", err, body)
	}
	return m.seq, m.uris()
}

func TestStaleFault(t *testing.T) {
	tg := playlistTarget(t, 1)
	p, base := newProxy(t, tg, []Rule{{Fault: FaultStale, Path: "*.m3u8", Count: 2}})
	c := newClient(t, 5*time.Second)
	pl := base + "/live/index.m3u8"
	var seqs []uint64
	for range 4 {
		_, body := mustDo(t, c, "GET", pl)
		seq, _ := scan(t, body)
		seqs = append(seqs, seq)
	}
	// The first answer is fresh and remembered, the next two repeat it,
	// then the rule is used up and the source has moved on.
	if want := []uint64{1, 1, 1, 2}; !slices.Equal(seqs, want) {
		t.Fatalf("sequences = %v, want %v", seqs, want)
	}
	if _, body := mustDo(t, c, "GET", base+"/live/seg1.ts"); body != "segment" {
		t.Fatalf("segment answer %q", body)
	}
	if st := p.Stats(); st.Faults[FaultStale] != 2 || tg.hits.Load() != 3 {
		t.Fatalf("stats %+v, target hits %d; want 2 stale and 3 hits", st, tg.hits.Load())
	}
}

func TestStaleForDuration(t *testing.T) {
	clock := testutil.NewClock(time.Unix(1000, 0))
	_, base := newProxy(t, playlistTarget(t, 1), []Rule{{Fault: FaultStale, For: 10 * time.Second}}, WithClock(clock.Now))
	c := newClient(t, 5*time.Second)
	pl := base + "/live/index.m3u8"
	var seqs []uint64
	for _, step := range []time.Duration{0, time.Second, 8 * time.Second, time.Second, time.Second} {
		clock.Add(step)
		_, body := mustDo(t, c, "GET", pl)
		seq, _ := scan(t, body)
		seqs = append(seqs, seq)
	}
	// Stale from t=0 to t=10s (exclusive), fresh again after.
	if want := []uint64{1, 1, 1, 2, 3}; !slices.Equal(seqs, want) {
		t.Fatalf("sequences = %v, want %v", seqs, want)
	}
}

func TestResetSequenceFault(t *testing.T) {
	p, base := newProxy(t, playlistTarget(t, 100), []Rule{{Fault: FaultResetSequence, Path: "*.m3u8"}})
	c := newClient(t, 5*time.Second)
	pl := base + "/live/index.m3u8"
	type answer struct {
		seq  uint64
		uris []string
	}
	get := func() answer {
		_, body := mustDo(t, c, "GET", pl)
		seq, uris := scan(t, body)
		return answer{seq, uris}
	}
	// As if the source restarted: 0, then counting on relative to it.
	for i, want := range []uint64{0, 1, 2} {
		a := get()
		src := 100 + uint64(i)
		wantURIs := []string{fmt.Sprintf("seg%d.ts", src), fmt.Sprintf("seg%d.ts", src+1), fmt.Sprintf("seg%d.ts", src+2)}
		if a.seq != want || !slices.Equal(a.uris, wantURIs) {
			t.Fatalf("answer %d = %+v, want sequence %d and %v", i, a, want, wantURIs)
		}
	}
	p.Disable()
	if a := get(); a.seq != 103 {
		t.Fatalf("disabled: sequence %d, want the source's 103", a.seq)
	}
	if _, body := mustDo(t, c, "GET", base+"/live/seg1.ts"); body != "segment" {
		t.Fatalf("segment answer %q", body)
	}
	if n := p.Stats().Faults[FaultResetSequence]; n != 3 {
		t.Fatalf("reset-sequence count %d, want 3", n)
	}

	// A start value other than 0.
	_, base = newProxy(t, playlistTarget(t, 50), []Rule{{Fault: FaultResetSequence, Sequence: 7}})
	_, body := mustDo(t, c, "GET", base+"/live/index.m3u8")
	if seq, _ := scan(t, body); seq != 7 {
		t.Fatalf("sequence %d, want 7", seq)
	}
}

func TestSkipFault(t *testing.T) {
	p, base := newProxy(t, playlistTarget(t, 10), []Rule{
		{Fault: FaultSkip, Segments: 2, Path: "*.m3u8", Count: 1},
		{Fault: FaultSkip, Path: "*.ts"}, // not a playlist: passed through
	})
	c := newClient(t, 5*time.Second)
	_, body := mustDo(t, c, "GET", base+"/live/index.m3u8")
	seq, uris := scan(t, body)
	if seq != 12 || !slices.Equal(uris, []string{"seg12.ts"}) {
		t.Fatalf("skipped answer: sequence %d uris %v, want 12 [seg12.ts]\n%s", seq, uris, body)
	}
	_, body = mustDo(t, c, "GET", base+"/live/index.m3u8")
	if seq, uris = scan(t, body); seq != 11 || len(uris) != 3 {
		t.Fatalf("after count: sequence %d uris %v, want the source's 11 and 3 segments", seq, uris)
	}
	if code, body := mustDo(t, c, "GET", base+"/live/seg11.ts"); code != 200 || body != "segment" {
		t.Fatalf("segment through skip rule = %d %q", code, body)
	}
	st := p.Stats()
	if st.Faults[FaultSkip] != 1 {
		t.Fatalf("skip count %d, want 1 (a segment is not rewritten)", st.Faults[FaultSkip])
	}
	ev := p.Events()
	if last := ev[len(ev)-1]; last.Rule != "rules[1]" || last.Fault != "" || !strings.Contains(last.Detail, "not applied") {
		t.Fatalf("segment event = %+v", last)
	}
}

func TestRouteMatching(t *testing.T) {
	tg := okTarget(t)
	p, base := newProxy(t, tg, []Rule{
		{Name: "put-ts", Fault: FaultStatus, Status: 500, Methods: []string{"PUT"}, Path: "*.ts"},
		{Name: "live-playlists", Fault: FaultStatus, Status: 501, Path: "/live/*/index.m3u8"},
		{Name: "numbered", Fault: FaultStatus, Status: 502, Regexp: `^/re/\d+$`},
		{Name: "delete", Fault: FaultStatus, Status: 503, Methods: []string{"DELETE"}},
	})
	c := newClient(t, 5*time.Second)
	cases := []struct {
		method, path string
		want         int
		rule         string
	}{
		{"PUT", "/out/a.ts", 500, "put-ts"},
		{"GET", "/out/a.ts", 200, ""},
		{"PUT", "/out/a.ts.tmp", 200, ""},
		{"PUT", "/out/index.m3u8", 200, ""},
		{"GET", "/live/v0/index.m3u8", 501, "live-playlists"},
		{"GET", "/live/v0/x/index.m3u8", 200, ""},
		{"GET", "/re/12", 502, "numbered"},
		{"GET", "/re/12a", 200, ""},
		{"DELETE", "/out/a.ts", 503, "delete"},
	}
	for _, tc := range cases {
		code, _, err := do(c, tc.method, base+tc.path, nil)
		if err != nil || code != tc.want {
			t.Errorf("%s %s = %d, %v; want %d", tc.method, tc.path, code, err, tc.want)
		}
	}
	ev := p.Events()
	for i, tc := range cases {
		if ev[i].Rule != tc.rule || ev[i].Method != tc.method || ev[i].Path != tc.path {
			t.Errorf("event %d = %+v, want rule %q", i, ev[i], tc.rule)
		}
	}
}

func TestCountAndWindow(t *testing.T) {
	clock := testutil.NewClock(time.Unix(1000, 0))
	p, base := newProxy(t, okTarget(t), []Rule{{Fault: FaultStatus, Count: 2}}, WithClock(clock.Now))
	c := newClient(t, 5*time.Second)
	codes := func(n int) []int {
		var out []int
		for range n {
			code, _ := mustDo(t, c, "GET", base+"/a.ts")
			out = append(out, code)
		}
		return out
	}
	if got := codes(3); !slices.Equal(got, []int{503, 503, 200}) {
		t.Fatalf("count 2: %v", got)
	}
	// A window from 5s to 15s after SetRules.
	if err := p.SetRules([]Rule{{Fault: FaultStatus, After: 5 * time.Second, For: 10 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, step := range []time.Duration{0, 5 * time.Second, 9 * time.Second, time.Second} {
		clock.Add(step)
		got = append(got, codes(1)...)
	}
	if want := []int{200, 503, 503, 200}; !slices.Equal(got, want) {
		t.Fatalf("window: %v, want %v", got, want)
	}
}

func TestEnableDisable(t *testing.T) {
	p, base := newProxy(t, okTarget(t), []Rule{{Fault: FaultStatus, Count: 1}})
	c := newClient(t, 5*time.Second)
	p.Disable()
	if code, _ := mustDo(t, c, "GET", base+"/a"); code != 200 {
		t.Fatalf("disabled: %d", code)
	}
	p.Enable()
	if code, _ := mustDo(t, c, "GET", base+"/a"); code != 503 {
		t.Fatalf("enabled: %d (the disabled request must not use up the count)", code)
	}
}

// faultSequence sends n GETs one after the other and returns the statuses.
func faultSequence(t *testing.T, seed uint64, n int) []int {
	rules := []Rule{
		{Fault: FaultStatus, Status: 500, Probability: 0.2},
		{Fault: FaultStatus, Status: 502, Probability: 0.2, Path: "*.ts"},
		{Fault: FaultStatus, Status: 504, Probability: 0.1},
	}
	_, base := newProxy(t, okTarget(t), rules, WithSeed(seed))
	c := newClient(t, 5*time.Second)
	out := make([]int, n)
	for i := range n {
		p := "/a.ts"
		if i%3 == 0 {
			p = "/index.m3u8"
		}
		out[i], _ = mustDo(t, c, "GET", base+p)
	}
	return out
}

func TestSeededRandomnessIsDeterministic(t *testing.T) {
	a := faultSequence(t, 42, 200)
	b := faultSequence(t, 42, 200)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if c := faultSequence(t, 43, 200); slices.Equal(a, c) {
		t.Fatal("different seeds gave the same 200 faults")
	}
	count := map[int]int{}
	for _, code := range a {
		count[code]++
	}
	for _, code := range []int{200, 500, 502, 504} {
		if count[code] == 0 {
			t.Errorf("status %d never seen in %v", code, count)
		}
	}
	t.Logf("seed 42, 200 requests: %v", count)
}

func TestForwarding(t *testing.T) {
	var got struct {
		sync.Mutex
		path, query, auth string
		body              []byte
	}
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Lock()
		got.path, got.query, got.auth, got.body = r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), b
		got.Unlock()
		w.Header().Set("WWW-Authenticate", `Digest realm="x"`)
		w.WriteHeader(http.StatusCreated)
	})
	u, _ := url.Parse(tg.URL + "/ingest?k=1")
	p := New(u)
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })

	payload := bytes.Repeat([]byte("segment-bytes "), 10000)
	req, _ := http.NewRequest("PUT", srv.URL+"/ch1/seg 1.ts?token=secret-token", bytes.NewReader(payload))
	req.Header.Set("Authorization", "Bearer secret-auth")
	resp, err := newClient(t, 5*time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("answer %d %v", resp.StatusCode, resp.Header)
	}
	got.Lock()
	defer got.Unlock()
	if got.path != "/ingest/ch1/seg 1.ts" || got.query != "k=1&token=secret-token" || got.auth != "Bearer secret-auth" || !bytes.Equal(got.body, payload) {
		t.Fatalf("target saw path %q query %q auth %q body %d bytes", got.path, got.query, got.auth, len(got.body))
	}
	// Events hold neither headers nor query strings.
	if ev := fmt.Sprintf("%+v", p.Events()); strings.Contains(ev, "secret") {
		t.Fatalf("events leak a secret: %s", ev)
	}
}

func TestTargetDown(t *testing.T) {
	tg := okTarget(t)
	_, base := newProxy(t, tg, nil)
	tg.Close()
	if code, _ := mustDo(t, newClient(t, 5*time.Second), "GET", base+"/a.ts"); code != http.StatusBadGateway {
		t.Fatalf("target down: %d, want 502", code)
	}
}

func TestEventsHookAndLimit(t *testing.T) {
	var hooked atomic.Int64
	p, base := newProxy(t, okTarget(t), []Rule{{Fault: FaultStatus, Path: "*.ts"}},
		WithEventLimit(3), WithEventHook(func(Event) { hooked.Add(1) }))
	c := newClient(t, 5*time.Second)
	for i := range 5 {
		mustDo(t, c, "GET", base+"/"+strconv.Itoa(i)+".ts")
	}
	ev := p.Events()
	if len(ev) != 3 || ev[0].Seq != 3 || ev[2].Seq != 5 || ev[2].Path != "/4.ts" || ev[2].Fault != FaultStatus || ev[2].Status != 503 {
		t.Fatalf("events = %+v", ev)
	}
	if hooked.Load() != 5 {
		t.Fatalf("hook called %d times, want 5", hooked.Load())
	}
}

func TestRequestContextCancelsDelay(t *testing.T) {
	p, base := newProxy(t, okTarget(t), []Rule{{Fault: FaultDelay, Delay: time.Hour}})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/a.ts", nil)
	done := make(chan error, 1)
	c := newClient(t, 0)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Stats().Faults[FaultDelay] == 1 }, "delay not injected")
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled request succeeded")
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(p.Events()) == 1 }, "delayed handler did not return")
}
