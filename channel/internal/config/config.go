package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/channel/internal/asset"
	"github.com/pullpush/pullpush/internal/strictyaml"

	"go.yaml.in/yaml/v3"
)

// Defaults applied by New to zero values of Config and ChannelConfig.
const (
	DefaultWindow      = 60 * time.Second
	DefaultSessionTTL  = 10 * time.Minute
	DefaultMaxSessions = 100
)

// DefaultStart returns the epoch of a channel whose config sets no start
// time, 2024-01-01T00:00:00Z: a fixed date keeps engines that share a config
// in agreement.
func DefaultStart() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }

// Order is how a channel plays its assets.
type Order string

// Orders.
const (
	// OrderSequential plays the assets in the order listed, then loops.
	OrderSequential Order = "sequential"
	// OrderShuffle plays every asset once per loop in an order drawn from the
	// channel's seed and the loop number: deterministic, different per loop.
	OrderShuffle Order = "shuffle"
)

// Config is the configuration of an Engine: its channels and the settings
// they share. It is decoded from YAML or JSON by ParseConfig and LoadConfig;
// Go callers can build it directly.
type Config struct {
	// Channels are the configured channels (key "channels").
	Channels []ChannelConfig
	// Slate is the URI of the asset that replaces a failed asset (key
	// "slate"). Empty: the bundled slate (MPEG-TS or fMP4, as the channel).
	Slate string
	// SessionTTL is how long an idle session channel lives (key
	// "sessionTTL"). Zero: DefaultSessionTTL.
	SessionTTL time.Duration
	// MaxSessions bounds the number of live session channels (key
	// "maxSessions"). Zero: DefaultMaxSessions.
	MaxSessions int
}

// ChannelConfig is one channel.
type ChannelConfig struct {
	// ID names the channel in URLs: /channels/{id}/master.m3u8 (key "id").
	ID string
	// Start is the channel's epoch: the instant its first loop began (key
	// "start", RFC 3339 or Unix seconds). Zero: DefaultStart().
	Start time.Time
	// Window is the duration of the live window (key "window", e.g. "60s"
	// or a number of seconds). Zero: DefaultWindow.
	Window time.Duration
	// Order is OrderSequential (default) or OrderShuffle (key "order").
	Order Order
	// Seed drives OrderShuffle (key "seed").
	Seed int64
	// Assets are the VOD assets of one loop (key "assets").
	Assets []AssetConfig
	// Ads are the assets that fill the channel's ad breaks (schedule items
	// of type "break" that name no assets), in order (key "ads"). They are
	// not part of the loop. Empty: the slate fills breaks that name none.
	// An ad's default id is "{channel id}-ad{index}".
	Ads []AssetConfig
}

// AssetConfig is one VOD HLS asset of a channel.
type AssetConfig struct {
	// ID names the asset in segment URLs and session requests (key "id").
	// Empty: "{channel id}-{index}".
	ID string
	// Title is a human-readable name (key "title").
	Title string
	// URI locates the asset's multivariant (or media) playlist (key "uri"):
	// an http(s) URL, "embed:PATH" in the engine's embedded file system, or a
	// local path. A directory means its master.m3u8 (or index.m3u8).
	URI string
	// Offset is the in point: playback starts at the start of the video
	// segment that contains it (key "in", or "offset").
	Offset time.Duration
	// Out is the out point: playback ends at the end of the video segment
	// that contains it, or at Out itself when it is on a segment boundary
	// (key "out"). Zero: the end of the asset. Trimmed assets are therefore
	// whole segments; see trimSpan.
	Out time.Duration
}

// Parse decodes a YAML or JSON config strictly (an unknown key is an
// error that names it) and validates it. Relative local paths are relative
// to the working directory; Load resolves them against the file.
func Parse(data []byte) (Config, error) {
	var cfg Config
	doc, err := strictyaml.Parse(data)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		if err := decodeConfig(&cfg, doc.Content[0]); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Load reads and parses a config file. Relative local asset paths are
// resolved against the file's directory.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	fix := func(uri string) string {
		if uri == "" || asset.URIKind(uri) != asset.KindLocal || strings.HasPrefix(uri, "file://") || filepath.IsAbs(uri) {
			return uri
		}
		return filepath.Join(dir, uri)
	}
	cfg.Slate = fix(cfg.Slate)
	for i := range cfg.Channels {
		for j := range cfg.Channels[i].Assets {
			a := &cfg.Channels[i].Assets[j]
			a.URI = fix(a.URI)
		}
		for j := range cfg.Channels[i].Ads {
			a := &cfg.Channels[i].Ads[j]
			a.URI = fix(a.URI)
		}
	}
	return cfg, nil
}

// Validate checks a config and returns the first problem, quoting the key.
func (c Config) Validate() error {
	if len(c.Channels) == 0 {
		return fmt.Errorf("config: 'channels' must list at least one channel")
	}
	if c.SessionTTL < 0 {
		return fmt.Errorf("config: 'sessionTTL' must not be negative")
	}
	if c.MaxSessions < 0 {
		return fmt.Errorf("config: 'maxSessions' must not be negative")
	}
	if c.Slate != "" {
		if err := checkURI(c.Slate); err != nil {
			return fmt.Errorf("config: slate: %w", err)
		}
	}
	ids := map[string]bool{}
	assetURIs := map[string]string{}
	for i, ch := range c.Channels {
		where := fmt.Sprintf("channels[%d]", i)
		switch {
		case ch.ID == "":
			return fmt.Errorf("config: %s: 'id' must be set", where)
		case !ValidID(ch.ID, false):
			return fmt.Errorf("config: %s: invalid id %q: use letters, digits, '-' and '_', starting with a letter or digit", where, ch.ID)
		case ch.ID == "new":
			return fmt.Errorf("config: %s: id %q is reserved", where, ch.ID)
		case ids[ch.ID]:
			return fmt.Errorf("config: %s: duplicate id %q", where, ch.ID)
		}
		ids[ch.ID] = true
		if ch.Window < 0 {
			return fmt.Errorf("config: %s: 'window' must not be negative", where)
		}
		if ch.Order != "" && ch.Order != OrderSequential && ch.Order != OrderShuffle {
			return fmt.Errorf("config: %s: 'order' must be %q or %q, got %q", where, OrderSequential, OrderShuffle, ch.Order)
		}
		if len(ch.Assets) == 0 {
			return fmt.Errorf("config: %s: 'assets' must list at least one asset", where)
		}
		for j, a := range ch.Assets {
			if err := checkAsset(fmt.Sprintf("channels[%d].assets[%d]", i, j), AssetID(ch.ID, j, a), a, assetURIs); err != nil {
				return err
			}
		}
		for j, a := range ch.Ads {
			if err := checkAsset(fmt.Sprintf("channels[%d].ads[%d]", i, j), AdID(ch.ID, j, a), a, assetURIs); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkAsset checks asset a, with id, at where in the config; assetURIs
// maps the ids seen so far to their URIs.
func checkAsset(where, id string, a AssetConfig, assetURIs map[string]string) error {
	if a.URI == "" {
		return fmt.Errorf("config: %s: 'uri' must be set", where)
	}
	if err := checkURI(a.URI); err != nil {
		return fmt.Errorf("config: %s: %w", where, err)
	}
	if a.Offset < 0 {
		return fmt.Errorf("config: %s: 'in' must not be negative", where)
	}
	if a.Out < 0 {
		return fmt.Errorf("config: %s: 'out' must not be negative", where)
	}
	if a.Out != 0 && a.Out <= a.Offset {
		return fmt.Errorf("config: %s: 'out' (%s) must be after 'in' (%s)", where, a.Out, a.Offset)
	}
	if !ValidID(id, true) {
		return fmt.Errorf("config: %s: invalid id %q: use letters, digits, '-', '_' and '.', starting with a letter or digit", where, id)
	}
	if prev, ok := assetURIs[id]; ok && prev != a.URI {
		return fmt.Errorf("config: %s: asset id %q already names %q", where, id, prev)
	}
	assetURIs[id] = a.URI
	return nil
}

// adID is the configured or default id of ad j of channel ch.
func AdID(ch string, j int, a AssetConfig) string {
	if a.ID != "" {
		return a.ID
	}
	return ch + "-ad" + strconv.Itoa(j)
}

// assetID is the configured or default id of asset j of channel ch.
func AssetID(ch string, j int, a AssetConfig) string {
	if a.ID != "" {
		return a.ID
	}
	return ch + "-" + strconv.Itoa(j)
}

// validID reports whether id is safe as a URL path segment: letters,
// digits, '-', '_' (and '.' when dot is set), starting with a letter or
// digit.
func ValidID(id string, dot bool) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case (r == '-' || r == '_' || (r == '.' && dot)) && i > 0:
		default:
			return false
		}
	}
	return true
}

// checkURI rejects URIs with a scheme the engine cannot read.
func checkURI(uri string) error {
	if i := strings.Index(uri, "://"); i > 0 && asset.URIKind(uri) == asset.KindLocal && !strings.HasPrefix(uri, "file://") {
		return fmt.Errorf("unsupported uri scheme %q", uri[:i])
	}
	if asset.URIKind(uri) == asset.KindEmbed && strings.TrimPrefix(uri, "embed:") == "" {
		return fmt.Errorf("empty embed path in %q", uri)
	}
	return nil
}

// decodeConfig fills cfg from the root node, rejecting unknown keys.
func decodeConfig(cfg *Config, n *yaml.Node) error {
	return decodeMap(n, "", func(key string, v *yaml.Node) error {
		var err error
		switch key {
		case "channels":
			err = decodeSeq(v, "channels", func(i int, v *yaml.Node) error {
				var ch ChannelConfig
				if err := decodeChannel(&ch, v, fmt.Sprintf("channels[%d]", i)); err != nil {
					return err
				}
				cfg.Channels = append(cfg.Channels, ch)
				return nil
			})
		case "slate":
			cfg.Slate, err = decodeString(v, "slate")
		case "sessionTTL":
			cfg.SessionTTL, err = decodeDuration(v, "sessionTTL")
		case "maxSessions":
			var n int64
			n, err = decodeInt(v, "maxSessions")
			cfg.MaxSessions = int(min(max(n, math.MinInt32), math.MaxInt32))
		default:
			return unknownKey(v, "", key)
		}
		return err
	})
}

func decodeChannel(ch *ChannelConfig, n *yaml.Node, path string) error {
	return decodeMap(n, path, func(key string, v *yaml.Node) error {
		var err error
		p := path + "." + key
		switch key {
		case "id":
			ch.ID, err = decodeString(v, p)
		case "start":
			ch.Start, err = decodeTime(v, p)
		case "window":
			ch.Window, err = decodeDuration(v, p)
		case "order":
			var s string
			s, err = decodeString(v, p)
			ch.Order = Order(s)
		case "seed":
			ch.Seed, err = decodeInt(v, p)
		case "assets":
			err = decodeSeq(v, p, func(i int, v *yaml.Node) error {
				var a AssetConfig
				if err := decodeAsset(&a, v, fmt.Sprintf("%s[%d]", p, i)); err != nil {
					return err
				}
				ch.Assets = append(ch.Assets, a)
				return nil
			})
		case "ads":
			err = decodeSeq(v, p, func(i int, v *yaml.Node) error {
				var a AssetConfig
				if err := decodeAsset(&a, v, fmt.Sprintf("%s[%d]", p, i)); err != nil {
					return err
				}
				ch.Ads = append(ch.Ads, a)
				return nil
			})
		default:
			return unknownKey(v, path, key)
		}
		return err
	})
}

func decodeAsset(a *AssetConfig, n *yaml.Node, path string) error {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		// Short form: just the URI.
		var err error
		a.URI, err = decodeString(n, path)
		return err
	}
	seenIn := false
	return decodeMap(n, path, func(key string, v *yaml.Node) error {
		var err error
		p := path + "." + key
		switch key {
		case "id":
			a.ID, err = decodeString(v, p)
		case "title":
			a.Title, err = decodeString(v, p)
		case "uri":
			a.URI, err = decodeString(v, p)
		case "offset", "in":
			if seenIn {
				return configError(v, path, "'in' and 'offset' are the same key")
			}
			seenIn = true
			a.Offset, err = decodeDuration(v, p)
		case "out":
			a.Out, err = decodeDuration(v, p)
		default:
			return unknownKey(v, path, key)
		}
		return err
	})
}

// configError formats a decoding error at a node.
func configError(n *yaml.Node, path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	return fmt.Errorf("config: %s (line %d)", msg, n.Line)
}

func unknownKey(v *yaml.Node, path, key string) error {
	return configError(v, path, "unknown key %q", key)
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func decodeMap(n *yaml.Node, path string, fn func(key string, v *yaml.Node) error) error {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return configError(n, path, "expected a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return configError(k, path, "keys must be strings")
		}
		if seen[k.Value] {
			return configError(k, path, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		if err := fn(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

func decodeSeq(n *yaml.Node, path string, fn func(i int, v *yaml.Node) error) error {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return configError(n, path, "expected a list")
	}
	for i, v := range n.Content {
		if err := fn(i, v); err != nil {
			return err
		}
	}
	return nil
}

func scalar(n *yaml.Node, path string) (string, bool, error) {
	n = resolve(n)
	if isNull(n) {
		return "", false, nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", false, configError(n, path, "expected a scalar value")
	}
	return n.Value, true, nil
}

func decodeString(n *yaml.Node, path string) (string, error) {
	s, _, err := scalar(n, path)
	return s, err
}

func decodeInt(n *yaml.Node, path string) (int64, error) {
	s, ok, err := scalar(n, path)
	if err != nil || !ok {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, configError(resolve(n), path, "invalid integer %q", s)
	}
	return v, nil
}

// decodeDuration accepts a Go duration ("60s", "1m30s") or a number of
// seconds (60, 2.5).
func decodeDuration(n *yaml.Node, path string) (time.Duration, error) {
	s, ok, err := scalar(n, path)
	if err != nil || !ok {
		return 0, err
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP_") {
		if math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64/int64(time.Second)) {
			return 0, configError(resolve(n), path, "invalid duration %q", s)
		}
		return time.Duration(math.Round(f * float64(time.Second))), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, configError(resolve(n), path, "invalid duration %q", s)
	}
	return d, nil
}

// decodeTime accepts RFC 3339 ("2024-01-01T00:00:00Z"), a date
// ("2024-01-01", UTC) or Unix seconds.
func decodeTime(n *yaml.Node, path string) (time.Time, error) {
	s, ok, err := scalar(n, path)
	if err != nil || !ok {
		return time.Time{}, err
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil && v >= 0 && v < 1<<40 {
		return time.Unix(v, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, configError(resolve(n), path, "invalid time %q: use RFC 3339 (2024-01-01T00:00:00Z) or Unix seconds", s)
}
