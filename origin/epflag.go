package origin

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/internal/adcue"
)

// EndpointFlagSyntax is the syntax ParseEndpointFlag reads.
const EndpointFlagSyntax = "ID[=ts|cmaf|dash[:AES-128|SAMPLE-AES|cbcs|cenc]][,SETTING=VALUE...]"

// EndpointFlagSettings lists the settings ParseEndpointFlag accepts after
// the packaging, with the kind of value each takes.
var endpointFlagSettings = []struct{ key, kind string }{
	{"manifestWindow", "duration"},
	{"startoverWindow", "duration"},
	{"timeDelay", "duration"},
	{"segmentDuration", "duration"},
	{"pdtInterval", "duration"},
	{"manifestName", "name"},
	{"adMarkers", "passthrough|none|scte35_enhanced|daterange"},
	{"minVideoBitsPerSecond", "integer"},
	{"maxVideoBitsPerSecond", "integer"},
	{"streamOrder", "original|video_bitrate_ascending|video_bitrate_descending"},
	{"startTimeOffset", "seconds"},
	{"startPrecise", "bool"},
	{"iframes", "bool"},
	{"repeatKey", "bool"},
	{"keyRotationInterval", "duration"},
	{"constantIV", "32 hex digits"},
	{"resourceID", "name"},
}

// EndpointFlagKeys returns the setting names of the --endpoint syntax, for
// help texts.
func EndpointFlagKeys() []string {
	out := make([]string, len(endpointFlagSettings))
	for i, s := range endpointFlagSettings {
		out[i] = s.key
	}
	return out
}

// ParseEndpointFlag reads one endpoint in the --endpoint syntax,
// ID[=PACKAGING[:METHOD]][,SETTING=VALUE...], e.g.
//
//	dash=dash:cenc,manifestWindow=30s,segmentDuration=6s,startTimeOffset=-6
//
// An ID of cmaf or dash without a packaging also names the packaging.
// Settings are the EndpointConfig fields of the same name (see
// EndpointFlagKeys; startTimeOffset and startPrecise set Start,
// min/maxVideoBitsPerSecond and streamOrder StreamSelection, repeatKey,
// keyRotationInterval, constantIV and resourceID Encryption, which they
// need). An unknown setting or a bad value is an error naming it; the
// ranges are checked when the channel config is validated.
func ParseEndpointFlag(v string) (EndpointConfig, error) {
	head, rest, _ := strings.Cut(v, ",")
	id, spec, hasSpec := strings.Cut(head, "=")
	ep := EndpointConfig{ID: id, Packaging: PackagingTS}
	if id == "" {
		return EndpointConfig{}, fmt.Errorf("want %s: missing ID", EndpointFlagSyntax)
	}
	if !hasSpec && (id == PackagingCMAF || id == PackagingDASH) {
		ep.Packaging = id
	}
	if hasSpec {
		pkg, method, hasMethod := strings.Cut(spec, ":")
		ep.Packaging = strings.ToLower(pkg)
		if ep.Packaging != PackagingTS && ep.Packaging != PackagingCMAF && ep.Packaging != PackagingDASH {
			return EndpointConfig{}, fmt.Errorf("unknown packaging %q: want %s", pkg, EndpointFlagSyntax)
		}
		if hasMethod {
			m := map[string]string{"aes-128": MethodAES128, "sample-aes": MethodSampleAES,
				"cbcs": MethodCBCS, "cenc": MethodCENC}[strings.ToLower(method)]
			if m == "" {
				return EndpointConfig{}, fmt.Errorf("unknown encryption %q (want AES-128, SAMPLE-AES, cbcs or cenc)", method)
			}
			ep.Encryption = &EncryptionConfig{Method: m}
		}
	}
	if rest == "" && strings.HasSuffix(v, ",") {
		return EndpointConfig{}, errors.New("empty setting after ','")
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(rest, ",") {
		if rest == "" {
			break
		}
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return EndpointConfig{}, fmt.Errorf("setting %q: want SETTING=VALUE", kv)
		}
		key, kind := "", ""
		for _, s := range endpointFlagSettings {
			if strings.EqualFold(s.key, k) {
				key, kind = s.key, s.kind
			}
		}
		if key == "" {
			return EndpointConfig{}, fmt.Errorf("unknown setting %q (want one of %s)", k, strings.Join(EndpointFlagKeys(), ", "))
		}
		if seen[key] {
			return EndpointConfig{}, fmt.Errorf("%s: given twice", key)
		}
		seen[key] = true
		if err := ep.setFlag(key, val); err != nil {
			return EndpointConfig{}, fmt.Errorf("%s: want %s, got %q", key, kind, val)
		}
	}
	for _, k := range []string{"repeatKey", "keyRotationInterval", "constantIV", "resourceID"} {
		if seen[k] && ep.Encryption == nil {
			return EndpointConfig{}, fmt.Errorf("%s: needs an encryption method (%s=PACKAGING:METHOD)", k, id)
		}
	}
	return ep, nil
}

// setFlag sets setting key (a name of endpointFlagSettings) to val.
func (ep *EndpointConfig) setFlag(key, val string) error {
	dur := func(dst *time.Duration) error {
		d, err := time.ParseDuration(val)
		*dst = d
		return err
	}
	sel := func() *StreamSelection {
		if ep.StreamSelection == nil {
			ep.StreamSelection = &StreamSelection{}
		}
		return ep.StreamSelection
	}
	start := func() *StartConfig {
		if ep.Start == nil {
			ep.Start = &StartConfig{}
		}
		return ep.Start
	}
	encr := func() *EncryptionConfig {
		if ep.Encryption == nil {
			return &EncryptionConfig{} // reported by the caller
		}
		return ep.Encryption
	}
	bits := func(dst *int) error {
		n, err := strconv.Atoi(val)
		if err == nil && n < 0 {
			err = errors.New("negative")
		}
		*dst = n
		return err
	}
	var err error
	switch key {
	case "manifestWindow":
		return dur(&ep.ManifestWindow)
	case "startoverWindow":
		return dur(&ep.StartoverWindow)
	case "timeDelay":
		return dur(&ep.TimeDelay)
	case "segmentDuration":
		return dur(&ep.SegmentDuration)
	case "pdtInterval":
		return dur(&ep.PDTInterval)
	case "manifestName":
		if val == "" || !validName(val+".m3u8") || strings.Contains(val, ".") {
			return errors.New("bad name")
		}
		ep.ManifestName = val
	case "adMarkers":
		if val == "" || !adcue.ValidMode(val) {
			return errors.New("bad mode")
		}
		ep.AdMarkers = val
	case "minVideoBitsPerSecond":
		return bits(&sel().MinVideoBitsPerSecond)
	case "maxVideoBitsPerSecond":
		return bits(&sel().MaxVideoBitsPerSecond)
	case "streamOrder":
		switch strings.ToLower(val) {
		case StreamOrderOriginal, StreamOrderAscending, StreamOrderDescending:
			sel().StreamOrder = strings.ToLower(val)
		default:
			return errors.New("bad order")
		}
	case "startTimeOffset":
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return errors.New("bad number")
		}
		start().TimeOffset = f
	case "startPrecise":
		start().Precise, err = strconv.ParseBool(val)
	case "iframes":
		var b bool
		b, err = strconv.ParseBool(val)
		ep.IFrames = &b
	case "repeatKey":
		encr().RepeatKey, err = strconv.ParseBool(val)
	case "keyRotationInterval":
		var d time.Duration
		err = dur(&d)
		encr().KeyRotationInterval = Duration(d)
	case "constantIV":
		if _, err := parseIV(val); err != nil {
			return err
		}
		encr().ConstantIV = val
	case "resourceID":
		if !validName(val) {
			return errors.New("bad name")
		}
		encr().ResourceID = val
	}
	return err
}
