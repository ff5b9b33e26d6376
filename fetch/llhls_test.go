package fetch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/llsource"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/output"
)

// events orders what the LL-HLS producer served and what the sink received
// on one counter, so the test asserts on order, not on wall-clock time.
type events struct{ n atomic.Int64 }

func (e *events) next() int64 { return e.n.Add(1) }

// llRecord is one upload a recording target received.
type llRecord struct {
	ev   int64
	at   time.Time
	name string
	sha  string
	data []byte
}

// llOutput is an output with two recording targets: one that accepts parts
// and one that does not.
type llOutput struct {
	targets []output.Target
	deletes bool
}

// DeletesExpired tells the fetcher to delete what left the window.
func (o *llOutput) DeletesExpired() bool { return o.deletes }

func (o *llOutput) Stem() string             { return "channel" }
func (o *llOutput) Targets() []output.Target { return o.targets }
func (o *llOutput) Close() error             { return nil }
func (o *llOutput) target(i int) *llTarget   { return o.targets[i].(*llTarget) }
func (t *llTarget) Delete(_ context.Context, name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.files, name)
	t.deleted = append(t.deleted, name)
	return nil
}

type llTarget struct {
	name  string
	parts bool
	ev    *events

	mu      sync.Mutex
	puts    []llRecord
	files   map[string][]byte
	deleted []string
}

func (t *llTarget) Name() string       { return t.name }
func (t *llTarget) AcceptsParts() bool { return t.parts }

func (t *llTarget) Put(ctx context.Context, f output.File) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.puts = append(t.puts, llRecord{ev: t.ev.next(), at: time.Now(), name: f.Name, sha: hex.EncodeToString(sum[:]), data: data})
	t.files[f.Name] = data
	return nil
}

func (t *llTarget) records() []llRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.puts)
}

func (t *llTarget) file(name string) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.files[name]
	return b, ok
}

// ServeHTTP serves the stored files (for ffmpeg).
func (t *llTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, ok := t.file(path.Base(r.URL.Path))
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

// llProducer wraps the gohlslib muxer's handler: it logs the requests and,
// for every media playlist served, when each part and complete segment was
// first listed; for every file served, the hash of its bytes.
type llProducer struct {
	src http.Handler
	ev  *events

	mu        sync.Mutex
	requests  []string
	partSeen  map[string]time.Time // part URI -> first listed
	completed map[string]int64     // segment URI -> event when first listed complete
	hashURI   map[string]string    // sha256 of served bytes -> URI
}

func (p *llProducer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests = append(p.requests, r.URL.RequestURI())
	p.mu.Unlock()
	rec := httptest.NewRecorder()
	p.src.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	now := time.Now()
	p.mu.Lock()
	if rec.Code == http.StatusOK {
		if strings.HasSuffix(r.URL.Path, ".m3u8") {
			if m, err := hls.ParseMedia(body); err == nil && m.TargetDuration > 0 {
				ev := p.ev.next()
				for _, s := range m.Segments {
					if _, ok := p.completed[s.URI]; !ok && !s.Gap {
						p.completed[s.URI] = ev
					}
					for _, pt := range s.Parts {
						if _, ok := p.partSeen[pt.URI]; !ok {
							p.partSeen[pt.URI] = now
						}
					}
				}
				for _, pt := range m.Parts {
					if _, ok := p.partSeen[pt.URI]; !ok {
						p.partSeen[pt.URI] = now
					}
				}
			}
		} else {
			sum := sha256.Sum256(body)
			p.hashURI[hex.EncodeToString(sum[:])] = path.Base(r.URL.Path)
		}
	}
	p.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(body)
}

// TestLowLatencySource relays a live Low-Latency HLS source made by an
// independent muxer (gohlslib, fMP4 parts of 200 ms) fed the committed test
// programme in real time. The relay must use blocking reloads, push each
// part to the target that accepts parts before the segment it belongs to
// (and a playlist listing it), give the other target whole segments only,
// and lose no frame.
func TestLowLatencySource(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	ev := &events{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src, err := llsource.Start(ctx, llsource.Options{Loops: 1, OnError: func(err error) { t.Logf("muxer: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	prod := &llProducer{src: src, ev: ev, partSeen: map[string]time.Time{}, completed: map[string]int64{}, hashURI: map[string]string{}}
	srv := httptest.NewServer(prod)
	defer srv.Close()
	defer src.Close() // before srv.Close: releases blocked playlist requests

	out := &llOutput{targets: []output.Target{
		&llTarget{name: "parts", parts: true, ev: ev, files: map[string][]byte{}},
		&llTarget{name: "plain", ev: ev, files: map[string][]byte{}},
	}}
	var logs testutil.LockedBuffer
	defer func() {
		if t.Failed() {
			t.Logf("fetcher log:\n%s", logs.String())
		}
	}()
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f, err := fetch.New(fetch.Config{ID: "ll", URL: srv.URL + "/index.m3u8", Output: out, Logger: log, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- f.Run(ctx) }()

	select {
	case err := <-src.Done():
		if err != nil {
			t.Fatalf("feeding the muxer: %v", err)
		}
	case err := <-runDone:
		t.Fatalf("fetcher ended while the source was live: %v", err)
	}

	// The complete segments of each source rendition, once the feed ended.
	srcVariant := func(name string) (*hls.Media, *url.URL) {
		u, _ := url.Parse(srv.URL + "/" + name)
		resp, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m, err := hls.ParseMedia(b)
		if err != nil {
			t.Fatalf("source %s: %v\n%s", name, err, b)
		}
		return m, u
	}
	// Relayed rendition name -> source media playlist.
	srcNames := map[string]string{"video1-stream": "video1_stream.m3u8", "audio2-stream": "audio2_stream.m3u8"}
	srcMedia := map[string]*hls.Media{}
	srcBase := map[string]*url.URL{}
	for r, p := range srcNames {
		srcMedia[r], srcBase[r] = srcVariant(p)
	}
	complete := func(m *hls.Media) []*hls.Segment {
		var out []*hls.Segment
		for _, s := range m.Segments {
			if !s.Gap {
				out = append(out, s)
			}
		}
		return out
	}
	parts, plain := out.target(0), out.target(1)
	// relayed counts the non-gap segments of the media playlist pushed last.
	relayed := func(tg *llTarget, rend string) int {
		b, ok := tg.file("channel_" + rend + ".m3u8")
		if !ok {
			return 0
		}
		m, err := hls.ParseMedia(b)
		if err != nil {
			t.Fatalf("pushed playlist: %v\n%s", err, b)
		}
		return len(complete(m))
	}
	testutil.Eventually(t, 30*time.Second, func() bool {
		for r, m := range srcMedia {
			want := len(complete(m))
			if relayed(parts, r) < want || relayed(plain, r) < want {
				return false
			}
		}
		return true
	}, "every complete source segment relayed to both targets")

	prod.mu.Lock()
	var blocking int
	for _, q := range prod.requests {
		if strings.Contains(q, "_HLS_msn=") && strings.Contains(q, "_HLS_part=") {
			blocking++
		}
	}
	requests := len(prod.requests)
	prod.mu.Unlock()
	if blocking == 0 {
		t.Errorf("no blocking playlist reload among %d requests", requests)
	}

	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}

	for rend := range srcNames {
		checkLLRendition(t, prod, parts, plain, rend, srcMedia[rend], srcBase[rend])
	}
}

// checkLLRendition checks one rendition on both targets: order of parts,
// segments and playlists on the parts target, nothing of LL-HLS on the
// other, and the same decoded frames as the source.
func checkLLRendition(t *testing.T, prod *llProducer, parts, plain *llTarget, rend string, src *hls.Media, base *url.URL) {
	t.Helper()
	prefix := "channel_" + rend + "_"
	plName := prefix[:len(prefix)-1] + ".m3u8"

	// On the parts target: every part of segment S before S; some pushed
	// playlist lists S's parts as those of the segment in progress before
	// S is pushed; some part was pushed before the source listed its
	// segment complete.
	recs := parts.records()
	firstPart := map[string]int64{} // seq -> event of its first part
	segEv := map[string]int64{}     // seq -> event of the segment
	segSHA := map[string]string{}
	trailingListed := map[string]int64{} // seq -> first playlist event listing its parts as trailing
	var partRecs []llRecord
	for _, rec := range recs {
		rest, ok := strings.CutPrefix(rec.name, prefix)
		if !ok {
			if rec.name == plName {
				m, err := hls.ParseMedia(rec.data)
				if err != nil {
					t.Fatalf("pushed %s: %v", rec.name, err)
				}
				for _, p := range m.Parts {
					seq, _, _ := strings.Cut(strings.TrimPrefix(p.URI, prefix), "_")
					if _, ok := trailingListed[seq]; !ok {
						trailingListed[seq] = rec.ev
					}
					if _, ok := parts.file(p.URI); !ok {
						t.Errorf("%s lists part %s that was not pushed", plName, p.URI)
					}
				}
				if m.PartInf == nil || m.ServerControl == nil || m.ServerControl.PartHoldBack < 2*m.PartInf.PartTarget || m.ServerControl.CanBlockReload {
					t.Errorf("%s: LL-HLS header %+v %+v", plName, m.PartInf, m.ServerControl)
				}
			}
			continue
		}
		if strings.Contains(rest, "init") {
			continue
		}
		if seq, _, ok := strings.Cut(rest, "_part"); ok {
			if _, seen := firstPart[seq]; !seen {
				firstPart[seq] = rec.ev
			}
			partRecs = append(partRecs, rec)
			continue
		}
		seq := strings.TrimSuffix(rest, ".mp4")
		segEv[seq], segSHA[seq] = rec.ev, rec.sha
	}
	withParts, beforeComplete := 0, 0
	prod.mu.Lock()
	for seq, pe := range firstPart {
		se, ok := segEv[seq]
		if !ok {
			continue // the segment in progress when the feed ended
		}
		withParts++
		if pe > se {
			t.Errorf("%s: part of segment %s pushed after the segment", rend, seq)
		}
		if le, ok := trailingListed[seq]; !ok || le > se {
			t.Errorf("%s: no playlist listed the parts of segment %s before it was pushed", rend, seq)
		}
		if ce, ok := prod.completed[prod.hashURI[segSHA[seq]]]; ok && pe < ce {
			beforeComplete++
		}
	}
	var delays []time.Duration
	for _, rec := range partRecs {
		if seen, ok := prod.partSeen[prod.hashURI[rec.sha]]; ok {
			delays = append(delays, rec.at.Sub(seen))
		}
	}
	prod.mu.Unlock()
	if withParts < 3 {
		t.Errorf("%s: only %d segments had parts pushed before them", rend, withParts)
	}
	if beforeComplete == 0 {
		t.Errorf("%s: no part pushed before the source completed its segment", rend)
	}
	slices.Sort(delays)
	if len(delays) > 0 {
		t.Logf("%s: %d parts; %d of %d segments had a part pushed before the source completed them; part listed at the source to PUT at the sink: median %v, max %v",
			rend, len(delays), beforeComplete, withParts, delays[len(delays)/2].Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond))
	}

	// The plain target: no part, no LL-HLS tag.
	for _, rec := range plain.records() {
		if strings.Contains(rec.name, "_part") {
			t.Errorf("plain target got part %s", rec.name)
		}
		if rec.name == plName && bytes.Contains(rec.data, []byte("#EXT-X-PART")) {
			t.Errorf("plain target's playlist has LL-HLS tags:\n%s", rec.data)
		}
	}

	// Frames: the complete source segments against each target's copy.
	srcList := vodList(t, src, base)
	want, _ := testutil.DecodeFrames(t, dataURL(t, srcList))
	for _, tg := range []*llTarget{parts, plain} {
		b, ok := tg.file(plName)
		if !ok {
			t.Fatalf("%s: no %s", tg.name, plName)
		}
		m, err := hls.ParseMedia(b)
		if err != nil {
			t.Fatal(err)
		}
		fsrv := httptest.NewServer(tg)
		u, _ := url.Parse(fsrv.URL + "/")
		list := vodList(t, m, u)
		got, stderr := testutil.DecodeFrames(t, dataURL(t, list))
		fsrv.Close()
		t.Logf("%s %s: %d frames decoded, the source has %d", tg.name, rend, len(got), len(want))
		if tg == parts && testing.Verbose() {
			for _, rec := range slices.Backward(tg.records()) {
				if rec.name == plName && bytes.Contains(rec.data, []byte("#EXT-X-PART:")) {
					t.Logf("a playlist pushed to %s:\n%s", tg.name, rec.data)
					break
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: %d frames decoded, the source's complete segments have %d (or they differ)\n%s", tg.name, rend, len(got), len(want), stderr)
		}
		if e := testutil.DecoderErrors(stderr); e != "" {
			t.Errorf("%s %s: decoder errors: %s", tg.name, rend, e)
		}
	}
}

// vodList is llsource.VODList, failing t on error.
func vodList(t *testing.T, m *hls.Media, base *url.URL) []byte {
	t.Helper()
	b, err := llsource.VODList(m, base)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dataURL(t *testing.T, pl []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(pl) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/vod.m3u8"
}

// scriptedLL is a Low-Latency HLS source with two renditions, a and b,
// that publishes one part of 0.5 s per step (two per segment) and reports
// on the other rendition. It claims CAN-BLOCK-RELOAD=YES but answers at
// once, whatever the delivery directives ask for.
//
// With blocks set it holds a playlist request with delivery directives
// until the part asked for is published.
type scriptedLL struct {
	blocks bool

	mu       sync.Mutex
	msn      int64 // the segment in progress
	parts    int   // its parts published
	changed  chan struct{}
	requests []string
	timeouts int // blocking requests given up by the client
}

func (s *scriptedLL) step() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parts++; s.parts == 2 {
		s.msn, s.parts = s.msn+1, 0
	}
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// hold waits until part (msn, part) is published or the request ends;
// false when it ended. Called with s.mu held; returns with it held.
func (s *scriptedLL) hold(r *http.Request, msn int64, part int) bool {
	for msn > s.msn || msn == s.msn && part >= s.parts {
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-r.Context().Done():
			s.mu.Lock()
			s.timeouts++
			return false
		}
	}
	return true
}

func (s *scriptedLL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.URL.RequestURI())
	if q := r.URL.Query(); s.blocks && q.Get("_HLS_msn") != "" {
		var msn int64
		var part int
		fmt.Sscan(q.Get("_HLS_msn"), &msn)
		fmt.Sscan(q.Get("_HLS_part"), &part)
		if !s.hold(r, msn, part) {
			return
		}
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	switch name {
	case "master.m3u8":
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\na.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=200000\nb.m3u8\n")
		return
	case "a.m3u8", "b.m3u8":
		rend, other := name[:1], "b"
		if rend == "b" {
			other = "a"
		}
		var b strings.Builder
		b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:0\n")
		for m := int64(0); m <= s.msn; m++ {
			n := 2
			if m == s.msn {
				n = s.parts
			}
			for p := range n {
				fmt.Fprintf(&b, "#EXT-X-PART:DURATION=0.5,URI=\"%s_%d_%d.ts\"%s\n", rend, m, p, map[bool]string{true: ",INDEPENDENT=YES"}[p == 0])
			}
			if m < s.msn {
				fmt.Fprintf(&b, "#EXTINF:1.0,\n%s_%d.ts\n", rend, m)
			}
		}
		fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%s_%d_%d.ts\"\n", rend, s.msn, s.parts)
		if s.parts > 0 {
			fmt.Fprintf(&b, "#EXT-X-RENDITION-REPORT:URI=\"%s.m3u8\",LAST-MSN=%d,LAST-PART=%d\n", other, s.msn, s.parts-1)
		} else {
			fmt.Fprintf(&b, "#EXT-X-RENDITION-REPORT:URI=\"%s.m3u8\",LAST-MSN=%d\n", other, s.msn-1)
		}
		fmt.Fprint(w, b.String())
		return
	}
	// Segments and parts: their bytes name them; a part not yet published
	// is not found.
	var rend string
	var m int64
	var p int
	if n, _ := fmt.Sscanf(name, "%1s_%d_%d.ts", &rend, &m, &p); n == 3 {
		if m > s.msn || m == s.msn && p >= s.parts {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "part %s", name)
		return
	}
	if n, _ := fmt.Sscanf(name, "%1s_%d.ts", &rend, &m); n == 2 && m < s.msn {
		fmt.Fprintf(w, "segment %s", name)
		return
	}
	http.NotFound(w, r)
}

// TestLowLatencyNonBlockingSource: a source that claims blocking reloads
// but does not block is polled normally after a few tries; its parts are
// still relayed, and each rendition's pushed playlist reports on the other
// one under its pushed name.
func TestLowLatencyNonBlockingSource(t *testing.T) {
	src := &scriptedLL{}
	srv := httptest.NewServer(src)
	defer srv.Close()
	ev := &events{}
	out := &llOutput{targets: []output.Target{&llTarget{name: "parts", parts: true, ev: ev, files: map[string][]byte{}}}, deletes: true}
	var logs testutil.LockedBuffer
	defer func() {
		if t.Failed() {
			t.Logf("fetcher log:\n%s", logs.String())
		}
	}()
	f, err := fetch.New(fetch.Config{ID: "ll", URL: srv.URL + "/master.m3u8", Output: out, SpoolDir: t.TempDir(), Window: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	tg := out.target(0)
	pushed := func(name string) bool { _, ok := tg.file(name); return ok }
	requests := func(blocking bool) int {
		src.mu.Lock()
		defer src.mu.Unlock()
		n := 0
		for _, q := range src.requests {
			if strings.HasPrefix(q, "/a.m3u8") && strings.Contains(q, "_HLS_msn=") == blocking {
				n++
			}
		}
		return n
	}
	// Segment 0 first: the relay tracks the parts of segments it sees in
	// progress.
	src.step()
	src.step()
	testutil.Eventually(t, 10*time.Second, func() bool { return pushed("channel_a_0.ts") && pushed("channel_b_0.ts") }, "segment 0 relayed")
	for range 6 {
		src.step()
		src.mu.Lock()
		msn, parts := src.msn, src.parts
		src.mu.Unlock()
		want := fmt.Sprintf("channel_a_%d.ts", msn-1)
		if parts > 0 {
			want = fmt.Sprintf("channel_a_%d_part%d.ts", msn, parts-1)
		}
		testutil.Eventually(t, 10*time.Second, func() bool { return pushed(want) }, "%s relayed", want)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `polling normally" rendition=a`)
	}, "the relay gives up blocking reloads of a")
	blocking, plain := requests(true), requests(false)
	if blocking < 3 {
		t.Errorf("%d blocking reloads of a.m3u8 (%d plain) before giving up", blocking, plain)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return requests(false) > plain+1 }, "normal polling goes on")
	if n := requests(true); n != blocking {
		t.Errorf("%d more blocking reloads after giving up", n-blocking)
	}

	// Order: every part of a segment before it; the playlist's report on b.
	recs := tg.records()
	at := map[string]int{}
	for i, r := range recs {
		if _, ok := at[r.name]; !ok {
			at[r.name] = i
		}
	}
	for m := 1; m <= 3; m++ {
		seg, ok := at[fmt.Sprintf("channel_a_%d.ts", m)]
		for p := range 2 {
			pi, pok := at[fmt.Sprintf("channel_a_%d_part%d.ts", m, p)]
			if !ok || !pok || pi > seg {
				t.Errorf("segment %d at %d (%v), its part %d at %d (%v)", m, seg, ok, p, pi, pok)
			}
		}
	}
	b, _ := tg.file("channel_a.m3u8")
	m, err := hls.ParseMedia(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.RenditionReports) != 1 || m.RenditionReports[0].URI != "channel_b.m3u8" || m.RenditionReports[0].LastMSN == nil || *m.RenditionReports[0].LastMSN < 3 {
		t.Errorf("rendition reports %+v in\n%s", m.RenditionReports, b)
	}
	if len(m.PreloadHints) != 0 || m.ServerControl == nil || m.ServerControl.CanBlockReload || m.ServerControl.PartHoldBack != 1.5 {
		t.Errorf("pushed playlist claims what plain storage cannot do:\n%s", b)
	}
	for _, s := range m.Segments {
		for _, p := range s.Parts {
			if !pushed(p.URI) {
				t.Errorf("playlist lists part %s, not pushed", p.URI)
			}
		}
	}
	// A window of two segments: the parts of segment 1 left it with the
	// segment (the segments themselves stay a while longer).
	testutil.Eventually(t, 10*time.Second, func() bool {
		return !pushed("channel_a_1_part0.ts") && !pushed("channel_a_1_part1.ts")
	}, "parts of an expired segment deleted")
	if !pushed("channel_a_1.ts") {
		t.Error("segment 1 deleted with its parts")
	}
}

// TestLowLatencyBlockingStall: a source that blocks and then stalls for
// longer than the blocking reload timeout (three target durations) is
// still reloaded with blocking requests when it resumes: a timeout is not
// taken for a server that does not block.
func TestLowLatencyBlockingStall(t *testing.T) {
	src := &scriptedLL{blocks: true}
	srv := httptest.NewServer(src)
	defer srv.Close()
	out := &llOutput{targets: []output.Target{&llTarget{name: "parts", parts: true, ev: &events{}, files: map[string][]byte{}}}}
	var logs testutil.LockedBuffer
	defer func() {
		if t.Failed() {
			t.Logf("fetcher log:\n%s", logs.String())
		}
	}()
	f, err := fetch.New(fetch.Config{ID: "ll", URL: srv.URL + "/a.m3u8", Output: out, SpoolDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	tg := out.target(0)
	pushed := func(name string) func() bool {
		return func() bool { _, ok := tg.file(name); return ok }
	}
	src.step()
	src.step()
	testutil.Eventually(t, 10*time.Second, pushed("channel_a_0.ts"), "segment 0 relayed")
	src.step()
	testutil.Eventually(t, 10*time.Second, pushed("channel_a_1_part0.ts"), "part 0 of segment 1 relayed")
	// Stall until two blocking reloads timed out.
	testutil.Eventually(t, 20*time.Second, func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.timeouts >= 2
	}, "blocking reloads time out")
	src.step()
	testutil.Eventually(t, 10*time.Second, pushed("channel_a_1.ts"), "segment 1 relayed after the stall")
	src.mu.Lock()
	n := len(src.requests)
	src.mu.Unlock()
	src.step()
	testutil.Eventually(t, 10*time.Second, pushed("channel_a_2_part0.ts"), "part 0 of segment 2 relayed")
	testutil.Eventually(t, 10*time.Second, func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		for _, q := range src.requests[n:] {
			if strings.Contains(q, "_HLS_msn=2&_HLS_part=1") {
				return true
			}
		}
		return false
	}, "a blocking reload for part 1 of segment 2")
	if strings.Contains(logs.String(), "does not block") {
		t.Error("the relay gave up blocking reloads over timeouts")
	}
}
