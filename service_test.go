package pullpush_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/output/file"
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
	if c := conns.Load(); c > first+2 {
		t.Errorf("the first fetcher opened %d source connections, %d fetchers %d: they do not share a pool", first, n, c)
	}
	t.Logf("first fetcher %d source connections, %d fetchers %d", first, n, conns.Load())
}
