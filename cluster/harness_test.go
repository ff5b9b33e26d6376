package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/api"
	"github.com/pullpush/pullpush/cluster"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/natstest"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
	"github.com/pullpush/pullpush/store/natskv"
)

// Test timing: a 3 s lease (renewed every second) and a source publishing
// one segment per second with a 12-segment window, so segments published
// during a takeover (at most 2 × TTL = 6 s) are still listed when the new
// owner polls.
const (
	testTTL        = 3 * time.Second
	sourceInterval = time.Second
	sourceWindow   = 12
	ingestUser     = "ingest"
	ingestPassword = "cluster-ingest-secret"
)

// putRec is one upload that passed an instance's fence and succeeded.
type putRec struct {
	inst, fetcher, name string
	start, end          time.Time
}

// env is a NATS server, a live source, a recording ingest and the
// instances of one cluster, all in this process on loopback.
type env struct {
	t      *testing.T
	nats   *natstest.Server
	src    *livesource.Source
	srcSrv *httptest.Server
	snk    *sink.Sink
	ingest *httptest.Server
	logs   *testutil.LockedBuffer
	// url is the source every fetcher relays; rends its renditions.
	url   string
	rends []string

	srcMu  sync.Mutex
	paused bool

	// lateness is the worst oversleep of a probe goroutine: how late this
	// process wakes up on a loaded machine.
	lateness atomic.Int64

	mu     sync.Mutex
	events []cluster.Event
	puts   []putRec
	insts  []*inst
}

// inst is one pullpush serve instance: NATS connection, cluster node,
// service, API.
type inst struct {
	name string
	e    *env
	nc   *nats.Conn
	st   *natskv.Store
	node *cluster.Node
	svc  *pullpush.Service
	api  *api.API
	srv  *httptest.Server
	down bool
}

// newEnv starts the NATS server, the source and the ingest. With
// allRenditions the fetchers relay the multivariant playlist (4
// renditions); otherwise one media playlist, which keeps 30 fetchers light
// enough for -race on a small machine (the relay itself is tested in fetch).
func newEnv(t *testing.T, allRenditions bool) *env {
	t.Helper()
	e := &env{t: t, nats: natstest.Start(t), logs: &testutil.LockedBuffer{}}
	e.src = livesource.New(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: sourceWindow})
	e.srcSrv = httptest.NewServer(e.src)
	t.Cleanup(e.srcSrv.Close)
	e.url, e.rends = e.srcSrv.URL+livesource.MasterPath, e.src.Renditions()
	if !allRenditions {
		e.url, e.rends = e.srcSrv.URL+livesource.PlaylistPath("video_hi"), []string{"video_hi"}
	}
	e.snk = sink.New(sink.Options{Username: ingestUser, Password: ingestPassword})
	e.ingest = httptest.NewServer(e.snk)
	t.Cleanup(e.ingest.Close)
	// The source advances in real time unless paused.
	stop := make(chan struct{})
	done := make(chan struct{})
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		for {
			start := time.Now()
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			late := int64(time.Since(start) - 20*time.Millisecond)
			for {
				cur := e.lateness.Load()
				if late <= cur || e.lateness.CompareAndSwap(cur, late) {
					break
				}
			}
		}
	}()
	go func() {
		defer close(done)
		tk := time.NewTicker(sourceInterval)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			e.srcMu.Lock()
			if !e.paused {
				e.src.Advance(1)
			}
			e.srcMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		<-probeDone
		e.mu.Lock()
		insts := slices.Clone(e.insts)
		e.mu.Unlock()
		for _, i := range insts {
			i.kill()
		}
		if t.Failed() {
			logs := e.logs.String()
			if len(logs) > 64<<10 {
				logs = "...\n" + logs[len(logs)-64<<10:]
			}
			t.Logf("instance logs:\n%s", logs)
		}
	})
	return e
}

// starved reports whether this process overslept by a third of the lease
// TTL at some point: on such a machine (CI running everything at once, the
// race detector) renewals come late and leases may expire, so timing
// bounds and "no lease lost" are not judged; safety (no concurrent uploads,
// no hole, no duplicate without a lost lease) always is.
func (e *env) starved() (bool, time.Duration) {
	late := time.Duration(e.lateness.Load())
	return late > testTTL/3, late
}

// lostLeases sums the leases lost by the running instances.
func (e *env) lostLeases() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for _, i := range e.insts {
		n += i.node.Stats().Lost
	}
	return n
}

// pause stops the source from advancing; no segment is published after
// pause returns, until resume.
func (e *env) pause() {
	e.srcMu.Lock()
	e.paused = true
	e.srcMu.Unlock()
}

func (e *env) resume() {
	e.srcMu.Lock()
	e.paused = false
	e.srcMu.Unlock()
}

func (e *env) record(ev cluster.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, ev)
}

func (e *env) eventsSince(t0 time.Time, typ cluster.EventType) []cluster.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []cluster.Event
	for _, ev := range e.events {
		if ev.Type == typ && !ev.Time.Before(t0) {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) putsCopy() []putRec {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.puts)
}

// start runs one instance.
func (e *env) start(name string) *inst {
	t := e.t
	t.Helper()
	ctx := t.Context()
	nc, js := e.nats.Connect(t)
	st, err := natskv.Open(ctx, js, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("inst", name)
	node, err := cluster.New(ctx, cluster.Config{
		JS: js, Store: st, Instance: name, LeaseTTL: testTTL, Logger: log, OnEvent: e.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	i := &inst{name: name, e: e, nc: nc, st: st, node: node}
	reg := output.NewRegistry()
	outputs.Register(reg)
	i.svc = pullpush.New(pullpush.Options{
		Logger: log, Outputs: reg, SpoolDir: t.TempDir(), Progress: node.Progress(),
		WrapOutput: func(id string, out output.Output) output.Output {
			// Count what passes the fence: the recording wrapper sits inside it.
			return node.WrapOutput(id, &recOutput{Output: out, i: i, fetcher: id})
		},
	})
	i.api = api.New(i.svc, api.Options{Store: st, Cluster: node, Logger: log, StopTimeout: 10 * time.Second})
	i.srv = httptest.NewServer(i.api.Handler())
	if err := node.Start(ctx, i.api); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.insts = append(e.insts, i)
	e.mu.Unlock()
	return i
}

// kill stops the instance abruptly, as kill -9 would: no hand-off, leases
// left to expire, NATS connection closed; the fenced fetchers are then
// stopped without being able to push or save anything.
func (i *inst) kill() {
	if i.down {
		return
	}
	i.down = true
	i.node.Abort()
	i.nc.Close()
	i.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := i.svc.Close(ctx); err != nil {
		i.e.t.Errorf("%s: service did not stop after kill: %v", i.name, err)
	}
	i.node.Close()
}

// leave shuts the instance down as on SIGTERM: hand-off, then stop.
func (i *inst) leave() {
	i.down = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := i.node.Leave(ctx); err != nil {
		i.e.t.Errorf("%s: leave: %v", i.name, err)
	}
	i.srv.Close()
	if err := i.svc.Close(ctx); err != nil {
		i.e.t.Errorf("%s: close service: %v", i.name, err)
	}
	i.node.Close()
	i.nc.Close()
}

// recOutput records successful uploads per instance.
type recOutput struct {
	output.Output
	i       *inst
	fetcher string
}

func (o *recOutput) Targets() []output.Target {
	var ts []output.Target
	for _, t := range o.Output.Targets() {
		ts = append(ts, &recTarget{Target: t, o: o})
	}
	return ts
}

type recTarget struct {
	output.Target
	o *recOutput
}

func (t *recTarget) Put(ctx context.Context, f output.File) error {
	start := time.Now()
	err := t.Target.Put(ctx, f)
	if err == nil {
		e := t.o.i.e
		e.mu.Lock()
		e.puts = append(e.puts, putRec{inst: t.o.i.name, fetcher: t.o.fetcher, name: f.Name, start: start, end: time.Now()})
		e.mu.Unlock()
	}
	return err
}

// call does an API request on the instance.
func (i *inst) call(method, path, body string) (int, []byte) {
	i.e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, i.srv.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		i.e.t.Fatalf("%s %s on %s: %v", method, path, i.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type listed struct {
	ID             string `json:"fetcherId"`
	Name           string `json:"name"`
	State          string `json:"state"`
	Instance       string `json:"instance"`
	SegmentsPushed int64  `json:"segmentsPushed"`
}

func (i *inst) list() []listed {
	i.e.t.Helper()
	code, b := i.call("GET", "/api/v1/fetcher", "")
	if code != http.StatusOK {
		i.e.t.Fatalf("list on %s: %d %s", i.name, code, b)
	}
	var l []listed
	if err := json.Unmarshal(b, &l); err != nil {
		i.e.t.Fatal(err)
	}
	return l
}

// channel returns the ingest directory of fetcher n.
func channel(n int) string { return fmt.Sprintf("ch%02d", n) }

// create makes n fetchers, ch00..ch<n-1>, spreading the API calls over the
// given instances; it returns the fetcher id of each channel.
func (e *env) create(n int, via ...*inst) map[string]string {
	e.t.Helper()
	ids := map[string]string{}
	for k := range n {
		ch := channel(k)
		body := fmt.Sprintf(`{"name":%q,"url":%q,"output":"mediapackage","payload":{"ingestUrls":[{"url":%q,"username":%q,"password":%q}]}}`,
			ch, e.url, e.ingest.URL+"/in/v2/"+ch+"/a/channel", ingestUser, ingestPassword)
		code, b := via[k%len(via)].call("POST", "/api/v1/fetcher", body)
		if code != http.StatusCreated {
			e.t.Fatalf("create %s: %d %s", ch, code, b)
		}
		var f listed
		json.Unmarshal(b, &f)
		ids[ch] = f.ID
	}
	return ids
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func (e *env) waitFor(timeout time.Duration, cond func() bool, what string, args ...any) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s: "+what, append([]any{timeout}, args...)...)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var segRE = regexp.MustCompile(`^/in/v2/(ch\d+)/a/channel_([A-Za-z0-9-]+)_(\d+)\.[a-z0-9]+$`)

type segPut struct {
	seq  int64
	sha  string
	at   time.Time
	path string
}

// segments returns the segment PUTs the ingest received, by channel and
// pushed rendition name, in completion order.
func (e *env) segments() map[string]map[string][]segPut {
	out := map[string]map[string][]segPut{}
	for _, w := range e.snk.Writes() {
		m := segRE.FindStringSubmatch(w.Path)
		if w.Method != http.MethodPut || m == nil {
			continue
		}
		seq, _ := strconv.ParseInt(m[3], 10, 64)
		if out[m[1]] == nil {
			out[m[1]] = map[string][]segPut{}
		}
		out[m[1]][m[2]] = append(out[m[1]][m[2]], segPut{seq: seq, sha: w.SHA256, at: w.Time, path: w.Path})
	}
	return out
}

func pushedName(rendition string) string { return strings.ReplaceAll(rendition, "_", "-") }

// caughtUp reports whether every channel pushed every rendition up to the
// newest segment the source published, or to within lag segments of it
// (relays poll once per target duration, so while the source advances
// some rendition is always a segment or two behind).
func (e *env) caughtUp(channels []string, lag int) bool {
	segs := e.segments()
	for _, r := range e.rends {
		pub := e.src.Published(r)
		last := int64(pub[len(pub)-1].MediaSequence)
		for _, ch := range channels {
			got := segs[ch][pushedName(r)]
			if len(got) == 0 || slices.MaxFunc(got, func(a, b segPut) int { return int(a.seq - b.seq) }).seq < last-int64(lag) {
				return false
			}
		}
	}
	return true
}

// streamReport checks every channel's pushed stream against the source.
type streamReport struct {
	segments   int // segment PUTs
	duplicates int // segment names PUT more than once
	holes      int // output numbers missing between a rendition's first and last
	mismatches int // bytes differing from the source segment of that number
	detail     []string
}

func (e *env) check(channels []string) streamReport {
	var rep streamReport
	segs := e.segments()
	for _, r := range e.rends {
		sha := map[int64]string{}
		for _, s := range e.src.Published(r) {
			sha[int64(s.MediaSequence)] = s.SHA256
		}
		for _, ch := range channels {
			got := segs[ch][pushedName(r)]
			rep.segments += len(got)
			seen := map[int64]bool{}
			var seqs []int64
			for _, p := range got {
				if seen[p.seq] {
					rep.duplicates++
					rep.detail = append(rep.detail, fmt.Sprintf("%s pushed twice", p.path))
					continue
				}
				seen[p.seq] = true
				seqs = append(seqs, p.seq)
				if want, ok := sha[p.seq]; !ok || want != p.sha {
					rep.mismatches++
					rep.detail = append(rep.detail, fmt.Sprintf("%s differs from source msn %d", p.path, p.seq))
				}
			}
			sort.Slice(seqs, func(a, b int) bool { return seqs[a] < seqs[b] })
			for k := 1; k < len(seqs); k++ {
				if gap := seqs[k] - seqs[k-1] - 1; gap > 0 {
					rep.holes += int(gap)
					rep.detail = append(rep.detail, fmt.Sprintf("%s %s: %d missing after %d", ch, r, gap, seqs[k-1]))
				}
			}
		}
	}
	return rep
}

// progressCaughtUp reports whether the stored progress of fetcher id
// covers every segment the ingest received for its channel (so that a
// kill now loses no save).
func (e *env) progressCaughtUp(st *natskv.Store, id, ch string) bool {
	p, err := st.ProgressRecord(context.Background(), id)
	if err != nil || p.Data == nil {
		return false
	}
	var doc struct {
		Renditions map[string]struct {
			Targets map[string]struct {
				Pushed int64 `json:"pushed"`
			} `json:"targets"`
		} `json:"renditions"`
	}
	if json.Unmarshal(p.Data, &doc) != nil {
		return false
	}
	segs := e.segments()[ch]
	for r, puts := range segs {
		maxSeq := int64(-1)
		for _, s := range puts {
			maxSeq = max(maxSeq, s.seq)
		}
		rp, ok := doc.Renditions[r]
		if !ok || len(rp.Targets) == 0 {
			return false
		}
		for _, tp := range rp.Targets {
			if tp.Pushed < maxSeq {
				return false
			}
		}
	}
	return len(segs) > 0
}

// owners returns the fetchers each running instance holds.
func (e *env) owners() map[string][]string {
	e.mu.Lock()
	insts := slices.Clone(e.insts)
	e.mu.Unlock()
	out := map[string][]string{}
	for _, i := range insts {
		if !i.down {
			out[i.name] = i.node.Owned()
		}
	}
	return out
}

func counts(owners map[string][]string) map[string]int {
	out := map[string]int{}
	for k, v := range owners {
		out[k] = len(v)
	}
	return out
}

// balanced reports whether total fetchers are all owned and spread within
// one of each other.
func balanced(owners map[string][]string, total int) bool {
	sum, lo, hi := 0, total, 0
	for _, ids := range owners {
		sum += len(ids)
		lo, hi = min(lo, len(ids)), max(hi, len(ids))
	}
	return sum == total && hi-lo <= 1
}

// percentile returns the p-th percentile (0..100) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// concurrentPushes counts pairs of uploads of the same fetcher by two
// instances that overlapped in time: never two instances pushing one
// fetcher.
func concurrentPushes(puts []putRec) (int, []string) {
	by := map[string][]putRec{}
	for _, p := range puts {
		by[p.fetcher] = append(by[p.fetcher], p)
	}
	n := 0
	var detail []string
	for id, ps := range by {
		slices.SortFunc(ps, func(a, b putRec) int { return a.start.Compare(b.start) })
		// Sweep: latest end seen per instance so far.
		lastEnd := map[string]time.Time{}
		for _, p := range ps {
			for inst, end := range lastEnd {
				if inst != p.inst && end.After(p.start) {
					n++
					if len(detail) < 20 {
						detail = append(detail, fmt.Sprintf("%s: %s uploads %s while %s still uploads", id, p.inst, p.name, inst))
					}
				}
			}
			if p.end.After(lastEnd[p.inst]) {
				lastEnd[p.inst] = p.end
			}
		}
	}
	return n, detail
}

// handoffGaps returns, per fetcher that changed instance, the time between
// the old owner's last upload and the new owner's first.
func handoffGaps(puts []putRec, since time.Time) map[string]time.Duration {
	by := map[string][]putRec{}
	for _, p := range puts {
		by[p.fetcher] = append(by[p.fetcher], p)
	}
	out := map[string]time.Duration{}
	for id, ps := range by {
		slices.SortFunc(ps, func(a, b putRec) int { return a.start.Compare(b.start) })
		for k := 1; k < len(ps); k++ {
			if ps[k].inst != ps[k-1].inst && ps[k].start.After(since) {
				out[id] = max(out[id], ps[k].start.Sub(ps[k-1].end))
			}
		}
	}
	return out
}

// handoffLatency returns, per fetcher released since t0, how long after
// its release another instance claimed it.
func (e *env) handoffLatency(t0 time.Time) map[string]time.Duration {
	released := map[string]time.Time{}
	for _, ev := range e.eventsSince(t0, cluster.EventReleased) {
		released[ev.Fetcher] = ev.Time
	}
	out := map[string]time.Duration{}
	for _, ev := range e.eventsSince(t0, cluster.EventClaimed) {
		if r, ok := released[ev.Fetcher]; ok && !ev.Time.Before(r) {
			out[ev.Fetcher] = ev.Time.Sub(r)
		}
	}
	return out
}

// judge fails the test on damage no load excuses (uploads of two instances
// overlapping, holes, wrong bytes) and on duplicates and lost leases,
// unless the machine was starved: then a lease may expire under its owner,
// which is safe but makes the next owner repeat the segments since the
// last stored progress; those are reported, not judged.
func (e *env) judge(what string, rep streamReport, conc int, concDetail []string, lost int64) {
	t := e.t
	t.Helper()
	starved, late := e.starved()
	if conc > 0 {
		t.Errorf("%s: two instances uploaded for one fetcher at once:\n%s", what, strings.Join(concDetail, "\n"))
	}
	if rep.holes+rep.mismatches > 0 {
		t.Errorf("%s: stream damaged:\n%s", what, strings.Join(rep.detail[:min(len(rep.detail), 40)], "\n"))
	}
	excused := starved && lost > 0
	if lost > 0 {
		if starved {
			t.Logf("%s: %d leases lost while this process overslept by up to %s (loaded machine): not judged", what, lost, late.Round(time.Millisecond))
		} else {
			t.Errorf("%s: %d leases lost (process oversleep at most %s)", what, lost, late.Round(time.Millisecond))
		}
	}
	if rep.duplicates > 0 {
		if excused {
			t.Logf("%s: %d segments repeated after lost leases (same names, same bytes)", what, rep.duplicates)
		} else {
			t.Errorf("%s: %d segments pushed twice:\n%s", what, rep.duplicates, strings.Join(rep.detail[:min(len(rep.detail), 40)], "\n"))
		}
	}
}
