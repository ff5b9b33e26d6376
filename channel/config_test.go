package channel

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"
)

// configCases drive TestParseConfigErrors and seed FuzzConfig.
var configCases = []struct {
	name, input, err string
}{
	{"unknown top-level key", "channels: []\nslates: x\n", `config: unknown key "slates" (line 2)`},
	{"unknown channel key", "channels:\n  - id: a\n    windw: 10s\n", `config: channels[0]: unknown key "windw" (line 3)`},
	{"unknown asset key", "channels:\n  - id: a\n    assets:\n      - uri: embed:a\n        ofset: 5\n", `config: channels[0].assets[0]: unknown key "ofset" (line 5)`},
	{"unknown key in JSON", `{"channels": [{"id": "1", "assets": [{"uri": "embed:a", "extra": true}]}]}`, `config: channels[0].assets[0]: unknown key "extra" (line 1)`},
	{"duplicate key", "channels:\n  - id: a\n    id: b\n", `config: channels[0]: duplicate key "id" (line 3)`},
	{"in and offset", "channels:\n  - id: a\n    assets:\n      - {uri: embed:a, in: 2, offset: 4}\n", `config: channels[0].assets[0]: 'in' and 'offset' are the same key (line 4)`},
	{"negative out", "channels:\n  - id: a\n    assets:\n      - {uri: embed:a, out: -1}\n", `config: channels[0].assets[0]: 'out' must not be negative`},
	{"out before in", "channels:\n  - id: a\n    assets:\n      - {uri: embed:a, in: 6s, out: 4s}\n", `config: channels[0].assets[0]: 'out' (4s) must be after 'in' (6s)`},
	{"channels not a list", "channels: {id: a}\n", `config: channels: expected a list (line 1)`},
	{"root not a mapping", "- a\n- b\n", `config: expected a mapping (line 1)`},
	{"channel not a mapping", "channels:\n  - just-a-string\n", `config: channels[0]: expected a mapping (line 2)`},
	{"bad duration", "channels:\n  - id: a\n    window: soon\n", `config: channels[0].window: invalid duration "soon" (line 3)`},
	{"bad seed", "channels:\n  - id: a\n    seed: abc\n", `config: channels[0].seed: invalid integer "abc" (line 3)`},
	{"bad start", "channels:\n  - id: a\n    start: yesterday\n", `config: channels[0].start: invalid time "yesterday": use RFC 3339 (2024-01-01T00:00:00Z) or Unix seconds (line 3)`},
	{"list as string", "channels:\n  - id: [a]\n", `config: channels[0].id: expected a scalar value (line 2)`},
	{"bad yaml", "channels: [\n", "config: yaml: line 1: did not find expected node content"},
	{"empty", "", `config: 'channels' must list at least one channel`},
	{"no id", "channels:\n  - assets: [embed:a]\n", `config: channels[0]: 'id' must be set`},
	{"bad id", "channels:\n  - id: a/b\n    assets: [embed:a]\n", `config: channels[0]: invalid id "a/b": use letters, digits, '-' and '_', starting with a letter or digit`},
	{"reserved id", "channels:\n  - id: new\n    assets: [embed:a]\n", `config: channels[0]: id "new" is reserved`},
	{"duplicate id", "channels:\n  - id: a\n    assets: [embed:a]\n  - id: a\n    assets: [embed:b]\n", `config: channels[1]: duplicate id "a"`},
	{"no assets", "channels:\n  - id: a\n", `config: channels[0]: 'assets' must list at least one asset`},
	{"bad order", "channels:\n  - id: a\n    order: random\n    assets: [embed:a]\n", `config: channels[0]: 'order' must be "sequential" or "shuffle", got "random"`},
	{"negative window", "channels:\n  - id: a\n    window: -5s\n    assets: [embed:a]\n", `config: channels[0]: 'window' must not be negative`},
	{"no uri", "channels:\n  - id: a\n    assets:\n      - id: x\n", `config: channels[0].assets[0]: 'uri' must be set`},
	{"bad scheme", "channels:\n  - id: a\n    assets: [ftp://host/a.m3u8]\n", `config: channels[0].assets[0]: unsupported uri scheme "ftp"`},
	{"negative offset", "channels:\n  - id: a\n    assets:\n      - {uri: embed:a, offset: -1}\n", `config: channels[0].assets[0]: 'in' must not be negative`},
	{"bad asset id", "channels:\n  - id: a\n    assets:\n      - {id: _x, uri: embed:a}\n", `config: channels[0].assets[0]: invalid id "_x": use letters, digits, '-', '_' and '.', starting with a letter or digit`},
	{"asset id reused", "channels:\n  - id: a\n    assets:\n      - {id: x, uri: embed:a}\n  - id: b\n    assets:\n      - {id: x, uri: embed:b}\n", `config: channels[1].assets[0]: asset id "x" already names "embed:a"`},
	{"ad without uri", "channels:\n  - id: a\n    assets: [embed:a]\n    ads:\n      - {id: ad1}\n", `config: channels[0].ads[0]: 'uri' must be set`},
	{"ad id names an asset", "channels:\n  - id: a\n    assets: [{id: x, uri: embed:a}]\n    ads: [{id: x, uri: embed:b}]\n", `config: channels[0].ads[0]: asset id "x" already names "embed:a"`},
	{"unknown ad key", "channels:\n  - id: a\n    ads:\n      - {uri: embed:a, duration: 5}\n", `config: channels[0].ads[0]: unknown key "duration" (line 4)`},
	{"negative ttl", "sessionTTL: -1m\nchannels:\n  - id: a\n    assets: [embed:a]\n", `config: 'sessionTTL' must not be negative`},
	{"bad slate", "slate: gopher://x\nchannels:\n  - id: a\n    assets: [embed:a]\n", `config: slate: unsupported uri scheme "gopher"`},
	{"empty embed", "channels:\n  - id: a\n    assets: ['embed:']\n", `config: channels[0].assets[0]: empty embed path in "embed:"`},
	{"alias cycle", "channels: &c [{id: x, assets: *c}]\n", `config: line 1: alias refers to itself`},
	{"alias bomb", "channels:\n  - &c\n    id: a\n    assets: &A [" + strings.Repeat("e,", 400) + "]\n  - " + strings.Repeat("*c\n  - ", 400) + "*c\n",
		`config: aliases expand to more than 100000 values`},
	{"aliases within bounds", "channels:\n  - &c {id: a, assets: &A [e, f]}\n  - {id: b, assets: *A}\n  - *c\n", `config: channels[2]: duplicate id "a"`},
	{"valid", validYAML, ""},
	{"valid JSON", validJSON, ""},
}

const validYAML = `# Two channels over local, embedded and http assets.
slate: embed:slate
sessionTTL: 15m
maxSessions: 20
channels:
  - id: "1"
    start: 2024-01-01T00:00:00Z
    window: 60s
    assets:
      - {id: a, title: Asset A, uri: "embed:a"}
      - {id: b, uri: "embed:b", offset: 4}
      - embed:c
    ads:
      - {id: ad1, uri: "embed:b", out: 10}
      - embed:c
  - id: movies
    start: 1700000000
    window: 1m30s
    order: shuffle
    seed: 42
    assets:
      - {id: m1, uri: http://127.0.0.1:8080/vod/m1/master.m3u8}
      - {id: m2, uri: ./vod/m2}
`

const validJSON = `{
	"channels": [
		{"id": "1", "window": 30, "assets": [{"id": "a", "uri": "embed:a"}, {"uri": "embed:b"}]}
	]
}`

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.input))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err != "" && err == nil:
				t.Fatalf("no error, want %q", tc.err)
			case tc.err != "" && err.Error() != tc.err:
				t.Fatalf("error\n got: %s\nwant: %s", err, tc.err)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := config.Parse([]byte(validYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Slate:       "embed:slate",
		SessionTTL:  15 * time.Minute,
		MaxSessions: 20,
		Channels: []config.ChannelConfig{{
			ID:     "1",
			Start:  time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			Window: time.Minute,
			Assets: []config.AssetConfig{
				{ID: "a", Title: "Asset A", URI: "embed:a"},
				{ID: "b", URI: "embed:b", Offset: 4 * time.Second},
				{URI: "embed:c"},
			},
			Ads: []config.AssetConfig{
				{ID: "ad1", URI: "embed:b", Out: 10 * time.Second},
				{URI: "embed:c"},
			},
		}, {
			ID:     "movies",
			Start:  time.Unix(1700000000, 0).UTC(),
			Window: 90 * time.Second,
			Order:  config.OrderShuffle,
			Seed:   42,
			Assets: []config.AssetConfig{
				{ID: "m1", URI: "http://127.0.0.1:8080/vod/m1/master.m3u8"},
				{ID: "m2", URI: "./vod/m2"},
			},
		}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	js, err := config.Parse([]byte(validJSON))
	if err != nil {
		t.Fatal(err)
	}
	if got := js.Channels[0]; got.Window != 30*time.Second || len(got.Assets) != 2 || got.Assets[1].URI != "embed:b" {
		t.Errorf("JSON config: %+v", got)
	}
}

func TestLoadConfigResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "channels.yaml")
	if err := os.WriteFile(p, []byte(validYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Channels[1].Assets[1].URI, filepath.Join(dir, "vod/m2"); got != want {
		t.Errorf("local path %q, want %q", got, want)
	}
	if got := cfg.Channels[1].Assets[0].URI; !strings.HasPrefix(got, "http://") {
		t.Errorf("http uri changed: %q", got)
	}
	if _, err := config.Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("channels:\n  - id: a\n    bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(bad); err == nil || err.Error() != bad+`: config: channels[0]: unknown key "bogus" (line 3)` {
		t.Errorf("bad file: %v", err)
	}
}

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// FuzzConfig: the decoder never panics, every error says it is about the
// config, and an accepted config validates and decodes the same again.
func FuzzConfig(f *testing.F) {
	for _, tc := range configCases {
		f.Add(tc.input)
	}
	f.Fuzz(func(t *testing.T, input string) {
		cfg, err := config.Parse([]byte(input))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		again, err := config.Parse([]byte(input))
		if err != nil || !reflect.DeepEqual(cfg, again) {
			t.Fatalf("decoding is not deterministic: %v", err)
		}
	})
}
