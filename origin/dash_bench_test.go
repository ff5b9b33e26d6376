package origin

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// BenchmarkDASHManifest measures building and writing the live MPD of a
// DASH endpoint next to the live media playlist of the TS endpoint, over
// the same ingest: 70 s of the test media (1 s segments, two video
// variants, audio and WebVTT), pushed over loopback, with the default 60 s
// manifest window. The test media restart their clock every 8 s, as a
// VOD2Live channel does at every asset, so the MPD has 8 Periods, each with
// video, audio, trick play and text.
func BenchmarkDASHManifest(b *testing.B) {
	h := dashBenchOrigin(b).Handler()
	for _, p := range []struct{ name, url string }{
		{"mpd", "/out/v1/live/dash/index.mpd"},
		{"media-playlist", "/out/v1/live/ts/channel_video_hi.m3u8"},
		{"multivariant", "/out/v1/live/ts/index.m3u8"},
	} {
		b.Run(p.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, p.url, nil)
			var size int
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/op")
		})
	}
}

// dashBenchOrigin is an origin with 70 s of the test media pushed over
// loopback to a TS and a DASH endpoint (default 60 s manifest window).
func dashBenchOrigin(b *testing.B) *Origin {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	o, err := New(Config{
		DataDir: b.TempDir(),
		Channels: []ChannelConfig{{
			ID: testChannel, Username: testUser, Password: testPass,
			Endpoints: []EndpointConfig{{ID: "ts"}, {ID: "dash", Packaging: PackagingDASH}},
		}},
		Now: func() time.Time { return clock() },
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	srv := httptest.NewServer(o.Handler())
	b.Cleanup(srv.Close)
	set, err := testmedia.Load(testmedia.TS)
	if err != nil {
		b.Fatal(err)
	}
	l := &live{set: set, epoch: now, window: 4}
	cl := &http.Client{Transport: &digest.Transport{Username: testUser, Password: testPass}}
	put := func(name string, data []byte) {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/in/v2/"+testChannel+"/a/"+name, bytes.NewReader(data))
		resp, err := cl.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("PUT %s: %s", name, resp.Status)
		}
	}
	for n := range 70 {
		now = now.Add(time.Second)
		if n == 0 {
			put("channel.m3u8", l.master())
		}
		for _, r := range set.Renditions {
			put(segName(r, n), l.segData(r, n))
			put("channel_"+r.Name+".m3u8", l.playlist(r, n))
		}
	}
	return o
}

// BenchmarkMPDEncode compares the MPD writer with encoding/xml on the
// live MPD of BenchmarkDASHManifest (8 Periods of video, audio, trick play
// and subtitles), in the same run.
func BenchmarkMPDEncode(b *testing.B) {
	o := dashBenchOrigin(b)
	ch := o.lookup(testChannel)
	ch.mu.Lock()
	mb, es := ch.dashManifest(ch.endpoint("dash"), shift{}, "http://127.0.0.1/time", nil)
	ch.mu.Unlock()
	if es != nil {
		b.Fatal(es)
	}
	m := mb.m
	for _, enc := range []struct {
		name string
		f    func() ([]byte, error)
	}{{"writer", m.Encode}, {"encoding-xml", m.EncodeXML}} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
