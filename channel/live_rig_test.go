package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// withLivePoll makes the engine poll live sources every d (tests with an
// injected clock poll often, so each clock step is seen at once).
func withLivePoll(d time.Duration) Option { return func(o *options) { o.livePoll = d } }

// liveRig is the bundled channel "1" (with a schedule) and a live HLS
// source made of the committed test media (1 s segments, a different
// ladder), both on one clock, both on loopback. The source answers 503
// while fail is set.
type liveRig struct {
	t      *testing.T
	c      *clock // nil: the wall clock
	src    *livesource.Source
	fail   atomic.Bool
	failP  atomic.Value // a path (string) that answers 503
	srcURL string       // with user information, which must never show
	e      *Engine
	srv    *httptest.Server
	opts   []Option  // e's options
	others []*Engine // more engines on the same schedule directory (addEngine)
	cfg    config.Config
	mu     sync.Mutex                    // guards seen and last
	seen   map[string]map[int64]*seenSeg // by playlist name, by media sequence number
	last   map[string]int64              // by playlist name: the last media sequence
}

// seenSeg is a segment of a channel playlist as first seen.
type seenSeg struct {
	uri        string
	pdt        time.Time
	dur        float64
	disc       bool
	cc         int64 // discontinuity sequence number of the segment
	dateRanges map[string]*hls.DateRange
}

const liveSecret = "s3cret-pw"

func newLiveRig(t *testing.T, c *clock, extra ...Option) *liveRig {
	t.Helper()
	return newLiveRigWith(t, c, DefaultConfig(), testmedia.TS, extra...)
}

// newLiveRigWith is newLiveRig with another config (its channel "1") and
// a live source of another flavour of the test media.
func newLiveRigWith(t *testing.T, c *clock, cfg config.Config, flavour string, extra ...Option) *liveRig {
	t.Helper()
	set, err := testmedia.Load(flavour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now
	if c != nil {
		now = c.Now
	}
	r := &liveRig{t: t, c: c, cfg: cfg, seen: map[string]map[int64]*seenSeg{}, last: map[string]int64{}}
	r.src = livesource.New(livesource.Config{Set: set, Clock: now, WithPDT: true, Window: 6})
	srcSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p, _ := r.failP.Load().(string); r.fail.Load() || p == req.URL.Path {
			http.Error(w, "source down", http.StatusServiceUnavailable)
			return
		}
		r.src.ServeHTTP(w, req)
	}))
	t.Cleanup(srcSrv.Close)
	u, err := url.Parse(srcSrv.URL + livesource.MasterPath)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("operator", liveSecret)
	r.srcURL = u.String()

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	opts := []Option{WithClock(now), WithFS(EmbeddedFS()), WithLogger(quietLogger()), WithScheduleDir(t.TempDir()), WithContext(ctx)}
	r.opts = append(opts, extra...)
	e, err := New(r.cfg, r.opts...)
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", e.ScheduleHandler(testToken))
	mux.Handle("GET /status", e.OpsHandler())
	mux.Handle("/", endlist(e.Handler()))
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

// addEngine starts another engine like the rig's on the same schedule
// directory and clock, and serves its channels.
func (r *liveRig) addEngine() *httptest.Server {
	e, err := New(r.cfg, r.opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.others = append(r.others, e)
	srv := httptest.NewServer(e.Handler())
	r.t.Cleanup(srv.Close)
	return srv
}

// step moves the clock on by d and waits until every running poller of
// the channel has polled the source at the new time.
func (r *liveRig) step(d time.Duration) {
	r.t.Helper()
	r.c.Add(d)
	now := r.c.Now()
	var feeds []*liveFeed
	for _, e := range append([]*Engine{r.e}, r.others...) {
		ch := e.staticChannel("1")
		_ = e.refreshSchedule(ch)
		ch.resolve(ch.tl.Load(), now)
		ch.feedMu.Lock()
		for _, f := range ch.feeds {
			feeds = append(feeds, f)
		}
		ch.feedMu.Unlock()
	}
	for _, f := range feeds {
		testutil.Eventually(r.t, 10*time.Second, func() bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			return !f.running || !f.polled.Before(now)
		}, "live source not polled at %s", now)
	}
}

// fetch gets a media playlist of channel "1" over HTTP and records its
// segments: the media sequence never goes back and a segment, once
// listed, keeps its URI, date and duration.
func (r *liveRig) fetch(name string) *hls.Media {
	r.t.Helper()
	status, _, b := get(r.t, r.srv.URL+"/channels/1/"+name)
	if status != 200 {
		r.t.Fatalf("%s: %d %s", name, status, b)
	}
	m, err := r.record(name, b)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

// record checks and records media playlist name as fetch does (see
// fetch), returning what is wrong with it.
func (r *liveRig) record(name string, b []byte) (*hls.Media, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	body := string(b)
	m, err := hls.ParseMedia([]byte(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", name, err, body)
	}
	if last, ok := r.last[name]; ok && m.MediaSequence < last {
		return nil, fmt.Errorf("%s: media sequence went back from %d to %d", name, last, m.MediaSequence)
	}
	r.last[name] = m.MediaSequence
	seen := r.seen[name]
	if seen == nil {
		seen = map[int64]*seenSeg{}
		r.seen[name] = seen
	}
	cc := m.DiscontinuitySequence
	for i, s := range m.Segments {
		seq := m.MediaSequence + int64(i)
		if s.Discontinuity {
			cc++ // as players count: the tag of the first segment counts too
		}
		old := seen[seq]
		if old == nil {
			old = &seenSeg{uri: s.URI, pdt: s.ProgramDateTime, dur: s.Duration, disc: s.Discontinuity, cc: cc, dateRanges: map[string]*hls.DateRange{}}
			seen[seq] = old
		}
		if old.uri != s.URI || !old.pdt.Equal(s.ProgramDateTime) || old.dur != s.Duration {
			return nil, fmt.Errorf("%s: segment %d changed from %s %s %.3f to %s %s %.3f", name, seq, old.uri, old.pdt, old.dur, s.URI, s.ProgramDateTime, s.Duration)
		}
		if s.Duration < minSpan.Seconds() {
			return nil, fmt.Errorf("%s: segment %d (%s) lasts %.3f s: a sliver", name, seq, s.URI, s.Duration)
		}
		if old.cc != cc {
			return nil, fmt.Errorf("%s: segment %d (%s): discontinuity sequence changed from %d to %d", name, seq, s.URI, old.cc, cc)
		}
		if i > 0 && old.disc != s.Discontinuity {
			return nil, fmt.Errorf("%s: segment %d: discontinuity changed", name, seq)
		}
		for _, dr := range s.DateRanges {
			old.dateRanges[dr.ID] = dr
		}
	}
	return m, nil
}

// checkDiscontinuities fails unless the segments of the recorded
// playlists a and b that start at the same time after a discontinuity have
// the same discontinuity sequence number (RFC 8216, 6.2.4: players match
// renditions by it).
func (r *liveRig) checkDiscontinuities(a, b string) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	at := map[int64]*seenSeg{}
	for _, s := range r.seen[a] {
		if s.disc {
			at[s.pdt.UnixMilli()] = s
		}
	}
	for _, s := range r.seen[b] {
		if o := at[s.pdt.UnixMilli()]; o != nil && s.disc && o.cc != s.cc {
			r.t.Errorf("discontinuity at %s: %s %s has sequence number %d, %s %s has %d", s.pdt.Format("15:04:05.000"), a, o.uri, o.cc, b, s.uri, s.cc)
		}
	}
}

// dump lists the last n segments recorded of playlist name, one a line:
// media sequence number, discontinuity sequence number, date, URI.
func (r *liveRig) dump(name string, n int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var seqs []int64
	for seq := range r.seen[name] {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var b strings.Builder
	for _, seq := range seqs[max(len(seqs)-n, 0):] {
		s := r.seen[name][seq]
		mark := ""
		if s.disc {
			mark = " DISCONTINUITY"
		}
		fmt.Fprintf(&b, "%d cc%d %s %.3f %s%s\n", seq, s.cc, s.pdt.Format("15:04:05.000"), s.dur, s.uri, mark)
	}
	return b.String()
}

// run is a stretch of a recorded playlist from one kind of source.
type run struct {
	kind  string // "vod", "live" or "slate"
	start time.Time
	seq   int64
	first *seenSeg
}

func segKind(uri string) string {
	switch {
	case strings.HasPrefix(uri, "seg/"+liveAssetPrefix):
		return "live"
	case strings.HasPrefix(uri, "seg/_slate"):
		return "slate"
	}
	return "vod"
}

// runs checks the recorded segments of a playlist (no gap in the media
// sequence, each date where the previous segment ends, or at a
// discontinuity less than minSpan after it, a discontinuity
// wherever the kind of source changes) and returns its runs.
func (r *liveRig) runs(name string) []run {
	r.t.Helper()
	seen := r.seen[name]
	var seqs []int64
	for seq := range seen {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var out []run
	for i, seq := range seqs {
		s := seen[seq]
		if i > 0 {
			prev := seen[seqs[i-1]]
			if seq != seqs[i-1]+1 {
				r.t.Fatalf("%s: media sequence jumps from %d to %d", name, seqs[i-1], seq)
			}
			want := prev.pdt.Add(durationOf(prev.dur))
			late := 2 * time.Millisecond
			if s.disc {
				late = minSpan // a sliver left out (piece.holds)
			}
			if d := s.pdt.Sub(want); d > late || d < -2*time.Millisecond {
				r.t.Errorf("%s: segment %d starts at %s, the previous one ends at %s", name, seq, s.pdt.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
			}
		}
		k := segKind(s.uri)
		if len(out) == 0 || out[len(out)-1].kind != k {
			if len(out) > 0 && !s.disc {
				r.t.Errorf("%s: no EXT-X-DISCONTINUITY where %s follows %s (segment %d)", name, k, out[len(out)-1].kind, seq)
			}
			out = append(out, run{kind: k, start: s.pdt, seq: seq, first: s})
		}
	}
	return out
}

// liveSource returns the source resource behind a live segment URI.
func (r *liveRig) liveSource(uri string) string {
	r.t.Helper()
	var id string
	var i int
	if _, err := fmt.Sscanf(strings.ReplaceAll(strings.TrimPrefix(uri, "seg/"), "/", " "), "%s %d", &id, &i); err != nil {
		r.t.Fatalf("live uri %q: %v", uri, err)
	}
	l, ok := r.e.staticChannel("1").liveResource(id, i)
	if !ok {
		r.t.Fatalf("live uri %q names no resource", uri)
	}
	return l.Name
}

func (r *liveRig) status() ChannelStatus {
	r.t.Helper()
	status, _, b := get(r.t, r.srv.URL+"/status")
	body := string(b)
	if strings.Contains(body, liveSecret) {
		r.t.Fatalf("/status shows the source's password: %s", body)
	}
	var st struct{ Channels []ChannelStatus }
	if err := json.Unmarshal([]byte(body), &st); status != 200 || err != nil || len(st.Channels) != 1 {
		r.t.Fatalf("/status: %d %v %s", status, err, body)
	}
	return st.Channels[0]
}

func kinds(rs []run) string {
	var ks []string
	for _, r := range rs {
		ks = append(ks, r.kind+"@"+r.start.UTC().Format("15:04:05.000"))
	}
	return strings.Join(ks, " ")
}
