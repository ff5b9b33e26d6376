package mediapackage_test

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/mediapackage"
)

func ExampleNew() {
	dest, err := mediapackage.New(mediapackage.Config{
		IngestURLs: []mediapackage.Ingest{
			{URL: "https://ingest.example.com/in/v2/abc/a/channel", Username: "user", Password: "secret"},
			{URL: "https://ingest.example.com/in/v2/abc/b/channel", Username: "user", Password: "secret"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dest.Close()
	fmt.Println(dest.Stem())
	for _, t := range dest.Targets() {
		fmt.Println(t.Name())
	}
	// The fetcher then calls, for each target independently:
	playlist := "#EXTM3U\n"
	_ = func(ctx context.Context, t output.Target) error {
		return t.Put(ctx, output.File{
			Name:        dest.Stem() + ".m3u8",
			ContentType: "application/vnd.apple.mpegurl",
			Size:        int64(len(playlist)),
			Open:        func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(playlist)), nil },
		})
	}
	// Output:
	// channel
	// ingest[0] https://ingest.example.com/in/v2/abc/a/channel
	// ingest[1] https://ingest.example.com/in/v2/abc/b/channel
}
