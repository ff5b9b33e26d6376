package fetch_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/chaos"
	"github.com/pullpush/pullpush/internal/faultcheck"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/output/mediapackage"
)

// faultRig relays a faultcheck.Source to one or more faultcheck.Dests, with
// a chaos proxy between the relay and the source and one between the relay
// and each destination.
type faultRig struct {
	t           *testing.T
	src         *faultcheck.Source
	srcProxy    *chaos.Proxy
	dests       []*faultcheck.Dest
	destProxies []*chaos.Proxy
	obs         *countingObserver
	f           *fetch.Fetcher
	cancel      context.CancelFunc
	done        chan error

	realTime bool

	mu   sync.Mutex
	seen map[string]int // requests the source proxy received, by path
}

// requested reports whether the relay asked the source proxy for uri.
func (h *faultRig) requested(uri string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen["/"+uri] > 0
}

// status formats the fetcher status when printed, for failure messages.
type status struct{ f *fetch.Fetcher }

func (s status) String() string { return fmt.Sprintf("%+v", s.f.Status()) }

// faultScenario is one row of the fault table.
type faultScenario struct {
	name  string
	ndest int // destinations (default 1)
	// config adjusts the fetcher configuration.
	config func(*fetch.Config)
	// run injects the faults and drives the source; the rig settles and
	// checks the invariant afterwards.
	run func(t *testing.T, h *faultRig)
	// overcount allows the relay to count more gaps than segments were
	// offered and not delivered: a source that skips media sequence numbers
	// looks exactly like one whose segments were missed.
	overcount bool
	// wantGaps requires at least one gap on every destination.
	wantGaps bool
	// realTime paces the source like a live one: after each published
	// segment, the next one comes once the relay is idle or one segment
	// duration (1 s) has passed, whichever is first. Without it the source
	// advances as fast as the relay sees it, which compresses the source
	// window far below the relay's wall-clock retry backoff.
	realTime bool
	// clock runs the source on the wall clock: one segment a second.
	clock bool
	// window is the number of segments the source lists (default 4).
	window int
}

const faultSeed = 7

func newFaultRig(t *testing.T, sc faultScenario) *faultRig {
	t.Helper()
	h := &faultRig{t: t, obs: newCountingObserver(), realTime: sc.realTime}
	lcfg := livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: cmp.Or(sc.window, 4)}
	if sc.clock {
		lcfg.Clock, lcfg.Interval = time.Now, time.Second
	}
	h.src = faultcheck.NewSource(lcfg)
	srcSrv := httptest.NewServer(h.src)
	t.Cleanup(srcSrv.Close)
	h.seen = map[string]int{}
	h.srcProxy = chaos.New(mustParse(t, srcSrv.URL), chaos.WithSeed(faultSeed), chaos.WithEventHook(func(ev chaos.Event) {
		h.mu.Lock()
		h.seen[ev.Path]++
		h.mu.Unlock()
	}))
	srcProxySrv := httptest.NewServer(h.srcProxy)
	t.Cleanup(srcProxySrv.Close)
	t.Cleanup(func() { h.srcProxy.Close() })

	ndest := max(sc.ndest, 1)
	var ingests []mediapackage.Ingest
	for i := range ndest {
		d := faultcheck.NewDest(sink.Options{Username: user, Password: pass})
		dSrv := httptest.NewServer(d)
		t.Cleanup(dSrv.Close)
		p := chaos.New(mustParse(t, dSrv.URL), chaos.WithSeed(faultSeed+uint64(i)+1))
		pSrv := httptest.NewServer(p)
		t.Cleanup(pSrv.Close)
		t.Cleanup(func() { p.Close() })
		h.dests = append(h.dests, d)
		h.destProxies = append(h.destProxies, p)
		ingests = append(ingests, mediapackage.Ingest{URL: pSrv.URL + ingestDir + "channel", Username: user, Password: pass})
	}
	out, err := mediapackage.New(mediapackage.Config{IngestURLs: ingests, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	cfg := fetch.Config{
		ID: "faults", URL: srcProxySrv.URL + livesource.MasterPath, Output: out,
		Window: 120 * time.Second, PollInterval: 30 * time.Millisecond,
		SpoolDir: t.TempDir(), PushTimeout: 2 * time.Second, Observer: h.obs,
		Client: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
	}
	if sc.config != nil {
		sc.config(&cfg)
	}
	h.f, err = fetch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.f.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// stop cancels the fetcher and waits for it (idempotent).
func (h *faultRig) stop() {
	h.cancel()
	if err, ok := <-h.done; ok {
		close(h.done)
		if err != nil {
			h.t.Errorf("fetcher: %v", err)
		}
	}
}

// waitSeen waits until the relay has requested the newest segment of every
// rendition from the source, so it has seen every playlist up to it.
func (h *faultRig) waitSeen() {
	h.t.Helper()
	for _, r := range h.src.Renditions() {
		ref, ok := h.src.Newest(r)
		if !ok {
			continue
		}
		testutil.Eventually(h.t, 20*time.Second, func() bool { return h.requested(ref.URI) },
			"relay never requested %s; status %v", ref.URI, status{h.f})
	}
}

// step publishes one segment n times, each time waiting until the relay saw it.
func (h *faultRig) step(n int) {
	h.t.Helper()
	h.waitSeen()
	for range n {
		h.src.Advance(1)
		h.waitSeen()
		if h.realTime {
			h.idle(time.Second)
		}
	}
}

// waitPublished waits until a clock-driven source published n more
// segments in every rendition.
func (h *faultRig) waitPublished(n int) {
	h.t.Helper()
	want := map[string]int{}
	for _, r := range h.src.Renditions() {
		want[r] = len(h.src.Published(r)) + n
	}
	testutil.Eventually(h.t, time.Duration(n+5)*time.Second, func() bool {
		for r, w := range want {
			if len(h.src.Published(r)) < w {
				return false
			}
		}
		return true
	}, "source did not advance")
}

// idle waits until no target has anything pending, at most d.
func (h *faultRig) idle(d time.Duration) {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		busy := false
		for _, ts := range h.f.Status().Targets {
			busy = busy || ts.Pending > 0
		}
		if !busy {
			return
		}
	}
}

// noFaults removes every injected fault.
func (h *faultRig) noFaults() {
	h.t.Helper()
	if err := h.srcProxy.SetRules(nil); err != nil {
		h.t.Fatal(err)
	}
	for i, d := range h.dests {
		if err := h.destProxies[i].SetRules(nil); err != nil {
			h.t.Fatal(err)
		}
		d.Sink.FailAll(0)
		d.Sink.FailWhen(nil)
	}
}

func (h *faultRig) check(d *faultcheck.Dest) faultcheck.Report {
	return faultcheck.Check(h.src, d, faultcheck.Options{Dir: ingestDir})
}

// settle removes the faults and waits until every destination has every
// offered segment delivered or marked, and a playlist listing the newest.
func (h *faultRig) settle() {
	h.t.Helper()
	h.noFaults()
	h.waitSeen()
	testutil.Eventually(h.t, 30*time.Second, func() bool {
		st := h.f.Status()
		for _, ts := range st.Targets {
			if ts.Pending > 0 {
				return false
			}
		}
		for _, d := range h.dests {
			if rep := h.check(d); rep.Lost > 0 || rep.Delivered+rep.Gaps < rep.Offered {
				return false
			}
			for _, r := range h.src.Renditions() {
				if !playlistIsCurrent(d, srcName(r)) {
					return false
				}
			}
		}
		return true
	}, "relay did not catch up; status %v", status{h.f})
}

// playlistIsCurrent reports whether the last stored playlist of a rendition
// lists the newest segment stored.
func playlistIsCurrent(d *faultcheck.Dest, name string) bool {
	versions := d.Playlists(ingestDir + "channel_" + name + ".m3u8")
	if len(versions) == 0 {
		return false
	}
	m, err := hls.ParseMedia(versions[len(versions)-1])
	if err != nil || len(m.Segments) == 0 {
		return false
	}
	last := m.Segments[len(m.Segments)-1].URI
	newest := ""
	prefix := ingestDir + "channel_" + name + "_"
	var newestSeq int64 = -1
	for _, w := range d.Sink.Writes() {
		rest, ok := strings.CutPrefix(w.Path, prefix)
		if !ok || w.Method != http.MethodPut {
			continue
		}
		var seq int64
		if _, err := fmt.Sscanf(rest, "%d.", &seq); err == nil && seq > newestSeq {
			newestSeq, newest = seq, strings.TrimPrefix(w.Path, ingestDir)
		}
	}
	if newest == "" {
		return true
	}
	lastSeq := m.MediaSequence + int64(len(m.Segments)) - 1
	return last == newest || lastSeq > newestSeq
}

// faultRow is one line of the summary table.
type faultRow struct {
	scenario, target                       string
	offered, delivered, gaps, dups, reputs int
	counted, faults                        int64
}

type faultTable struct {
	mu   sync.Mutex
	rows []faultRow
}

func (ft *faultTable) add(r faultRow) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.rows = append(ft.rows, r)
}

func (ft *faultTable) String() string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	rows := slices.Clone(ft.rows)
	slices.SortFunc(rows, func(a, b faultRow) int { return strings.Compare(a.scenario+a.target, b.scenario+b.target) })
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "scenario\ttarget\toffered\tdelivered\tgaps\tcounted gaps\tduplicates\tre-PUTs\tfaults injected\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.scenario, r.target, r.offered, r.delivered, r.gaps, r.counted, r.dups, r.reputs, r.faults)
	}
	tw.Flush()
	return b.String()
}

// injected sums the faults injected by every proxy and sink of the rig.
func (h *faultRig) injected() int64 {
	var n int64
	for _, p := range append([]*chaos.Proxy{h.srcProxy}, h.destProxies...) {
		for _, c := range p.Stats().Faults {
			n += c
		}
	}
	for _, d := range h.dests {
		for _, r := range d.Sink.Requests() {
			if r.Injected {
				n++
			}
		}
	}
	return n
}

// verify checks the invariant on every destination and records the rows.
func (h *faultRig) verify(sc faultScenario, tab *faultTable) {
	t := h.t
	t.Helper()
	h.stop()
	st := h.f.Status()
	var missed int64
	for _, rs := range st.Renditions {
		missed += rs.SegmentsMissed
	}
	faults := h.injected()
	for i, d := range h.dests {
		for _, v := range d.Violations() {
			t.Errorf("dest %d: %s", i, v)
		}
		rep := h.check(d)
		for _, v := range rep.Violations {
			t.Errorf("dest %d: %s", i, v)
		}
		counted := missed + st.Targets[i].SegmentsDropped
		t.Logf("dest %d: %s; counted in status: missed %d + dropped %d; faults injected %d", i, rep, missed, st.Targets[i].SegmentsDropped, faults)
		if rep.Lost != 0 || rep.Duplicates != 0 {
			t.Errorf("dest %d: %d lost, %d duplicates", i, rep.Lost, rep.Duplicates)
		}
		if rep.Delivered+rep.Gaps != rep.Offered {
			t.Errorf("dest %d: %d delivered + %d gaps != %d offered", i, rep.Delivered, rep.Gaps, rep.Offered)
		}
		if sc.overcount {
			if int64(rep.Gaps) > counted {
				t.Errorf("dest %d: %d gaps but only %d counted in status", i, rep.Gaps, counted)
			}
		} else if int64(rep.Gaps) != counted {
			t.Errorf("dest %d: %d gaps but %d counted in status (missed %d, dropped %d)", i, rep.Gaps, counted, missed, st.Targets[i].SegmentsDropped)
		}
		if sc.wantGaps && rep.Gaps == 0 {
			t.Errorf("dest %d: the scenario should have produced a gap", i)
		}
		target := "a"
		if i == 1 {
			target = "b"
		}
		tab.add(faultRow{scenario: sc.name, target: target, offered: rep.Offered, delivered: rep.Delivered,
			gaps: rep.Gaps, dups: rep.Duplicates, reputs: rep.RePuts, counted: counted, faults: faults})
	}
}

// setRules installs rules on a proxy or fails the test.
func setRules(t *testing.T, p *chaos.Proxy, rules ...chaos.Rule) {
	t.Helper()
	if err := p.SetRules(rules); err != nil {
		t.Fatal(err)
	}
}

func faultScenarios() []faultScenario {
	get := []string{http.MethodGet}
	putOnly := []string{http.MethodPut}
	return []faultScenario{
		{name: "source 5xx bursts", realTime: true, run: func(t *testing.T, h *faultRig) {
			flaky := []chaos.Rule{
				{Fault: chaos.FaultStatus, Status: 503, Methods: get, Path: "*.ts", Probability: 0.25},
				{Fault: chaos.FaultStatus, Status: 500, Methods: get, Path: "*.vtt", Probability: 0.25},
				{Fault: chaos.FaultStatus, Status: 502, Methods: get, Path: "*.m3u8", Probability: 0.15},
			}
			setRules(t, h.srcProxy, flaky...)
			h.step(4)
			// A burst: every request fails while the source moves on two segments.
			before := h.srcProxy.Stats().Faults[chaos.FaultStatus]
			setRules(t, h.srcProxy, chaos.Rule{Fault: chaos.FaultStatus, Status: 503})
			h.src.Advance(2)
			testutil.Eventually(t, 10*time.Second, func() bool {
				return h.srcProxy.Stats().Faults[chaos.FaultStatus] >= before+12
			}, "burst not hit")
			setRules(t, h.srcProxy, flaky...)
			h.step(6)
		}},
		{name: "segment 5xx burst 3 s, purging origin (real time)", clock: true, window: 6, run: func(t *testing.T, h *faultRig) {
			h.src.Purge(true)
			h.waitPublished(2)
			// Right after a segment is published, every segment download
			// fails for 3 s of a live source with 1 s segments (target
			// duration 1 or 2) and a window of 6 that deletes segments
			// leaving it: the relay must not back off so far that its next
			// try of a segment comes after the window has passed it
			// (exponential backoff alone would wait up to about 6 s).
			h.waitPublished(1)
			setRules(t, h.srcProxy,
				chaos.Rule{Fault: chaos.FaultStatus, Status: 503, Path: "*.ts", For: 3 * time.Second},
				chaos.Rule{Fault: chaos.FaultStatus, Status: 503, Path: "*.vtt", For: 3 * time.Second})
			h.waitPublished(8)
		}},
		{name: "source delays and timeouts", realTime: true, config: func(c *fetch.Config) {
			c.Client = &http.Client{Timeout: time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		}, run: func(t *testing.T, h *faultRig) {
			setRules(t, h.srcProxy,
				chaos.Rule{Fault: chaos.FaultHang, Path: "*.ts", Probability: 0.1},
				chaos.Rule{Fault: chaos.FaultHang, Path: "*.m3u8", Probability: 0.05},
				chaos.Rule{Fault: chaos.FaultDelay, Delay: 300 * time.Millisecond, Probability: 0.3},
			)
			h.step(10)
		}},
		{name: "connection resets", realTime: true, run: func(t *testing.T, h *faultRig) {
			setRules(t, h.srcProxy, chaos.Rule{Fault: chaos.FaultReset, Probability: 0.25})
			h.step(10)
		}},
		{name: "truncated bodies", realTime: true, run: func(t *testing.T, h *faultRig) {
			setRules(t, h.srcProxy,
				chaos.Rule{Fault: chaos.FaultTruncate, Path: "*.ts", Percent: 50, Probability: 0.3},
				chaos.Rule{Fault: chaos.FaultTruncate, Path: "*.vtt", Probability: 0.3},
				chaos.Rule{Fault: chaos.FaultTruncate, Path: "*.m3u8", Percent: 70, Probability: 0.15},
			)
			h.step(10)
			if h.srcProxy.Stats().Faults[chaos.FaultTruncate] == 0 {
				t.Error("no body was truncated")
			}
		}},
		{name: "stale playlists", realTime: true, run: func(t *testing.T, h *faultRig) {
			setRules(t, h.srcProxy, chaos.Rule{Fault: chaos.FaultStale, Path: "*.m3u8", Probability: 0.5})
			h.step(10)
		}},
		{name: "source restart (sequence reset)", run: func(t *testing.T, h *faultRig) {
			h.step(3)
			h.src.ResetSequence()
			h.step(4)
			h.src.ResetSequence()
			h.step(3)
		}},
		{name: "sequence renumbered, same URIs", run: func(t *testing.T, h *faultRig) {
			h.step(2)
			setRules(t, h.srcProxy, chaos.Rule{Fault: chaos.FaultResetSequence, Path: "*.m3u8"})
			h.step(4)
			setRules(t, h.srcProxy) // numbers jump back up to the source's
			h.step(4)
			if h.srcProxy.Stats().Faults[chaos.FaultResetSequence] == 0 {
				t.Error("no playlist was renumbered")
			}
		}},
		{name: "source skips sequence numbers", overcount: true, run: func(t *testing.T, h *faultRig) {
			h.step(2)
			h.src.SkipSequence(3) // seen while the window straddles the skip
			h.step(4)
			h.src.SkipSequence(5) // jumps past the window at once
			h.src.Advance(5)
			h.step(2)
		}},
		{name: "playlist hides new segments", wantGaps: true, run: func(t *testing.T, h *faultRig) {
			h.step(2)
			setRules(t, h.srcProxy, chaos.Rule{Fault: chaos.FaultSkip, Path: "*.m3u8", Segments: 3})
			h.src.Advance(3)
			h.waitSeen()
			setRules(t, h.srcProxy)
			h.step(2)
		}},
		{name: "segment 404 while listed, then gone", wantGaps: true, run: func(t *testing.T, h *faultRig) {
			h.step(1)
			next := h.src.Window("video_hi")[len(h.src.Window("video_hi"))-1].MediaSequence + 1
			re := fmt.Sprintf(`^/video_hi/seg_%d\.ts$`, next)
			setRules(t, h.srcProxy, chaos.Rule{Fault: chaos.FaultStatus, Status: 404, Regexp: re})
			h.step(6)
			testutil.Eventually(t, 20*time.Second, func() bool {
				for _, rs := range h.f.Status().Renditions {
					if rs.Name == "video-hi" {
						return rs.SegmentsMissed == 1
					}
				}
				return false
			}, "segment not given up; status %v", status{h.f})
			tries := 0
			for _, ev := range h.srcProxy.Events() {
				if regexp.MustCompile(re).MatchString(ev.Path) {
					tries++
				}
			}
			if tries < 2 {
				t.Errorf("segment requested %d times while listed, want retries", tries)
			}
			t.Logf("404 segment requested %d times before it left the source", tries)
		}},
		{name: "destination 5xx outage 30 segments", run: func(t *testing.T, h *faultRig) {
			h.step(2)
			h.dests[0].Sink.FailAll(503)
			h.step(30)
			st := h.f.Status()
			if ts := st.Targets[0]; ts.Pending < 30 || ts.PushFailures == 0 || !strings.Contains(ts.LastError, "503") {
				t.Errorf("outage not visible in status: %+v", ts)
			}
			h.dests[0].Sink.FailAll(0)
		}},
		{name: "destination outage beyond the spool", wantGaps: true, config: func(c *fetch.Config) {
			c.SpoolBytes = spoolFor(5)
		}, run: func(t *testing.T, h *faultRig) {
			h.step(2)
			h.dests[0].Sink.FailAll(503)
			h.step(16)
			h.dests[0].Sink.FailAll(0)
			h.settle()
			rep := h.check(h.dests[0])
			for _, r := range h.src.Renditions() {
				offered := h.src.Offered(r)
				und := rep.Renditions[r].Undelivered
				// The newest segments are kept: nothing after the first
				// segment delivered again once the outage ended is lost,
				// and the dropped ones are one run of the oldest.
				if len(und) == 0 {
					t.Errorf("%s: nothing dropped", r)
					continue
				}
				first := slices.IndexFunc(offered, func(s faultcheck.Segment) bool { return s.URI == und[0] })
				for i, u := range und {
					if offered[first+i].URI != u {
						t.Errorf("%s: dropped segments are not one run of the oldest: %v", r, und)
						break
					}
				}
				if last := offered[len(offered)-1].URI; slices.Contains(und, last) || first+len(und) > len(offered)-2 {
					t.Errorf("%s: newest segments dropped: %v", r, und)
				}
			}
		}},
		{name: "one of two ingests down", ndest: 2, run: func(t *testing.T, h *faultRig) {
			h.dests[1].Sink.FailAll(500)
			h.step(8)
			// The healthy ingest progresses on its own.
			testutil.Eventually(t, 20*time.Second, func() bool {
				rep := h.check(h.dests[0])
				return rep.Delivered == rep.Offered
			}, "healthy ingest did not get everything while the other was down")
			if rep := h.check(h.dests[1]); rep.Delivered > 0 {
				t.Errorf("failing ingest got %d segments", rep.Delivered)
			}
			h.dests[1].Sink.FailAll(0)
		}},
		{name: "slow destination, small spool", config: func(c *fetch.Config) {
			c.SpoolBytes = spoolFor(2)
		}, run: func(t *testing.T, h *faultRig) {
			setRules(t, h.destProxies[0], chaos.Rule{Fault: chaos.FaultDelay, Delay: 100 * time.Millisecond, Methods: putOnly})
			h.step(12)
		}},
		{name: "slow destination", run: func(t *testing.T, h *faultRig) {
			setRules(t, h.destProxies[0], chaos.Rule{Fault: chaos.FaultDelay, Delay: 150 * time.Millisecond, Methods: putOnly})
			h.step(8)
		}},
		{name: "destination resets, 5xx, hangs", config: func(c *fetch.Config) {
			c.PushTimeout = time.Second
		}, run: func(t *testing.T, h *faultRig) {
			setRules(t, h.destProxies[0],
				chaos.Rule{Fault: chaos.FaultReset, Methods: putOnly, Probability: 0.1},
				chaos.Rule{Fault: chaos.FaultStatus, Status: 503, Methods: putOnly, Probability: 0.1},
				chaos.Rule{Fault: chaos.FaultTruncate, Methods: putOnly, Probability: 0.1},
				chaos.Rule{Fault: chaos.FaultHang, Methods: putOnly, Probability: 0.05},
			)
			h.step(10)
		}},
		{name: "playlist reload failures (real time)", clock: true, window: 10, run: func(t *testing.T, h *faultRig) {
			h.waitPublished(2)
			errsBefore := h.obs.reloadErrors()
			start := time.Now()
			setRules(t, h.srcProxy, chaos.Rule{Fault: chaos.FaultStatus, Status: 503, Path: "*.m3u8"})
			reqBefore := h.srcProxy.Stats().Requests
			// The source moves on 8 segments while every reload fails; its
			// window of 10 still lists the last segment seen when it is
			// back, so the relay must not back off so far that the window
			// slides past it.
			h.waitPublished(8)
			if st := h.f.Status(); !strings.Contains(st.LastError, "503") && !strings.Contains(st.LastError, "stalled") {
				t.Errorf("reload failure not in status: %q", st.LastError)
			}
			elapsed := time.Since(start)
			reloads := h.srcProxy.Stats().Requests - reqBefore
			errs := h.obs.reloadErrors() - errsBefore
			setRules(t, h.srcProxy)
			// Without backoff 4 renditions polling every 30 ms would
			// reload 4*elapsed/30ms times.
			if limit := int64(4 * elapsed / (500 * time.Millisecond)); reloads > limit {
				t.Errorf("%d reloads in %s while failing: no backoff", reloads, elapsed)
			}
			if errs < 4 {
				t.Errorf("observer saw %d reload errors", errs)
			}
			t.Logf("%d reloads (%d errors reported to the observer) in %s of playlist failures", reloads, errs, elapsed.Round(time.Millisecond))
			h.waitSeen()
			h.waitPublished(1)
			for _, rs := range h.f.Status().Renditions {
				if rs.SegmentsMissed != 0 {
					t.Errorf("%s: %d segments missed after reload failures", rs.Name, rs.SegmentsMissed)
				}
			}
		}},
	}
}

// spoolFor returns a spool size holding about n segments of every rendition.
func spoolFor(n int) int64 {
	set := testmedia.MustLoad(testmedia.TS)
	var total, count int64
	for _, r := range set.Renditions {
		for _, s := range r.Segments {
			total += int64(len(s.Data))
		}
		count = int64(len(r.Segments))
	}
	return total / count * int64(n)
}

func TestFaultScenarios(t *testing.T) {
	t.Parallel()
	tab := &faultTable{}
	t.Run("scenarios", func(t *testing.T) {
		for _, sc := range faultScenarios() {
			t.Run(strings.ReplaceAll(sc.name, " ", "_"), func(t *testing.T) {
				t.Parallel()
				h := newFaultRig(t, sc)
				sc.run(t, h)
				h.settle()
				h.verify(sc, tab)
			})
		}
	})
	t.Logf("fault scenarios (gaps = offered segments not delivered, each marked EXT-X-GAP or behind a DISCONTINUITY; counted gaps = status SegmentsMissed + SegmentsDropped):\n%s", tab)
}

// countingObserver counts fetch.Observer events.
type countingObserver struct {
	mu      sync.Mutex
	reloads map[string][2]int64 // rendition -> ok, error
	missed  int64
	dropped int64
	failed  int64
	stalled map[string]bool
}

func newCountingObserver() *countingObserver {
	return &countingObserver{reloads: map[string][2]int64{}, stalled: map[string]bool{}}
}

func (o *countingObserver) PlaylistReloaded(_, rendition string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.reloads[rendition]
	if err != nil {
		c[1]++
	} else {
		c[0]++
	}
	o.reloads[rendition] = c
}

func (o *countingObserver) reloadErrors() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var n int64
	for _, c := range o.reloads {
		n += c[1]
	}
	return n
}

func (o *countingObserver) SegmentPulled(string, string, int64) {}
func (o *countingObserver) SegmentMissed(string, string) {
	o.mu.Lock()
	o.missed++
	o.mu.Unlock()
}
func (o *countingObserver) FilePushed(string, string, int64, time.Duration) {}
func (o *countingObserver) PushFailed(string, string) {
	o.mu.Lock()
	o.failed++
	o.mu.Unlock()
}
func (o *countingObserver) SegmentDropped(string, string) {
	o.mu.Lock()
	o.dropped++
	o.mu.Unlock()
}
func (o *countingObserver) Lag(string, float64) {}
