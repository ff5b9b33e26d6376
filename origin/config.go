package origin

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"github.com/pullpush/pullpush/internal/strictyaml"

	"github.com/pullpush/pullpush/keys"
)

// Defaults and limits of the channel settings (MediaPackage v1 values).
const (
	DefaultStartoverWindow = 24 * time.Hour
	MaxStartoverWindow     = 14 * 24 * time.Hour
	DefaultManifestWindow  = 60 * time.Second
	MinTimeDelay           = 5 * time.Second
	MaxTimeDelay           = 24 * time.Hour
	DefaultMaxBodyBytes    = 64 << 20
	DefaultNonceTTL        = 5 * time.Minute
	// MaxTimeShiftSpan is the longest window a time-shift request may ask for.
	MaxTimeShiftSpan = 24 * time.Hour
	// MaxInputs is the number of redundant inputs a channel accepts.
	MaxInputs = 2
)

// Config configures an Origin. Zero values take the documented defaults.
type Config struct {
	// DataDir is where segments are stored (DataDir/{channel}/{input}/...).
	// Required unless Storage is set.
	DataDir string `yaml:"dataDir"`
	// Storage, when its URL is set, keeps segments and the index in an S3
	// bucket shared by several origin instances instead of DataDir.
	Storage StorageConfig `yaml:"storage"`
	// Channels are the channels accepted for ingest and playback.
	Channels []ChannelConfig `yaml:"channels"`
	// MaxBodyBytes limits one ingest request body (default 64 MiB).
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// NonceTTL is how long a digest nonce stays valid (default 5 min).
	NonceTTL time.Duration `yaml:"nonceTTL"`
	// Now is the clock (default time.Now); tests inject a fake one.
	Now func() time.Time `yaml:"-"`
	// Logger receives ingest and switchover events (default: discard).
	Logger *slog.Logger `yaml:"-"`
	// Keys configures the key provider of encrypted endpoints from YAML:
	// a static key file or a SPEKE/CPIX key server.
	Keys KeysConfig `yaml:"keys"`
	// KeyProvider supplies the keys of encrypted endpoints (Go callers);
	// it takes precedence over Keys.
	KeyProvider keys.Provider `yaml:"-"`
	// PackagerCacheBytes bounds the memory holding repackaged and
	// encrypted segments (default 128 MiB).
	PackagerCacheBytes int64 `yaml:"packagerCacheBytes"`
}

// ChannelConfig is one channel ("endpoint" in MediaPackage terms).
type ChannelConfig struct {
	// ID is the {channel} path element: [A-Za-z0-9_-]{1,64}.
	ID string `yaml:"id"`
	// Username and Password are the digest credentials of both inputs unless
	// Inputs gives per-input ones.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Inputs optionally names the (at most two) inputs with their own
	// credentials. When empty, any two input names are accepted.
	Inputs []InputConfig `yaml:"inputs"`
	// StartoverWindow is how long segments are kept and can be played back
	// (default 24h, at most 14 days).
	StartoverWindow time.Duration `yaml:"startoverWindow"`
	// ManifestWindow is the length of a live media playlist (default 60s).
	ManifestWindow time.Duration `yaml:"manifestWindow"`
	// TimeDelay delays what viewers see (0, or 5s-24h and less than the
	// startover window).
	TimeDelay time.Duration `yaml:"timeDelay"`
	// IFrames enables I-frame-only playlists (default on; nil = on).
	IFrames *bool `yaml:"iframes"`
	// PDTInterval is the spacing of EXT-X-PROGRAM-DATE-TIME tags; 0 writes
	// one on every segment.
	PDTInterval time.Duration `yaml:"pdtInterval"`
	// LowLatency, for the implicit endpoint: see EndpointConfig.LowLatency.
	LowLatency *bool `yaml:"lowLatency"`
	// Endpoints are packaging endpoints over this channel's ingest, served
	// at /out/v1/{channel}/{endpoint}/index.m3u8. The first one is also
	// served at /out/v1/{channel}/index.m3u8. When empty, the channel has
	// one implicit endpoint (TS as ingested, the settings above, clear).
	Endpoints []EndpointConfig `yaml:"endpoints"`
	// CDNAuth, when set, makes playback answer 403 to requests without its
	// header and one of its secrets (MediaPackage's CDN authorization).
	CDNAuth *CDNAuthConfig `yaml:"cdnAuth"`
	// IngestAllow, when set, lists the addresses or CIDRs ingest may come
	// from; other peers get 403 before authentication.
	IngestAllow []string `yaml:"ingestAllow"`
	// SigV4, when set, makes ingest take requests signed with AWS
	// Signature Version 4 (MediaPackage v2's ingest); see SigV4Config.
	SigV4 *SigV4Config `yaml:"sigv4"`
}

// InputConfig sets the name and credentials of one input.
type InputConfig struct {
	Name     string `yaml:"name"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Bool returns a pointer to b, for ChannelConfig.IFrames.
func Bool(b bool) *bool { return &b }

// iframesOn reports whether I-frame playlists are enabled.
func (c *ChannelConfig) iframesOn() bool { return c.IFrames == nil || *c.IFrames }

// lowLatencyOn reports whether a LowLatency setting leaves LL-HLS on.
func lowLatencyOn(b *bool) bool { return b == nil || *b }

// credentials returns the user and password for input name.
func (c *ChannelConfig) credentials(input string) (user, pass string, ok bool) {
	if len(c.Inputs) == 0 {
		return c.Username, c.Password, true
	}
	for _, in := range c.Inputs {
		if in.Name == input {
			if in.Username == "" {
				return c.Username, c.Password, true
			}
			return in.Username, in.Password, true
		}
	}
	return "", "", false
}

// channelIDRe with a length of at most 64 is ^[A-Za-z0-9_-]{1,64}$ (a
// counted repetition would compile to 64 copies of the class at start-up).
var channelIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid origin config")

func cfgErr(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, key, fmt.Sprintf(format, args...))
}

// LoadConfigFile reads a YAML config file (see ParseConfig).
func LoadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read origin config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes a YAML config strictly: unknown keys are errors that
// name the key. Defaults are not applied and nothing is validated; call
// Validate (New does both).
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	if err := decodeStrict(data, &cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeStrict decodes YAML (or JSON) into v with strictyaml: unknown and
// repeated keys are errors naming the key's path; an empty document leaves
// v as it is.
func decodeStrict(data []byte, v any) error {
	if err := strictyaml.Decode(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return nil
}

// WithDefaults returns a copy of c with zero values replaced by defaults.
func (c Config) WithDefaults() Config {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.NonceTTL == 0 {
		c.NonceTTL = DefaultNonceTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PackagerCacheBytes == 0 {
		c.PackagerCacheBytes = DefaultPackagerCacheBytes
	}
	if c.Storage.Enabled() {
		c.Storage = c.Storage.withDefaults()
	}
	chs := make([]ChannelConfig, len(c.Channels))
	for i, ch := range c.Channels {
		chs[i] = channelWithDefaults(ch)
	}
	c.Channels = chs
	return c
}

// channelWithDefaults returns ch with zero values replaced by defaults.
func channelWithDefaults(ch ChannelConfig) ChannelConfig {
	if ch.StartoverWindow == 0 {
		ch.StartoverWindow = DefaultStartoverWindow
	}
	if ch.ManifestWindow == 0 {
		ch.ManifestWindow = DefaultManifestWindow
	}
	ch.Endpoints = endpointDefaults(ch)
	return ch
}

// Validate checks c (after WithDefaults) and returns the first problem,
// quoting the key, e.g. `channels[0].timeDelay: must be between 5s and 24h`.
func (c Config) Validate() error {
	if c.Storage.Enabled() {
		if err := c.Storage.validate(); err != nil {
			return err
		}
	} else if c.DataDir == "" {
		return cfgErr("dataDir", "must be set (or storage.url)")
	}
	if c.MaxBodyBytes < 0 {
		return cfgErr("maxBodyBytes", "must not be negative")
	}
	if c.NonceTTL < 0 {
		return cfgErr("nonceTTL", "must not be negative")
	}
	seen := map[string]bool{}
	for i, ch := range c.Channels {
		k := fmt.Sprintf("channels[%d]", i)
		if seen[ch.ID] {
			return cfgErr(k+".id", "duplicate channel %q", ch.ID)
		}
		seen[ch.ID] = true
		if err := c.validateChannel(k, ch); err != nil {
			return err
		}
	}
	if c.PackagerCacheBytes < 0 {
		return cfgErr("packagerCacheBytes", "must not be negative")
	}
	return c.Keys.validate()
}

// validateChannel checks channel ch (after defaults); k is its key path.
func (c Config) validateChannel(k string, ch ChannelConfig) error {
	if len(ch.ID) > 64 || !channelIDRe.MatchString(ch.ID) {
		return cfgErr(k+".id", "must match [A-Za-z0-9_-]{1,64}, got %q", ch.ID)
	}
	if err := validateAccess(k, ch); err != nil {
		return err
	}
	if len(ch.Inputs) > MaxInputs {
		return cfgErr(k+".inputs", "at most %d inputs", MaxInputs)
	}
	names := map[string]bool{}
	for j, in := range ch.Inputs {
		ik := fmt.Sprintf("%s.inputs[%d]", k, j)
		if !validName(in.Name) {
			return cfgErr(ik+".name", "must match [A-Za-z0-9._-]{1,128} without a leading dot, got %q", in.Name)
		}
		if names[in.Name] {
			return cfgErr(ik+".name", "duplicate input %q", in.Name)
		}
		names[in.Name] = true
		if in.Username == "" && ch.Username == "" {
			return cfgErr(ik+".username", "must be set (or set %s.username)", k)
		}
		if in.Username != "" && in.Password == "" {
			return cfgErr(ik+".password", "must be set")
		}
	}
	if err := validateSigV4(k, ch.SigV4); err != nil {
		return err
	}
	if (len(ch.Inputs) == 0 && ch.SigV4 == nil) || ch.Username != "" {
		if ch.Username == "" {
			return cfgErr(k+".username", "must be set")
		}
		if ch.Password == "" {
			return cfgErr(k+".password", "must be set")
		}
	}
	if err := validateWindows(k, ch.StartoverWindow, ch.ManifestWindow, ch.TimeDelay, ch.PDTInterval); err != nil {
		return err
	}
	if err := c.validateEndpoints(k, ch); err != nil {
		return err
	}
	return nil
}
