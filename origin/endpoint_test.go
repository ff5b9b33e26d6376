package origin

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/keys"
)

// keyEnv is a loopback key server.
type keyEnv struct {
	srv   *keys.Server
	hs    *httptest.Server
	token string
}

func newKeyEnv(t *testing.T, token string) *keyEnv {
	t.Helper()
	s, err := keys.NewServer(keys.ServerConfig{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &keyEnv{srv: s, hs: hs, token: token}
}

// speke returns a SPEKE client of the key server.
func (k *keyEnv) speke(t *testing.T) keys.Provider {
	t.Helper()
	p, err := keys.NewSPEKE(keys.SPEKEConfig{URL: k.hs.URL + keys.SPEKEPath, Token: k.token})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fetchKey fetches a raw key from a key URI of a playlist, as players do.
func (k *keyEnv) fetchKey(t *testing.T, uri string) keys.Secret {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, uri, nil)
	req.Header.Set("Authorization", "Bearer "+k.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || b.Len() != 16 {
		t.Fatalf("GET key %s: %d, %d bytes", uri, resp.StatusCode, b.Len())
	}
	var s keys.Secret
	copy(s[:], b.Bytes())
	return s
}

func enc(method string, rotation time.Duration) *EncryptionConfig {
	return &EncryptionConfig{Method: method, KeyRotationInterval: Duration(rotation)}
}

// allEndpoints configures the test channel with one endpoint of each kind.
func allEndpoints(p keys.Provider) func(*Config) {
	return func(c *Config) {
		c.KeyProvider = p
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "ts"},
			{ID: "cmaf", Packaging: PackagingCMAF, ManifestWindow: 3 * time.Second},
			{ID: "aes", Encryption: enc(MethodAES128, 0)},
			{ID: "cmaf-aes", Packaging: PackagingCMAF, Encryption: enc(MethodAES128, 0)},
			{ID: "sample-aes", Encryption: enc(MethodSampleAES, 0)},
			{ID: "cbcs", Packaging: PackagingCMAF, Encryption: enc(MethodCBCS, 0)},
			{ID: "cenc", Packaging: PackagingCMAF, Encryption: enc(MethodCENC, 0)},
		}
	}
}

// vod returns the query of a time-shifted VOD window of segments
// [from, to) of l.
func vod(l *live, from, to int) string {
	return "?start=" + iso(l.epoch.Add(time.Duration(from)*time.Second)) + "&end=" + iso(l.epoch.Add(time.Duration(to)*time.Second))
}

func TestEndpointsOverOneIngest(t *testing.T) {
	k := newKeyEnv(t, "")
	e := newEnv(t, allEndpoints(k.speke(t)))
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 6)

	// The endpoint-less URL serves the first endpoint, as before.
	_, def := e.get("/out/v1/live/index.m3u8")
	_, ts := e.get("/out/v1/live/ts/index.m3u8")
	if !bytes.Equal(def, ts) || !bytes.Contains(def, []byte("channel_video_hi.m3u8")) {
		t.Fatalf("default and ts multivariants differ:\n%s\n---\n%s", def, ts)
	}
	dm := e.media("/out/v1/live/channel_video_hi.m3u8")
	tm := e.media("/out/v1/live/ts/channel_video_hi.m3u8")
	if !bytes.Equal(dm.Encode(), tm.Encode()) || len(dm.Segments) != 5 {
		t.Fatalf("default and ts media playlists differ")
	}
	// Segment, time-shift and path forms work under the endpoint prefix.
	if code, body := e.get("/out/v1/live/ts/" + tm.Segments[0].URI); code != http.StatusOK || sha(body) != sha(l.segData(l.set.Rendition("video_hi"), 1)) {
		t.Fatalf("ts segment: %d", code)
	}
	for _, u := range []string{
		"/out/v1/live/cmaf/channel_video_hi.m3u8" + vod(l, 1, 4),
		"/out/v1/live/cmaf/start/" + iso(l.epoch.Add(time.Second)) + "/end/" + iso(l.epoch.Add(4*time.Second)) + "/channel_video_hi.m3u8",
		"/out/v1/live/start/" + iso(l.epoch.Add(time.Second)) + "/end/" + iso(l.epoch.Add(4*time.Second)) + "/cmaf/channel_video_hi.m3u8",
	} {
		if m := e.media(u); !m.Endlist || len(m.Segments) != 3 {
			t.Fatalf("%s: %d segments, ENDLIST %v", u, len(m.Segments), m.Endlist)
		}
	}

	cm := e.media("/out/v1/live/cmaf/channel_video_hi.m3u8")
	if len(cm.Segments) != 3 {
		t.Fatalf("cmaf: %d segments, want 3 (own 3 s window)", len(cm.Segments))
	}
	if cm.Segments[0].Map == nil || !strings.HasPrefix(cm.Segments[0].Map.URI, "channel_video_hi/cinit-") || !strings.HasSuffix(cm.Segments[2].URI, ".m4s") {
		t.Fatalf("cmaf playlist:\n%s", cm.Encode())
	}
	for _, s := range cm.Segments[1:] {
		if s.Map != nil || s.Discontinuity {
			t.Fatalf("cmaf: init repeated without a change:\n%s", cm.Encode())
		}
	}
	for name, want := range map[string]string{"aes": "AES-128", "sample-aes": "SAMPLE-AES", "cbcs": "SAMPLE-AES", "cenc": "SAMPLE-AES-CTR", "cmaf-aes": "AES-128"} {
		m := e.media("/out/v1/live/" + name + "/channel_audio.m3u8")
		kt := m.Segments[0].Keys
		if len(kt) != 1 || kt[0].Method != want || kt[0].KeyFormat != "identity" || kt[0].KeyFormatVersions != "1" || !strings.HasPrefix(kt[0].URI, k.hs.URL+"/keys/live/") {
			t.Fatalf("%s: EXT-X-KEY %+v", name, kt)
		}
		for _, s := range m.Segments[1:] {
			if len(s.Keys) != 0 {
				t.Fatalf("%s: EXT-X-KEY repeated without rotation", name)
			}
		}
		// Subtitles stay clear.
		if sm := e.media("/out/v1/live/" + name + "/channel_subs.m3u8"); len(sm.Segments[0].Keys) != 0 {
			t.Fatalf("%s: subtitles have a key", name)
		}
		for _, s := range m.Segments {
			if code, body := e.get("/out/v1/live/" + name + "/" + s.URI); code != http.StatusOK || len(body) == 0 {
				t.Fatalf("%s: %s: %d %s", name, s.URI, code, body)
			}
		}
	}
	// AES-128 TS: implicit IV (the media sequence number); CMAF AES-128 and
	// cbcs: explicit IV; cenc: per-sample IVs, none in the playlist.
	for name, want := range map[string]int{"aes": 0, "cmaf-aes": 34, "cbcs": 34, "cenc": 0, "sample-aes": 0} {
		if iv := e.media("/out/v1/live/" + name + "/channel_audio.m3u8").Segments[0].Keys[0].IV; len(iv) != want {
			t.Fatalf("%s: IV %q", name, iv)
		}
	}
	// No I-frame playlist for AES-128 (byte ranges of a CBC-encrypted
	// segment cannot be decrypted alone); the others have one.
	for name, want := range map[string]bool{"aes": false, "cmaf-aes": false, "cmaf": true, "cbcs": true, "sample-aes": true} {
		_, mv := e.get("/out/v1/live/" + name + "/index.m3u8")
		code, _ := e.get("/out/v1/live/" + name + "/channel_video_hi/iframes.m3u8")
		if bytes.Contains(mv, []byte("I-FRAME-STREAM-INF")) != want || (code == http.StatusOK) != want {
			t.Fatalf("%s: I-frames %d, want %v:\n%s", name, code, want, mv)
		}
	}
	// Unknown endpoint names are not endpoints.
	if code, _ := e.get("/out/v1/live/nope/index.m3u8"); code != http.StatusNotFound {
		t.Fatalf("unknown endpoint: %d", code)
	}
	// Init sections are stable URLs; other names are 404.
	for _, bad := range []string{"cinit-0000000000000000.mp4", "cinit-" + strings.TrimPrefix(strings.TrimSuffix(cm.Segments[0].Map.URI, ".mp4"), "channel_video_hi/cinit-") + "-k5.mp4", "1.ts", "x.m4s"} {
		if code, _ := e.get("/out/v1/live/cmaf/channel_video_hi/" + bad); code != http.StatusNotFound {
			t.Fatalf("%s: %d", bad, code)
		}
	}
	_ = hls.PlaylistTypeVOD
}
