// Package chaintest runs the whole chain in a test process: the bundled
// VOD2Live channel, relayed by a pullpush fetcher through the mediapackage
// output into an origin (with an in-process key server), all on one
// loopback server; and decodes what the origin serves with ffmpeg.
package chaintest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/channel"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin"
	"github.com/pullpush/pullpush/output/mediapackage"
)

// Channel and ingest credentials of the chain's origin.
const (
	ChannelID = "1"
	User      = "chain"
	Password  = "chain-secret"
)

// Chain is the bundled channel relayed into an origin, on one loopback
// server.
type Chain struct {
	URL    string    // the server: /channels/, /in/, /out/ and the key server
	Start  time.Time // the channel's epoch: asset a plays [0, 30 s), b from 30 s
	Origin *origin.Origin
}

// Start starts the channel engine with its loop begun `into` ago, the
// origin with endpoints and an in-process key server, and a relay from the
// channel to the origin's input a; everything stops when t ends.
func Start(t *testing.T, into time.Duration, endpoints []origin.EndpointConfig) *Chain {
	t.Helper()
	return StartWith(t, Options{Into: into, Endpoints: endpoints})
}

// Options configure the chain of StartWith.
type Options struct {
	// Into is how long before now the channel's loop began (ignored when
	// Start is set).
	Into time.Duration
	// Start, when not zero, is the channel's epoch.
	Start time.Time
	// Endpoints are the origin channel's endpoints.
	Endpoints []origin.EndpointConfig
	// Channel, when not nil, changes the config of the bundled channel
	// (ads, assets...) before the engine starts; its Start is then set.
	Channel func(*channel.Config)
	// ChannelOptions are added to the engine's options (e.g.
	// channel.WithScheduleDir with a schedule written by the test).
	ChannelOptions []channel.Option
}

// StartWith starts the chain of Start with more options.
func StartWith(t *testing.T, o Options) *Chain {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	cfg := channel.DefaultConfig()
	if o.Channel != nil {
		o.Channel(&cfg)
	}
	start := o.Start
	if start.IsZero() {
		start = time.Now().Add(-o.Into).Truncate(time.Second)
	}
	endpoints := o.Endpoints
	cfg.Channels[0].Start = start
	eng, err := channel.New(cfg, append([]channel.Option{channel.WithLogger(log), channel.WithContext(ctx)}, o.ChannelOptions...)...)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.NewServer(keys.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	org, err := origin.New(origin.Config{
		DataDir:     t.TempDir(),
		KeyProvider: ks.Provider(),
		Channels: []origin.ChannelConfig{{
			ID: ChannelID, Username: User, Password: Password,
			ManifestWindow: 2 * time.Minute, Endpoints: endpoints,
		}},
	}, origin.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(keys.KeysPath, ks.Handler())
	mux.Handle("/channels/", eng.Handler())
	mux.Handle("/in/", org.Handler())
	mux.Handle("/out/", org.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		org.Close()
	})

	dest, err := mediapackage.New(mediapackage.Config{IngestURLs: []mediapackage.Ingest{{
		URL: srv.URL + "/in/v2/" + ChannelID + "/a/channel", Username: User, Password: Password,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	svc := pullpush.New(pullpush.Options{Logger: log, SpoolDir: t.TempDir()})
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		svc.Close(sctx)
	})
	if _, err := svc.StartFetcher(ctx, pullpush.FetcherSpec{
		Name: "chain", URL: srv.URL + "/channels/" + ChannelID + "/master.m3u8", Output: dest,
	}); err != nil {
		t.Fatal(err)
	}
	return &Chain{URL: srv.URL, Start: start, Origin: org}
}

// Get fetches a path of the chain's server.
func (c *Chain) Get(path string) ([]byte, error) {
	resp, err := http.Get(c.URL + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b, nil
}

// Media fetches and parses a media playlist of the origin.
func (c *Chain) Media(path string) (*hls.Media, error) {
	b, err := c.Get(path)
	if err != nil {
		return nil, err
	}
	return hls.ParseMedia(b)
}

// Window returns the time-shift query of [from, to) of the channel's loop.
func (c *Chain) Window(from, to time.Duration) string {
	iso := func(d time.Duration) string { return c.Start.Add(d).UTC().Format(time.RFC3339) }
	return "?start=" + iso(from) + "&end=" + iso(to)
}

// WaitClosed waits (up to a minute) until the closed window q of every
// rendition on endpoint ep has ENDLIST, at least minSegs segments and
// discs discontinuities.
func (c *Chain) WaitClosed(t *testing.T, ep string, renditions []string, q string, minSegs, discs int) {
	t.Helper()
	ready := func() error {
		for _, r := range renditions {
			m, err := c.Media("/out/v1/" + ChannelID + "/" + ep + "/" + r + ".m3u8" + q)
			if err != nil {
				return err
			}
			if !m.Endlist || len(m.Segments) < minSegs {
				return fmt.Errorf("%s: %d segments, ENDLIST %v", r, len(m.Segments), m.Endlist)
			}
			n := 0
			for _, s := range m.Segments {
				if s.Discontinuity {
					n++
				}
			}
			if n != discs {
				return fmt.Errorf("%s: %d discontinuities in the window, want %d", r, n, discs)
			}
		}
		return nil
	}
	for deadline := time.Now().Add(time.Minute); ; {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("origin window not ready after a minute: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Decode has ffmpeg decode url frame by frame (testutil.DecodeFrames).
func Decode(t *testing.T, url string) ([]string, string) {
	t.Helper()
	return testutil.DecodeFrames(t, url)
}

// FirstDiff returns the index of the first frame where got and want
// differ, or -1.
func FirstDiff(got, want []string) int {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			return i
		}
	}
	return -1
}
