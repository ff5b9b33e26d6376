package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

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
		for i, s := range m.Segments[1:] {
			// SAMPLE-AES: one EXT-X-KEY per segment with the IV written
			// out (hls.js needs it); the others only when the key changes.
			if name == "sample-aes" {
				if len(s.Keys) != 1 || s.Keys[0].IV != fmt.Sprintf("0x%032x", m.MediaSequence+int64(i)+1) || s.Keys[0].URI != kt[0].URI {
					t.Fatalf("sample-aes: segment %d keys %+v", i+1, s.Keys)
				}
			} else if len(s.Keys) != 0 {
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
	// AES-128 TS: implicit IV (the media sequence number); SAMPLE-AES: the
	// same, written out; CMAF AES-128 and cbcs: explicit IV per key; cenc:
	// per-sample IVs, none in the playlist.
	for name, want := range map[string]int{"aes": 0, "cmaf-aes": 34, "cbcs": 34, "cenc": 0, "sample-aes": 34} {
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
	// WebVTT passes through CMAF and encrypted endpoints as ingested.
	for _, ep := range []string{"cmaf", "cbcs", "aes"} {
		sm := e.media("/out/v1/live/" + ep + "/channel_subs.m3u8")
		last := sm.Segments[len(sm.Segments)-1]
		if code, body := e.get("/out/v1/live/" + ep + "/" + last.URI); code != http.StatusOK || !strings.HasSuffix(last.URI, ".vtt") ||
			!bytes.Equal(body, l.segData(l.set.Rendition("subs"), 5)) || last.Map != nil {
			t.Fatalf("%s: subtitles %s: %d %q", ep, last.URI, code, body)
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
}

func TestParseEndpointConfig(t *testing.T) {
	dir := t.TempDir()
	keyFile := dir + "/keys.yaml"
	if err := writeFile(keyFile, "keys: [{kid: 11111111111111111111111111111111, key: 00112233445566778899aabbccddeeff}]\n"); err != nil {
		t.Fatal(err)
	}
	data := []byte(`
dataDir: ` + dir + `
keys:
  file: ` + keyFile + `
packagerCacheBytes: 1048576
channels:
  - id: news
    username: u
    password: p
    manifestWindow: 30s
    timeDelay: 10s
    endpoints:
      - id: ts
      - id: cmaf
        packaging: cmaf
        manifestWindow: 12s
        iframes: false
      - id: aes
        startoverWindow: 2h
        encryption:
          method: AES-128
          keyRotationInterval: 0s
          keyURI: https://keys.example.com/{channel}/{kid}
      - id: cbcs
        packaging: cmaf
        encryption:
          method: cbcs
          constantIV: 0x000102030405060708090a0b0c0d0e0f
          repeatKey: true
          resourceID: news-drm
          keyFormat: identity
      - id: dash
        packaging: dash
        encryption:
          method: cenc
`)
	cfg, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	eps := cfg.Channels[0].Endpoints
	if eps[0].Packaging != PackagingTS || eps[0].ManifestWindow != 30*time.Second || eps[0].TimeDelay != 10*time.Second || eps[0].StartoverWindow != DefaultStartoverWindow {
		t.Fatalf("ts endpoint does not inherit the channel settings: %+v", eps[0])
	}
	if eps[1].ManifestWindow != 12*time.Second || *eps[1].IFrames || eps[1].Packaging != PackagingCMAF {
		t.Fatalf("cmaf endpoint: %+v", eps[1])
	}
	if e := eps[2].Encryption; *e.KeyRotationInterval != 0 || e.KeyFormat != "identity" || e.KeyFormatVersions != "1" || e.ResourceID != "news" || eps[2].StartoverWindow != 2*time.Hour {
		t.Fatalf("aes endpoint: %+v %+v", eps[2], e)
	}
	if e := eps[3].Encryption; *e.KeyRotationInterval != DefaultKeyRotationInterval || !e.RepeatKey || e.ResourceID != "news-drm" {
		t.Fatalf("cbcs endpoint: %+v", e)
	}
	if eps[4].Packaging != PackagingDASH || eps[4].Encryption.Method != MethodCENC {
		t.Fatalf("dash endpoint: %+v", eps[4])
	}
	cfg.DataDir = dir
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ch := o.lookup("news")
	if ch.Retain != DefaultStartoverWindow || !ch.needTS || len(ch.eps) != 5 || ch.eps[2].iframes || !ch.eps[4].dash || !ch.eps[4].cmaf {
		t.Fatalf("resolved: retain %v needTS %v eps %d", ch.Retain, ch.needTS, len(ch.eps))
	}
	if k, err := o.keys.get(context.Background(), "news", 3); err != nil || k.ID.String() != "11111111111111111111111111111111" {
		t.Fatalf("static key provider from keys.file: %v %v", k, err)
	}
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

func TestEndpointConfigErrors(t *testing.T) {
	base := "dataDir: /d\nkeys: {url: http://127.0.0.1:1/speke}\nchannels:\n  - id: c\n    username: u\n    password: p\n    endpoints:\n"
	cases := []struct{ name, yaml, want string }{
		{"bad id", base + "      - id: a.b\n", `channels[0].endpoints[0].id: must match [A-Za-z0-9_-]{1,64} and not be start or end, got "a.b"`},
		{"reserved id", base + "      - id: start\n", `channels[0].endpoints[0].id: must match`},
		{"duplicate", base + "      - id: a\n      - id: a\n", `channels[0].endpoints[1].id: duplicate endpoint "a"`},
		{"packaging", base + "      - id: a\n        packaging: hds\n", `channels[0].endpoints[0].packaging: must be ts, cmaf or dash, got "hds"`},
		{"aes on dash", base + "      - id: a\n        packaging: dash\n        encryption: {method: AES-128}\n", `channels[0].endpoints[0].encryption.method: AES-128 is for ts and cmaf; use cenc or cbcs for dash`},
		{"window", base + "      - id: a\n        manifestWindow: 48h\n", `channels[0].endpoints[0].manifestWindow: must be between 1s and the startover window`},
		{"delay", base + "      - id: a\n        timeDelay: 1s\n", `channels[0].endpoints[0].timeDelay: must be between 5s and 24h`},
		{"method", base + "      - id: a\n        encryption: {method: DES}\n", `channels[0].endpoints[0].encryption.method: must be AES-128, SAMPLE-AES, cbcs or cenc, got "DES"`},
		{"cbcs on ts", base + "      - id: a\n        encryption: {method: cbcs}\n", `channels[0].endpoints[0].encryption.method: cbcs needs cmaf or dash packaging`},
		{"sample-aes on cmaf", base + "      - id: a\n        packaging: cmaf\n        encryption: {method: SAMPLE-AES}\n", `SAMPLE-AES is for ts packaging; use cbcs for cmaf`},
		{"rotation", base + "      - id: a\n        encryption: {method: AES-128, keyRotationInterval: 10ms}\n", `encryption.keyRotationInterval: must be 0 (no rotation) or at least 1s`},
		{"iv", base + "      - id: a\n        encryption: {method: AES-128, constantIV: 0x01}\n", `encryption.constantIV: must be 32 hex digits`},
		{"cenc iv", base + "      - id: a\n        packaging: cmaf\n        encryption: {method: cenc, constantIV: 000102030405060708090a0b0c0d0e0f}\n", `encryption.constantIV: not allowed with cenc`},
		{"key uri", base + "      - id: a\n        encryption: {method: AES-128, keyURI: keys/k}\n", `encryption.keyURI: must be an absolute URI or an absolute path`},
		{"key uri quote", base + "      - id: a\n        encryption: {method: AES-128, keyURI: 'https://k/\"x'}\n", `encryption.keyURI: must be an absolute URI`},
		{"resource", base + "      - id: a\n        encryption: {method: AES-128, resourceID: ../x}\n", `encryption.resourceID: must match`},
		{"unknown key", base + "      - id: a\n        encryption: {method: AES-128, rotation: 5s}\n", `channels[0].endpoints[0].encryption.rotation: unknown key`},
		{"no provider", "dataDir: /d\nchannels:\n  - id: c\n    username: u\n    password: p\n    endpoints:\n      - id: a\n        encryption: {method: AES-128}\n", `channels[0].endpoints[0].encryption: needs a key provider: set keys.file or keys.url`},
		{"file and url", "dataDir: /d\nkeys: {url: http://h/s, file: /k}\nchannels:\n  - id: c\n    username: u\n    password: p\n", `keys: set file or url, not both`},
		{"bad url", "dataDir: /d\nkeys: {url: 'http://u:p@h/s'}\nchannels:\n  - id: c\n    username: u\n    password: p\n", `keys.url: must be an http(s) URL without credentials`},
		{"token without url", "dataDir: /d\nkeys: {token: t}\nchannels:\n  - id: c\n    username: u\n    password: p\n", `keys.token: only used with keys.url`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.yaml))
			if err == nil {
				err = cfg.WithDefaults().Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// A key file that does not load is a config error from New.
	_, err := New(Config{DataDir: t.TempDir(), Keys: KeysConfig{File: "/nonexistent/keys.yaml"},
		Channels: []ChannelConfig{{ID: "c", Username: "u", Password: "p"}}})
	if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "keys.file") {
		t.Fatalf("New with a missing key file: %v", err)
	}
}

// TestEndpointWindows: each endpoint applies its own manifest window,
// time delay and startover window to the one ingest; retention keeps what
// the longest startover window needs.
func TestEndpointWindows(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].StartoverWindow = 30 * time.Second
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "live"},
			{ID: "delayed", TimeDelay: 5 * time.Second, ManifestWindow: 3 * time.Second},
			{ID: "short", StartoverWindow: 10 * time.Second},
			{ID: "long", StartoverWindow: time.Hour},
		}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 20)
	live := e.media("/out/v1/live/live/channel_video_hi.m3u8")
	delayed := e.media("/out/v1/live/delayed/channel_video_hi.m3u8")
	if len(live.Segments) != 5 || len(delayed.Segments) != 3 {
		t.Fatalf("live %d, delayed %d segments; want 5 and 3", len(live.Segments), len(delayed.Segments))
	}
	lastLive := live.Segments[len(live.Segments)-1].ProgramDateTime
	lastDelayed := delayed.Segments[len(delayed.Segments)-1].ProgramDateTime
	if d := lastLive.Sub(lastDelayed); d != 5*time.Second {
		t.Fatalf("delayed endpoint is %v behind, want 5s", d)
	}
	old := "/channel_video_hi.m3u8" + vod(l, 2, 5) // 15-18 s ago
	if code, _ := e.get("/out/v1/live/short" + old); code != http.StatusNotFound {
		t.Fatalf("short startover served an old window: %d", code)
	}
	if m := e.media("/out/v1/live/long" + old); len(m.Segments) != 3 {
		t.Fatalf("long startover: %d segments", len(m.Segments))
	}
	if ch := e.o.lookup(testChannel); ch.Retain != time.Hour {
		t.Fatalf("retention %v, want the longest startover window", ch.Retain)
	}
}
