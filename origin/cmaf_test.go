package origin

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/origin/internal/media"
)

func loadSet(t *testing.T, flavour string) *testmedia.Set {
	t.Helper()
	set, err := testmedia.Load(flavour)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// repackage builds init + media segment of segment n of rendition name.
func repackage(t *testing.T, name string, n int) (init, seg []byte, ti *media.TSInfo) {
	t.Helper()
	set := loadSet(t, testmedia.TS)
	data := set.Rendition(name).Segments[n].Data
	d, err := media.DemuxTS(data)
	if err != nil {
		t.Fatal(err)
	}
	ti = media.ProbeTS(d)
	if ti == nil {
		t.Fatal("no tracks")
	}
	tr := ti.Track(media.PickMain)
	is, err := media.BuildInit(tr)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := media.CMAFSegment(d, tr, int64(n), ti.DTS0, 0, ti.Dur)
	if err != nil {
		t.Fatal(err)
	}
	var ib, sb bytes.Buffer
	if err := is.Encode(&ib); err != nil {
		t.Fatal(err)
	}
	if err := ms.Encode(&sb); err != nil {
		t.Fatal(err)
	}
	return ib.Bytes(), sb.Bytes(), ti
}

func TestRepackageTimingAndSamples(t *testing.T) {
	for _, name := range []string{"video_hi", "audio"} {
		t.Run(name, func(t *testing.T) {
			init, seg, ti := repackage(t, name, 3)
			f, err := mp4.DecodeFile(bytes.NewReader(append(append([]byte{}, init...), seg...)))
			if err != nil {
				t.Fatal(err)
			}
			trak := f.Init.Moov.Trak
			ts := trak.Mdia.Mdhd.Timescale
			frags := f.Segments[0].Fragments
			first := frags[0].Moof.Traf.Tfdt.BaseMediaDecodeTime()
			if want := uint64(ti.DTS0) * uint64(ts) / 90000; first < want-1 || first > want+1 {
				t.Fatalf("tfdt %d, want %d (TS DTS %d in timescale %d)", first, want, ti.DTS0, ts)
			}
			var n int
			var dur uint64
			for _, fr := range frags {
				ss, err := fr.GetFullSamples(f.Init.Moov.Mvex.Trex)
				if err != nil {
					t.Fatal(err)
				}
				if fr.Moof.Traf.Tfdt.BaseMediaDecodeTime() != first+dur {
					t.Fatalf("fragment tfdt not continuous")
				}
				for _, s := range ss {
					dur += uint64(s.Dur)
				}
				n += len(ss)
			}
			if got, want := float64(dur)/float64(ts), float64(ti.Dur)/90000; got < want-0.001 || got > want+0.001 {
				t.Fatalf("duration %.4f, want %.4f", got, want)
			}
			if name == "video_hi" && (n != 25 || trak.Mdia.Minf.Stbl.Stsd.AvcX == nil || trak.Tkhd.Width>>16 != 320) {
				t.Fatalf("video: %d samples, stsd %+v", n, trak.Mdia.Minf.Stbl.Stsd)
			}
			if name == "audio" && (ts != 48000 || n < 46 || n > 48) {
				t.Fatalf("audio: timescale %d, %d samples", ts, n)
			}
		})
	}
}

// The init segment of a rendition is the same for every segment.
func TestInitStableAcrossSegments(t *testing.T) {
	a, _, tia := repackage(t, "video_hi", 0)
	b, _, tib := repackage(t, "video_hi", 5)
	if !bytes.Equal(a, b) || tia.Hash(media.PickMain) != tib.Hash(media.PickMain) {
		t.Fatal("init differs between segments of one stream")
	}
	_, _, lo := repackage(t, "video_lo", 0)
	if lo.Hash(media.PickMain) == tia.Hash(media.PickMain) {
		t.Fatal("different SPS, same init hash")
	}
}

func TestRepackagedSegmentDecodes(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	for _, name := range []string{"video_hi", "audio"} {
		init, seg, _ := repackage(t, name, 2)
		p := filepath.Join(dir, name+".mp4")
		os.WriteFile(p, append(init, seg...), 0o644)
		out, err := exec.Command(ffmpeg, "-v", "error", "-xerror", "-i", p, "-f", "null", "-").CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("%s: ffmpeg: %v\n%s", name, err, out)
		}
		probe := ffprobe(t, "-show_entries", "stream=codec_name", "-of", "csv=p=0", p)
		if want := map[string]string{"video_hi": "h264", "audio": "aac"}[name]; strings.TrimSpace(probe) != want {
			t.Fatalf("%s: codec %q", name, probe)
		}
	}
}

// cmafTimes returns the tfdt (in the track timescale), the total sample
// duration and the timescale of a CMAF init + segment.
func cmafTimes(t *testing.T, init, seg []byte) (tfdt, dur uint64, ts uint32) {
	t.Helper()
	f, err := mp4.DecodeFile(bytes.NewReader(append(append([]byte{}, init...), seg...)))
	if err != nil {
		t.Fatal(err)
	}
	ts = f.Init.Moov.Trak.Mdia.Mdhd.Timescale
	for i, fr := range f.Segments[0].Fragments {
		if i == 0 {
			tfdt = fr.Moof.Traf.Tfdt.BaseMediaDecodeTime()
		}
		ss, err := fr.GetFullSamples(f.Init.Moov.Mvex.Trex)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			dur += uint64(s.Dur)
		}
	}
	return tfdt, dur, ts
}

// TestCMAFTimeline: tfdt is the source's TS timestamp and continues from
// segment to segment; where the source's timestamps restart (the test
// media loops after 8 segments, with no tag in the playlist) the CMAF
// endpoint has a DISCONTINUITY and a new EXT-X-MAP, and its timestamps
// still continue (ffmpeg drops a fragment whose decode times go back),
// while the TS endpoint is unchanged.
func TestCMAFTimeline(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"}, {ID: "cmaf", Packaging: PackagingCMAF}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 14)
	q := vod(l, 0, 12)
	if m := e.media("/out/v1/live/ts/channel_video_hi.m3u8" + q); m.Segments[8].Discontinuity {
		t.Fatal("TS endpoint got a DISCONTINUITY")
	}
	offsets := map[string]int64{} // CMAF minus source timestamp after the restart, 90 kHz
	for _, r := range []string{"channel_video_hi", "channel_audio"} {
		m := e.media("/out/v1/live/cmaf/" + r + ".m3u8" + q)
		if len(m.Segments) != 12 {
			t.Fatalf("%s: %d segments", r, len(m.Segments))
		}
		var init []byte
		var end uint64
		for i, s := range m.Segments {
			if s.Discontinuity != (i == 8) || (s.Map != nil) != (i == 0 || i == 8) {
				t.Fatalf("%s segment %d: DISCONTINUITY %v, MAP %v:\n%s", r, i, s.Discontinuity, s.Map, m.Encode())
			}
			if s.Map != nil {
				_, init = e.get("/out/v1/live/cmaf/" + s.Map.URI)
			}
			_, seg := e.get("/out/v1/live/cmaf/" + s.URI)
			tfdt, dur, ts := cmafTimes(t, init, seg)
			if i > 0 && (tfdt+1 < end || tfdt > end+1) {
				t.Fatalf("%s segment %d: tfdt %d, previous segment ended at %d", r, i, tfdt, end)
			}
			// The source's first timestamp (TS PTS, 90 kHz).
			d, _ := media.DemuxTS(l.segData(l.set.Rendition(strings.TrimPrefix(r, "channel_")), i))
			src := media.ProbeTS(d).DTS0
			if want := uint64(src) * uint64(ts) / 90000; i == 0 && (tfdt+1 < want || tfdt > want+1) {
				t.Fatalf("%s segment %d: tfdt %d, TS timestamp %d", r, i, tfdt, want)
			}
			if i == 8 {
				offsets[r] = int64(tfdt)*90000/int64(ts) - src
			}
			end = tfdt + dur
		}
		if m.DiscontinuitySequence != 0 {
			t.Fatalf("DISCONTINUITY-SEQUENCE %d", m.DiscontinuitySequence)
		}
	}
	// Audio and video move by the same offset, so they stay in sync, and
	// the subtitles' X-TIMESTAMP-MAP moves with them.
	if d := offsets["channel_video_hi"] - offsets["channel_audio"]; d < -2 || d > 2 || offsets["channel_audio"] == 0 {
		t.Fatalf("offsets after the restart: %v", offsets)
	}
	cm, tm := e.media("/out/v1/live/cmaf/channel_subs.m3u8"+q), e.media("/out/v1/live/ts/channel_subs.m3u8"+q)
	for i := range cm.Segments {
		_, c := e.get("/out/v1/live/cmaf/" + cm.Segments[i].URI)
		_, s := e.get("/out/v1/live/ts/" + tm.Segments[i].URI)
		want := s
		if i >= 8 {
			want = media.ShiftTimestampMap(s, offsets["channel_video_hi"])
		}
		if !bytes.Equal(c, want) || (i >= 8) == bytes.Equal(c, s) {
			t.Fatalf("subtitle segment %d on the CMAF endpoint:\n%s\nTS endpoint:\n%s", i, c, s)
		}
	}
	// The live window starts after the discontinuity: the sequence counts it.
	if live := e.media("/out/v1/live/cmaf/channel_video_hi.m3u8"); live.DiscontinuitySequence != 1 {
		t.Fatalf("live DISCONTINUITY-SEQUENCE %d, want 1:\n%s", live.DiscontinuitySequence, live.Encode())
	}
	if live := e.media("/out/v1/live/ts/channel_video_hi.m3u8"); live.DiscontinuitySequence != 0 {
		t.Fatalf("TS live DISCONTINUITY-SEQUENCE %d, want 0", live.DiscontinuitySequence)
	}
}

// TestCMAFCodecChange: when the source switches to a stream with other
// codec parameters (after a DISCONTINUITY), the CMAF endpoint lists a new
// init segment, and both parts decode.
func TestCMAFCodecChange(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "cmaf", Packaging: PackagingCMAF}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	hi, lo := l.set.Rendition("video_hi"), l.set.Rendition("video_lo")
	p := e.pusher("a")
	var segs []*hls.Segment
	for n := 0; n < 6; n++ {
		e.clock.Add(time.Second)
		r := hi
		if n >= 3 {
			r = lo
		}
		name := fmt.Sprintf("channel_v_%d.ts", n)
		p.put(name, r.Segments[n].Data)
		segs = append(segs, &hls.Segment{Duration: 1, URI: name, ProgramDateTime: l.epoch.Add(time.Duration(n) * time.Second), Discontinuity: n == 3})
		p.put("channel_v.m3u8", (&hls.Media{Version: 3, TargetDuration: 1, Segments: segs}).Encode())
	}
	m := e.media("/out/v1/live/cmaf/channel_v.m3u8" + vod(l, 0, 6))
	if m.Segments[3].Map == nil || !m.Segments[3].Discontinuity || m.Segments[3].Map.URI == m.Segments[0].Map.URI {
		t.Fatalf("no new init at the codec change:\n%s", m.Encode())
	}
	// Each part decodes with its init segment. (ffmpeg's HLS demuxer does
	// not reopen fMP4 on an EXT-X-MAP change, so decode the parts apart.)
	for _, w := range [][2]int{{0, 3}, {3, 6}} {
		if frames := frameHashes(t, e.url("/out/v1/live/cmaf/channel_v.m3u8"+vod(l, w[0], w[1])), ""); len(frames) != 75 {
			t.Fatalf("segments %v: %d frames decoded, want 75", w, len(frames))
		}
	}
}

// TestCMAFIFrames: every byte range of a CMAF (and cbcs) I-frame playlist,
// prefixed by its init segment, starts with a keyframe.
func TestCMAFIFrames(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "cmaf", Packaging: PackagingCMAF}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 4)
	base := "/out/v1/live/cmaf/channel_video_hi/"
	m := e.media(base + "iframes.m3u8")
	if !m.IFramesOnly || len(m.Segments) != 4 || m.Segments[0].Map == nil {
		t.Fatalf("I-frame playlist:\n%s", m.Encode())
	}
	dir := t.TempDir()
	var init []byte
	for i, s := range m.Segments {
		if s.Map != nil {
			_, init = e.get(base + s.Map.URI)
		}
		frag := rangeGet(t, e.url(base+s.URI), *s.ByteRange.Offset, s.ByteRange.Length)
		f := filepath.Join(dir, fmt.Sprintf("kf%d.mp4", i))
		os.WriteFile(f, append(append([]byte{}, init...), frag...), 0o644)
		out := strings.TrimSpace(ffprobe(t, "-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type", "-of", "csv=p=0", f))
		if !strings.HasPrefix(out, "1,I") {
			t.Fatalf("entry %d decodes to %q, want a keyframe first", i, out)
		}
	}
}

// TestCMAFMuxedTS: a TS with video and audio in one stream becomes two
// CMAF renditions (video, and {key}.audio in an added audio group), which
// ffprobe finds through the multivariant.
func TestCMAFMuxedTS(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	cmd := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
		"-t", "3", "-c:v", "libx264", "-g", "25", "-bf", "0", "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
		"-hls_segment_filename", filepath.Join(dir, "s%d.ts"), filepath.Join(dir, "p.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"}, {ID: "cmaf", Packaging: PackagingCMAF}}
	})
	epoch := e.clock.Now()
	p := e.pusher("a")
	var segs []*hls.Segment
	for n := 0; n < 3; n++ {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("s%d.ts", n)))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		name := fmt.Sprintf("channel_m_%d.ts", n)
		p.put(name, data)
		segs = append(segs, &hls.Segment{Duration: 1, URI: name, ProgramDateTime: epoch.Add(time.Duration(n) * time.Second)})
		p.put("channel_m.m3u8", (&hls.Media{Version: 3, TargetDuration: 1, Segments: segs}).Encode())
	}
	_, body := e.get("/out/v1/live/cmaf/index.m3u8")
	mv, err := hls.ParseMultivariant(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(mv.Renditions) != 1 || mv.Renditions[0].URI != "channel_m.audio.m3u8" || mv.Variants[0].Audio != mv.Renditions[0].GroupID {
		t.Fatalf("multivariant:\n%s", body)
	}
	_, tsBody := e.get("/out/v1/live/ts/index.m3u8")
	if bytes.Contains(tsBody, []byte("EXT-X-MEDIA")) {
		t.Fatalf("TS endpoint changed:\n%s", tsBody)
	}
	u := e.url("/out/v1/live/cmaf/index.m3u8?start=" + iso(epoch) + "&end=" + iso(epoch.Add(3*time.Second)))
	out := ffprobe(t, "-show_entries", "stream=codec_type,codec_name", "-of", "compact", u)
	for _, want := range []string{"codec_name=h264|codec_type=video", "codec_name=aac|codec_type=audio"} {
		if !strings.Contains(out, want) {
			t.Fatalf("ffprobe lacks %q:\n%s", want, out)
		}
	}
	vid := e.media("/out/v1/live/cmaf/channel_m.m3u8")
	aud := e.media("/out/v1/live/cmaf/channel_m.audio.m3u8")
	_, vinit := e.get("/out/v1/live/cmaf/" + vid.Segments[0].Map.URI)
	_, ainit := e.get("/out/v1/live/cmaf/" + aud.Segments[0].Map.URI)
	if bytes.Equal(vinit, ainit) || !bytes.Contains(ainit, []byte("mp4a")) || !bytes.Contains(vinit, []byte("avc1")) {
		t.Fatal("video and audio renditions share an init segment")
	}
}

// TestCMAFHEVC repackages H.265 TS (made by ffmpeg with libx265) as CMAF
// (hvc1) and compares every decoded frame with the TS endpoint.
func TestCMAFHEVC(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	cmd := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=25", "-t", "2",
		"-c:v", "libx265", "-x265-params", "log-level=error:keyint=25:min-keyint=25:scenecut=0:bframes=2", "-f", "hls", "-hls_time", "1",
		"-hls_list_size", "0", "-hls_segment_filename", filepath.Join(dir, "s%d.ts"), filepath.Join(dir, "p.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot encode H.265 here: %v\n%s", err, out)
	}
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"}, {ID: "cmaf", Packaging: PackagingCMAF}}
	})
	epoch := e.clock.Now()
	p := e.pusher("a")
	var segs []*hls.Segment
	for n := 0; n < 2; n++ {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("s%d.ts", n)))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		name := fmt.Sprintf("channel_h_%d.ts", n)
		p.put(name, data)
		segs = append(segs, &hls.Segment{Duration: 1, URI: name, ProgramDateTime: epoch.Add(time.Duration(n) * time.Second)})
		p.put("channel_h.m3u8", (&hls.Media{Version: 3, TargetDuration: 1, Segments: segs}).Encode())
	}
	q := "?start=" + iso(epoch) + "&end=" + iso(epoch.Add(2*time.Second))
	m := e.media("/out/v1/live/cmaf/channel_h.m3u8" + q)
	_, init := e.get("/out/v1/live/cmaf/" + m.Segments[0].Map.URI)
	if !bytes.Contains(init, []byte("hvc1")) || !bytes.Contains(init, []byte("hvcC")) {
		t.Fatal("init segment has no hvc1 sample entry")
	}
	clear := frameHashes(t, e.url("/out/v1/live/ts/channel_h.m3u8"+q), "")
	got := frameHashes(t, e.url("/out/v1/live/cmaf/channel_h.m3u8"+q), "")
	if strings.Join(got, ",") != strings.Join(clear, ",") || len(got) != 50 {
		t.Fatalf("H.265 CMAF: %d frames, TS %d, or they differ", len(got), len(clear))
	}
}

// TestPackagerCache: packaged segments are built once, and the cache stays
// within its byte bound.
func TestPackagerCache(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.PackagerCacheBytes = 40_000
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "cmaf", Packaging: PackagingCMAF}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 8)
	m := e.media("/out/v1/live/cmaf/channel_video_hi.m3u8" + vod(l, 0, 8))
	var first []byte
	for i, s := range m.Segments {
		_, b := e.get("/out/v1/live/cmaf/" + s.URI)
		if i == 0 {
			first = b
		}
		if n, size := e.o.cache.len(); size > 40_000 || n == 0 {
			t.Fatalf("cache: %d entries, %d bytes", n, size)
		}
	}
	_, again := e.get("/out/v1/live/cmaf/" + m.Segments[0].URI)
	if !bytes.Equal(first, again) {
		t.Fatal("a segment rebuilt after eviction differs")
	}
	// Concurrent requests for one segment build it once.
	c := newPackCache(1 << 20)
	builds := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p, err := c.get(t.Context(), "k", func() (*product, error) {
				builds++ // the race detector reports concurrent builds
				return &product{data: []byte("x")}, nil
			})
			if err != nil || string(p.data) != "x" {
				t.Errorf("get: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if builds != 1 {
		t.Fatalf("%d builds, want 1", builds)
	}
}
