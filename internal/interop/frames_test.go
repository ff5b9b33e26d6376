package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/avc"
	"github.com/asticode/go-astits"
	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/channel"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin"
	"github.com/pullpush/pullpush/output/mediapackage"
)

// Test channel and ingest credentials of the origin.
const (
	channelID = "1"
	user      = "interop"
	password  = "interop-secret"
)

// endpoints are every packaging the origin offers over one ingest. Keys of
// the TS and AES-128 endpoints rotate every 10 s, so the decoded 14 s
// window always crosses a key change. The cbcs and cenc keys do not
// rotate: ffmpeg (5.1, Debian 12) decrypts an fMP4 rendition with the key
// it started with and ignores later EXT-X-KEY tags, so a rotation inside
// the window would test ffmpeg, not the origin.
var endpoints = []origin.EndpointConfig{
	{ID: "ts"},
	{ID: "cmaf", Packaging: origin.PackagingCMAF},
	{ID: "aes", Encryption: encryption(origin.MethodAES128, 10*time.Second)},
	{ID: "cmaf-aes", Packaging: origin.PackagingCMAF, Encryption: encryption(origin.MethodAES128, 10*time.Second)},
	{ID: "sample-aes", Encryption: encryption(origin.MethodSampleAES, 10*time.Second)},
	{ID: "cbcs", Packaging: origin.PackagingCMAF, Encryption: encryption(origin.MethodCBCS, 0)},
	{ID: "cenc", Packaging: origin.PackagingCMAF, Encryption: encryption(origin.MethodCENC, 0)},
}

// encryption is an endpoint's encryption with keys rotating every
// rotation (0: one key).
func encryption(method string, rotation time.Duration) *origin.EncryptionConfig {
	return &origin.EncryptionConfig{Method: method, KeyRotationInterval: origin.Duration(rotation)}
}

// chain is the bundled channel relayed into an origin, on one loopback
// server.
type chain struct {
	srv   *httptest.Server
	start time.Time // the channel's epoch: asset a plays [0, 30 s), b from 30 s
}

// newChain starts the channel engine with its loop begun `into` ago, the
// origin with every endpoint and an in-process key server, and a relay
// from the channel to the origin's input a.
func newChain(t *testing.T, into time.Duration) *chain {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := channel.DefaultConfig()
	start := time.Now().Add(-into).Truncate(time.Second)
	cfg.Channels[0].Start = start
	eng, err := channel.New(cfg, channel.WithLogger(log), channel.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.NewServer(keys.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	org, err := origin.New(origin.Config{
		DataDir:     t.TempDir(),
		KeyProvider: ks.Provider(),
		Channels: []origin.ChannelConfig{{
			ID: channelID, Username: user, Password: password,
			ManifestWindow: 2 * time.Minute, Endpoints: endpoints,
		}},
	}, origin.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(keys.KeysPath, ks.Handler())
	mux.Handle("/channels/", eng.Handler())
	mux.Handle("/in/", org.Handler())
	mux.Handle("/out/", org.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		org.Close()
	})

	dest, err := mediapackage.New(mediapackage.Config{IngestURLs: []mediapackage.Ingest{{
		URL: srv.URL + "/in/v2/" + channelID + "/a/channel", Username: user, Password: password,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	svc := pullpush.New(pullpush.Options{Logger: log, SpoolDir: t.TempDir()})
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		svc.Close(sctx)
	})
	if _, err := svc.StartFetcher(ctx, pullpush.FetcherSpec{
		Name: "interop", URL: srv.URL + "/channels/" + channelID + "/master.m3u8", Output: dest,
	}); err != nil {
		t.Fatal(err)
	}
	return &chain{srv: srv, start: start}
}

// media fetches and parses a media playlist of the origin.
func (c *chain) media(t *testing.T, path string) (*hls.Media, error) {
	t.Helper()
	resp, err := http.Get(c.srv.URL + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return hls.ParseMedia(b)
}

// window returns the time-shift query of [from, to) of the channel's loop.
func (c *chain) window(from, to time.Duration) string {
	iso := func(d time.Duration) string { return c.start.Add(d).UTC().Format(time.RFC3339) }
	return "?start=" + iso(from) + "&end=" + iso(to)
}

// decode has ffmpeg decode url and returns the MD5 of every decoded frame
// and what ffmpeg printed at level error.
func decode(t *testing.T, url string) ([]string, string) {
	t.Helper()
	bin := testutil.RequireTool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-v", "error", "-allowed_extensions", "ALL", "-i", url, "-f", "framemd5", "-")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", url, err, stderr.String())
	}
	var hashes []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ",")
		hashes = append(hashes, strings.TrimSpace(f[len(f)-1]))
	}
	if len(hashes) == 0 {
		t.Fatalf("ffmpeg %s: no frames\n%s", url, stderr.String())
	}
	return hashes, stderr.String()
}

// sliceEPBs counts the emulation prevention bytes in the H.264 slice NAL
// units of every segment of a TS media playlist.
func (c *chain) sliceEPBs(t *testing.T, playlist string) int {
	t.Helper()
	m, err := c.media(t, playlist)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range m.Segments {
		resp, err := http.Get(c.srv.URL + path.Join(path.Dir(strings.Split(playlist, "?")[0]), s.URI))
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(data))
		for {
			d, err := dmx.NextData()
			if err != nil {
				break
			}
			if d.PES == nil || d.PES.Header.StreamID != 0xe0 {
				continue
			}
			for _, nalu := range avc.ExtractNalusFromByteStream(d.PES.Data) {
				if typ := nalu[0] & 0x1f; typ == 1 || typ == 5 {
					n += bytes.Count(nalu, []byte{0, 0, 3})
				}
			}
		}
	}
	return n
}

// firstDiff returns the index of the first frame where got and want differ,
// or -1.
func firstDiff(got, want []string) int {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			return i
		}
	}
	return -1
}

// ready reports why the closed window q of renditions is not complete yet
// at the origin: every rendition with ENDLIST, at least seven segments and
// the asset boundary.
func (c *chain) ready(t *testing.T, renditions []string, q string) error {
	for _, r := range renditions {
		m, err := c.media(t, "/out/v1/"+channelID+"/ts/"+r+".m3u8"+q)
		if err != nil {
			return err
		}
		if !m.Endlist || len(m.Segments) < 7 {
			return fmt.Errorf("%s: %d segments, ENDLIST %v", r, len(m.Segments), m.Endlist)
		}
		disc := 0
		for _, s := range m.Segments {
			if s.Discontinuity {
				disc++
			}
		}
		if disc != 1 {
			return fmt.Errorf("%s: %d discontinuities in the window, want the asset boundary", r, disc)
		}
	}
	return nil
}

// TestEveryEndpointDecodesLikeClearTS relays the bundled channel into the
// origin and has ffmpeg decode one closed time-shift window, which holds
// the boundary between assets a and b (an EXT-X-DISCONTINUITY, new
// timestamps), from every packaging endpoint: each video rendition and the
// audio rendition must decode to exactly the frames of the clear TS
// endpoint, and ffmpeg must report no decoding error.
func TestEveryEndpointDecodesLikeClearTS(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	// The live window at start holds [0, 40 s) of the loop; the decoded
	// window is [22 s, 36 s): four segments of asset a, three of b.
	c := newChain(t, 40*time.Second)
	q := c.window(22*time.Second, 36*time.Second)
	renditions := []string{"channel_video-0", "channel_video-1", "channel_audio-0"}
	for deadline := time.Now().Add(time.Minute); ; {
		err := c.ready(t, renditions, q)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("origin window not ready after a minute: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The encrypted parts of H.264 slices must survive emulation
	// prevention bytes (00 00 03), which the bundled media has.
	if n := c.sliceEPBs(t, "/out/v1/"+channelID+"/ts/channel_video-1.m3u8"+q); n == 0 {
		t.Fatal("the window's H.264 slices hold no emulation prevention bytes")
	} else {
		t.Logf("channel_video-1: %d emulation prevention bytes in the window's slices", n)
	}
	// The rotating keys change inside the window.
	for _, ep := range []string{"aes", "sample-aes"} {
		m, err := c.media(t, "/out/v1/"+channelID+"/"+ep+"/channel_video-0.m3u8"+q)
		if err != nil {
			t.Fatal(err)
		}
		uris := map[string]bool{}
		for _, s := range m.Segments {
			for _, k := range s.Keys {
				uris[k.URI] = true
			}
		}
		if len(uris) < 2 {
			t.Fatalf("%s: %d key URIs in the window, want a key change", ep, len(uris))
		}
	}
	for _, r := range renditions {
		clear, msg := decode(t, c.srv.URL+"/out/v1/"+channelID+"/ts/"+r+".m3u8"+q)
		if msg != "" {
			t.Fatalf("clear %s: ffmpeg reports:\n%s", r, msg)
		}
		for _, ep := range endpoints[1:] {
			got, msg := decode(t, c.srv.URL+"/out/v1/"+channelID+"/"+ep.ID+"/"+r+".m3u8"+q)
			if i := firstDiff(got, clear); i >= 0 {
				t.Errorf("%s %s: %d frames, %d in the clear TS; first differing frame %d", ep.ID, r, len(got), len(clear), i)
			} else {
				t.Logf("%s %s: %d frames identical to the clear TS", ep.ID, r, len(got))
			}
			if msg := testutil.DecoderErrors(msg); msg != "" {
				t.Errorf("%s %s: ffmpeg reports:\n%s", ep.ID, r, msg)
			}
		}
	}
}
