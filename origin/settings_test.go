package origin

import (
	"errors"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/internal/testmedia"
)

// TestManifestNameAndStart: an endpoint's multivariant is served under its
// manifest name (index.m3u8 is then not the multivariant), and EXT-X-START
// is in its multivariant and media playlists.
func TestManifestNameAndStart(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"},
			{ID: "hd", ManifestName: "live", Start: &StartConfig{TimeOffset: -6, Precise: true}}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 3)
	code, mv := e.get("/out/v1/live/hd/live.m3u8")
	if code != 200 || !strings.Contains(string(mv), "#EXT-X-START:TIME-OFFSET=-6") || !strings.Contains(string(mv), "PRECISE=YES") ||
		!strings.Contains(string(mv), "#EXT-X-STREAM-INF") {
		t.Fatalf("multivariant: %d\n%s", code, mv)
	}
	if code, media := e.get("/out/v1/live/hd/channel_video_hi.m3u8"); code != 200 || !strings.Contains(string(media), "#EXT-X-START:TIME-OFFSET=-6") {
		t.Fatalf("media playlist: %d\n%s", code, media)
	}
	if code, _ := e.get("/out/v1/live/hd/index.m3u8"); code == 200 {
		t.Fatal("index.m3u8 still serves the renamed multivariant")
	}
	if code, body := e.get("/out/v1/live/ts/index.m3u8"); code != 200 || strings.Contains(string(body), "EXT-X-START") {
		t.Fatalf("other endpoint: %d\n%s", code, body)
	}
	for _, c := range []struct {
		ep   EndpointConfig
		want string
	}{
		{EndpointConfig{ID: "e", ManifestName: "a.b"}, "manifestName"},
		{EndpointConfig{ID: "e", ManifestName: "a/b"}, "manifestName"},
		{EndpointConfig{ID: "e", Start: &StartConfig{TimeOffset: 1e9}}, "start.timeOffset"},
	} {
		_, err := New(Config{DataDir: t.TempDir(), Channels: []ChannelConfig{{ID: "c", Username: "u", Password: "p", Endpoints: []EndpointConfig{c.ep}}}})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.ep, err)
		}
	}
}
