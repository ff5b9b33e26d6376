package origin

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/keys"
)

// frameHashes decodes url with ffmpeg and returns the MD5 of every decoded
// frame (framemd5), failing on any decoder message. headers are extra HTTP
// headers (e.g. the key server's bearer token).
func frameHashes(t *testing.T, url, headers string) []string {
	t.Helper()
	hashes, stderr := decodeFrames(t, url, headers)
	if stderr != "" {
		t.Fatalf("ffmpeg %s:\n%s", url, stderr)
	}
	return hashes
}

// decodeFrames is frameHashes that returns ffmpeg's messages instead of
// failing on them.
func decodeFrames(t *testing.T, url, headers string) ([]string, string) {
	t.Helper()
	if headers == "" {
		return testutil.DecodeFrames(t, url)
	}
	return testutil.DecodeFrames(t, url, "-headers", headers)
}

// TestEncryptedEndpointsDecodeLikeClear has ffmpeg decode every packaged
// endpoint (CMAF, AES-128 TS and CMAF, SAMPLE-AES TS, cbcs, cenc) of one
// ingest, fetching keys from the loopback key server with its bearer
// token, and compares every decoded video and audio frame with the clear
// TS endpoint.
func TestEncryptedEndpointsDecodeLikeClear(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	k := newKeyEnv(t, "player-t0ken")
	e := newEnv(t, allEndpoints(k.speke(t)))
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 5)
	q := vod(l, 1, 4)
	auth := "Authorization: Bearer " + k.token + "\r\n"
	for _, r := range []string{"channel_video_hi", "channel_audio"} {
		clear := frameHashes(t, e.url("/out/v1/live/ts/"+r+".m3u8"+q), "")
		for _, ep := range []string{"cmaf", "aes", "cmaf-aes", "sample-aes", "cbcs", "cenc"} {
			got, msg := decodeFrames(t, e.url("/out/v1/live/"+ep+"/"+r+".m3u8"+q), auth)
			if strings.Join(got, ",") != strings.Join(clear, ",") {
				t.Errorf("%s %s: %d frames decode differently from the clear TS endpoint (%d frames)", ep, r, len(got), len(clear))
			}
			if msg := testutil.DecoderErrors(msg); msg != "" {
				t.Errorf("%s %s: ffmpeg reports:\n%s", ep, r, msg)
			}
		}
	}
}

// TestAES128FFmpegKeyURI follows the documented recipe: an AES-128
// endpoint whose key URI carries the key server's token, decoded with
// ffmpeg -allowed_extensions ALL -i URL -f null - from the multivariant.
func TestAES128FFmpegKeyURI(t *testing.T) {
	bin := testutil.RequireTool(t, "ffmpeg")
	k := newKeyEnv(t, "t0k")
	e := newEnv(t, func(c *Config) {
		c.KeyProvider = k.speke(t)
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "aes", Encryption: &EncryptionConfig{
			Method: MethodAES128, KeyURI: k.hs.URL + "/keys/{resource}/{kid}?token=" + k.token,
		}}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 4)
	u := e.url("/out/v1/live/aes/index.m3u8" + vod(l, 0, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-v", "error", "-allowed_extensions", "ALL", "-i", u, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	// Without the token in the URI the key server refuses the key and
	// ffmpeg cannot decode.
	e2 := newEnv(t, func(c *Config) {
		c.KeyProvider = k.speke(t)
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "aes", Encryption: &EncryptionConfig{Method: MethodAES128}}}
	})
	e2.pushSteps(newLive(t, testmedia.TS, e2.clock.Now()), e2.pusher("a"), 0, 4)
	out, err = exec.CommandContext(ctx, bin, "-v", "error", "-allowed_extensions", "ALL", "-i", e2.url("/out/v1/live/aes/channel_video_hi.m3u8"+vod(l, 0, 3)), "-f", "null", "-").CombinedOutput()
	if err == nil && len(bytes.TrimSpace(out)) == 0 {
		t.Fatal("ffmpeg decoded without the key server's token")
	}
}

// TestEncryptedFMP4Ingest: an fMP4 ingest is encrypted as stored (AES-128
// whole files including the init section, cbcs and cenc with mp4ff) on
// both packagings, and decodes frame for frame like the clear endpoint.
func TestEncryptedFMP4Ingest(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	k := newKeyEnv(t, "tok")
	e := newEnv(t, allEndpoints(k.speke(t)))
	l := newLive(t, testmedia.FMP4, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 4)
	q := vod(l, 1, 3)
	auth := "Authorization: Bearer " + k.token + "\r\n"
	for _, r := range []string{"channel_video_hi", "channel_audio"} {
		clear := frameHashes(t, e.url("/out/v1/live/ts/"+r+".m3u8"+q), "")
		for _, ep := range []string{"cmaf", "aes", "cmaf-aes", "cbcs", "cenc"} {
			m := e.media("/out/v1/live/" + ep + "/" + r + ".m3u8" + q)
			if m.Segments[0].Map == nil || strings.Contains(m.Segments[0].URI, ".m4s") != true {
				t.Fatalf("%s: fMP4 ingest not served as fMP4:\n%s", ep, m.Encode())
			}
			got := frameHashes(t, e.url("/out/v1/live/"+ep+"/"+r+".m3u8"+q), auth)
			if strings.Join(got, ",") != strings.Join(clear, ",") {
				t.Errorf("%s %s: %d frames decode differently from the clear endpoint (%d frames)", ep, r, len(got), len(clear))
			}
		}
	}
	// SAMPLE-AES is TS only: fMP4 segments are refused, never served clear.
	m := e.media("/out/v1/live/sample-aes/channel_audio.m3u8")
	if code, _ := e.get("/out/v1/live/sample-aes/" + m.Segments[0].URI); code == 200 {
		t.Fatal("SAMPLE-AES endpoint served an fMP4 segment")
	}
}

// TestInProcessKeyServer is the demo setup: the key server's Provider and
// handler in the origin's process and on its mux; EXT-X-KEY URIs are
// absolute paths (/keys/...) on the origin's host, and ffmpeg decodes the
// AES-128 and cbcs endpoints.
func TestInProcessKeyServer(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	ks, err := keys.NewServer(keys.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, allEndpoints(ks.Provider()))
	mux := http.NewServeMux()
	mux.Handle("/in/", e.o.Handler())
	mux.Handle("/out/", e.o.Handler())
	mux.Handle(keys.KeysPath, ks.Handler())
	srv := newLoopbackServer(t, mux)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 4)
	m := e.media("/out/v1/live/aes/channel_video_hi.m3u8")
	if uri := m.Segments[0].Keys[0].URI; !strings.HasPrefix(uri, "/keys/live/") {
		t.Fatalf("key URI %q", uri)
	}
	q := vod(l, 1, 3)
	clear := frameHashes(t, srv.URL+"/out/v1/live/ts/channel_video_hi.m3u8"+q, "")
	for _, ep := range []string{"aes", "cbcs"} {
		if got := frameHashes(t, srv.URL+"/out/v1/live/"+ep+"/channel_video_hi.m3u8"+q, ""); strings.Join(got, ",") != strings.Join(clear, ",") {
			t.Fatalf("%s: decodes differently", ep)
		}
	}
}
