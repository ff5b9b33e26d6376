package main

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/origin"
)

func TestPrefillerPlaylists(t *testing.T) {
	cfg := originConfig{Window: time.Hour, Segment: 2 * time.Second, Renditions: 2, SegmentBytes: tsPacket, PutWorkers: 1}
	p := newPrefiller("http://127.0.0.1:1", cfg)
	if n := p.due(); n < 1700 || n > 1800 {
		t.Fatalf("due = %d segments for 1 h of 2 s minus 1%% margin", n)
	}
	pl := p.playlist(1, 10, 13)
	if got := uris(pl); len(got) != 3 || got[0] != "channel_r1_10.ts" || got[2] != "channel_r1_12.ts" {
		t.Fatalf("uris %v\n%s", got, pl)
	}
	if seq, ok := mediaSequence(pl); !ok || seq != 10 {
		t.Fatalf("media sequence %d %v", seq, ok)
	}
	want := p.epoch.Add(10 * cfg.Segment).UTC().Format("2006-01-02T15:04:05.000Z")
	if !strings.Contains(string(pl), "#EXT-X-PROGRAM-DATE-TIME:"+want+"\n") {
		t.Fatalf("first PDT %s missing:\n%s", want, pl)
	}
	if m := string(p.master()); strings.Count(m, "#EXT-X-STREAM-INF") != 2 || !strings.Contains(m, "channel_r0.m3u8") {
		t.Fatalf("master:\n%s", m)
	}
}

func TestRequireLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, "[::1]:80": true, "localhost:1": true, "0.0.0.0:80": false, ":80": false, "10.0.0.1:80": false} {
		if err := requireLoopback(addr); (err == nil) != ok {
			t.Errorf("requireLoopback(%q) = %v", addr, err)
		}
	}
}

// TestOriginMPDScenario runs 'bench origin' against an in-process origin
// with a DASH endpoint: the h264 pre-fill is repackaged and the mpd
// scenario's GETs all succeed.
func TestOriginMPDScenario(t *testing.T) {
	o, err := origin.New(origin.Config{DataDir: t.TempDir(), Channels: []origin.ChannelConfig{{
		ID: originChannel, Username: originUser, Password: originPass,
		Endpoints: []origin.EndpointConfig{{ID: "ts"}, {ID: dashEndpoint, Packaging: origin.PackagingDASH}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	srv := httptest.NewServer(o.Handler()) // 127.0.0.1
	defer srv.Close()
	cfg := originConfig{Addr: strings.TrimPrefix(srv.URL, "http://"), Clients: 2, Duration: 300 * time.Millisecond,
		Window: 2 * time.Minute, Segment: 2 * time.Second, Renditions: 2, SegmentBytes: tsPacket, ShiftSpan: 30 * time.Second,
		Scenarios: []string{"live-playlist", mpdScenario}, PutWorkers: 2, Media: mediaH264}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := benchOrigin(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Scenarios) != 2 || res.MPDBytes == 0 {
		t.Fatalf("result %+v", res)
	}
	for _, sc := range res.Scenarios {
		if sc.Requests == 0 || sc.Errors != 0 {
			t.Errorf("scenario %s: %d requests, %d errors (%s)", sc.Name, sc.Requests, sc.Errors, sc.FirstError)
		}
	}
	var b strings.Builder
	writeOriginTable(&b, res)
	if !strings.Contains(b.String(), "| mpd |") {
		t.Fatalf("table:\n%s", b.String())
	}
}
