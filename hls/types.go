package hls

import "time"

// Playlist is a parsed HLS playlist: either *Multivariant or *Media.
type Playlist interface {
	// Encode writes the playlist in canonical HLS text form.
	Encode() []byte
	isPlaylist()
}

// Attr is one attribute of an attribute list that the model has no field for
// (e.g. SCORE, PATHWAY-ID, X-CUSTOM). It is written back verbatim.
type Attr struct {
	Key    string
	Value  string // without quotes
	Quoted bool   // whether the value was (and will be written) quoted
}

// PlaylistType is the value of EXT-X-PLAYLIST-TYPE.
type PlaylistType string

// Playlist types.
const (
	PlaylistTypeNone  PlaylistType = ""
	PlaylistTypeEvent PlaylistType = "EVENT"
	PlaylistTypeVOD   PlaylistType = "VOD"
)

// MediaType is the TYPE attribute of EXT-X-MEDIA.
type MediaType string

// Media types.
const (
	MediaTypeAudio          MediaType = "AUDIO"
	MediaTypeVideo          MediaType = "VIDEO"
	MediaTypeSubtitles      MediaType = "SUBTITLES"
	MediaTypeClosedCaptions MediaType = "CLOSED-CAPTIONS"
)

// Resolution is a RESOLUTION attribute (WIDTHxHEIGHT).
type Resolution struct {
	Width  int
	Height int
}

// Start is EXT-X-START.
type Start struct {
	TimeOffset float64 // TIME-OFFSET (required)
	Precise    bool    // PRECISE
}

// ByteRange is EXT-X-BYTERANGE or the BYTERANGE attribute of EXT-X-MAP.
type ByteRange struct {
	Length int64
	Offset *int64 // nil: starts right after the previous sub-range of the same URI
}

// Key is EXT-X-KEY or EXT-X-SESSION-KEY.
type Key struct {
	Method            string // METHOD: NONE, AES-128, SAMPLE-AES, SAMPLE-AES-CTR
	URI               string // URI
	IV                string // IV, as written (e.g. "0x0123..."), empty when absent
	KeyFormat         string // KEYFORMAT
	KeyFormatVersions string // KEYFORMATVERSIONS
	Extra             []Attr
}

// Map is EXT-X-MAP (media initialization section).
type Map struct {
	URI       string     // URI (required)
	ByteRange *ByteRange // BYTERANGE
	Extra     []Attr
}

// DateRange is EXT-X-DATERANGE. Client attributes (X-...) and SCTE35-* are
// kept in Extra in their original order.
type DateRange struct {
	ID              string     // ID (required)
	Class           string     // CLASS
	StartDate       time.Time  // START-DATE
	EndDate         *time.Time // END-DATE
	Duration        *float64   // DURATION
	PlannedDuration *float64   // PLANNED-DURATION
	EndOnNext       bool       // END-ON-NEXT=YES
	Extra           []Attr     // SCTE35-CMD, SCTE35-OUT, SCTE35-IN, X-* ...
}

// Rendition is EXT-X-MEDIA.
type Rendition struct {
	Type            MediaType // TYPE (required)
	GroupID         string    // GROUP-ID (required)
	Name            string    // NAME (required)
	Language        string    // LANGUAGE
	AssocLanguage   string    // ASSOC-LANGUAGE
	Default         bool      // DEFAULT=YES
	Autoselect      bool      // AUTOSELECT=YES
	Forced          bool      // FORCED=YES
	InstreamID      string    // INSTREAM-ID
	Characteristics string    // CHARACTERISTICS
	Channels        string    // CHANNELS
	URI             string    // URI (empty for muxed renditions and closed captions)
	Extra           []Attr
	Tags            []string // unknown tag lines directly preceding this tag, verbatim
}

// Variant is EXT-X-STREAM-INF followed by its URI line.
type Variant struct {
	Bandwidth        int         // BANDWIDTH (required)
	AverageBandwidth int         // AVERAGE-BANDWIDTH (0 = absent)
	Codecs           string      // CODECS
	Resolution       *Resolution // RESOLUTION
	FrameRate        float64     // FRAME-RATE (0 = absent)
	HDCPLevel        string      // HDCP-LEVEL
	VideoRange       string      // VIDEO-RANGE
	Audio            string      // AUDIO group
	Video            string      // VIDEO group
	Subtitles        string      // SUBTITLES group
	ClosedCaptions   string      // CLOSED-CAPTIONS group, or NONE (written unquoted)
	ProgramID        int         // PROGRAM-ID (deprecated, 0 = absent)
	Extra            []Attr      // SCORE, SUPPLEMENTAL-CODECS, PATHWAY-ID, ...
	URI              string
	Tags             []string // unknown tag lines directly preceding this variant, verbatim
}

// IFrameVariant is EXT-X-I-FRAME-STREAM-INF.
type IFrameVariant struct {
	Bandwidth        int         // BANDWIDTH (required)
	AverageBandwidth int         // AVERAGE-BANDWIDTH
	Codecs           string      // CODECS
	Resolution       *Resolution // RESOLUTION
	HDCPLevel        string      // HDCP-LEVEL
	VideoRange       string      // VIDEO-RANGE
	Video            string      // VIDEO group
	URI              string      // URI (required)
	Extra            []Attr
	Tags             []string // unknown tag lines directly preceding this tag, verbatim
}

// SessionData is EXT-X-SESSION-DATA.
type SessionData struct {
	DataID   string // DATA-ID (required)
	Value    string // VALUE
	URI      string // URI
	Language string // LANGUAGE
	Extra    []Attr
}

// Multivariant is a multivariant (master) playlist.
type Multivariant struct {
	Version             int  // EXT-X-VERSION (0 = absent)
	IndependentSegments bool // EXT-X-INDEPENDENT-SEGMENTS
	Start               *Start
	SessionData         []*SessionData   // EXT-X-SESSION-DATA
	SessionKeys         []*Key           // EXT-X-SESSION-KEY
	Renditions          []*Rendition     // EXT-X-MEDIA
	Variants            []*Variant       // EXT-X-STREAM-INF
	IFrameVariants      []*IFrameVariant // EXT-X-I-FRAME-STREAM-INF
	Tags                []string         // unknown tags not attached to a rendition or variant (header: EXT-X-DEFINE, EXT-X-CONTENT-STEERING, ...), verbatim
	TrailingTags        []string         // unknown tags after the last rendition or variant, verbatim, in order
}

// Segment is one media segment of a media playlist with the tags that apply
// to it.
type Segment struct {
	Discontinuity   bool         // EXT-X-DISCONTINUITY before this segment
	Keys            []*Key       // EXT-X-KEY tags appearing before this segment (new key state from here)
	Map             *Map         // EXT-X-MAP appearing before this segment
	ProgramDateTime time.Time    // EXT-X-PROGRAM-DATE-TIME (zero = absent)
	DateRanges      []*DateRange // EXT-X-DATERANGE tags before this segment
	Tags            []string     // unknown tags before this segment (e.g. #EXT-X-CUE-OUT:30), verbatim, in order
	Gap             bool         // EXT-X-GAP
	Bitrate         int          // EXT-X-BITRATE in kbit/s (0 = absent)
	ByteRange       *ByteRange   // EXT-X-BYTERANGE
	Parts           []*Part      // EXT-X-PART tags of this segment's partial segments (LL-HLS), in order
	Duration        float64      // EXTINF duration in seconds
	Title           string       // EXTINF title
	URI             string
}

// ServerControl is EXT-X-SERVER-CONTROL (LL-HLS delivery directives the
// server supports). Zero durations are absent.
type ServerControl struct {
	CanSkipUntil      float64 // CAN-SKIP-UNTIL in seconds (0 = absent: no delta updates)
	CanSkipDateRanges bool    // CAN-SKIP-DATERANGES=YES
	HoldBack          float64 // HOLD-BACK in seconds
	PartHoldBack      float64 // PART-HOLD-BACK in seconds
	CanBlockReload    bool    // CAN-BLOCK-RELOAD=YES
	Extra             []Attr
}

// PartInf is EXT-X-PART-INF.
type PartInf struct {
	PartTarget float64 // PART-TARGET in seconds (required)
	Extra      []Attr
}

// Part is EXT-X-PART: one partial segment.
type Part struct {
	Duration    float64    // DURATION in seconds (required)
	URI         string     // URI (required)
	Independent bool       // INDEPENDENT=YES
	ByteRange   *ByteRange // BYTERANGE
	Gap         bool       // GAP=YES
	Extra       []Attr
}

// PreloadHint is EXT-X-PRELOAD-HINT: a resource the server will publish
// next.
type PreloadHint struct {
	Type            string // TYPE: PART or MAP (required)
	URI             string // URI (required)
	ByteRangeStart  int64  // BYTERANGE-START (0 = absent)
	ByteRangeLength *int64 // BYTERANGE-LENGTH (nil = to the end of the resource)
	Extra           []Attr
}

// RenditionReport is EXT-X-RENDITION-REPORT: where another rendition's
// live edge is.
type RenditionReport struct {
	URI      string // URI (required)
	LastMSN  *int64 // LAST-MSN
	LastPart *int64 // LAST-PART
	Extra    []Attr
}

// Skip is EXT-X-SKIP: a playlist delta update left out SkippedSegments
// segments before the first one listed.
type Skip struct {
	SkippedSegments           int64  // SKIPPED-SEGMENTS (required)
	RecentlyRemovedDateRanges string // RECENTLY-REMOVED-DATERANGES, tab-separated IDs
	Extra                     []Attr
}

// Media is a media playlist.
type Media struct {
	Version               int          // EXT-X-VERSION (0 = absent)
	IndependentSegments   bool         // EXT-X-INDEPENDENT-SEGMENTS
	Start                 *Start       // EXT-X-START
	TargetDuration        int          // EXT-X-TARGETDURATION (required)
	MediaSequence         int64        // EXT-X-MEDIA-SEQUENCE
	DiscontinuitySequence int64        // EXT-X-DISCONTINUITY-SEQUENCE
	PlaylistType          PlaylistType // EXT-X-PLAYLIST-TYPE
	IFramesOnly           bool         // EXT-X-I-FRAMES-ONLY
	ServerControl         *ServerControl
	PartInf               *PartInf
	Tags                  []string // unknown header tags (e.g. EXT-X-DEFINE), verbatim, in order
	Skip                  *Skip    // EXT-X-SKIP (delta update)
	Segments              []*Segment
	TrailingTags          []string           // unknown tags after the last segment, verbatim, in order
	Parts                 []*Part            // EXT-X-PART tags after the last segment: the segment in progress
	PreloadHints          []*PreloadHint     // EXT-X-PRELOAD-HINT
	RenditionReports      []*RenditionReport // EXT-X-RENDITION-REPORT
	Endlist               bool               // EXT-X-ENDLIST
}

func (*Multivariant) isPlaylist() {}
func (*Media) isPlaylist()        {}
