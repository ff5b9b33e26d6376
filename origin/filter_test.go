package origin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// filterSource is a multivariant with three video variants, two audio
// languages (French the default) and two subtitle languages.
const filterSource = `#EXTM3U
#EXT-X-VERSION:4
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="French",LANGUAGE="fr",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="a_fr.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",AUTOSELECT=YES,CHANNELS="6",URI="a_en.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="sub",NAME="English",LANGUAGE="en",URI="s_en.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="sub",NAME="German",LANGUAGE="de",URI="s_de.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=50,AUDIO="aud",SUBTITLES="sub"
v720.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25,AUDIO="aud",SUBTITLES="sub"
v360.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=6000000,CODECS="hvc1.1.6.L120.90,ec-3",RESOLUTION=1920x1080,FRAME-RATE=50,AUDIO="aud",SUBTITLES="sub"
v1080.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,CODECS="avc1.640028",RESOLUTION=1280x720,URI="v720/iframes.m3u8"
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=40000,CODECS="avc1.4d401e",RESOLUTION=640x360,URI="v360/iframes.m3u8"
`

func filtered(t *testing.T, filter string) (*hls.Multivariant, error) {
	t.Helper()
	mv, err := hls.ParseMultivariant([]byte(filterSource))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseManifestFilter(filter)
	if err != nil {
		t.Fatalf("%s: %v", filter, err)
	}
	return mv, f.apply(mv)
}

func uris(mv *hls.Multivariant) string {
	var out []string
	for _, r := range mv.Renditions {
		d := ""
		if r.Default {
			d = "*"
		}
		out = append(out, r.URI+d)
	}
	for _, v := range mv.Variants {
		out = append(out, v.URI+"("+v.Subtitles+")")
	}
	for _, v := range mv.IFrameVariants {
		out = append(out, v.URI)
	}
	return strings.Join(out, " ")
}

func TestManifestFilterApply(t *testing.T) {
	for _, c := range []struct{ filter, want string }{
		{"video_bitrate:0-3000000", "a_fr.m3u8* a_en.m3u8 s_en.m3u8 s_de.m3u8 v720.m3u8(sub) v360.m3u8(sub) v720/iframes.m3u8 v360/iframes.m3u8"},
		{"video_height:0-720;trickplay_type:none", "a_fr.m3u8* a_en.m3u8 s_en.m3u8 s_de.m3u8 v720.m3u8(sub) v360.m3u8(sub)"},
		{"VIDEO_CODEC:H265", "a_fr.m3u8* a_en.m3u8 s_en.m3u8 s_de.m3u8 v1080.m3u8(sub) v720/iframes.m3u8 v360/iframes.m3u8"},
		{"audio_language:EN", "a_en.m3u8* s_en.m3u8 s_de.m3u8 v720.m3u8(sub) v360.m3u8(sub) v1080.m3u8(sub) v720/iframes.m3u8 v360/iframes.m3u8"},
		{"audio_channels:1-2;audio_codec:aacl", "a_fr.m3u8* s_en.m3u8 s_de.m3u8 v720.m3u8(sub) v360.m3u8(sub) v720/iframes.m3u8 v360/iframes.m3u8"},
		{"subtitle_language:de", "a_fr.m3u8* a_en.m3u8 s_de.m3u8 v720.m3u8(sub) v360.m3u8(sub) v1080.m3u8(sub) v720/iframes.m3u8 v360/iframes.m3u8"},
		{"subtitle_language:it", "a_fr.m3u8* a_en.m3u8 v720.m3u8() v360.m3u8() v1080.m3u8() v720/iframes.m3u8 v360/iframes.m3u8"},
		{"video_framerate:0-30;trickplay_height:0-400", "a_fr.m3u8* a_en.m3u8 s_en.m3u8 s_de.m3u8 v360.m3u8(sub) v360/iframes.m3u8"},
		{"video_bitrate:0-1000000,5000000-7000000", "a_fr.m3u8* a_en.m3u8 s_en.m3u8 s_de.m3u8 v360.m3u8(sub) v1080.m3u8(sub) v720/iframes.m3u8 v360/iframes.m3u8"},
	} {
		mv, err := filtered(t, c.filter)
		if err != nil {
			t.Errorf("%s: %v", c.filter, err)
			continue
		}
		if got := uris(mv); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.filter, got, c.want)
		}
	}
	// Nothing left: an error, not an empty playlist.
	if _, err := filtered(t, "audio_language:it"); !errors.Is(err, errFilter) {
		t.Fatalf("no audio left: %v", err)
	}
}

func TestManifestFilterErrors(t *testing.T) {
	for _, c := range []struct{ filter, want string }{
		{"", "empty"},
		{"video_bitrate", `clause "video_bitrate": want name:value`},
		{"video_bitrate:100", `"video_bitrate:100": want a range`},
		{"video_bitrate:300-100", "lo <= hi"},
		{"video_bitrate:a-b", "lo <= hi"},
		{"video_height:0-720;nosuch:1", `clause "nosuch:1": unknown parameter`},
		{"video_codec:vp9", `"vp9" is not one of h264, h265`},
		{"trickplay_type:image", `"image" is not one of none, iframe`},
		{"audio_language:en,,fr", "empty value"},
		{"audio_sample_rate:0-44100", "not supported"},
		{strings.Repeat("a", 1025), "longer than 1024"},
	} {
		_, err := parseManifestFilter(c.filter)
		if !errors.Is(err, errFilter) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.filter, err, c.want)
		}
	}
}

func FuzzParseManifestFilter(f *testing.F) {
	for _, s := range []string{"video_bitrate:100000-3000000;audio_language:en,fr;video_height:0-720;subtitle_language:de;trickplay_type:none", "video_bitrate:1e9-2e9", "a:b;;", "video_framerate:0-29.97"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := parseManifestFilter(s)
		if err != nil {
			if !errors.Is(err, errFilter) {
				t.Fatalf("%q: error %v does not wrap errFilter", s, err)
			}
			return
		}
		mv, _ := hls.ParseMultivariant([]byte(filterSource))
		n := len(mv.Variants)
		if flt.apply(mv); len(mv.Variants) > n {
			t.Fatalf("%q added variants", s)
		}
	})
}

// TestManifestFilterHTTP: the filter as MediaPackage documents it (clauses
// URL-encoded, or with raw ";" and ":"), on a real multivariant of the
// origin; a bad filter is a 400 naming the clause; the endpoint's stream
// selection applies first.
func TestManifestFilterHTTP(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"},
			{ID: "asc", StreamSelection: &StreamSelection{MaxVideoBitsPerSecond: 250000, StreamOrder: "VIDEO_BITRATE_ASCENDING"}}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 2)
	get := func(p string) (int, *hls.Multivariant, string) {
		resp, err := http.Get(e.url(p))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		body := string(b)
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, nil, body
		}
		mv, err := hls.ParseMultivariant([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, mv, body
	}
	_, all, _ := get("/out/v1/live/ts/index.m3u8")
	if len(all.Variants) != 2 || len(all.IFrameVariants) == 0 {
		t.Fatalf("unfiltered: %+v", all)
	}
	for _, q := range []string{
		"?aws.manifestfilter=" + url.QueryEscape("video_bitrate:0-200000;trickplay_type:none"),
		"?aws.manifestfilter=video_bitrate:0-200000;trickplay_type:none",
	} {
		code, mv, body := get("/out/v1/live/ts/index.m3u8" + q)
		if code != 200 || len(mv.Variants) != 1 || mv.Variants[0].Bandwidth > 200000 || len(mv.IFrameVariants) != 0 {
			t.Errorf("%s: %d\n%s", q, code, body)
		}
	}
	code, _, body := get("/out/v1/live/ts/index.m3u8?aws.manifestfilter=video_height:0-720;bogus:1")
	var msg struct{ Error string }
	if code != 400 || json.Unmarshal([]byte(body), &msg) != nil || !strings.Contains(msg.Error, `clause "bogus:1"`) {
		t.Errorf("bad filter: %d %s", code, body)
	}
	if code, _, body := get("/out/v1/live/ts/index.m3u8?aws.manifestfilter=video_height:2000-3000"); code != 404 || !strings.Contains(body, "no variant matches") {
		t.Errorf("nothing matches: %d %s", code, body)
	}
	// Stream selection: only variants up to 250 kbit/s, ascending.
	_, sel, body := get("/out/v1/live/asc/index.m3u8")
	if sel == nil || len(sel.Variants) != 1 || sel.Variants[0].Bandwidth > 250000 {
		t.Errorf("stream selection:\n%s", body)
	}
}

// TestStreamSelectionConfig: bad stream selections are refused with the
// setting's path.
func TestStreamSelectionConfig(t *testing.T) {
	for _, c := range []struct {
		sel  StreamSelection
		want string
	}{
		{StreamSelection{MinVideoBitsPerSecond: 500, MaxVideoBitsPerSecond: 100}, "channels[0].endpoints[0].streamSelection"},
		{StreamSelection{MinVideoBitsPerSecond: -1}, "streamSelection"},
		{StreamSelection{StreamOrder: "random"}, "streamSelection.streamOrder"},
	} {
		sel := c.sel
		_, err := New(Config{DataDir: t.TempDir(), Channels: []ChannelConfig{{ID: "c", Username: "u", Password: "p",
			Endpoints: []EndpointConfig{{ID: "e", StreamSelection: &sel}}}}})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.sel, err, c.want)
		}
	}
}

// TestManifestFilterDASH: the same filter on a DASH endpoint keeps only
// the Representations it allows; a bad one is a 400.
func TestManifestFilterDASH(t *testing.T) {
	e := dashEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 3)
	count := func(m *tMPD, contentType string) int {
		n := 0
		for _, as := range m.Periods[len(m.Periods)-1].Sets {
			if as.ContentType == contentType && len(as.Essential) == 0 { // not trick play
				n += len(as.Reps)
			}
		}
		return n
	}
	all, _ := e.mpd("/out/v1/live/dash/index.mpd")
	if count(all, "video") != 2 {
		t.Fatalf("%d video Representations unfiltered", count(all, "video"))
	}
	m, body := e.mpd("/out/v1/live/dash/index.mpd?aws.manifestfilter=video_bitrate:0-200000")
	if count(m, "video") != 1 || count(m, "audio") != count(all, "audio") {
		t.Fatalf("filtered MPD:\n%s", body)
	}
	for _, as := range m.Periods[0].Sets {
		for _, r := range as.Reps {
			if as.ContentType == "video" && r.Bandwidth > 200000 {
				t.Fatalf("Representation of %d bit/s kept", r.Bandwidth)
			}
		}
	}
	if code, body := e.get("/out/v1/live/dash/index.mpd?aws.manifestfilter=bogus:1"); code != 400 || !strings.Contains(string(body), `clause \"bogus:1\"`) {
		t.Fatalf("bad filter: %d %s", code, body)
	}
	if code, _ := e.get("/out/v1/live/dash/index.mpd?aws.manifestfilter=video_height:4000-5000"); code != 404 {
		t.Fatalf("nothing matches: %d", code)
	}
}
