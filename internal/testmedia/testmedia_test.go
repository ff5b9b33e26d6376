package testmedia

import (
	"bytes"
	"encoding/hex"
	"io/fs"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/internal/testutil"
)

var flavours = []string{TS, FMP4}

func TestLoadLayout(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl, func(t *testing.T) {
			set, err := Load(fl)
			if err != nil {
				t.Fatal(err)
			}
			if set.Flavour != fl {
				t.Errorf("Flavour = %q", set.Flavour)
			}
			want := []struct {
				name string
				kind Kind
				ext  string
			}{
				{"video_hi", KindVideo, map[string]string{TS: ".ts", FMP4: ".m4s"}[fl]},
				{"video_lo", KindVideo, map[string]string{TS: ".ts", FMP4: ".m4s"}[fl]},
				{"audio", KindAudio, map[string]string{TS: ".ts", FMP4: ".m4s"}[fl]},
				{"subs", KindSubtitles, ".vtt"},
			}
			if len(set.Renditions) != len(want) {
				t.Fatalf("%d renditions, want %d", len(set.Renditions), len(want))
			}
			for i, w := range want {
				r := set.Renditions[i]
				if r.Name != w.name || r.Kind != w.kind || r.Ext() != w.ext {
					t.Errorf("rendition %d = %s/%s/%s, want %s/%s/%s", i, r.Name, r.Kind, r.Ext(), w.name, w.kind, w.ext)
				}
				if set.Rendition(w.name) != r {
					t.Errorf("Rendition(%q) did not find it", w.name)
				}
				if r.TargetDuration != 1 {
					t.Errorf("%s: target duration %d", r.Name, r.TargetDuration)
				}
				if len(r.Segments) != 8 {
					t.Fatalf("%s: %d segments, want 8", r.Name, len(r.Segments))
				}
				for j, s := range r.Segments {
					if math.Abs(s.Duration-1) > 0.03 {
						t.Errorf("%s segment %d: duration %f, want ~1", r.Name, j, s.Duration)
					}
					if r.Kind == KindVideo && s.Duration != 1 {
						t.Errorf("%s segment %d: video duration %f, want exactly 1", r.Name, j, s.Duration)
					}
					if len(s.Data) == 0 {
						t.Errorf("%s segment %d: empty", r.Name, j)
					}
					if !strings.HasPrefix(s.URI, r.Name+"/seg_") {
						t.Errorf("%s segment %d: URI %q", r.Name, j, s.URI)
					}
				}
				if d := r.Duration(); math.Abs(d-8) > 1e-3 {
					t.Errorf("%s: total duration %f, want 8", r.Name, d)
				}
				needInit := fl == FMP4 && r.Kind != KindSubtitles
				if needInit != (len(r.Init) > 0) || needInit != (r.InitURI == r.Name+"/init.mp4") {
					t.Errorf("%s: init %q (%d bytes), want init: %v", r.Name, r.InitURI, len(r.Init), needInit)
				}
				switch r.Ext() {
				case ".ts":
					for j, s := range r.Segments {
						if len(s.Data)%188 != 0 || s.Data[0] != 0x47 {
							t.Errorf("%s segment %d: not MPEG-TS", r.Name, j)
						}
					}
				case ".m4s":
					if !bytes.Contains(r.Init[:16], []byte("ftyp")) {
						t.Errorf("%s: init does not start with ftyp", r.Name)
					}
					for j, s := range r.Segments {
						if !bytes.Contains(s.Data, []byte("moof")) || !bytes.Contains(s.Data, []byte("mdat")) {
							t.Errorf("%s segment %d: no moof/mdat", r.Name, j)
						}
					}
				case ".vtt":
					for j, s := range r.Segments {
						if !bytes.HasPrefix(s.Data, []byte("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:")) {
							t.Errorf("%s segment %d: not WebVTT with X-TIMESTAMP-MAP", r.Name, j)
						}
					}
				}
			}
		})
	}
}

func TestMasterAttributes(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl, func(t *testing.T) {
			set := MustLoad(fl)
			codec := avcCodec(t, MustLoad(FMP4).Rendition("video_hi").Init)
			for _, tc := range []struct{ name, res string }{{"video_hi", "320x180"}, {"video_lo", "160x90"}} {
				a := set.Rendition(tc.name).Attrs
				if a["RESOLUTION"] != tc.res || a["FRAME-RATE"] != "25.000" || a["AUDIO"] != "aud" || a["SUBTITLES"] != "subs" {
					t.Errorf("%s attrs %v", tc.name, a)
				}
				if a["CODECS"] != codec+",mp4a.40.2" {
					t.Errorf("%s CODECS %q, want %q", tc.name, a["CODECS"], codec+",mp4a.40.2")
				}
				bw, err1 := strconv.Atoi(a["BANDWIDTH"])
				avg, err2 := strconv.Atoi(a["AVERAGE-BANDWIDTH"])
				if err1 != nil || err2 != nil || avg <= 0 || avg > bw {
					t.Errorf("%s bandwidth %q average %q", tc.name, a["BANDWIDTH"], a["AVERAGE-BANDWIDTH"])
				}
			}
			if a := set.Rendition("audio").Attrs; a["TYPE"] != "AUDIO" || a["GROUP-ID"] != "aud" || a["CHANNELS"] != "2" || a["DEFAULT"] != "YES" {
				t.Errorf("audio attrs %v", a)
			}
			if a := set.Rendition("subs").Attrs; a["TYPE"] != "SUBTITLES" || a["GROUP-ID"] != "subs" {
				t.Errorf("subs attrs %v", a)
			}
		})
	}
}

// avcCodec builds the RFC 6381 codec string from the avcC box of init.
func avcCodec(t *testing.T, init []byte) string {
	t.Helper()
	i := bytes.Index(init, []byte("avcC"))
	if i < 0 || len(init) < i+8 {
		t.Fatal("no avcC box in init segment")
	}
	return "avc1." + hex.EncodeToString(init[i+5:i+8])
}

func TestSubAndFS(t *testing.T) {
	for _, fl := range flavours {
		sub, err := Sub(fl)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Stat(sub, MasterName); err != nil {
			t.Errorf("%s: %v", fl, err)
		}
		if _, err := fs.Stat(FS(), fl+"/"+MasterName); err != nil {
			t.Errorf("FS: %v", err)
		}
	}
	if _, err := Sub("mkv"); err == nil {
		t.Error("Sub(mkv) succeeded")
	}
	if _, err := Load("mkv"); err == nil {
		t.Error("Load(mkv) succeeded")
	}
}

func TestTotalSize(t *testing.T) {
	var total int64
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > 1500<<10 {
		t.Errorf("embedded media is %d bytes, want < 1.5 MB", total)
	}
}

func TestParseAttrs(t *testing.T) {
	got := ParseAttrs(`BANDWIDTH=1000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=320x180,NAME="a=b"`)
	want := map[string]string{"BANDWIDTH": "1000", "CODECS": "avc1.4d401e,mp4a.40.2", "RESOLUTION": "320x180", "NAME": "a=b"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// TestMasterPlays checks with ffprobe that each master playlist plays and
// yields both renditions' video plus the demuxed audio.
func TestMasterPlays(t *testing.T) {
	ffprobe := testutil.RequireTool(t, "ffprobe")
	for _, fl := range flavours {
		t.Run(fl, func(t *testing.T) {
			out, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height",
				"-of", "csv=p=0", fl+"/"+MasterName).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v\n%s", err, out)
			}
			s := string(out)
			for _, want := range []string{"h264,video,320,180", "h264,video,160,90", "aac,audio"} {
				if !strings.Contains(s, want) {
					t.Errorf("ffprobe output lacks %q:\n%s", want, s)
				}
			}
		})
	}
}
