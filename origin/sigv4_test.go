package origin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/mediapackage"
	"github.com/pullpush/pullpush/output/mediapackagev2"
)

const (
	testAccessKey = "AKIDPULLPUSHTEST"
	testSecretKey = "sigv4-secret-0123456789"
)

// TestMediaPackageV2OutputIntoOrigin pushes through the mediapackagev2
// output (SigV4 signing, the REST API payload) into a channel that takes
// only SigV4-signed ingest: every segment arrives; a wrong secret, an
// unsigned or a digest request is a 403 naming the reason; the settings
// never show the secret.
func TestMediaPackageV2OutputIntoOrigin(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Username, c.Channels[0].Password = "", ""
		c.Channels[0].SigV4 = &SigV4Config{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Region: "eu-north-1"}
	})
	build := func(secret string) *mediapackage.Output {
		t.Helper()
		payload, _ := json.Marshal(map[string]any{"ingestUrls": []map[string]string{
			{"url": e.url("/in/v2/live/a/channel"), "accessKeyId": testAccessKey, "secretAccessKey": secret, "region": "eu-north-1"},
		}})
		cfg, err := mediapackagev2.ParsePayload(payload)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Now = e.clock.Now
		out, err := mediapackage.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { out.Close() })
		return out
	}
	out := build(testSecretKey)
	p := &pusher{t: t, target: out.Targets()[0]}
	l := newLive(t, testmedia.TS, e.clock.Now())
	for n := 0; n < 8; n++ {
		e.clock.Add(time.Second)
		l.push(p, n)
	}
	m := e.media("/out/v1/live/channel_video_hi.m3u8?start=" + iso(l.epoch) + "&end=" + iso(l.epoch.Add(8*time.Second)))
	if len(m.Segments) != 8 {
		t.Fatalf("%d segments, want 8", len(m.Segments))
	}

	bad := build("not-the-secret-at-all")
	err := bad.Targets()[0].Put(t.Context(), output.File{Name: "channel.m3u8", Size: 7, Open: openBytes([]byte("#EXTM3U"))})
	var se *output.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden || !strings.Contains(se.Body, "signature does not match") {
		t.Fatalf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "not-the-secret-at-all") {
		t.Fatalf("the secret is in the error: %v", err)
	}
	digestOut, err := mediapackage.New(mediapackage.Config{IngestURLs: []mediapackage.Ingest{{URL: e.url("/in/v2/live/a/channel"), Username: testUser, Password: testPass}}})
	if err != nil {
		t.Fatal(err)
	}
	defer digestOut.Close()
	err = digestOut.Targets()[0].Put(t.Context(), output.File{Name: "channel.m3u8", Size: 7, Open: openBytes([]byte("#EXTM3U"))})
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden || !strings.Contains(se.Body, "not signed") {
		t.Fatalf("digest request: %v", err)
	}

	cc, ok := e.o.ChannelSettings(testChannel)
	if !ok || cc.SigV4 == nil || cc.SigV4.AccessKeyID != testAccessKey || cc.SigV4.SecretAccessKey != "" {
		t.Fatalf("settings: %+v", cc.SigV4)
	}
}

// TestSigV4Config: the settings are validated with the key's path.
func TestSigV4Config(t *testing.T) {
	for _, c := range []struct {
		s    SigV4Config
		want string
	}{
		{SigV4Config{SecretAccessKey: testSecretKey, Region: "r"}, "sigv4.accessKeyId: must be set"},
		{SigV4Config{AccessKeyID: "a", SecretAccessKey: "short", Region: "r"}, "sigv4.secretAccessKey: must be at least 16"},
		{SigV4Config{AccessKeyID: "a", SecretAccessKey: testSecretKey}, "sigv4.region: must be set"},
	} {
		_, err := New(Config{DataDir: t.TempDir(), Channels: []ChannelConfig{{ID: "x", SigV4: &c.s}}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.s, err, c.want)
		}
	}
}

func openBytes(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}
