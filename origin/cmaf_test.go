package origin

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
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
func repackage(t *testing.T, name string, n int) (init, seg []byte, ti *tsInfo) {
	t.Helper()
	set := loadSet(t, testmedia.TS)
	data := set.Rendition(name).Segments[n].Data
	d, err := demuxTS(data)
	if err != nil {
		t.Fatal(err)
	}
	ti = probeTS(d)
	if ti == nil {
		t.Fatal("no tracks")
	}
	tr := ti.track(pickMain)
	is, err := buildInit(tr)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := cmafSegment(d, tr, int64(n), ti.dts0, ti.dur)
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
			if want := uint64(ti.dts0) * uint64(ts) / 90000; first < want-1 || first > want+1 {
				t.Fatalf("tfdt %d, want %d (TS DTS %d in timescale %d)", first, want, ti.dts0, ts)
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
			if got, want := float64(dur)/float64(ts), float64(ti.dur)/90000; got < want-0.001 || got > want+0.001 {
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
	if !bytes.Equal(a, b) || tia.hash(pickMain) != tib.hash(pickMain) {
		t.Fatal("init differs between segments of one stream")
	}
	_, _, lo := repackage(t, "video_lo", 0)
	if lo.hash(pickMain) == tia.hash(pickMain) {
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
