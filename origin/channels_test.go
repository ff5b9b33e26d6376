package origin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/internal/versitygw"
)

// channelPusher pushes to input of any channel with the given password.
func (e *env) channelPusher(channel, input, pass string) *pusher {
	return &pusher{
		t:      e.t,
		base:   e.url("/in/v2/" + channel + "/" + input + "/"),
		client: &http.Client{Transport: &digest.Transport{Username: testUser, Password: pass}},
	}
}

// startOrigin runs an origin on cfg (clock of e when e is set) behind a
// loopback server; Close is left to the caller or the test's cleanup.
func startOrigin(t *testing.T, cfg Config) *env {
	t.Helper()
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler())
	t.Cleanup(func() {
		srv.Close()
		o.Close()
	})
	return &env{t: t, o: o, srv: srv}
}

// TestRuntimeChannels creates a channel on a running origin, pushes into
// it, adds a CMAF endpoint over the same index, changes a window with an
// empty password (the current one keeps working), deletes it, and checks
// what survives a restart on the same data directory.
func TestRuntimeChannels(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := startOrigin(t, Config{DataDir: dir})
	if code, _ := e.get("/out/v1/news/index.m3u8"); code != http.StatusNotFound {
		t.Fatalf("unknown channel: %d", code)
	}
	got, err := e.o.AddChannel(ctx, ChannelConfig{ID: "news", Username: testUser, Password: testPass,
		ManifestWindow: 5 * time.Second, Endpoints: []EndpointConfig{{ID: "ts"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Password != "" || got.StartoverWindow != DefaultStartoverWindow {
		t.Fatalf("returned settings: password %q, startover %v", got.Password, got.StartoverWindow)
	}
	if _, err := e.o.AddChannel(ctx, ChannelConfig{ID: "news", Username: "u", Password: "p"}); !errors.Is(err, ErrChannelExists) {
		t.Fatalf("second add: %v", err)
	}
	if _, err := e.o.AddChannel(ctx, ChannelConfig{ID: "bad/id", Username: "u", Password: "p"}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "channel.id") {
		t.Fatalf("bad id: %v", err)
	}

	l := newLive(t, testmedia.TS, time.Now().Add(-time.Minute).Truncate(time.Second))
	p := e.channelPusher("news", "a", testPass)
	for n := range 4 {
		l.push(p, n)
	}
	before := e.media("/out/v1/news/ts/channel_video_hi.m3u8")
	if len(before.Segments) != 4 {
		t.Fatalf("ts endpoint: %d segments", len(before.Segments))
	}

	// A CMAF endpoint added at run time serves the segments ingested before.
	if _, err := e.o.ModifyChannel(ctx, "news", func(cc ChannelConfig) (ChannelConfig, error) {
		cc.Endpoints = append(cc.Endpoints, EndpointConfig{ID: "cmaf", Packaging: PackagingCMAF})
		return cc, nil
	}); err != nil {
		t.Fatal(err)
	}
	cm := e.media("/out/v1/news/cmaf/channel_video_hi.m3u8")
	if len(cm.Segments) != 4 || cm.Segments[0].Map == nil {
		t.Fatalf("cmaf endpoint after the update: %d segments, map %v", len(cm.Segments), cm.Segments[0].Map)
	}
	if code, b := e.get("/out/v1/news/cmaf/" + cm.Segments[0].URI); code != http.StatusOK || len(b) == 0 {
		t.Fatalf("cmaf segment: %d", code)
	}

	// An update without the password keeps it; the index stays.
	if _, err := e.o.UpdateChannel(ctx, ChannelConfig{ID: "news", Username: testUser, ManifestWindow: 3 * time.Second,
		Endpoints: []EndpointConfig{{ID: "ts"}, {ID: "cmaf", Packaging: PackagingCMAF}}}); err != nil {
		t.Fatal(err)
	}
	l.push(p, 4)
	if m := e.media("/out/v1/news/ts/channel_video_hi.m3u8"); len(m.Segments) != 3 || m.Segments[2].URI == before.Segments[3].URI {
		t.Fatalf("after the window change: %d segments", len(m.Segments))
	}
	if st, _ := e.o.ChannelSettings("news"); st.Password != "" || st.ManifestWindow != 3*time.Second || len(st.Endpoints) != 2 {
		t.Fatalf("settings: %+v", st)
	}

	// A second channel, created and then deleted.
	if _, err := e.o.AddChannel(ctx, ChannelConfig{ID: "gone", Username: testUser, Password: testPass}); err != nil {
		t.Fatal(err)
	}
	l.push(e.channelPusher("gone", "a", testPass), 0)
	if err := e.o.RemoveChannel(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if code, _ := e.get("/out/v1/gone/index.m3u8"); code != http.StatusNotFound {
		t.Fatalf("deleted channel playback: %d", code)
	}
	if err := e.o.RemoveChannel(ctx, "gone"); !errors.Is(err, ErrNoChannel) {
		t.Fatalf("second delete: %v", err)
	}
	e.srv.Close()
	e.o.Close()

	// A restart on the same directory has the channel with its settings
	// (the index is in memory: it starts empty, as for configured ones).
	e2 := startOrigin(t, Config{DataDir: dir})
	if ids := e2.o.ChannelIDs(); len(ids) != 1 || ids[0] != "news" {
		t.Fatalf("after the restart: channels %v", ids)
	}
	st, _ := e2.o.ChannelSettings("news")
	if st.ManifestWindow != 3*time.Second || len(st.Endpoints) != 2 {
		t.Fatalf("after the restart: %+v", st)
	}
	l2 := newLive(t, testmedia.TS, time.Now().Add(-10*time.Second).Truncate(time.Second))
	l2.push(e2.channelPusher("news", "a", testPass), 0)
	if m := e2.media("/out/v1/news/cmaf/channel_video_hi.m3u8"); len(m.Segments) != 1 {
		t.Fatalf("after the restart: %d segments", len(m.Segments))
	}
}

// TestConfigSeedsStore: channels of the configuration are written to the
// store; a change made through the API outlives a restart with the same
// configuration, a changed definition in the configuration replaces it,
// and a channel the configuration no longer lists is deleted while one
// created through the API stays.
func TestConfigSeedsStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	yamlCh := ChannelConfig{ID: "cfg", Username: testUser, Password: testPass, ManifestWindow: 10 * time.Second}
	run := func(chs ...ChannelConfig) *Origin {
		o, err := New(Config{DataDir: dir, Channels: chs})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	o := run(yamlCh)
	if _, err := o.UpdateChannel(ctx, ChannelConfig{ID: "cfg", Username: testUser, ManifestWindow: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.AddChannel(ctx, ChannelConfig{ID: "api", Username: testUser, Password: testPass}); err != nil {
		t.Fatal(err)
	}
	o.Close()

	o = run(yamlCh)
	if st, _ := o.ChannelSettings("cfg"); st.ManifestWindow != 20*time.Second {
		t.Fatalf("same configuration: manifest window %v, want the API's 20s", st.ManifestWindow)
	}
	o.Close()

	changed := yamlCh
	changed.ManifestWindow = 30 * time.Second
	o = run(changed)
	if st, _ := o.ChannelSettings("cfg"); st.ManifestWindow != 30*time.Second {
		t.Fatalf("changed configuration: manifest window %v, want 30s", st.ManifestWindow)
	}
	o.Close()

	o = run()
	defer o.Close()
	if ids := o.ChannelIDs(); len(ids) != 1 || ids[0] != "api" {
		t.Fatalf("configuration without the channel: %v, want [api]", ids)
	}
}

// TestSharedRuntimeChannels: a channel created on one instance of shared
// storage appears on the other, which takes its ingest and serves the
// same playlists; a deletion on one disappears from both.
func TestSharedRuntimeChannels(t *testing.T) {
	ctx := context.Background()
	gw := versitygw.Start(t, sharedBucket)
	st := sharedSettings(gw, "runtime")
	a := startOrigin(t, Config{Storage: st})
	b := startOrigin(t, Config{Storage: st})
	if _, err := a.o.AddChannel(ctx, ChannelConfig{ID: "sport", Username: testUser, Password: testPass, ManifestWindow: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		_, ok := b.o.ChannelSettings("sport")
		return ok
	}, "instance B never saw the channel created on A")
	l := newLive(t, testmedia.TS, time.Now().Add(-30*time.Second).Truncate(time.Second))
	pb := b.channelPusher("sport", "a", testPass)
	for n := range 3 {
		l.push(pb, n)
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		ca, ba := a.fetch("/out/v1/sport/channel_video_hi.m3u8")
		cb, bb := b.fetch("/out/v1/sport/channel_video_hi.m3u8")
		if ca != http.StatusOK || cb != http.StatusOK || string(ba) != string(bb) {
			return false
		}
		m, err := hls.ParseMedia(ba)
		return err == nil && len(m.Segments) == 3
	}, "instances do not serve the same 3 segments of the new channel")
	// A rotation on A is accepted by B (the record carries it).
	if err := a.o.RotateCredentials("sport", "", "", "rotated-pass", time.Hour); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		req, _ := http.NewRequest(http.MethodDelete, b.url("/in/v2/sport/b/nosuch.ts"), nil)
		resp, err := (&http.Client{Transport: &digest.Transport{Username: testUser, Password: "rotated-pass"}}).Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode != http.StatusUnauthorized
	}, "instance B never accepted the password rotated on A")
	l.push(pb, 3) // the old password still works during the grace period
	if err := b.o.RemoveChannel(ctx, "sport"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		code, _ := a.fetch("/out/v1/sport/index.m3u8")
		return code == http.StatusNotFound
	}, "instance A still serves the channel deleted on B")
}
