package dash

import (
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MPEG-DASH manifest model: the subset of ISO/IEC 23009-1 the origin
// writes, one struct per element, one field per attribute (named as in the
// schema). The cenc namespace is written with its conventional prefix, as
// players look attributes up both by namespace and by the prefixed name.

// DASH namespaces, profiles and schemes.
const (
	Namespace     = "urn:mpeg:dash:schema:mpd:2011"
	CENCNamespace = "urn:mpeg:cenc:2013"
	LiveProfile   = "urn:mpeg:dash:profile:isoff-live:2011"
	// SchemeMP4Protection signals Common Encryption (value cenc or cbcs).
	SchemeMP4Protection = "urn:mpeg:dash:mp4protection:2011"
	// SchemeUTCHTTPISO is a UTCTiming source answering an ISO 8601 time.
	SchemeUTCHTTPISO = "urn:mpeg:dash:utc:http-iso:2014"
	// SchemeUTCDirect carries the time in the value itself.
	SchemeUTCDirect = "urn:mpeg:dash:utc:direct:2014"
	// SchemeAudioChannels is the AudioChannelConfiguration of ISO 23003-3.
	SchemeAudioChannels = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
	// SchemeRole is the Role scheme of ISO 23009-1.
	SchemeRole = "urn:mpeg:dash:role:2011"
	MIMEType   = "application/dash+xml"
	// SchemeSCTE35XMLBin is the EventStream scheme of SCTE 214-1: SCTE-35
	// sections in base64 in a Signal element.
	SchemeSCTE35XMLBin = "urn:scte:scte35:2014:xml+bin"
	SCTE35Namespace    = "http://www.scte.org/schemas/35/2016"
)

// MPD is the MPD element.
type MPD struct {
	XMLName xml.Name `xml:"MPD"`
	Xmlns   string   `xml:"xmlns,attr"`
	// XmlnsCenc declares the cenc: prefix of ContentProtection.
	XmlnsCenc                  string `xml:"xmlns:cenc,attr,omitempty"`
	ID                         string `xml:"id,attr,omitempty"`
	Profiles                   string `xml:"profiles,attr"`
	Type                       string `xml:"type,attr"` // static | dynamic
	AvailabilityStartTime      string `xml:"availabilityStartTime,attr,omitempty"`
	PublishTime                string `xml:"publishTime,attr,omitempty"`
	MediaPresentationDuration  string `xml:"mediaPresentationDuration,attr,omitempty"`
	MinimumUpdatePeriod        string `xml:"minimumUpdatePeriod,attr,omitempty"`
	TimeShiftBufferDepth       string `xml:"timeShiftBufferDepth,attr,omitempty"`
	SuggestedPresentationDelay string `xml:"suggestedPresentationDelay,attr,omitempty"`
	MaxSegmentDuration         string `xml:"maxSegmentDuration,attr,omitempty"`
	MinBufferTime              string `xml:"minBufferTime,attr"`

	Periods   []*Period `xml:"Period"`
	UTCTiming []Scheme  `xml:"UTCTiming"`
}

// Period is a Period.
type Period struct {
	ID             string           `xml:"id,attr"`
	Start          string           `xml:"start,attr"`
	Duration       string           `xml:"duration,attr,omitempty"`
	EventStreams   []*EventStream   `xml:"EventStream"`
	AdaptationSets []*AdaptationSet `xml:"AdaptationSet"`
}

// AdaptationSet is an AdaptationSet.
type AdaptationSet struct {
	ID                int    `xml:"id,attr"`
	ContentType       string `xml:"contentType,attr"`
	MimeType          string `xml:"mimeType,attr"`
	Lang              string `xml:"lang,attr,omitempty"`
	SegmentAlignment  bool   `xml:"segmentAlignment,attr"`
	StartWithSAP      int    `xml:"startWithSAP,attr"`
	MaxWidth          int    `xml:"maxWidth,attr,omitempty"`
	MaxHeight         int    `xml:"maxHeight,attr,omitempty"`
	Par               string `xml:"par,attr,omitempty"`
	ContentProtection []*ContentProtection
	EssentialProperty []Scheme          `xml:"EssentialProperty,omitempty"`
	Role              *Scheme           `xml:"Role,omitempty"`
	Label             string            `xml:"Label,omitempty"`
	Representations   []*Representation `xml:"Representation"`
}

// ContentProtection is a ContentProtection descriptor.
type ContentProtection struct {
	XMLName     xml.Name `xml:"ContentProtection"`
	SchemeIDURI string   `xml:"schemeIdUri,attr"`
	Value       string   `xml:"value,attr,omitempty"`
	DefaultKID  string   `xml:"cenc:default_KID,attr,omitempty"`
	PSSH        string   `xml:"cenc:pssh,omitempty"`
}

// Scheme is a descriptor: UTCTiming, Role, AudioChannelConfiguration.
type Scheme struct {
	SchemeIDURI string `xml:"schemeIdUri,attr"`
	Value       string `xml:"value,attr"`
}

// Representation is a Representation.
type Representation struct {
	ID                        string  `xml:"id,attr"`
	Bandwidth                 int     `xml:"bandwidth,attr"`
	Codecs                    string  `xml:"codecs,attr,omitempty"`
	Width                     int     `xml:"width,attr,omitempty"`
	Height                    int     `xml:"height,attr,omitempty"`
	FrameRate                 string  `xml:"frameRate,attr,omitempty"`
	Sar                       string  `xml:"sar,attr,omitempty"`
	AudioSamplingRate         int     `xml:"audioSamplingRate,attr,omitempty"`
	MaxPlayoutRate            int     `xml:"maxPlayoutRate,attr,omitempty"`
	CodingDependency          string  `xml:"codingDependency,attr,omitempty"`
	AudioChannelConfiguration *Scheme `xml:"AudioChannelConfiguration,omitempty"`
	SegmentTemplate           *SegmentTemplate
}

// SegmentTemplate is a SegmentTemplate with a SegmentTimeline.
type SegmentTemplate struct {
	XMLName                xml.Name `xml:"SegmentTemplate"`
	Timescale              int      `xml:"timescale,attr"`
	PresentationTimeOffset uint64   `xml:"presentationTimeOffset,attr"`
	StartNumber            int64    `xml:"startNumber,attr"`
	Initialization         string   `xml:"initialization,attr"`
	Media                  string   `xml:"media,attr"`
	Timeline               []S      `xml:"SegmentTimeline>S"`
}

// S is one S element: segments of duration D from T (absent: the end
// of the previous S), repeated R more times.
type S struct {
	T *uint64 `xml:"t,attr,omitempty"`
	D uint64  `xml:"d,attr"`
	R int     `xml:"r,attr,omitempty"`
}

// EventStream is a Period's EventStream.
type EventStream struct {
	SchemeIDURI string   `xml:"schemeIdUri,attr"`
	Timescale   int      `xml:"timescale,attr"`
	Events      []*Event `xml:"Event"`
}

// Event is an Event carrying a SCTE-35 section.
type Event struct {
	PresentationTime uint64       `xml:"presentationTime,attr"`
	Duration         uint64       `xml:"duration,attr,omitempty"`
	ID               uint32       `xml:"id,attr"`
	Signal           SCTE35Signal `xml:"Signal"`
}

// SCTE35Signal is SCTE 35's Signal element with the binary section.
type SCTE35Signal struct {
	XMLName xml.Name `xml:"http://www.scte.org/schemas/35/2016 Signal"`
	Binary  string   `xml:"Binary"`
}

// Encode returns the MPD document, written by write.go as
// encoding/xml would write the model (encodeXML).
func (m *MPD) Encode() ([]byte, error) {
	w := &xmlWriter{b: append(make([]byte, 0, 16<<10), xml.Header...)}
	w.base = len(w.b)
	m.write(w)
	return append(w.b, '\n'), nil
}

// EncodeXML returns the MPD document as encoding/xml writes it.
func (m *MPD) EncodeXML() ([]byte, error) {
	out, err := xml.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode MPD: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// XSDuration writes d as an xs:duration in seconds (PT12.5S), to the
// millisecond.
func XSDuration(d time.Duration) string {
	ms := d.Milliseconds()
	if ms%1000 == 0 {
		return "PT" + strconv.FormatInt(ms/1000, 10) + "S"
	}
	return "PT" + strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) + "S"
}

// ParseXSDuration reads the PTnHnMnS durations XSDuration and players
// write (no years, months or days but D).
func ParseXSDuration(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok {
		return 0, fmt.Errorf("duration %q: no P", s)
	}
	var d time.Duration
	inTime, parsed := false, false
	for rest != "" {
		if rest[0] == 'T' {
			inTime, rest = true, rest[1:]
			continue
		}
		i := strings.IndexAny(rest, "DHMS")
		if i <= 0 {
			return 0, fmt.Errorf("duration %q: bad element", s)
		}
		v, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		unit := map[byte]time.Duration{'D': 24 * time.Hour, 'H': time.Hour, 'M': time.Minute, 'S': time.Second}[rest[i]]
		if (rest[i] == 'D') == inTime {
			return 0, fmt.Errorf("duration %q: bad element", s)
		}
		d += time.Duration(math.Round(v * float64(unit)))
		rest, parsed = rest[i+1:], true
	}
	if !parsed {
		return 0, fmt.Errorf("duration %q: empty", s)
	}
	return d, nil
}

// XSDateTime writes t (unix ns) as an xs:dateTime in UTC, to the
// millisecond.
func XSDateTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z")
}

// FrameRate writes an HLS FRAME-RATE as a DASH frameRate: an integer,
// or N/1001 for the NTSC rates.
func FrameRate(f float64) string {
	if f <= 0 {
		return ""
	}
	if r := math.Round(f); math.Abs(f-r) < 0.001 {
		return strconv.Itoa(int(r))
	}
	if n := math.Round(f * 1001); math.Abs(n/1001-f) < 0.001 && int(n)%1000 == 0 {
		return strconv.Itoa(int(n)) + "/1001"
	}
	return strconv.FormatFloat(f, 'f', 3, 64)
}
