package micro

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/output/mediapackage"
)

// vodSource serves one multivariant playlist with a single VOD rendition of
// n segments of size bytes each, all from one shared buffer.
func vodSource(n, size int) http.Handler {
	body := make([]byte, size)
	for i := 0; i < size; i += 188 {
		body[i] = 0x47
	}
	var pl strings.Builder
	pl.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&pl, "#EXTINF:2.000,\nseg_%d.ts\n", i)
	}
	pl.WriteString("#EXT-X-ENDLIST\n")
	media := []byte(pl.String())
	master := []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nv0.m3u8\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/master.m3u8":
			w.Write(master)
		case r.URL.Path == "/v0.m3u8":
			w.Write(media)
		case strings.HasPrefix(r.URL.Path, "/seg_"):
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	})
}

// discardSink accepts every PUT and counts segment bytes.
type discardSink struct{ segBytes atomic.Int64 }

func (s *discardSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, _ := io.Copy(io.Discard, r.Body)
	if strings.HasSuffix(r.URL.Path, ".ts") {
		s.segBytes.Add(n)
	}
	w.WriteHeader(http.StatusCreated)
}

// BenchmarkRelayVOD measures the segment copy path of the relay engine end
// to end over loopback: poll, download, spool, PUT with the mediapackage
// output. Each iteration relays a VOD of 20 segments.
func BenchmarkRelayVOD(b *testing.B) {
	for _, size := range []int{64 << 10, 512 << 10} {
		b.Run("segment="+strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			const n = 20
			src := httptest.NewServer(vodSource(n, size))
			defer src.Close()
			sink := &discardSink{}
			dst := httptest.NewServer(sink)
			defer dst.Close()
			svc := pullpush.New(pullpush.Options{SpoolDir: b.TempDir()})
			defer svc.Close(context.Background())
			ctx := context.Background()
			b.SetBytes(int64(n * size))
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				out, err := mediapackage.New(mediapackage.Config{IngestURLs: []mediapackage.Ingest{{URL: dst.URL + "/in/v2/ch/a/channel", Username: "u", Password: "p"}}})
				if err != nil {
					b.Fatal(err)
				}
				id, err := svc.StartFetcher(ctx, pullpush.FetcherSpec{Name: "bench", URL: src.URL + "/master.m3u8", Output: out})
				if err != nil {
					b.Fatal(err)
				}
				if err := svc.Wait(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*n), "ns/segment")
			if got, want := sink.segBytes.Load(), int64(b.N*n*size); got < want {
				b.Fatalf("sink got %d segment bytes, want %d", got, want)
			}
		})
	}
}
