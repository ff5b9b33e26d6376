package pullpush_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/file"
	"github.com/pullpush/pullpush/output/mediapackage"
)

// TestFetchersShareSourceConnections runs many fetchers of one source and
// checks that they share a small pool of connections to it: per-fetcher
// pools cost two goroutines and 8 KiB of buffers per connection, several
// connections per fetcher, which dominated memory and GC at 1,000 channels.
func TestFetchersShareSourceConnections(t *testing.T) {
	var conns atomic.Int64
	src := livesource.New(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: 6, EndAfter: 6})
	srv := httptest.NewUnstartedServer(src)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	svc := pullpush.New(pullpush.Options{SpoolDir: t.TempDir()})
	ctx := context.Background()
	defer svc.Close(ctx)
	// One fetcher after the other: with a shared pool the later ones reuse
	// the connections the first one opened.
	const n = 12
	var first int64
	for i := range n {
		dest, err := file.New(file.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		id, err := svc.StartFetcher(ctx, pullpush.FetcherSpec{Name: "shared", URL: srv.URL + livesource.MasterPath, Output: dest})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = svc.Wait(wctx, id)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := svc.Fetcher(id); st.SegmentsPushed != 24 {
			t.Fatalf("fetcher %s pushed %d segments, want 24", id, st.SegmentsPushed)
		}
		if i == 0 {
			first = conns.Load()
		}
	}
	// Per-fetcher pools would open about n times the first fetcher's
	// connections; a shared one adds a few when later fetchers happen to
	// have more requests in flight at once than the first had (a race of
	// timing, not a leak): at most three fetchers' worth for all twelve.
	if c := conns.Load(); c > 3*first {
		t.Errorf("the first fetcher opened %d source connections, %d fetchers %d: they do not share a pool", first, n, c)
	}
	t.Logf("first fetcher %d source connections, %d fetchers %d", first, n, conns.Load())
}

// hidingWrapper wraps an output the way a cluster fence does, hiding its
// optional interfaces.
type hidingWrapper struct{ output.Output }

// TestTimeoutMsBoundsSegmentDownload builds a mediapackage output from a
// payload with hls-pull-push's timeoutMs and checks that it bounds a
// source segment download that stalls (the fetcher's own bound is at
// least 15 s), also when the service wraps the output, and that the
// retried segment is then pushed.
func TestTimeoutMsBoundsSegmentDownload(t *testing.T) {
	src := livesource.New(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: 6, EndAfter: 6})
	stalled := make(chan time.Duration, 1)
	var once atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/seg_") && once.CompareAndSwap(false, true) {
			start := time.Now()
			<-r.Context().Done() // stall until the fetcher gives up
			stalled <- time.Since(start)
			return
		}
		src.ServeHTTP(w, r)
	}))
	defer srv.Close()
	snk := sink.New(sink.Options{Username: "u", Password: "p"})
	ingest := httptest.NewServer(snk)
	defer ingest.Close()

	svc := pullpush.New(pullpush.Options{
		SpoolDir:   t.TempDir(),
		WrapOutput: func(_ string, o output.Output) output.Output { return hidingWrapper{o} },
	})
	ctx := context.Background()
	defer svc.Close(ctx)
	dest, err := mediapackage.Factory.New(json.RawMessage(`{"ingestUrls":[{"url":"` + ingest.URL + `/in/v2/1/a/channel","username":"u","password":"p"}],"timeoutMs":300}`))
	if err != nil {
		t.Fatal(err)
	}
	id, err := svc.StartFetcher(ctx, pullpush.FetcherSpec{Name: "timeout", URL: srv.URL + livesource.MasterPath, Output: dest})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-stalled:
		// 300 ms configured; the default would be 15 s or more.
		if d >= 10*time.Second {
			t.Errorf("stalled download abandoned after %v, want about 300ms", d)
		}
		t.Logf("stalled download abandoned after %v", d)
	case <-time.After(60 * time.Second):
		t.Fatal("the stalled segment download was never abandoned")
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := svc.Wait(wctx, id); err != nil {
		t.Fatal(err)
	}
	if st, _ := svc.Fetcher(id); st.SegmentsPushed != 24 {
		t.Errorf("pushed %d segments, want 24 (the stalled one retried)", st.SegmentsPushed)
	}
}
