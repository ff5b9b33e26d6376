package channel

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/channel/internal/asset"
	"github.com/pullpush/pullpush/hls"
)

// TestLiveLadderMapping maps a channel's ladder onto live sources with
// other ladders: video by nearest bandwidth on a log scale (resolution
// breaks ties), audio and subtitles by language and name, else language,
// else the default.
func TestLiveLadderMapping(t *testing.T) {
	res := func(w, h int) *hls.Resolution { return &hls.Resolution{Width: w, Height: h} }
	src := []*hls.Variant{
		{Bandwidth: 600_000, Resolution: res(640, 360), URI: "360p.m3u8"},
		{Bandwidth: 150_000, Resolution: res(320, 180), URI: "180p.m3u8"},
		{Bandwidth: 2_400_000, Resolution: res(1280, 720), URI: "720p.m3u8"},
		{Bandwidth: 2_400_000, Resolution: res(1920, 1080), URI: "1080p-low.m3u8"},
	}
	for _, tc := range []struct {
		bw   int
		res  *hls.Resolution
		want string
	}{
		{75_000, res(320, 180), "180p.m3u8"},
		{300_000, nil, "180p.m3u8"}, // 2x from 150k and from 600k: the lower one
		{400_000, res(640, 360), "360p.m3u8"},
		{5_000_000, res(1280, 720), "720p.m3u8"},
		{5_000_000, res(1920, 1080), "1080p-low.m3u8"},
	} {
		if got := pickVariant(src, &hls.Variant{Bandwidth: tc.bw, Resolution: tc.res}).URI; got != tc.want {
			t.Errorf("bandwidth %d %v: %s, want %s", tc.bw, tc.res, got, tc.want)
		}
	}

	m, err := hls.ParseMultivariant([]byte(`#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="Deutsch",LANGUAGE="de",URI="de.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English",LANGUAGE="en",DEFAULT=YES,URI="en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English (AD)",LANGUAGE="en",URI="en-ad.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="Français",LANGUAGE="fr",URI="fr.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=500000,AUDIO="a",SUBTITLES="s"
v.m3u8
`))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &asset.Asset{
		Audio: [][]*asset.Track{{
			{Rendition: &hls.Rendition{Name: "English (AD)", Language: "en"}},
			{Rendition: &hls.Rendition{Name: "German", Language: "de"}},
			{Rendition: &hls.Rendition{Name: "Svenska", Language: "sv"}},
		}},
		Subs: [][]*asset.Track{{{Rendition: &hls.Rendition{Name: "English", Language: "en"}}}},
	}
	for _, tc := range []struct {
		kind  hls.MediaType
		index int
		want  string
	}{
		{hls.MediaTypeAudio, 0, "en-ad.m3u8"}, // language and name
		{hls.MediaTypeAudio, 1, "de.m3u8"},    // language
		{hls.MediaTypeAudio, 2, "en.m3u8"},    // the default
		{hls.MediaTypeSubtitles, 0, "fr.m3u8"},
	} {
		r := pickRendition(m, tc.kind, tmpl, trackRef{kind: tc.kind, index: tc.index})
		if r == nil || r.URI != tc.want {
			t.Errorf("%s %d: %+v, want %s", tc.kind, tc.index, r, tc.want)
		}
	}
	if r := pickRendition(&hls.Multivariant{}, hls.MediaTypeAudio, tmpl, trackRef{kind: hls.MediaTypeAudio}); r != nil {
		t.Errorf("a source without audio gives %+v", r)
	}
}

// liveSeeds are live media playlists for FuzzLiveSourcePlaylist and
// TestLiveSourcePlaylist.
var liveSeeds = []string{
	"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1,\nseg_7.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1.000,\nseg_8.ts\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\na.m4s\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:9\n#EXTINF:9,\na.ts\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:1,\na.ts\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-BYTERANGE:10@0\n#EXTINF:1,\na.ts\n",
	"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0,\nzero.ts\n#EXTINF:1,\nhttp://127.0.0.1:1/abs.ts\n#EXTINF:1,\nftp://x/y.ts\n",
}

// liveProbe takes playlist data as a live source's listing, as the poller
// does, and places what it lists; it fails on a broken invariant.
func liveProbe(t *testing.T, data string) error {
	m, err := hls.ParseMedia([]byte(data))
	if err != nil {
		return err
	}
	e := &Engine{now: time.Now}
	ch := &channel{targetDuration: 2}
	f := &liveFeed{e: e, ch: ch, asset: &asset.Asset{ID: liveAssetPrefix + "x", Format: asset.FormatTS}, res: map[int]asset.Loc{}, inits: map[string]*asset.InitSection{}, td: time.Second}
	r := &liveRendition{at: asset.Loc{Name: "http://127.0.0.1:1/live/v.m3u8"}, last: -1}
	if err := f.update(r, m); err != nil {
		return err
	}
	f.master, f.srcs = true, []*liveRendition{r}
	f.tracks = []liveTrack{{nextSeq: -1, slateK: -1}}
	lt := &f.tracks[0]
	for i := 0; i < len(r.segs)+1; i++ {
		// Just past where the track ends: it waits rather than play the
		// slate when no source segment follows.
		le, ok := f.candidate(0, lt, lt.next+time.Millisecond, nil, false)
		if !ok {
			break
		}
		// Through the placement log's encoding.
		b, err := json.Marshal(le)
		if err != nil {
			t.Fatal(err)
		}
		var back liveEntry
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		f.apply(0, lt, back)
	}
	for k, s := range lt.segs {
		var id int
		if _, err := fmt.Sscanf(strings.TrimPrefix(s.src.URL, "seg/"+f.asset.ID+"/"), "%d", &id); err != nil || s.dur <= 0 || !strings.HasPrefix(f.res[id].Name, "http") {
			t.Fatalf("%q: placed segment %d: %+v", data, k, s)
		}
		if k > 0 && s.start != lt.segs[k-1].start+lt.segs[k-1].dur {
			t.Fatalf("%q: segment %d does not follow the previous one", data, k)
		}
		if len(lt.tagsList) != len(lt.segs) || lt.tagsList[k] > lt.tags {
			t.Fatalf("%q: discontinuity counts %v / %d", data, lt.tagsList, lt.tags)
		}
	}
	return nil
}

// TestLiveSourcePlaylist checks what the poller refuses in a live source's
// listing, and runs the fuzz seeds.
func TestLiveSourcePlaylist(t *testing.T) {
	for i, want := range []string{"", "the channel plays MPEG-TS segments", "target duration 9s is longer than the channel's 2s", "encrypted live sources are not supported", "EXT-X-BYTERANGE", "unsupported scheme"} {
		err := liveProbe(t, liveSeeds[i])
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("seed %d: %v, want %q", i, err, want)
		}
	}
}

// FuzzLiveSourcePlaylist feeds arbitrary playlists to the live poller's
// listing and placement.
func FuzzLiveSourcePlaylist(f *testing.F) {
	for _, s := range liveSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) { _ = liveProbe(t, data) })
}

// TestLivePick checks which source segment a track plays next.
func TestLivePick(t *testing.T) {
	listing := func(first, n int64) *liveRendition {
		r := &liveRendition{}
		for s := first; s < first+n; s++ {
			r.segs = append(r.segs, srcSeg{seq: s, seg: &asset.Seg{Dur: time.Second}})
		}
		return r
	}
	f := &liveFeed{td: time.Second}
	for _, tc := range []struct {
		name            string
		nextSeq, slateK int
		placed          int           // segments placed already
		gap             time.Duration // from the end of the placed segments to where the span is
		want            int64         // -1: none
	}{
		{"start: one behind the edge", -1, -1, 0, 0, 14},
		{"start far behind: the slate first", -1, -1, 0, 5 * time.Second, -1},
		{"the next one", 12, -1, 3, 0, 12},
		{"not listed yet", 16, -1, 3, 0, -1},
		{"left the window: the edge", 3, -1, 3, 0, 14},
		{"after the slate, near the edge: the next one", 14, 0, 3, 0, 14},
		{"after the slate, far from the edge: the edge", 11, 0, 3, 0, 14},
		{"after the slate, not listed yet", 17, 1, 3, 0, -1},
		{"after the slate, the source restarted its sequence", 900, 1, 3, 0, 14},
	} {
		lt := &liveTrack{nextSeq: int64(tc.nextSeq), slateK: tc.slateK}
		for range tc.placed {
			lt.segs = append(lt.segs, cseg{})
		}
		s, ok := f.pick(lt, listing(10, 6), lt.next+tc.gap)
		got := int64(-1)
		if ok {
			got = s.seq
		}
		if got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestLiveNeedsSlateFit refuses a live item in a channel whose target
// duration is shorter than the slate's segments (the slate fills in when
// the source fails).
func TestLiveNeedsSlateFit(t *testing.T) {
	fsys := testFS(map[string]synth{"one": basic(8, 1)})
	c := newClock(config.DefaultStart().Add(time.Hour))
	cfg := config.Config{Channels: []config.ChannelConfig{{ID: "x", Start: config.DefaultStart(), Assets: []config.AssetConfig{{ID: "one", URI: "embed:one"}}}}}
	e := newEngine(t, cfg, c, fsys, WithScheduleDir(t.TempDir()))
	_, err := e.SwitchLive("x", "", SwitchSpec{URL: "http://127.0.0.1:1/live.m3u8"})
	if err == nil || !strings.Contains(err.Error(), "the slate, which fills in for a failing live source, has 2s segments; the channel's target duration is 1s") {
		t.Fatalf("switch in a 1 s channel: %v", err)
	}
}
