package channel_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/pullpush/pullpush/channel"
)

// The bundled channel "1" served on a mux, with a fixed clock so the output
// is reproducible.
func ExampleNew() {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	eng, err := channel.New(channel.DefaultConfig(), channel.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/channels", eng.Handler())
	mux.Handle("/channels/", eng.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/channels/1/video_0.m3u8")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	lines := strings.Split(string(body), "\n")
	// The 60 s window starts where asset b starts, 496799 loops of 90 s
	// after the default epoch (2024-01-01).
	fmt.Println(strings.Join(lines[:10], "\n"))
	// Output:
	// #EXTM3U
	// #EXT-X-VERSION:3
	// #EXT-X-INDEPENDENT-SEGMENTS
	// #EXT-X-TARGETDURATION:2
	// #EXT-X-MEDIA-SEQUENCE:22355970
	// #EXT-X-DISCONTINUITY-SEQUENCE:1490397
	// #EXT-X-DISCONTINUITY
	// #EXT-X-PROGRAM-DATE-TIME:2025-06-01T11:59:00.000Z
	// #EXTINF:2.000,
	// seg/b/0.ts
}

// A config file: YAML or JSON, unknown keys rejected.
func ExampleParseConfig() {
	cfg, err := channel.ParseConfig([]byte(`
channels:
  - id: news
    window: 30s
    order: shuffle
    seed: 7
    assets:
      - {id: a, uri: "embed:a", offset: 4s}
      - embed:b
`))
	if err != nil {
		panic(err)
	}
	ch := cfg.Channels[0]
	fmt.Println(ch.ID, ch.Window, ch.Order, ch.Assets[0].Offset, ch.Assets[1].URI)
	_, err = channel.ParseConfig([]byte("channels:\n  - id: news\n    widow: 30s\n"))
	fmt.Println(err)
	// Output:
	// news 30s shuffle 4s embed:b
	// config: channels[0]: unknown key "widow" (line 3)
}
