package origin

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseEndpointFlag(t *testing.T) {
	tr, fa := true, false
	full := "dash=dash:cenc,manifestWindow=30s,segmentDuration=6s,timeDelay=10s,manifestName=main,adMarkers=daterange," +
		"minVideoBitsPerSecond=100000,maxVideoBitsPerSecond=3000000,streamOrder=video_bitrate_ascending," +
		"startTimeOffset=-6,startPrecise=true,pdtInterval=2s,iframes=false,repeatKey=true,keyRotationInterval=60s"
	for _, tc := range []struct {
		in   string
		want EndpointConfig
	}{
		{"ts", EndpointConfig{ID: "ts", Packaging: PackagingTS}},
		{"cmaf", EndpointConfig{ID: "cmaf", Packaging: PackagingCMAF}},
		{"dash", EndpointConfig{ID: "dash", Packaging: PackagingDASH}},
		{"aes=ts:aes-128", EndpointConfig{ID: "aes", Packaging: PackagingTS, Encryption: &EncryptionConfig{Method: MethodAES128}}},
		{"ts6,segmentDuration=6s", EndpointConfig{ID: "ts6", Packaging: PackagingTS, SegmentDuration: 6 * time.Second}},
		{"c=CMAF,iframes=true,startoverWindow=1h", EndpointConfig{ID: "c", Packaging: PackagingCMAF, IFrames: &tr, StartoverWindow: time.Hour}},
		{full, EndpointConfig{
			ID: "dash", Packaging: PackagingDASH, ManifestWindow: 30 * time.Second, SegmentDuration: 6 * time.Second,
			TimeDelay: 10 * time.Second, ManifestName: "main", AdMarkers: "daterange", PDTInterval: 2 * time.Second, IFrames: &fa,
			StreamSelection: &StreamSelection{MinVideoBitsPerSecond: 100000, MaxVideoBitsPerSecond: 3000000, StreamOrder: StreamOrderAscending},
			Start:           &StartConfig{TimeOffset: -6, Precise: true},
			Encryption:      &EncryptionConfig{Method: MethodCENC, RepeatKey: true, KeyRotationInterval: Duration(time.Minute)},
		}},
	} {
		got, err := ParseEndpointFlag(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseEndpointFlagErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "missing ID"},
		{"=ts", "missing ID"},
		{"x=hds", "unknown packaging"},
		{"x=ts:rot13", "unknown encryption"},
		{"x,bogus=1", `unknown setting "bogus"`},
		{"x,manifestWindow=30", "manifestWindow: want duration"},
		{"x,segmentDuration=six", "segmentDuration: want duration"},
		{"x,adMarkers=loud", "adMarkers: want"},
		{"x,minVideoBitsPerSecond=-1", "minVideoBitsPerSecond: want integer"},
		{"x,streamOrder=random", "streamOrder: want"},
		{"x,startTimeOffset=NaN", "startTimeOffset: want seconds"},
		{"x,startPrecise=maybe", "startPrecise: want bool"},
		{"x,iframes=2", "iframes: want bool"},
		{"x,manifestName=a.b", "manifestName: want name"},
		{"x,repeatKey=true", "repeatKey: needs an encryption method"},
		{"x=ts:AES-128,constantIV=12", "constantIV: want 32 hex digits"},
		{"x,segmentDuration=6s,segmentDuration=2s", "segmentDuration: given twice"},
		{"x,", "empty setting"},
		{"x,segmentDuration", "want SETTING=VALUE"},
		{"x,segmentDuration=6s,", "want SETTING=VALUE"},
	} {
		_, err := ParseEndpointFlag(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line with %q", tc.in, err, tc.want)
		}
	}
}

// TestEndpointFlagValidated: the ranges are the config's: a parsed
// endpoint with a negative segment duration fails validation naming the
// key.
func TestEndpointFlagValidated(t *testing.T) {
	ep, err := ParseEndpointFlag("ts3,segmentDuration=-3s")
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{DataDir: t.TempDir(), Channels: []ChannelConfig{{ID: "c", Username: "u", Password: "p", Endpoints: []EndpointConfig{ep}}}})
	if err == nil || !strings.Contains(err.Error(), "segmentDuration") {
		t.Fatalf("negative segmentDuration: %v", err)
	}
}

// FuzzParseEndpointFlag: any input parses or fails with one line; a parse
// keeps the ID and a known packaging.
func FuzzParseEndpointFlag(f *testing.F) {
	for _, s := range []string{"ts", "dash=dash:cenc,manifestWindow=30s,segmentDuration=6s", "x=cmaf:cbcs,repeatKey=true,keyRotationInterval=0s",
		"a,startTimeOffset=-6.5,startPrecise=1", "b,streamOrder=VIDEO_BITRATE_DESCENDING,maxVideoBitsPerSecond=9", "c,,", "=", "d=ts:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := ParseEndpointFlag(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(s, "\n") {
				t.Fatalf("%q: multi-line error %q", s, err)
			}
			return
		}
		id, _, _ := strings.Cut(s, ",")
		id, _, _ = strings.Cut(id, "=")
		if ep.ID != id || ep.ID == "" {
			t.Fatalf("%q: ID %q", s, ep.ID)
		}
		switch ep.Packaging {
		case PackagingTS, PackagingCMAF, PackagingDASH:
		default:
			t.Fatalf("%q: packaging %q", s, ep.Packaging)
		}
	})
}

// TestSegmentDurationYAML: the example config's segmentDuration is read.
func TestSegmentDurationYAML(t *testing.T) {
	c, err := LoadConfigFile("../examples/origin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Channels[0].Endpoints[1].SegmentDuration; got != 4*time.Second {
		t.Fatalf("segmentDuration %v, want 4s", got)
	}
}
