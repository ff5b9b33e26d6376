package origin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin/internal/dash"
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
	Essential   []tDescrip `xml:"EssentialProperty"`
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
	MaxPlayoutRate    int       `xml:"maxPlayoutRate,attr"`
	CodingDependency  string    `xml:"codingDependency,attr"`
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
	if ct := resp.Header.Get("Content-Type"); ct != dash.MIMEType {
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

func copyBody(w *strings.Builder, resp *http.Response) (int64, error) {
	return io.Copy(w, resp.Body)
}

// xsSeconds parses an xs:duration the MPD wrote, in seconds.
func xsSeconds(t *testing.T, s string) float64 {
	t.Helper()
	d, err := dash.ParseXSDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d.Seconds()
}

// pdts maps the origin's sequence numbers to PROGRAM-DATE-TIME, from the
// TS endpoint's playlist of the same rendition.
func (e *env) pdts(p string) map[int64]time.Time {
	e.t.Helper()
	m := e.media(p)
	out := map[int64]time.Time{}
	for i, s := range m.Segments {
		out[m.MediaSequence+int64(i)] = s.ProgramDateTime
	}
	return out
}

// checkTimeline checks every Representation of m: the timeline has no
// gap, numbers and presentation times agree with the TS endpoint's
// sequence numbers and PROGRAM-DATE-TIME (within a frame for audio, whose
// segments are not cut on video frame boundaries), and the init and the
// first and last media segment are served. It returns the segments per
// period and Representation.
func checkTimeline(t *testing.T, e *env, m *tMPD, origin time.Time, q string) map[string]map[string][]tSeg {
	t.Helper()
	out := map[string]map[string][]tSeg{}
	for _, p := range m.Periods {
		start := origin.Add(time.Duration(xsSeconds(t, p.Start) * float64(time.Second)))
		out[p.ID] = map[string][]tSeg{}
		for _, as := range p.Sets {
			for _, r := range as.Reps {
				where := p.ID + "/" + r.ID
				segs := r.Template.segments(t, where)
				if len(segs) == 0 {
					t.Fatalf("%s: empty timeline", where)
				}
				out[p.ID][r.ID] = segs
				// (the audio of a muxed TS has the numbers of its TS rendition)
				// (and trick play those of its video)
				tsName := strings.TrimSuffix(strings.TrimSuffix(r.ID, audioSuffix), trickSuffix)
				pdt := e.pdts("/out/v1/live/ts/" + tsName + ".m3u8" + q)
				if q == "" {
					pdt = e.pdts("/out/v1/live/ts/" + tsName + ".m3u8?start=" + iso(e.clock.Now().Add(-time.Hour)))
				}
				for _, s := range segs {
					at := start.Add(time.Duration((float64(s.t) - float64(r.Template.PTO)) / float64(r.Template.Timescale) * float64(time.Second)))
					want, ok := pdt[s.n]
					if !ok {
						t.Fatalf("%s: segment number %d not in the TS endpoint's playlist", where, s.n)
					}
					if d := at.Sub(want); d > 25*time.Millisecond || d < -25*time.Millisecond {
						t.Errorf("%s: segment %d presented at %v, its PROGRAM-DATE-TIME is %v", where, s.n, at, want)
					}
				}
				// S@t is the decode time of the segment (the audio of a
				// muxed TS, timed by its video, within an AAC frame).
				tol := int64(0)
				if strings.HasSuffix(r.ID, audioSuffix) {
					tol = 1024
				}
				for _, s := range []tSeg{segs[0], segs[len(segs)-1]} {
					base := "/out/v1/live/dash/"
					tfdt := tfdtOf(t, e, base+r.Template.Init, base+strings.ReplaceAll(r.Template.Media, "$Number$", fmtInt(s.n)))
					if d := int64(tfdt) - int64(s.t); d > tol || d < -tol {
						t.Errorf("%s: segment %d: S@t %d, tfdt %d", where, s.n, s.t, tfdt)
					}
				}
			}
		}
	}
	return out
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

// TestDASHLiveMPD: the live MPD of a channel whose source clock restarts
// (the test media loop every 8 segments, as a VOD2Live channel restarts
// at every asset) has a Period per timeline epoch, gapless timelines that
// continue across the boundary, presentation times on the source's
// PROGRAM-DATE-TIME, the video variants as Representations of one
// AdaptationSet and the audio rendition with its language, and dynamic
// MPD timing attributes from the endpoint's settings.
func TestDASHLiveMPD(t *testing.T) {
	e := dashEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 12)
	m, body := e.mpd("/out/v1/live/dash/index.mpd")
	if m.Type != "dynamic" || m.Profiles != dash.LiveProfile || m.AvailabilityStartTime != "1970-01-01T00:00:00.000Z" ||
		m.TimeShiftBufferDepth != "PT20S" || m.MinimumUpdatePeriod != "PT1S" || m.SuggestedPresentationDelay != "PT3S" {
		t.Fatalf("MPD attributes:\n%s", body)
	}
	if pt, err := time.Parse(time.RFC3339, m.PublishTime); err != nil || pt.Sub(e.clock.Now()).Abs() > time.Minute {
		t.Fatalf("publishTime %q (clock %v)", m.PublishTime, e.clock.Now())
	}
	if len(m.Periods) != 2 {
		t.Fatalf("%d periods, want 2 (clock restart at segment 8):\n%s", len(m.Periods), body)
	}
	if got, want := xsSeconds(t, m.Periods[1].Start), float64(l.epoch.Add(8*time.Second).Unix()); got != want {
		t.Fatalf("second Period@start %v, want %v (PROGRAM-DATE-TIME of segment 8)", got, want)
	}
	if m.Periods[0].ID == m.Periods[1].ID {
		t.Fatal("periods share an ID")
	}
	for _, p := range m.Periods {
		if len(p.Sets) != 4 || p.Sets[0].ContentType != "video" || p.Sets[1].ContentType != "audio" || len(p.Sets[2].Essential) != 1 ||
			p.Sets[3].ContentType != "text" {
			t.Fatalf("period %s: adaptation sets %+v", p.ID, p.Sets)
		}
		v, a := p.Sets[0], p.Sets[1]
		if len(v.Reps) != 2 || v.Reps[0].ID != "channel_video_hi" || v.Reps[0].Bandwidth != 273728 || v.Reps[0].Width != 320 ||
			v.Reps[0].Height != 180 || v.Reps[0].FrameRate != "25" || v.Reps[0].Codecs != "avc1.4d401e" || v.Reps[1].Width != 160 {
			t.Fatalf("video representations %+v", v.Reps)
		}
		if a.Lang != "en" || a.Label != "English" || a.Role == nil || a.Role.Value != "main" || len(a.Reps) != 1 ||
			a.Reps[0].Codecs != "mp4a.40.2" || a.Reps[0].AudioSamplingRate != 48000 || a.Reps[0].Channels == nil || a.Reps[0].Channels.Value != "2" {
			t.Fatalf("audio adaptation set %+v", a)
		}
	}
	segs := checkTimeline(t, e, m, time.Unix(0, 0), "")
	for _, rep := range []string{"channel_video_hi", "channel_audio"} {
		a, b := segs[m.Periods[0].ID][rep], segs[m.Periods[1].ID][rep]
		if last := a[len(a)-1]; last.t+last.d != b[0].t || last.n+1 != b[0].n {
			t.Errorf("%s: the second period does not continue the CMAF timeline: %+v then %+v", rep, last, b[0])
		}
		if n := len(a) + len(b); n != 12 {
			t.Errorf("%s: %d segments, want 12", rep, n)
		}
	}
	// The UTCTiming source answers the clock on the media timeline.
	if len(m.UTCTiming) == 0 || m.UTCTiming[0].Scheme != dash.SchemeUTCHTTPISO || m.UTCTiming[0].Value != e.url("/out/v1/live/dash/time") {
		t.Fatalf("UTCTiming %+v", m.UTCTiming)
	}
	_, tb := e.get("/out/v1/live/dash/time")
	if now, err := time.Parse(time.RFC3339Nano, string(tb)); err != nil || now.Sub(l.epoch.Add(12*time.Second)).Abs() > 10*time.Millisecond {
		t.Fatalf("time %q, want about %v", tb, l.epoch.Add(12*time.Second))
	}

	// The window slides: 20 s of segments, and periods still listed keep
	// their ID, start and presentation time offsets.
	e.pushSteps(l, e.pusher("a"), 12, 30)
	m2, body2 := e.mpd("/out/v1/live/dash/index.mpd")
	segs2 := checkTimeline(t, e, m2, time.Unix(0, 0), "")
	n := 0
	for _, p := range m2.Periods {
		n += len(segs2[p.ID]["channel_video_hi"])
	}
	if n != 20 {
		t.Fatalf("%d video segments in a 20 s window:\n%s", n, body2)
	}
	for _, p2 := range m2.Periods {
		for _, p := range m.Periods {
			if p.ID == p2.ID && (p.Start != p2.Start || p.Sets[0].Reps[0].Template.PTO != p2.Sets[0].Reps[0].Template.PTO) {
				t.Fatalf("period %s changed: start %s -> %s", p.ID, p.Start, p2.Start)
			}
		}
	}
	// HLS and the time source are not on other endpoints.
	if code, _ := e.get("/out/v1/live/ts/index.mpd"); code != http.StatusNotFound {
		t.Fatalf("index.mpd on a ts endpoint: %d", code)
	}
}

// TestDASHTimeShift: a window that ended is a static MPD starting at 0
// with its duration (and a Period per epoch inside it); a start without an
// end is dynamic with a time-shift buffer back to the start; a start
// in the future is 404.
func TestDASHTimeShift(t *testing.T) {
	e := dashEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 30)

	q := vod(l, 1, 4)
	resp, err := http.Get(e.url("/out/v1/live/dash/index.mpd" + q))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); cc != cacheImmutable {
		t.Fatalf("static MPD Cache-Control %q", cc)
	}
	m, body := e.mpd("/out/v1/live/dash/index.mpd" + q)
	if m.Type != "static" || m.MediaPresentationDuration != "PT3S" || m.AvailabilityStartTime != "" || m.MinimumUpdatePeriod != "" ||
		len(m.Periods) != 1 || m.Periods[0].Start != "PT0S" || len(m.UTCTiming) != 0 {
		t.Fatalf("static MPD:\n%s", body)
	}
	segs := checkTimeline(t, e, m, l.epoch.Add(time.Second), q)
	if v := segs[m.Periods[0].ID]["channel_video_hi"]; len(v) != 3 {
		t.Fatalf("%d video segments in a 3 s window", len(v))
	}

	// Across the clock restart at segment 8: two periods, the second at 2 s.
	q = vod(l, 6, 11)
	m, body = e.mpd("/out/v1/live/dash/index.mpd" + q)
	if m.Type != "static" || m.MediaPresentationDuration != "PT5S" || len(m.Periods) != 2 || m.Periods[1].Start != "PT2S" {
		t.Fatalf("static MPD across a discontinuity:\n%s", body)
	}
	checkTimeline(t, e, m, l.epoch.Add(6*time.Second), q)

	// Startover: dynamic, everything since the start.
	q = "?start=" + iso(l.epoch.Add(2*time.Second))
	m, body = e.mpd("/out/v1/live/dash/index.mpd" + q)
	if m.Type != "dynamic" || xsSeconds(t, m.TimeShiftBufferDepth) < 28 {
		t.Fatalf("startover MPD:\n%s", body)
	}
	n := 0
	for id, reps := range checkTimeline(t, e, m, time.Unix(0, 0), q) {
		_ = id
		n += len(reps["channel_video_hi"])
	}
	if n != 28 {
		t.Fatalf("startover lists %d video segments, want 28", n)
	}
	if code, _ := e.get("/out/v1/live/dash/index.mpd?start=" + iso(e.clock.Now().Add(time.Hour))); code != http.StatusNotFound {
		t.Fatalf("start in the future: %d, want 404", code)
	}
}

// TestDASHTimeDelay: a delayed endpoint lists only segments that ended
// by the delayed clock, and its time source answers that clock.
func TestDASHTimeDelay(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "ts"},
			{ID: "dash", Packaging: PackagingDASH, ManifestWindow: 10 * time.Second, TimeDelay: 8 * time.Second},
		}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 20)
	m, body := e.mpd("/out/v1/live/dash/index.mpd")
	var last int64
	for _, r := range checkTimeline(t, e, m, time.Unix(0, 0), "") {
		if v := r["channel_video_hi"]; len(v) > 0 {
			last = max(last, v[len(v)-1].n)
		}
	}
	first := l.epoch.Unix() // segment numbers start at the first segment's unix second
	if got := last - first; got != 11 {
		t.Fatalf("last listed segment %d, want 11 (20 pushed, 8 s delay):\n%s", got, body)
	}
	_, tb := e.get("/out/v1/live/dash/time")
	if now, err := time.Parse(time.RFC3339Nano, string(tb)); err != nil || now.Sub(l.epoch.Add(12*time.Second)).Abs() > 10*time.Millisecond {
		t.Fatalf("delayed time %q, want about %v", tb, l.epoch.Add(12*time.Second))
	}
}

// TestDASHDecodesLikeTS has ffmpeg's DASH demuxer decode a static window
// of the DASH endpoint and compares every video and audio frame with the
// TS endpoint's frames of the same window.
func TestDASHDecodesLikeTS(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	e := dashEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 8)
	// From segment 0: a later start would give the TS audio playlist the
	// audio segment that ends just after it, which DASH leaves out as it
	// precedes the Period (audio segments are 1.0027 s).
	q := vod(l, 0, 6)
	for _, tc := range []struct{ stream, ts string }{
		{"0:v:0", "channel_video_hi"},
		{"0:a:0", "channel_audio"},
	} {
		clear := frameHashes(t, e.url("/out/v1/live/ts/"+tc.ts+".m3u8"+q), "")
		got := mappedFrameHashes(t, e.url("/out/v1/live/dash/index.mpd"+q), tc.stream)
		if len(got) != len(clear) || strings.Join(got, ",") != strings.Join(clear, ",") {
			t.Errorf("%s: DASH decodes to %d frames, the TS endpoint to %d, or they differ", tc.stream, len(got), len(clear))
		}
	}
}

// mappedFrameHashes is frameHashes of one stream of a DASH manifest.
func mappedFrameHashes(t *testing.T, url, stream string) []string {
	t.Helper()
	bin := testutil.RequireTool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-v", "error", "-i", url, "-map", stream, "-f", "framemd5", "-")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg %s: %v\n%s", url, err, stderr.String())
	}
	var hashes []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		f := strings.Split(l, ",")
		hashes = append(hashes, strings.TrimSpace(f[len(f)-1]))
	}
	return hashes
}

// TestDASHEncrypted: cenc and cbcs DASH endpoints signal Common Encryption
// with the key ID the init segments carry and the W3C common PSSH box;
// with key rotation every key period is a Period with its own key, and
// its segments decrypt (mp4ff) to the clear CMAF samples with that key.
func TestDASHEncrypted(t *testing.T) {
	k := newKeyEnv(t, "tok")
	e := newEnv(t, func(c *Config) {
		c.KeyProvider = k.speke(t)
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "ts"},
			{ID: "dash", Packaging: PackagingDASH},
			{ID: "cenc", Packaging: PackagingDASH, Encryption: enc(MethodCENC, 0)},
			{ID: "cbcs", Packaging: PackagingDASH, Encryption: enc(MethodCBCS, 3*time.Second)},
		}
	})
	// Segment n starts at epoch+n s; an epoch on a 3 s boundary.
	epoch := time.Unix(e.clock.Now().Unix()/3*3+3, 0).UTC()
	e.clock.Add(epoch.Sub(e.clock.Now()))
	l := newLive(t, testmedia.TS, epoch)
	e.pushSteps(l, e.pusher("a"), 0, 8)
	q := vod(l, 0, 6)
	clearMPD, _ := e.mpd("/out/v1/live/dash/index.mpd" + q)
	clearRep := clearMPD.Periods[0].Sets[0].Reps[0]
	for _, tc := range []struct {
		ep      string
		periods int
	}{{"cenc", 1}, {"cbcs", 2}} {
		m, body := e.mpd("/out/v1/live/" + tc.ep + "/index.mpd" + q)
		if len(m.Periods) != tc.periods {
			t.Fatalf("%s: %d periods, want %d:\n%s", tc.ep, len(m.Periods), tc.periods, body)
		}
		kids := map[string]bool{}
		for pi, p := range m.Periods {
			for _, as := range p.Sets {
				if as.ContentType == "text" {
					if len(as.Protection) != 0 {
						t.Fatalf("%s: the subtitles (clear) have ContentProtection", tc.ep)
					}
					continue
				}
				if len(as.Protection) != 2 || as.Protection[0].Scheme != dash.SchemeMP4Protection || as.Protection[0].Value != tc.ep ||
					as.Protection[1].Scheme != "urn:uuid:"+commonPSSHSystemID {
					t.Fatalf("%s: ContentProtection %+v", tc.ep, as.Protection)
				}
				kid := as.Protection[0].DefaultKID
				kids[kid] = true
				raw, err := base64.StdEncoding.DecodeString(as.Protection[1].PSSH)
				if err != nil {
					t.Fatal(err)
				}
				box, err := mp4.DecodeBox(0, bytes.NewReader(raw))
				if err != nil {
					t.Fatalf("%s: pssh: %v", tc.ep, err)
				}
				pssh := box.(*mp4.PsshBox)
				if len(pssh.KIDs) != 1 || pssh.KIDs[0].String() != kid {
					t.Fatalf("%s: PSSH key IDs %v, default_KID %s", tc.ep, pssh.KIDs, kid)
				}
				for _, r := range as.Reps {
					_, init := e.get("/out/v1/live/" + tc.ep + "/" + r.Template.Init)
					first := r.Template.segments(t, r.ID)[0]
					_, seg := e.get("/out/v1/live/" + tc.ep + "/" + strings.ReplaceAll(r.Template.Media, "$Number$", fmtInt(first.n)))
					period := int64(0)
					if tc.ep == "cbcs" {
						period = first.n / 3 // numbers are unix seconds, periods 3 s
					}
					key := k.fetchKey(t, k.keyURI(e, "live", period))
					samples, initKID := decryptCMAF(t, init, seg, key)
					if keys.KID(mustHex(t, initKID)).UUID() != kid {
						t.Fatalf("%s: init key ID %s, MPD default_KID %s", tc.ep, initKID, kid)
					}
					if pi == 0 && r.ID == clearRep.ID {
						_, cinit := e.get("/out/v1/live/dash/" + clearRep.Template.Init)
						_, cseg := e.get("/out/v1/live/dash/" + strings.ReplaceAll(clearRep.Template.Media, "$Number$", fmtInt(first.n)))
						want := clearCMAF(t, cinit, cseg)
						if len(samples) != len(want) || !bytes.Equal(samples[0].Data, want[0].Data) || !bytes.Equal(samples[len(samples)-1].Data, want[len(want)-1].Data) {
							t.Fatalf("%s: segment %d does not decrypt to the clear samples", tc.ep, first.n)
						}
					}
				}
			}
		}
		if len(kids) != tc.periods {
			t.Fatalf("%s: key IDs %v, want one per period", tc.ep, kids)
		}
	}
}

func mustHex(t *testing.T, s string) keys.KID {
	t.Helper()
	kid, err := keys.ParseKID(s)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

// TestDASHMuxedTS: without an ingested multivariant, a TS with video and
// audio in one stream is a video and an audio AdaptationSet (the audio as
// {key}.audio), and ffmpeg decodes both like the TS endpoint.
func TestDASHMuxedTS(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	cmd := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
		"-t", "4", "-c:v", "libx264", "-g", "25", "-bf", "0", "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
		"-hls_segment_filename", filepath.Join(dir, "s%d.ts"), filepath.Join(dir, "p.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e := dashEnv(t, nil)
	epoch := e.clock.Now()
	p := e.pusher("a")
	var segs []*hls.Segment
	for n := 0; n < 4; n++ {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("s%d.ts", n)))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		name := fmt.Sprintf("channel_m_%d.ts", n)
		p.put(name, data)
		segs = append(segs, &hls.Segment{Duration: 1, URI: name, ProgramDateTime: epoch.Add(time.Duration(n) * time.Second)})
		p.put("channel_m.m3u8", (&hls.Media{Version: 3, TargetDuration: 1, Segments: segs}).Encode())
	}
	q := "?start=" + iso(epoch) + "&end=" + iso(epoch.Add(4*time.Second))
	m, body := e.mpd("/out/v1/live/dash/index.mpd" + q)
	if len(m.Periods) != 1 || len(m.Periods[0].Sets) != 3 || m.Periods[0].Sets[1].ContentType != "audio" ||
		m.Periods[0].Sets[1].Reps[0].ID != "channel_m"+audioSuffix || m.Periods[0].Sets[0].Reps[0].Codecs[:5] != "avc1." {
		t.Fatalf("MPD:\n%s", body)
	}
	// The split audio is timed by its video: S@t within an AAC frame of
	// the decode times (checkTimeline), video exact.
	checkTimeline(t, e, m, epoch, q)
	for _, s := range []string{"0:v:0", "0:a:0"} {
		want := mappedFrameHashes(t, e.url("/out/v1/live/ts/channel_m.m3u8"+q), s)
		got := mappedFrameHashes(t, e.url("/out/v1/live/dash/index.mpd"+q), s)
		if len(want) == 0 || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: DASH decodes to %d frames, TS to %d, or they differ", s, len(got), len(want))
		}
	}
}

// tfdtOf fetches an init and a media segment and returns the decode time
// of the segment's first fragment.
func tfdtOf(t *testing.T, e *env, init, seg string) uint64 {
	t.Helper()
	code1, i := e.get(init)
	code2, s := e.get(seg)
	if code1 != http.StatusOK || code2 != http.StatusOK {
		t.Fatalf("GET %s: %d, %s: %d", init, code1, seg, code2)
	}
	f, err := mp4.DecodeFile(bytes.NewReader(append(i, s...)))
	if err != nil {
		t.Fatal(err)
	}
	return f.Segments[0].Fragments[0].Moof.Traf.Tfdt.BaseMediaDecodeTime()
}
