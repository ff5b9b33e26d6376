package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testutil"
)

func TestH264SegmentsMarkers(t *testing.T) {
	for _, br := range []int64{100_000, 1_000_000} {
		sch := schedule{Channels: 2, Renditions: 3, Segment: 2 * time.Second, Window: 5, Bitrate: br, Media: mediaH264}
		h := newH264Segments(sch)
		for seq := uint64(0); seq < 3; seq++ {
			want := marker{Channel: 1, Rendition: 2, Seq: seq, Listed: 1234567890123}
			b := h.segment(want)
			if len(b)%tsPacket != 0 || (br == 1_000_000 && len(b) != sch.segSize()) {
				t.Fatalf("bitrate %d: size %d, want %d", br, len(b), sch.segSize())
			}
			want.Size = uint32(len(b))
			if m, ok := decodeMarker(b); !ok || m != want {
				t.Fatalf("binary marker %+v %v, want %+v", m, ok, want)
			}
			ms, _ := scanTextMarkers(b, nil)
			if len(ms) != 1 || ms[0] != want {
				t.Fatalf("text markers %+v, want %+v", ms, want)
			}
		}
	}
}

// TestH264SegmentsDecode checks that ffmpeg reads the h264 media as valid
// H.264 in MPEG-TS, continuous across segments, and copies the marker SEI.
func TestH264SegmentsDecode(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	sch := schedule{Channels: 1, Renditions: 1, Segment: 2 * time.Second, Window: 5, Bitrate: 200_000, Media: mediaH264}
	h := newH264Segments(sch)
	var all []byte
	for seq := uint64(10); seq < 13; seq++ {
		all = append(all, h.segment(marker{Seq: seq})...)
	}
	in := filepath.Join(dir, "in.ts")
	if err := os.WriteFile(in, all, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ffmpeg, "-v", "error", "-xerror", "-i", in, "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	remux := filepath.Join(dir, "out.ts")
	if out, err := exec.Command(ffmpeg, "-v", "error", "-i", in, "-map", "0", "-c", "copy", "-f", "mpegts", remux).CombinedOutput(); err != nil {
		t.Fatalf("remux: %v\n%s", err, out)
	}
	b, err := os.ReadFile(remux)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := scanTextMarkers(b, nil)
	if len(ms) != 3 || ms[0].Seq != 10 || ms[2].Seq != 12 {
		t.Fatalf("markers after remux: %+v", ms)
	}
}

// TestSinkRemuxedSegments checks that the sink finds the SEI markers of a TS
// body without the source's marker packet (as a remuxing relay writes it),
// one record per source segment it holds.
func TestSinkRemuxedSegments(t *testing.T) {
	sk, err := newSink(authNone, "u", "p", "r")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sk)
	defer srv.Close()
	h := newH264Segments(schedule{Channels: 4, Renditions: 1, Segment: 2 * time.Second, Window: 5, Bitrate: 300_000, Media: mediaH264})
	var body []byte
	for seq := uint64(7); seq < 9; seq++ {
		body = append(body, h.segment(marker{Channel: 3, Seq: seq, Listed: int64(seq)})[tsPacket:]...)
	}
	for _, p := range []string{"/in/v2/ch3/a/stream_0_0.ts", "/in/v2/ch3/a/stream_0_0.ts"} {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+p, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	st := sk.stats()
	if st.RemuxedPuts != 2 || st.RemuxedSegments != 4 || st.Segments != 2 || st.DuplicateSegment != 2 || st.DuplicatePath != 1 ||
		st.SegmentBytes != int64(2*len(body)) || st.Misrouted != 0 || st.BadSize != 0 {
		t.Fatalf("stats %+v", st)
	}
	recs := sk.records()
	if len(recs) != 2 || recs[0].C != 3 || recs[0].Seq+recs[1].Seq != 15 {
		t.Fatalf("records %+v", recs)
	}
}
