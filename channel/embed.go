package channel

import (
	"embed"
	"io/fs"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"
)

// assetsFS holds the generated test assets of the default channel and the
// slates; channel/assets/gen.sh makes them.
//
//go:embed assets/a assets/b assets/c assets/slate assets/slate-fmp4
var assetsFS embed.FS

// Bundled slate URIs (in the embedded file system).
const (
	slateTS   = "embed:slate"
	slateFMP4 = "embed:slate-fmp4"
)

// EmbeddedFS returns the file system that "embed:" URIs refer to by default:
// the bundled assets "a", "b", "c" (each a directory with master.m3u8),
// "slate" and "slate-fmp4".
func EmbeddedFS() fs.FS {
	sub, err := fs.Sub(assetsFS, "assets")
	if err != nil {
		panic(err) // unreachable: "assets" is a valid path
	}
	return sub
}

// DefaultConfig is the bundled default channel "1": the three embedded
// 30 s test assets "a", "b" and "c" in order, looped, with a 60 s window.
// It needs no network.
func DefaultConfig() config.Config {
	return config.Config{
		Channels: []config.ChannelConfig{{
			ID:     "1",
			Start:  config.DefaultStart(),
			Window: config.DefaultWindow,
			Order:  config.OrderSequential,
			Assets: []config.AssetConfig{
				{ID: "a", Title: "Asset A (blue, 440 Hz)", URI: "embed:a"},
				{ID: "b", Title: "Asset B (colour bars, 660 Hz)", URI: "embed:b"},
				{ID: "c", Title: "Asset C (red, 880 Hz)", URI: "embed:c"},
			},
		}},
		SessionTTL:  config.DefaultSessionTTL,
		MaxSessions: config.DefaultMaxSessions,
	}
}

// defaultStartOf returns the epoch of a channel config.
func defaultStartOf(ch config.ChannelConfig) time.Time {
	if ch.Start.IsZero() {
		return config.DefaultStart()
	}
	return ch.Start
}
