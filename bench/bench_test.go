package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
)

func TestMarkerRoundTrip(t *testing.T) {
	m := marker{Channel: 999, Rendition: 3, Seq: 1<<40 + 7, Listed: time.Now().UnixNano(), Size: 250040}
	p := make([]byte, tsPacket)
	m.encode(p)
	if p[0] != tsSync {
		t.Fatalf("sync byte %x", p[0])
	}
	got, ok := decodeMarker(p)
	if !ok || got != m {
		t.Fatalf("decode = %+v, %v; want %+v", got, ok, m)
	}
	if _, ok := decodeMarker(segmentBody(2 * tsPacket)); ok {
		t.Fatal("plain null packet decoded as marker")
	}
}

func TestSegmentSize(t *testing.T) {
	for _, tc := range []struct {
		bitrate int64
		d       time.Duration
		want    int
	}{
		{1_000_000, 2 * time.Second, 1330 * tsPacket}, // 250000 bytes -> 1330 packets
		{1, time.Second, 2 * tsPacket},
	} {
		if got := segmentSize(tc.bitrate, tc.d); got != tc.want || got%tsPacket != 0 {
			t.Errorf("segmentSize(%d, %s) = %d, want %d", tc.bitrate, tc.d, got, tc.want)
		}
	}
	b := segmentBody(3 * tsPacket)
	for i := 0; i < 3; i++ {
		if b[i*tsPacket] != tsSync {
			t.Fatalf("packet %d lacks sync byte", i)
		}
	}
}

func TestParseBitrate(t *testing.T) {
	for in, want := range map[string]int64{"1M": 1_000_000, "800k": 800_000, "2.5M": 2_500_000, "64000": 64000} {
		if got, err := parseBitrate(in); err != nil || got != want {
			t.Errorf("parseBitrate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseBitrate("fast"); err == nil {
		t.Error("parseBitrate(fast) succeeded")
	}
}

func testSchedule() schedule {
	return schedule{Epoch: time.Unix(1_700_000_000, 0), Channels: 4, Renditions: 2, Segment: 2 * time.Second,
		Window: 5, Bitrate: 100_000, Stagger: true}
}

func TestScheduleConsistent(t *testing.T) {
	s := testSchedule()
	for c := 0; c < s.Channels; c++ {
		if _, ok := s.latest(c, s.Epoch.Add(s.phase(c)-time.Nanosecond)); ok {
			t.Fatalf("channel %d live before its phase", c)
		}
		for k := uint64(s.Window - 1); k < 20; k++ {
			at := s.listed(c, k)
			if got, ok := s.latest(c, at); !ok || got != k {
				t.Fatalf("latest(c=%d, listed(%d)) = %d, %v", c, k, got, ok)
			}
			if got, ok := s.latest(c, at.Add(-time.Nanosecond)); k >= uint64(s.Window) && (!ok || got != k-1) {
				t.Fatalf("latest just before listed(%d) = %d", k, got)
			}
		}
	}
	if s.phase(1) != 500*time.Millisecond {
		t.Fatalf("phase(1) = %s", s.phase(1))
	}
}

func TestExpectedSegments(t *testing.T) {
	s := testSchedule()
	from := s.Epoch.Add(10 * time.Second)
	exp := expectedSegments(s, from, from.Add(20*time.Second))
	// 20 s of 2 s segments: 10 per channel and rendition.
	if want := 10 * s.Channels * s.Renditions; len(exp) != want {
		t.Fatalf("expected %d segments, want %d", len(exp), want)
	}
	for k, l := range exp {
		at := time.Unix(0, l)
		if at.Before(from) || !at.Before(from.Add(20*time.Second)) || !s.listed(int(k.C), k.Seq).Equal(at) {
			t.Fatalf("segment %+v listed at %s outside window", k, at)
		}
	}
}

func TestSourcePlaylists(t *testing.T) {
	s := testSchedule()
	src := newSource(s)
	src.now = func() time.Time { return s.Epoch.Add(7 * time.Second) }
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		src.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/live/0/master.m3u8"); code != 200 || strings.Count(body, "#EXT-X-STREAM-INF") != s.Renditions {
		t.Fatalf("master: %d\n%s", code, body)
	}
	// Channel 0 at epoch+7s: latest = 3+4 = 7, window 3..7.
	code, body := get("/live/0/1.m3u8")
	if code != 200 || !strings.Contains(body, "#EXT-X-MEDIA-SEQUENCE:3\n") || !strings.HasSuffix(body, "1_7.ts\n") || strings.Count(body, "#EXTINF") != 5 {
		t.Fatalf("media: %d\n%s", code, body)
	}
	if code, _ := get("/live/0/1_8.ts"); code != 404 {
		t.Fatalf("future segment: %d", code)
	}
	code, body = get("/live/0/1_7.ts")
	m, ok := decodeMarker([]byte(body))
	if code != 200 || len(body) != s.segSize() || !ok || m.Seq != 7 || m.Rendition != 1 || m.Listed != s.listed(0, 7).UnixNano() {
		t.Fatalf("segment: %d len %d marker %+v %v", code, len(body), m, ok)
	}
	if code, _ := get("/live/9/master.m3u8"); code != 404 {
		t.Fatalf("unknown channel: %d", code)
	}
}

func TestSinkDigestAndRecords(t *testing.T) {
	for _, mode := range []string{authStrict, authLenient} {
		t.Run(mode, func(t *testing.T) {
			sk, err := newSink(mode, "u", "p", "r")
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(sk)
			defer srv.Close()
			cl := &http.Client{Transport: &digest.Transport{Username: "u", Password: "p"}}
			seg := segmentBody(3 * tsPacket)
			marker{Channel: 2, Rendition: 1, Seq: 42, Listed: 1, Size: uint32(len(seg))}.encode(seg)
			put := func(path string, body []byte) int {
				req, _ := http.NewRequest(http.MethodPut, srv.URL+path, bytes.NewReader(body))
				resp, err := cl.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			for _, p := range []string{"/in/v2/ch2/a/channel_1_42.ts", "/in/v2/ch2/a/channel_1_42.ts", "/in/v2/ch2/a/channel_1.m3u8"} {
				body := seg
				if strings.HasSuffix(p, ".m3u8") {
					body = []byte("#EXTM3U\n")
				}
				if code := put(p, body); code != http.StatusCreated {
					t.Fatalf("PUT %s: %d", p, code)
				}
			}
			st := sk.stats()
			if st.SegmentPuts != 2 || st.PlaylistPuts != 1 || st.DuplicateSegment != 1 || st.DuplicatePath != 1 || st.Segments != 1 || st.BadSize != 0 || st.Misrouted != 0 {
				t.Fatalf("stats %+v", st)
			}
			recs := sk.records()
			if len(recs) != 1 || recs[0].Seq != 42 || recs[0].Count != 2 {
				t.Fatalf("records %+v", recs)
			}
			// Wrong password is refused.
			bad := &http.Client{Transport: &digest.Transport{Username: "u", Password: "x"}}
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/in/v2/ch2/a/x.ts", bytes.NewReader(seg))
			resp, err := bad.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", resp.StatusCode)
			}
			// Stats are JSON.
			rec := httptest.NewRecorder()
			sk.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats", nil))
			var js sinkStats
			if err := json.Unmarshal(rec.Body.Bytes(), &js); err != nil || js.Auth != mode {
				t.Fatalf("stats json: %v %s", err, rec.Body)
			}
		})
	}
}

func TestComputeResult(t *testing.T) {
	s := testSchedule()
	from := s.Epoch.Add(10 * time.Second)
	to := from.Add(20 * time.Second)
	exp := expectedSegments(s, from, to)
	var recs []segRecord
	i := 0
	for k, l := range exp {
		i++
		if i == 1 {
			continue // one lost
		}
		recs = append(recs, segRecord{C: k.C, R: k.R, Seq: k.Seq, Listed: l, Done: l + int64(100*time.Millisecond), Count: 1})
	}
	recs = append(recs, segRecord{C: 0, R: 0, Seq: 0, Listed: 0, Done: 1, Count: 1}) // backfill
	res := runResult{IdleRSSMiB: 10}
	cfg := runConfig{Channels: s.Channels, Segment: s.Segment, Duration: 20 * time.Second, BreakP99: s.Segment}
	atStart := procSample{At: from, CPU: time.Second}
	atEnd := procSample{At: to, CPU: 3 * time.Second}
	all := []procSample{{At: from, RSS: 20 * mib}, {At: to.Add(-time.Second), RSS: 14 * mib}, {At: to, RSS: 14 * mib}}
	computeResult(&res, cfg, s, all, atStart, atEnd, from, to, exp, recs)
	if res.Expected != len(exp) || res.Lost != 1 || res.Delivered != len(exp)-1 || res.Extra != 1 {
		t.Fatalf("delivery %+v", res)
	}
	if res.Latency.P50 != 100 || res.Latency.P99 != 100 {
		t.Fatalf("latency %+v", res.Latency)
	}
	// 2 CPU s over 20 s for 4 channels: 2 / (4*20/3600) = 90 s per channel-hour.
	if res.CPUSeconds != 2 || res.CPUPerChannelHour != 90 {
		t.Fatalf("cpu %v %v", res.CPUSeconds, res.CPUPerChannelHour)
	}
	if res.PeakRSSMiB != 20 || res.SteadyRSSMiB != 14 || res.SteadyRSSPerChannelMiB != 1 {
		t.Fatalf("rss %+v", res)
	}
	if !res.Broken == (res.LossPct > 1) {
		t.Fatalf("broken=%v loss=%v", res.Broken, res.LossPct)
	}
}

func TestParseProc(t *testing.T) {
	stat := []byte("1234 (my (odd) proc) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 8 0 100 0 0")
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 3*time.Second {
		t.Fatalf("cpu = %s, %v", cpu, err)
	}
	rss, hwm, anon, file := parseStatusMem([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t  256 kB\nRssFile:\t  768 kB\nRssShmem:\t  0 kB\n"))
	if rss != 1024*1024 || hwm != 2048*1024 || anon != 256*1024 || file != 768*1024 {
		t.Fatalf("rss %d hwm %d anon %d file %d", rss, hwm, anon, file)
	}
}

func TestSampleTimes(t *testing.T) {
	t0 := time.Unix(0, 0)
	ts := sampleTimes(t0, t0.Add(2500*time.Millisecond), t0.Add(5*time.Second), time.Second)
	var found int
	for i, x := range ts {
		if i > 0 && !x.After(ts[i-1]) {
			t.Fatalf("not increasing: %v", ts)
		}
		if x.Equal(t0.Add(2500*time.Millisecond)) || x.Equal(t0.Add(5*time.Second)) {
			found++
		}
	}
	if found != 2 || !ts[len(ts)-1].Equal(t0.Add(5*time.Second)) {
		t.Fatalf("sample times %v", ts)
	}
}

func TestParseCPUTimes(t *testing.T) {
	a, err := parseCPUTimes([]byte("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n"))
	if err != nil || a.busy != 150 || a.total != 1000 {
		t.Fatalf("%+v %v", a, err)
	}
	b := cpuTimes{busy: 650, total: 2000}
	if got := busyCores(a, b, 2); got != 1 {
		t.Fatalf("busyCores = %v", got)
	}
}

func TestReferenceLauncherSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	if out, err := exec.Command(node, "--check", "reference/launcher.js").CombinedOutput(); err != nil {
		t.Fatalf("node --check reference/launcher.js: %v\n%s", err, out)
	}
}
