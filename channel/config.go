package channel

import (
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"
)

// The engine's configuration is decoded and validated in
// channel/internal/config; these aliases are its public face.

// Defaults applied by New to zero values of Config and ChannelConfig.
const (
	DefaultWindow      = config.DefaultWindow
	DefaultSessionTTL  = config.DefaultSessionTTL
	DefaultMaxSessions = config.DefaultMaxSessions
)

// Config is the configuration of an Engine: its channels and the settings
// they share. It is decoded from YAML or JSON by ParseConfig and LoadConfig;
// Go callers can build it directly.
type Config = config.Config

// ChannelConfig is one channel.
type ChannelConfig = config.ChannelConfig

// AssetConfig is one VOD HLS asset of a channel.
type AssetConfig = config.AssetConfig

// Order is how a channel plays its assets.
type Order = config.Order

// Orders.
const (
	// OrderSequential plays the assets in the order listed, then loops.
	OrderSequential = config.OrderSequential
	// OrderShuffle plays every asset once per loop in an order drawn from the
	// channel's seed and the loop number: deterministic, different per loop.
	OrderShuffle = config.OrderShuffle
)

// DefaultStart returns the epoch of a channel whose config sets no start
// time, 2024-01-01T00:00:00Z: a fixed date keeps engines that share a config
// in agreement.
func DefaultStart() time.Time { return config.DefaultStart() }

// ParseConfig decodes a YAML or JSON config strictly (an unknown key is an
// error that names it) and validates it. Relative local paths are relative
// to the working directory; LoadConfig resolves them against the file.
func ParseConfig(data []byte) (Config, error) { return config.Parse(data) }

// LoadConfig reads and parses a config file. Relative local asset paths are
// resolved against the file's directory.
func LoadConfig(path string) (Config, error) { return config.Load(path) }
