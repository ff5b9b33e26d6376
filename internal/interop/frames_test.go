package interop

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/avc"
	"github.com/asticode/go-astits"

	"github.com/pullpush/pullpush/internal/chaintest"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/origin"
)

const channelID = chaintest.ChannelID

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

// sliceEPBs counts the emulation prevention bytes in the H.264 slice NAL
// units of every segment of a TS media playlist.
func sliceEPBs(t *testing.T, c *chaintest.Chain, playlist string) int {
	t.Helper()
	m, err := c.Media(playlist)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range m.Segments {
		resp, err := http.Get(c.URL + path.Join(path.Dir(strings.Split(playlist, "?")[0]), s.URI))
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
	c := chaintest.Start(t, 40*time.Second, endpoints)
	q := c.Window(22*time.Second, 36*time.Second)
	renditions := []string{"channel_video-0", "channel_video-1", "channel_audio-0"}
	c.WaitClosed(t, "ts", renditions, q, 7, 1)
	// The encrypted parts of H.264 slices must survive emulation
	// prevention bytes (00 00 03), which the bundled media has.
	if n := sliceEPBs(t, c, "/out/v1/"+channelID+"/ts/channel_video-1.m3u8"+q); n == 0 {
		t.Fatal("the window's H.264 slices hold no emulation prevention bytes")
	} else {
		t.Logf("channel_video-1: %d emulation prevention bytes in the window's slices", n)
	}
	// The rotating keys change inside the window.
	for _, ep := range []string{"aes", "sample-aes"} {
		m, err := c.Media("/out/v1/" + channelID + "/" + ep + "/channel_video-0.m3u8" + q)
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
		clear, msg := chaintest.Decode(t, c.URL+"/out/v1/"+channelID+"/ts/"+r+".m3u8"+q)
		if msg != "" {
			t.Fatalf("clear %s: ffmpeg reports:\n%s", r, msg)
		}
		for _, ep := range endpoints[1:] {
			got, msg := chaintest.Decode(t, c.URL+"/out/v1/"+channelID+"/"+ep.ID+"/"+r+".m3u8"+q)
			if i := chaintest.FirstDiff(got, clear); i >= 0 {
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
