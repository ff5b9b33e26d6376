package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/faultcheck"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// TestServeKillHelperProcess is not a test: TestServeKill9Restart runs the
// test binary again with PULLPUSH_SERVE_CHILD=1 to get a `pullpush serve`
// process it can kill -9.
func TestServeKillHelperProcess(t *testing.T) {
	if os.Getenv("PULLPUSH_SERVE_CHILD") != "1" {
		t.Skip("helper process of TestServeKill9Restart")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	args := strings.Split(os.Getenv("PULLPUSH_SERVE_ARGS"), "\n")
	if err := run(ctx, append([]string{"serve"}, args...), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveProc is a `pullpush serve` child process.
type serveProc struct {
	*testutil.Process
	addr string
}

var servingRe = regexp.MustCompile(`msg=serving addr=(\S+)`)

// startServeProc starts `pullpush serve --listen 127.0.0.1:0 --data dir` in a
// child process and waits until it serves.
func startServeProc(t *testing.T, dir string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeKillHelperProcess$")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PULLPUSH_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "PULLPUSH_SERVE_CHILD=1",
		"PULLPUSH_SERVE_ARGS="+strings.Join([]string{"--listen", "127.0.0.1:0", "--data", dir, "--log-level", "info"}, "\n"))
	proc, m := testutil.StartProcess(t, cmd, servingRe, 30*time.Second)
	p := &serveProc{Process: proc, addr: m[1]}
	if !strings.HasPrefix(p.addr, "127.0.0.1:") {
		t.Fatalf("serve listens on %s", p.addr)
	}
	return p
}

func (p *serveProc) log() string { return p.Logs.String() }

// kill sends SIGKILL and waits for the process to be gone.
func (p *serveProc) kill() { p.Kill() }

func (p *serveProc) url(path string) string { return "http://" + p.addr + path }

// apiFetcher is the part of a fetcher's API representation the test reads.
type apiFetcher struct {
	ID         string `json:"fetcherId"`
	Name       string `json:"name"`
	State      string `json:"state"`
	LastError  string `json:"lastError"`
	Renditions []struct {
		Name           string `json:"name"`
		SegmentsMissed int64  `json:"segmentsMissed"`
	} `json:"renditions"`
}

func apiJSON(t *testing.T, method, url string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, data)
		}
	}
}

// TestServeKill9Restart kills `pullpush serve` with SIGKILL while it relays
// a live source and restarts it on the same data directory, twice: once
// after a downtime longer than the source window, once at once. It checks
// the destination: the fetcher resumed under its id, no segment was stored
// under two names, no name was reused for other bytes, at most the one
// segment per rendition whose upload was in flight at a kill was pushed
// again (the same name with the same bytes: the progress saved before each
// push lags by at most that upload), and the only gap is the long
// downtime, behind a DISCONTINUITY and counted in the status.
func TestServeKill9Restart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pullpush serve twice")
	}
	t.Parallel()
	// The first serve starts before the source: the source's window is
	// 3 s, and a child slow to start on a loaded machine must not let its
	// first segments slide out before the fetcher exists.
	data := t.TempDir()
	p1 := startServeProc(t, data)
	// Two segments a second (EXTINF says 1 s) and a window of 6, so the
	// downtime below outlasts the window and leaves a gap.
	src := faultcheck.NewSource(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: 6,
		Clock: time.Now, Interval: 500 * time.Millisecond})
	srcSrv := httptest.NewServer(src)
	t.Cleanup(srcSrv.Close)
	dst := faultcheck.NewDest(sink.Options{Username: "relay", Password: "kill9-secret"})
	dstSrv := httptest.NewServer(dst)
	t.Cleanup(dstSrv.Close)
	const dir = "/in/v2/1/a/"

	renditions := src.Renditions()
	delivered := func() int { // fewest segments stored for a rendition
		n := -1
		files := dst.Sink.Paths()
		for _, r := range renditions {
			c := 0
			prefix := dir + "channel_" + strings.ReplaceAll(r, "_", "-") + "_"
			for _, p := range files {
				if rest, ok := strings.CutPrefix(p, prefix); ok && rest[0] >= '0' && rest[0] <= '9' {
					c++
				}
			}
			if n < 0 || c < n {
				n = c
			}
		}
		return n
	}
	published := func() int { return len(src.Published(renditions[0])) }

	var created apiFetcher
	apiJSON(t, http.MethodPost, p1.url("/api/v1/fetcher"), map[string]any{
		"name": "kill9", "url": srcSrv.URL + livesource.MasterPath, "output": "mediapackage",
		"payload": map[string]any{"ingestUrls": []map[string]string{{
			"url": dstSrv.URL + dir + "channel", "username": "relay", "password": "kill9-secret"}}},
	}, http.StatusCreated, &created)
	if created.ID == "" {
		t.Fatal("no fetcherId")
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return delivered() >= 10 }, "nothing relayed before the kill:\n%s", p1.log())

	p1.kill()
	killedAt := published()
	killedDelivered := delivered()
	// Down for about 10 segments (5 s), longer than the source window.
	testutil.Eventually(t, 20*time.Second, func() bool { return published() >= killedAt+10 }, "source stopped")

	p2 := startServeProc(t, data)
	restartedAt := published()
	var list []apiFetcher
	apiJSON(t, http.MethodGet, p2.url("/api/v1/fetcher"), nil, http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != created.ID || list[0].Name != "kill9" {
		t.Fatalf("fetchers after restart: %+v, want only %s", list, created.ID)
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return delivered() >= killedDelivered+8 }, "relay did not resume:\n%s", p2.log())
	var after apiFetcher
	apiJSON(t, http.MethodGet, p2.url("/api/v1/fetcher/"+created.ID), nil, http.StatusOK, &after)

	// Killed again mid-stream and restarted at once: the source still
	// lists everything the relay had not pushed, so there is no gap and at
	// most the segment in flight is pushed again.
	testutil.Eventually(t, 30*time.Second, func() bool { return delivered() >= killedDelivered+12 }, "relay stopped:\n%s", p2.log())
	p2.kill()
	p3 := startServeProc(t, data)
	resumed := delivered()
	testutil.Eventually(t, 30*time.Second, func() bool { return delivered() >= resumed+6 }, "relay did not resume:\n%s", p3.log())
	var third apiFetcher
	apiJSON(t, http.MethodGet, p3.url("/api/v1/fetcher/"+created.ID), nil, http.StatusOK, &third)
	p3.kill()
	for _, rs := range third.Renditions {
		if rs.SegmentsMissed != 0 {
			t.Errorf("%s: %d segments missed after a restart within the source window", rs.Name, rs.SegmentsMissed)
		}
	}

	if strings.Contains(p1.log()+p2.log()+p3.log(), "kill9-secret") {
		t.Error("serve logged the ingest password")
	}
	for _, v := range dst.Violations() {
		t.Error(v)
	}
	// Against every segment published: those that came and went while the
	// relay was down are gaps, which must lie in the downtime and be marked.
	rep := faultcheck.Check(src, dst, faultcheck.Options{Dir: dir, IgnoreHead: true, IgnoreTail: true, Published: true})
	t.Logf("kill -9 restart: %s; killed at segment %d, restarted at %d", rep, killedAt, restartedAt)
	for _, v := range rep.Violations {
		// Pushing the in-flight segment again is allowed, once.
		if !strings.Contains(v, "pushed again after later segments") {
			t.Error(v)
		}
	}
	missed := map[string]int64{}
	for _, rs := range after.Renditions {
		missed[rs.Name] = rs.SegmentsMissed
	}
	for _, r := range renditions {
		rr := rep.Renditions[r]
		if rr.Duplicates != 0 || rr.Lost != 0 {
			t.Errorf("%s: %d duplicates, %d lost", r, rr.Duplicates, rr.Lost)
		}
		if rr.RePuts > 2 {
			t.Errorf("%s: %d segments pushed again after two kills, want at most the one in flight at each", r, rr.RePuts)
		}
		// The gap lies within the downtime: at most the segments published
		// between the kill and the restart, plus the few the relay had
		// listed but not pushed yet when it was killed.
		if limit := restartedAt - killedAt + 3; rr.Gaps > limit {
			t.Errorf("%s: gap of %d segments, downtime covered %d", r, rr.Gaps, restartedAt-killedAt)
		}
		if rr.Gaps == 0 {
			t.Errorf("%s: no gap although the downtime outlasted the source window", r)
		}
		// Counted missed: the gap, plus the segment in flight at the kill
		// if it was pushed but not yet saved (the restarted relay cannot
		// know it arrived).
		if name := strings.ReplaceAll(r, "_", "-"); missed[name] < int64(rr.Gaps) || missed[name] > int64(rr.Gaps)+1 {
			t.Errorf("%s: %d gaps, %d counted missed after the restart", r, rr.Gaps, missed[name])
		}
		pub := src.Published(r)
		for _, u := range rr.Undelivered {
			pos := slices.IndexFunc(pub, func(s faultcheck.Segment) bool { return s.URI == u })
			if pos < killedAt-3 || pos >= restartedAt {
				t.Errorf("%s: gap at %s (segment %d) outside the downtime (segments %d to %d)", r, u, pos, killedAt, restartedAt)
			}
		}
		t.Logf("%s: gap %v", r, rr.Undelivered)
	}
}
