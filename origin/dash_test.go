package origin

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
)

// Parsed-back MPD: an independent, namespace-aware model of what players
// read (the cenc attributes by namespace, not by prefix).
type tMPD struct {
	XMLName                    xml.Name   `xml:"urn:mpeg:dash:schema:mpd:2011 MPD"`
	Type                       string     `xml:"type,attr"`
	Profiles                   string     `xml:"profiles,attr"`
	AvailabilityStartTime      string     `xml:"availabilityStartTime,attr"`
	PublishTime                string     `xml:"publishTime,attr"`
	MediaPresentationDuration  string     `xml:"mediaPresentationDuration,attr"`
	MinimumUpdatePeriod        string     `xml:"minimumUpdatePeriod,attr"`
	TimeShiftBufferDepth       string     `xml:"timeShiftBufferDepth,attr"`
	SuggestedPresentationDelay string     `xml:"suggestedPresentationDelay,attr"`
	Periods                    []tPeriod  `xml:"Period"`
	UTCTiming                  []tDescrip `xml:"UTCTiming"`
}

type tPeriod struct {
	ID    string  `xml:"id,attr"`
	Start string  `xml:"start,attr"`
	Sets  []tASet `xml:"AdaptationSet"`
}

type tASet struct {
	ContentType string     `xml:"contentType,attr"`
	MimeType    string     `xml:"mimeType,attr"`
	Lang        string     `xml:"lang,attr"`
	Protection  []tProt    `xml:"ContentProtection"`
	Reps        []tRep     `xml:"Representation"`
	Role        *tDescrip  `xml:"Role"`
	Label       string     `xml:"Label"`
	Extra       []tDescrip `xml:"Accessibility"`
}

type tProt struct {
	Scheme     string `xml:"schemeIdUri,attr"`
	Value      string `xml:"value,attr"`
	DefaultKID string `xml:"urn:mpeg:cenc:2013 default_KID,attr"`
	PSSH       string `xml:"urn:mpeg:cenc:2013 pssh"`
}

type tDescrip struct {
	Scheme string `xml:"schemeIdUri,attr"`
	Value  string `xml:"value,attr"`
}

type tRep struct {
	ID                string    `xml:"id,attr"`
	Bandwidth         int       `xml:"bandwidth,attr"`
	Codecs            string    `xml:"codecs,attr"`
	Width             int       `xml:"width,attr"`
	Height            int       `xml:"height,attr"`
	FrameRate         string    `xml:"frameRate,attr"`
	AudioSamplingRate int       `xml:"audioSamplingRate,attr"`
	Channels          *tDescrip `xml:"AudioChannelConfiguration"`
	Template          tTemplate `xml:"SegmentTemplate"`
}

type tTemplate struct {
	Timescale uint64 `xml:"timescale,attr"`
	PTO       uint64 `xml:"presentationTimeOffset,attr"`
	Start     int64  `xml:"startNumber,attr"`
	Init      string `xml:"initialization,attr"`
	Media     string `xml:"media,attr"`
	S         []tS   `xml:"SegmentTimeline>S"`
}

type tS struct {
	T *uint64 `xml:"t,attr"`
	D uint64  `xml:"d,attr"`
	R int     `xml:"r,attr"`
}

// tSeg is one segment of a parsed timeline.
type tSeg struct {
	t, d uint64
	n    int64
}

// segments expands the timeline, failing on a gap or overlap: every S@t
// given after the first must equal the previous S@t + d*(r+1).
func (tt tTemplate) segments(t *testing.T, where string) []tSeg {
	t.Helper()
	var out []tSeg
	var at uint64
	n := tt.Start
	for i, s := range tt.S {
		if s.T != nil {
			if i > 0 && *s.T != at {
				t.Errorf("%s: S[%d]@t = %d, previous S ends at %d", where, i, *s.T, at)
			}
			at = *s.T
		} else if i == 0 {
			t.Errorf("%s: first S has no t", where)
		}
		for range s.R + 1 {
			out = append(out, tSeg{t: at, d: s.D, n: n})
			at += s.D
			n++
		}
	}
	return out
}

func (e *env) mpd(p string) (*tMPD, []byte) {
	e.t.Helper()
	resp, err := http.Get(e.url(p))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf strings.Builder
	if _, err := copyBody(&buf, resp); err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", p, resp.StatusCode, buf.String())
	}
	if ct := resp.Header.Get("Content-Type"); ct != dashType {
		e.t.Fatalf("GET %s: Content-Type %q", p, ct)
	}
	var m tMPD
	if err := xml.Unmarshal([]byte(buf.String()), &m); err != nil {
		e.t.Fatalf("parse %s: %v\n%s", p, err, buf.String())
	}
	return &m, []byte(buf.String())
}

func dashEnv(t *testing.T, mutate func(*Config)) *env {
	return newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "ts"},
			{ID: "dash", Packaging: PackagingDASH, ManifestWindow: 20 * time.Second},
		}
		if mutate != nil {
			mutate(c)
		}
	})
}

func TestDASHSmoke(t *testing.T) {
	e := dashEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 12)
	_, body := e.mpd("/out/v1/live/dash/index.mpd")
	t.Logf("%s", body)
}

func copyBody(w *strings.Builder, resp *http.Response) (int64, error) {
	return io.Copy(w, resp.Body)
}
