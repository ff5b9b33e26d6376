package origin

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/keys"
)

// Packaging formats of an endpoint.
const (
	// PackagingTS serves segments as ingested (MPEG-TS, or fMP4 when the
	// pusher sends fMP4).
	PackagingTS = "ts"
	// PackagingCMAF serves TS renditions repackaged as CMAF (fMP4 with
	// EXT-X-MAP); fMP4 and WebVTT renditions are served as ingested.
	PackagingCMAF = "cmaf"
	// PackagingDASH serves the CMAF segments of TS renditions with a live
	// MPEG-DASH manifest at /out/v1/{channel}/{id}/index.mpd (see dash.go).
	PackagingDASH = "dash"
)

// Encryption methods of an endpoint.
const (
	// MethodAES128 encrypts whole segments (and CMAF init sections) with
	// AES-128-CBC (EXT-X-KEY METHOD=AES-128). TS and CMAF.
	MethodAES128 = "AES-128"
	// MethodSampleAES is Apple's MPEG-2 TS sample encryption of H.264 and
	// ADTS AAC (METHOD=SAMPLE-AES). TS only.
	MethodSampleAES = "SAMPLE-AES"
	// MethodCBCS is Common Encryption 'cbcs' (METHOD=SAMPLE-AES). CMAF only.
	MethodCBCS = "cbcs"
	// MethodCENC is Common Encryption 'cenc' (METHOD=SAMPLE-AES-CTR). CMAF
	// only.
	MethodCENC = "cenc"
)

// Encryption and packaging defaults.
const (
	// DefaultKeyRotationInterval is the key rotation interval when none is
	// set (MediaPackage's default).
	DefaultKeyRotationInterval = 60 * time.Second
	// DefaultKeyFormat is the KEYFORMAT of EXT-X-KEY.
	DefaultKeyFormat = "identity"
	// DefaultKeyFormatVersions is the KEYFORMATVERSIONS of EXT-X-KEY.
	DefaultKeyFormatVersions = "1"
	// DefaultPackagerCacheBytes bounds the packager's segment cache.
	DefaultPackagerCacheBytes = 128 << 20
)

// EndpointConfig is one packaging endpoint of a channel, served at
// /out/v1/{channel}/{id}/index.m3u8 with the same media playlist, segment
// and time-shift URL forms as the channel URL. Zero durations and a nil
// IFrames take the channel's values.
type EndpointConfig struct {
	// ID is the path element: [A-Za-z0-9_-]{1,64}, not "start" or "end".
	ID string `yaml:"id"`
	// Packaging is "ts" (as ingested, the default), "cmaf" or "dash".
	Packaging string `yaml:"packaging"`
	// StartoverWindow, ManifestWindow, TimeDelay, IFrames and PDTInterval
	// are the channel settings of the same name, for this endpoint.
	StartoverWindow time.Duration `yaml:"startoverWindow"`
	ManifestWindow  time.Duration `yaml:"manifestWindow"`
	TimeDelay       time.Duration `yaml:"timeDelay"`
	IFrames         *bool         `yaml:"iframes"`
	PDTInterval     time.Duration `yaml:"pdtInterval"`
	// Encryption, when set, encrypts the endpoint's audio and video.
	Encryption *EncryptionConfig `yaml:"encryption"`
	// StreamSelection, when set, limits and orders the variants of the
	// endpoint's multivariant playlist (before a request's
	// ?aws.manifestfilter=).
	StreamSelection *StreamSelection `yaml:"streamSelection"`
	// ManifestName names the multivariant playlist, {ManifestName}.m3u8
	// (default "index").
	ManifestName string `yaml:"manifestName"`
	// Start, when set, adds EXT-X-START to the endpoint's playlists.
	Start *StartConfig `yaml:"start"`
	// SegmentDuration, when set, joins consecutive ingest segments into
	// segments of about this duration: N = round(segmentDuration / the
	// ingest target duration) (at least 1), never across a discontinuity,
	// an input switch or a codec change (see segdur.go). 0 serves the
	// segments as ingested. WebVTT renditions are not joined.
	SegmentDuration time.Duration `yaml:"segmentDuration"`
	// AdMarkers is how ingested ad signals (SCTE-35 in
	// #EXT-OATCLS-SCTE35, #EXT-X-CUE-OUT/IN, EXT-X-DATERANGE SCTE35-OUT/IN)
	// appear in media playlists: passthrough (as ingested, the default),
	// none, scte35_enhanced or daterange.
	AdMarkers string `yaml:"adMarkers"`
	// LowLatency serves Low-Latency HLS (parts, blocking playlist reload,
	// preload hints, delta updates; see llhls.go) when the ingest lists
	// parts. nil (the default) is on wherever the endpoint serves segments
	// as ingested: no encryption, segmentDuration or timeDelay, local
	// storage, and on cmaf/dash endpoints only for fMP4 ingest (TS ingest
	// is repackaged there). false turns it off; true asks for it and makes
	// a setting that rules it out a configuration error.
	LowLatency *bool `yaml:"lowLatency"`
}

// StartConfig is an endpoint's EXT-X-START: where players start, in
// seconds from the start (or, negative, from the end) of the playlist.
type StartConfig struct {
	TimeOffset float64 `yaml:"timeOffset"`
	Precise    bool    `yaml:"precise"`
}

// StreamSelection is MediaPackage's per-endpoint stream selection.
type StreamSelection struct {
	// MinVideoBitsPerSecond and MaxVideoBitsPerSecond bound the variants'
	// BANDWIDTH (0: no bound).
	MinVideoBitsPerSecond int `yaml:"minVideoBitsPerSecond"`
	MaxVideoBitsPerSecond int `yaml:"maxVideoBitsPerSecond"`
	// StreamOrder is original (as ingested, the default),
	// video_bitrate_ascending or video_bitrate_descending
	// (case-insensitive).
	StreamOrder string `yaml:"streamOrder"`
}

// EncryptionConfig configures an endpoint's encryption.
type EncryptionConfig struct {
	// Method is AES-128 (TS, CMAF), SAMPLE-AES (TS), cbcs or cenc (CMAF,
	// DASH).
	Method string `yaml:"method"`
	// KeyRotationInterval is how long one key is used (default 60s; 0
	// uses one key for ever). Segment s uses the key of period
	// floor(start(s) / interval), start being its PROGRAM-DATE-TIME.
	KeyRotationInterval *time.Duration `yaml:"keyRotationInterval"`
	// ConstantIV (32 hex digits) is used for every segment; empty uses the
	// key server's IV if it gave one, else a per-segment IV (the media
	// sequence number for AES-128 and SAMPLE-AES, per-sample IVs for cenc,
	// one IV per key for cbcs). Not allowed with cenc.
	ConstantIV string `yaml:"constantIV"`
	// KeyURI is the EXT-X-KEY URI template; {channel}, {endpoint},
	// {resource}, {kid} (32 hex digits) and {period} are replaced. Empty
	// uses the URI the key provider returns with each key.
	KeyURI string `yaml:"keyURI"`
	// KeyFormat and KeyFormatVersions of EXT-X-KEY (default "identity", "1").
	KeyFormat         string `yaml:"keyFormat"`
	KeyFormatVersions string `yaml:"keyFormatVersions"`
	// RepeatKey writes EXT-X-KEY before every segment, not only where the
	// key changes.
	RepeatKey bool `yaml:"repeatKey"`
	// ResourceID names the content for the key provider (default: the
	// channel ID); endpoints with the same resource ID share keys.
	ResourceID string `yaml:"resourceID"`
}

// KeysConfig selects the key provider of encrypted endpoints in a YAML
// config. Set one of File and URL.
type KeysConfig struct {
	// File is a static key file (see keys.StaticFile).
	File string `yaml:"file"`
	// URL is a SPEKE v1 / CPIX key server endpoint, e.g.
	// http://127.0.0.1:8091/speke/v1.0/copyProtection.
	URL string `yaml:"url"`
	// Token is sent to the key server as a bearer token.
	Token string `yaml:"token"`
}

// String describes the key provider config without the token.
func (k KeysConfig) String() string {
	tok := ""
	if k.Token != "" {
		tok = " token=[redacted]"
	}
	return fmt.Sprintf("{file=%q url=%q%s}", k.File, k.URL, tok)
}

// LogValue implements slog.LogValuer without the token.
func (k KeysConfig) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Duration returns a pointer to d, for EncryptionConfig.KeyRotationInterval.
func Duration(d time.Duration) *time.Duration { return &d }

// endpointIDRe with a length of at most 64 is ^[A-Za-z0-9_-]{1,64}$ (a
// counted repetition would compile to 64 copies of the class at start-up).
var endpointIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// endpointDefaults returns ch's endpoints with the channel's values filled
// in where the endpoint leaves them zero.
func endpointDefaults(ch ChannelConfig) []EndpointConfig {
	if len(ch.Endpoints) == 0 {
		return nil
	}
	eps := make([]EndpointConfig, len(ch.Endpoints))
	for i, ep := range ch.Endpoints {
		if ep.Packaging == "" {
			ep.Packaging = PackagingTS
		}
		if ep.StartoverWindow == 0 {
			ep.StartoverWindow = ch.StartoverWindow
		}
		if ep.ManifestWindow == 0 {
			ep.ManifestWindow = ch.ManifestWindow
		}
		if ep.TimeDelay == 0 {
			ep.TimeDelay = ch.TimeDelay
		}
		if ep.IFrames == nil {
			ep.IFrames = ch.IFrames
		}
		if ep.PDTInterval == 0 {
			ep.PDTInterval = ch.PDTInterval
		}
		if e := ep.Encryption; e != nil {
			cp := *e
			if cp.KeyRotationInterval == nil {
				cp.KeyRotationInterval = Duration(DefaultKeyRotationInterval)
			}
			if cp.KeyFormat == "" {
				cp.KeyFormat = DefaultKeyFormat
			}
			if cp.KeyFormatVersions == "" {
				cp.KeyFormatVersions = DefaultKeyFormatVersions
			}
			if cp.ResourceID == "" {
				cp.ResourceID = ch.ID
			}
			ep.Encryption = &cp
		}
		eps[i] = ep
	}
	return eps
}

// validateWindows checks the window settings shared by channels and
// endpoints; k is the key prefix, e.g. channels[0].
func validateWindows(k string, startover, manifest, delay, pdt time.Duration) error {
	if startover < 0 || startover > MaxStartoverWindow {
		return cfgErr(k+".startoverWindow", "must be between 0 and 336h (14 days)")
	}
	if manifest < time.Second || manifest > startover {
		return cfgErr(k+".manifestWindow", "must be between 1s and the startover window")
	}
	if delay != 0 {
		if delay < MinTimeDelay || delay > MaxTimeDelay {
			return cfgErr(k+".timeDelay", "must be between 5s and 24h")
		}
		if delay >= startover {
			return cfgErr(k+".timeDelay", "must be less than the startover window")
		}
	}
	if pdt < 0 {
		return cfgErr(k+".pdtInterval", "must not be negative")
	}
	return nil
}

// validateEndpoints checks the endpoints of channel ch (key prefix k).
func (c Config) validateEndpoints(k string, ch ChannelConfig) error {
	seen := map[string]bool{}
	for i, ep := range ch.Endpoints {
		ek := fmt.Sprintf("%s.endpoints[%d]", k, i)
		if len(ep.ID) > 64 || !endpointIDRe.MatchString(ep.ID) || ep.ID == "start" || ep.ID == "end" {
			return cfgErr(ek+".id", "must match [A-Za-z0-9_-]{1,64} and not be start or end, got %q", ep.ID)
		}
		if seen[ep.ID] {
			return cfgErr(ek+".id", "duplicate endpoint %q", ep.ID)
		}
		seen[ep.ID] = true
		if ep.SegmentDuration < 0 || ep.SegmentDuration > MaxSegmentDuration {
			return cfgErr(ek+".segmentDuration", "must be between 0 (as ingested) and %s, got %s", MaxSegmentDuration, ep.SegmentDuration)
		}
		if !adcue.ValidMode(ep.AdMarkers) {
			return cfgErr(ek+".adMarkers", "must be passthrough, none, scte35_enhanced or daterange, got %q", ep.AdMarkers)
		}
		if n := ep.ManifestName; n != "" && (!validName(n+".m3u8") || strings.ContainsAny(n, ".")) {
			return cfgErr(ek+".manifestName", "must be a name of letters, digits, - and _, got %q", n)
		}
		if st := ep.Start; st != nil && (math.IsNaN(st.TimeOffset) || math.IsInf(st.TimeOffset, 0) || math.Abs(st.TimeOffset) > 86400*14) {
			return cfgErr(ek+".start.timeOffset", "must be a number of seconds within 14 days, got %v", st.TimeOffset)
		}
		if sel := ep.StreamSelection; sel != nil {
			if sel.MinVideoBitsPerSecond < 0 || sel.MaxVideoBitsPerSecond < 0 ||
				(sel.MaxVideoBitsPerSecond > 0 && sel.MaxVideoBitsPerSecond < sel.MinVideoBitsPerSecond) {
				return cfgErr(ek+".streamSelection", "want 0 <= minVideoBitsPerSecond <= maxVideoBitsPerSecond (0: no bound), got %d and %d",
					sel.MinVideoBitsPerSecond, sel.MaxVideoBitsPerSecond)
			}
			switch o := strings.ToLower(sel.StreamOrder); o {
			case "", StreamOrderOriginal, StreamOrderAscending, StreamOrderDescending:
			default:
				return cfgErr(ek+".streamSelection.streamOrder", "must be %s, %s or %s, got %q",
					StreamOrderOriginal, StreamOrderAscending, StreamOrderDescending, sel.StreamOrder)
			}
		}
		if ep.Packaging != PackagingTS && ep.Packaging != PackagingCMAF && ep.Packaging != PackagingDASH {
			return cfgErr(ek+".packaging", "must be ts, cmaf or dash, got %q", ep.Packaging)
		}
		if err := validateWindows(ek, ep.StartoverWindow, ep.ManifestWindow, ep.TimeDelay, ep.PDTInterval); err != nil {
			return err
		}
		if ep.LowLatency != nil && *ep.LowLatency {
			if why := c.lowLatencyConflict(ep.Encryption != nil, ep.SegmentDuration, ep.TimeDelay); why != "" {
				return cfgErr(ek+".lowLatency", "needs segments served as ingested: %s", why)
			}
		}
		if ep.Encryption != nil {
			if err := c.validateEncryption(ek+".encryption", ep); err != nil {
				return err
			}
		}
	}
	if ch.LowLatency != nil && *ch.LowLatency {
		if why := c.lowLatencyConflict(false, 0, ch.TimeDelay); why != "" {
			return cfgErr(k+".lowLatency", "needs segments served as ingested: %s", why)
		}
	}
	return nil
}

// lowLatencyConflict names the setting that rules out LL-HLS, "" for none.
func (c Config) lowLatencyConflict(encrypted bool, segdur, delay time.Duration) string {
	switch {
	case encrypted:
		return "the endpoint is encrypted"
	case segdur != 0:
		return "segmentDuration joins segments"
	case delay != 0:
		return "timeDelay holds segments back"
	case c.Storage.Enabled():
		return "shared storage publishes segments after a delay"
	}
	return ""
}

func (c Config) validateEncryption(k string, ep EndpointConfig) error {
	e := ep.Encryption
	switch e.Method {
	case MethodAES128:
		if ep.Packaging == PackagingDASH {
			return cfgErr(k+".method", "AES-128 is for ts and cmaf; use cenc or cbcs for dash")
		}
	case MethodSampleAES:
		if ep.Packaging != PackagingTS {
			return cfgErr(k+".method", "SAMPLE-AES is for ts packaging; use cbcs for cmaf")
		}
	case MethodCBCS, MethodCENC:
		if ep.Packaging != PackagingCMAF && ep.Packaging != PackagingDASH {
			return cfgErr(k+".method", "%s needs cmaf or dash packaging", e.Method)
		}
	default:
		return cfgErr(k+".method", "must be AES-128, SAMPLE-AES, cbcs or cenc, got %q", e.Method)
	}
	if r := *e.KeyRotationInterval; r < 0 || (r > 0 && r < time.Second) {
		return cfgErr(k+".keyRotationInterval", "must be 0 (no rotation) or at least 1s")
	}
	if e.ConstantIV != "" {
		if _, err := parseIV(e.ConstantIV); err != nil {
			return cfgErr(k+".constantIV", "must be 32 hex digits")
		}
		if e.Method == MethodCENC {
			return cfgErr(k+".constantIV", "not allowed with cenc (AES-CTR must not reuse an IV)")
		}
	}
	if e.KeyURI != "" {
		u, err := url.Parse(expandKeyURI(e.KeyURI, "c", "e", "r", keys.KID{}, 0))
		if err != nil || strings.ContainsAny(e.KeyURI, "\"\n\r") || (u.Scheme == "" && !strings.HasPrefix(u.Path, "/")) {
			return cfgErr(k+".keyURI", "must be an absolute URI or an absolute path")
		}
	}
	if strings.ContainsAny(e.KeyFormat+e.KeyFormatVersions, "\"\n\r") {
		return cfgErr(k+".keyFormat", "must not contain quotes or line breaks")
	}
	if !validName(e.ResourceID) {
		return cfgErr(k+".resourceID", "must match [A-Za-z0-9._-]{1,128} without a leading dot, got %q", e.ResourceID)
	}
	if c.KeyProvider == nil && c.Keys.File == "" && c.Keys.URL == "" {
		return cfgErr(k, "needs a key provider: set keys.file or keys.url")
	}
	return nil
}

func (k KeysConfig) validate() error {
	if k.File != "" && k.URL != "" {
		return cfgErr("keys", "set file or url, not both")
	}
	if k.Token != "" && k.URL == "" {
		return cfgErr("keys.token", "only used with keys.url")
	}
	if k.URL != "" {
		u, err := url.Parse(k.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return cfgErr("keys.url", "must be an http(s) URL without credentials")
		}
	}
	return nil
}

// provider returns the key provider the config names (nil for none).
func (k KeysConfig) provider() (keys.Provider, error) {
	switch {
	case k.File != "":
		p, err := keys.LoadStaticFile(k.File)
		if err != nil {
			return nil, fmt.Errorf("%w: keys.file: %v", ErrConfig, err)
		}
		return p, nil
	case k.URL != "":
		p, err := keys.NewSPEKE(keys.SPEKEConfig{URL: k.URL, Token: k.Token})
		if err != nil {
			return nil, fmt.Errorf("%w: keys.url: %v", ErrConfig, err)
		}
		return p, nil
	}
	return nil, nil
}

// parseIV parses 32 hex digits (optional 0x prefix).
func parseIV(s string) ([]byte, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("want 32 hex digits")
	}
	return b, nil
}

// expandKeyURI fills the placeholders of a key URI template.
func expandKeyURI(tmpl, channel, endpoint, resource string, kid keys.KID, period int64) string {
	return strings.NewReplacer(
		"{channel}", channel,
		"{endpoint}", endpoint,
		"{resource}", resource,
		"{kid}", kid.String(),
		"{period}", strconv.FormatInt(period, 10),
	).Replace(tmpl)
}

// endpoint is the resolved configuration of one packaging endpoint.
type endpoint struct {
	id        string // "" for the implicit endpoint of a channel without endpoints
	cmaf      bool   // TS renditions repackaged as CMAF (cmaf and dash)
	dash      bool   // also an MPEG-DASH manifest (index.mpd)
	startover time.Duration
	manifest  time.Duration
	delay     time.Duration
	pdt       time.Duration
	iframes   bool
	enc       *encSpec         // nil: clear
	sel       *StreamSelection // nil: every variant, as ingested
	manifest0 string           // multivariant file name, e.g. index.m3u8
	start     *hls.Start       // EXT-X-START, nil for none
	ads       string           // ad-marker mode (adcue.Mode*; "" is passthrough)
	segdur    time.Duration    // joined segment duration, 0: as ingested
	ll        bool             // Low-Latency HLS when the ingest lists parts (llhls.go)
}

// encSpec is the resolved encryption of an endpoint.
type encSpec struct {
	method            string
	rotation          time.Duration
	constIV           []byte
	keyURI            string
	keyFormat         string
	keyFormatVersions string
	repeat            bool
	resource          string
}

// newEndpoints resolves the endpoints of a channel config (after
// defaults); a channel without endpoints gets one implicit TS endpoint.
func newEndpoints(ch ChannelConfig) []*endpoint {
	if len(ch.Endpoints) == 0 {
		return []*endpoint{{
			startover: ch.StartoverWindow, manifest: ch.ManifestWindow, delay: ch.TimeDelay,
			pdt: ch.PDTInterval, iframes: ch.iframesOn(), manifest0: indexName,
			ll: lowLatencyOn(ch.LowLatency) && ch.TimeDelay == 0,
		}}
	}
	eps := make([]*endpoint, 0, len(ch.Endpoints))
	for _, ec := range ch.Endpoints {
		ep := &endpoint{
			id: ec.ID, cmaf: ec.Packaging == PackagingCMAF || ec.Packaging == PackagingDASH,
			dash:      ec.Packaging == PackagingDASH,
			startover: ec.StartoverWindow, manifest: ec.ManifestWindow, delay: ec.TimeDelay,
			pdt: ec.PDTInterval, iframes: ec.IFrames == nil || *ec.IFrames,
		}
		ep.ads = ec.AdMarkers
		ep.segdur = ec.SegmentDuration
		ep.ll = lowLatencyOn(ec.LowLatency) && ec.Encryption == nil && ec.SegmentDuration == 0 && ec.TimeDelay == 0
		ep.manifest0 = indexName
		if ec.ManifestName != "" {
			ep.manifest0 = ec.ManifestName + ".m3u8"
		}
		if ec.Start != nil {
			ep.start = &hls.Start{TimeOffset: ec.Start.TimeOffset, Precise: ec.Start.Precise}
		}
		if sel := ec.StreamSelection; sel != nil {
			cp := *sel
			cp.StreamOrder = strings.ToLower(cp.StreamOrder)
			ep.sel = &cp
		}
		if e := ec.Encryption; e != nil {
			ep.enc = &encSpec{
				method: e.Method, rotation: *e.KeyRotationInterval, keyURI: e.KeyURI,
				keyFormat: e.KeyFormat, keyFormatVersions: e.KeyFormatVersions,
				repeat: e.RepeatKey, resource: e.ResourceID,
			}
			if e.ConstantIV != "" {
				ep.enc.constIV, _ = parseIV(e.ConstantIV)
			}
			// A byte range of a CBC-encrypted whole segment cannot be
			// decrypted on its own: no I-frame playlists with AES-128.
			if e.Method == MethodAES128 {
				ep.iframes = false
			}
		}
		eps = append(eps, ep)
	}
	return eps
}
