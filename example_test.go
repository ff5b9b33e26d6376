package pullpush_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/output/file"
)

// Relay a live channel into a local directory until the source ends.
func Example() {
	// A live source on loopback: 2 video renditions, demuxed audio and
	// subtitles, 1 s segments, ending after 6 segments.
	src := livesource.New(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: 6, EndAfter: 6})
	srv := httptest.NewServer(src)
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "pullpush-example")
	defer os.RemoveAll(dir)

	svc := pullpush.New(pullpush.Options{Logger: slog.New(slog.DiscardHandler)})
	dest, err := file.New(file.Config{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	id, err := svc.StartFetcher(ctx, pullpush.FetcherSpec{
		Name: "demo", URL: srv.URL + livesource.MasterPath, Output: dest,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := svc.Wait(wctx, id); err != nil {
		fmt.Println(err)
		return
	}
	st, _ := svc.Fetcher(id)
	fmt.Println("state:", st.State, "segments pushed:", st.SegmentsPushed)
	names, _ := filepath.Glob(filepath.Join(dir, "*.m3u8"))
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(filepath.Base(n))
	}
	// Output:
	// state: ended segments pushed: 24
	// channel.m3u8
	// channel_audio.m3u8
	// channel_subs.m3u8
	// channel_video-hi.m3u8
	// channel_video-lo.m3u8
}
