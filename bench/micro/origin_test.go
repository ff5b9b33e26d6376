package micro

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/origin"
)

// handlerTransport serves requests in-process, without sockets.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// filledOrigin returns an origin handler whose channel "ch" holds window of
// 2 s segments ending at now, in renditions "channel_r0" (and "channel_r1"
// when two is set).
func filledOrigin(b *testing.B, window time.Duration, now time.Time, two bool) http.Handler {
	b.Helper()
	o, err := origin.New(origin.Config{
		DataDir: b.TempDir(),
		Channels: []origin.ChannelConfig{{ID: "ch", Username: "u", Password: "p",
			StartoverWindow: min(window+time.Hour, origin.MaxStartoverWindow), IFrames: origin.Bool(false)}},
		Now: func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	h := o.Handler()
	cl := &http.Client{Transport: &digest.Transport{Username: "u", Password: "p", Base: handlerTransport{h}}}
	put := func(name string, body []byte) {
		req, _ := http.NewRequest(http.MethodPut, "http://origin/in/v2/ch/a/"+name, bytes.NewReader(body))
		resp, err := cl.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b.Fatalf("PUT %s: %s", name, resp.Status)
		}
	}
	seg := make([]byte, 188)
	seg[0], seg[1], seg[2], seg[3] = 0x47, 0x1f, 0xff, 0x10
	const d = 2 * time.Second
	n := int(window / d)
	start := now.Add(-time.Duration(n) * d)
	put("channel.m3u8", []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nchannel_r0.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=500000\nchannel_r1.m3u8\n"))
	const batch = 1800
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		rends := []string{"r0", "r1"}
		if !two {
			rends = rends[:1]
		}
		for _, r := range rends {
			var pl bytes.Buffer
			fmt.Fprintf(&pl, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n", from)
			for k := from; k < to; k++ {
				name := "channel_" + r + "_" + strconv.Itoa(k) + ".ts"
				put(name, seg)
				fmt.Fprintf(&pl, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:2.000,\n%s\n",
					start.Add(time.Duration(k)*d).UTC().Format("2006-01-02T15:04:05.000Z"), name)
			}
			put("channel_"+r+".m3u8", pl.Bytes())
		}
	}
	return h
}

// BenchmarkOriginPlaylist measures playlist generation at several startover
// window lengths; with an index (not a scan) the cost per request must not
// grow with the window.
func BenchmarkOriginPlaylist(b *testing.B) {
	windows := []time.Duration{time.Hour, 24 * time.Hour}
	if os.Getenv("PULLPUSH_BENCH_LONG") == "1" {
		windows = append(windows, 14*24*time.Hour)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, w := range windows {
		// The 14-day window is 604,800 files per rendition: fill one only.
		h := filledOrigin(b, w, now, w <= 24*time.Hour)
		mid := now.Add(-w / 2).Unix()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/out/v1/ch/channel_r0.m3u8", nil))
		lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
		lastSeg := lines[len(lines)-1]
		cases := []struct{ name, path string }{
			{"multivariant", "/out/v1/ch/index.m3u8"},
			{"live", "/out/v1/ch/channel_r0.m3u8"},
			{"shift-10m", fmt.Sprintf("/out/v1/ch/channel_r0.m3u8?start=%d&end=%d", mid, mid+600)},
			{"segment", "/out/v1/ch/" + lastSeg},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("window=%s/%s", fmtWindow(w), c.name), func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, c.path, nil)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", c.path, rec.Code, rec.Body)
				}
				b.SetBytes(int64(rec.Body.Len()))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
				}
			})
		}
	}
}

func fmtWindow(w time.Duration) string {
	if w >= 24*time.Hour {
		return strconv.Itoa(int(w/(24*time.Hour))) + "d"
	}
	return w.String()
}
