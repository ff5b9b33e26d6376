package origin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var timeParamCases = []struct {
	in   string
	want string // RFC 3339 in UTC; "" = error
}{
	{"2017-08-18T21:18:54+00:00", "2017-08-18T21:18:54Z"},
	{"2017-08-18T21:18:54Z", "2017-08-18T21:18:54Z"},
	{"2017-08-18T23:18:54+02:00", "2017-08-18T21:18:54Z"},
	{"2017-08-18T21:18:54 00:00", "2017-08-18T21:18:54Z"}, // '+' decoded as space in a query
	{"2017-08-18T21:18:54.5Z", "2017-08-18T21:18:54.5Z"},
	{"2017-08-18T23:18:54+0200", "2017-08-18T21:18:54Z"},
	{"1503091134", "2017-08-18T21:18:54Z"},
	{"1503091134.25", "2017-08-18T21:18:54.25Z"},
	{"0", "1970-01-01T00:00:00Z"},
	{"", ""},
	{"-5", ""},
	{"1e9", ""},
	{".5", ""},
	{"1.2.3", ""},
	{"2017-08-18", ""},
	{"2017-08-18T21:18:54", ""},
	{"yesterday", ""},
	{"99999999999999999999", ""},
	{"NaN", ""},
}

func TestParseTimeParam(t *testing.T) {
	for _, tc := range timeParamCases {
		got, err := ParseTimeParam(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrBadTime) {
				t.Errorf("ParseTimeParam(%q) = %v, %v; want ErrBadTime", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339Nano) != tc.want {
			t.Errorf("ParseTimeParam(%q) = %v, %v; want %s", tc.in, got.Format(time.RFC3339Nano), err, tc.want)
		}
	}
}

// FuzzTimeShiftParam checks that the start/end parser never panics, returns
// UTC times within years 1970-9999 and wraps ErrBadTime, and that epoch
// seconds round trip.
func FuzzTimeShiftParam(f *testing.F) {
	for _, tc := range timeParamCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTimeParam(s)
		if err != nil {
			if !errors.Is(err, ErrBadTime) {
				t.Fatalf("%q: error %v does not wrap ErrBadTime", s, err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("%q: not UTC", s)
		}
		if y := got.Year(); y < 1970 && !strings.ContainsAny(s, "T") || y > 9999 {
			t.Fatalf("%q: year %d", s, y)
		}
		if isEpoch(s) && !strings.Contains(s, ".") {
			back, err := ParseTimeParam(got.Format(time.RFC3339))
			if err != nil || !back.Equal(got) {
				t.Fatalf("%q: does not round trip via RFC 3339: %v %v", s, back, err)
			}
		}
		// Whatever parses can be used in a shift window without overflow.
		sh, err := parseShift(s, "", nil)
		if err != nil || !sh.hasStart {
			t.Fatalf("%q: parseShift: %v", s, err)
		}
	})
}

func TestParseConfig(t *testing.T) {
	data := []byte(`
dataDir: /var/lib/pullpush
maxBodyBytes: 1048576
nonceTTL: 2m
channels:
  - id: news
    username: u
    password: p
    startoverWindow: 336h
    manifestWindow: 30s
    timeDelay: 10s
    iframes: false
    pdtInterval: 6s
  - id: sport
    inputs:
      - name: a
        username: ua
        password: pa
      - name: b
        username: ub
        password: pb
`)
	cfg, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	news, sport := cfg.Channels[0], cfg.Channels[1]
	if cfg.NonceTTL != 2*time.Minute || cfg.MaxBodyBytes != 1<<20 || news.StartoverWindow != 14*24*time.Hour ||
		news.ManifestWindow != 30*time.Second || news.TimeDelay != 10*time.Second || news.iframesOn() || news.PDTInterval != 6*time.Second {
		t.Fatalf("news: %+v", news)
	}
	if sport.StartoverWindow != DefaultStartoverWindow || sport.ManifestWindow != DefaultManifestWindow || !sport.iframesOn() {
		t.Fatalf("sport defaults: %+v", sport)
	}
	if u, p, ok := sport.credentials("b"); !ok || u != "ub" || p != "pb" {
		t.Fatalf("per-input credentials: %s %s %v", u, p, ok)
	}
	if _, _, ok := sport.credentials("c"); ok {
		t.Fatal("unknown input has credentials")
	}

	path := filepath.Join(t.TempDir(), "origin.yaml")
	os.WriteFile(path, data, 0o600)
	if _, err := LoadConfigFile(path); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	base := "dataDir: /d\nchannels:\n  - id: c\n    username: u\n    password: p\n"
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown top key", "dataDir: /d\nlisten: :80\n", "line 2: listen: unknown key"},
		{"unknown channel key", base + "    startover: 1h\n", "channels[0].startover: unknown key"},
		{"bad duration", base + "    timeDelay: soon\n", "line 6: cannot unmarshal !!str `soon` into time.Duration"},
		{"no data dir", "channels:\n  - id: c\n    username: u\n    password: p\n", "dataDir: must be set"},
		{"bad id", "dataDir: /d\nchannels:\n  - id: a/b\n    username: u\n    password: p\n", `channels[0].id: must match [A-Za-z0-9_-]{1,64}, got "a/b"`},
		{"duplicate id", base + "  - id: c\n    username: u\n    password: p\n", `channels[1].id: duplicate channel "c"`},
		{"no password", "dataDir: /d\nchannels:\n  - id: c\n    username: u\n", "channels[0].password: must be set"},
		{"startover too long", base + "    startoverWindow: 337h\n", "channels[0].startoverWindow: must be between 0 and 336h (14 days)"},
		{"delay too short", base + "    timeDelay: 2s\n", "channels[0].timeDelay: must be between 5s and 24h"},
		{"delay too long", base + "    timeDelay: 25h\n    startoverWindow: 48h\n", "channels[0].timeDelay: must be between 5s and 24h"},
		{"delay over startover", base + "    timeDelay: 2h\n    startoverWindow: 1h\n", "channels[0].timeDelay: must be less than the startover window"},
		{"manifest over startover", base + "    manifestWindow: 2h\n    startoverWindow: 1h\n", "channels[0].manifestWindow: must be between 1s and the startover window"},
		{"three inputs", base + "    inputs: [{name: a}, {name: b}, {name: c}]\n", "channels[0].inputs: at most 2 inputs"},
		{"bad input name", base + "    inputs: [{name: ..}]\n", "channels[0].inputs[0].name: must match"},
		{"negative pdt interval", base + "    pdtInterval: -1s\n", "channels[0].pdtInterval: must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.yaml))
			if err == nil {
				err = cfg.WithDefaults().Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
		})
	}
	// New validates too.
	if _, err := New(Config{DataDir: t.TempDir(), Channels: []ChannelConfig{{ID: "c", Username: "u", Password: "p", TimeDelay: time.Second}}}); err == nil ||
		!strings.Contains(err.Error(), "channels[0].timeDelay: must be between 5s and 24h") {
		t.Fatalf("New: %v", err)
	}
}
