package dash

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"unicode/utf8"
)

// The MPD writer: the bytes encoding/xml's MarshalIndent(m, "", "  ")
// writes for the model in mpd.go, without reflection (which was
// three quarters of an MPD request's CPU). TestMPDWriterMatchesXML (in
// the origin package, on a live channel's MPD) checks it against
// encoding/xml on an MPD with every field set, so a field added to the
// model and not written here fails the test.

// xmlWriter appends indented XML.
type xmlWriter struct {
	b     []byte
	base  int // len(b) before the first element
	depth int
	// child records, per open element, whether it has child elements
	child []bool
}

// start writes the start of element name (attributes follow).
func (w *xmlWriter) start(name string) {
	if len(w.child) > 0 {
		w.child[len(w.child)-1] = true
	}
	if len(w.b) > w.base {
		w.b = append(w.b, '\n')
	}
	for range w.depth {
		w.b = append(w.b, "  "...)
	}
	w.b = append(w.b, '<')
	w.b = append(w.b, name...)
}

// open ends the start tag.
func (w *xmlWriter) open() {
	w.b = append(w.b, '>')
	w.depth++
	w.child = append(w.child, false)
}

// end writes the end tag of name, on its own line after child elements.
func (w *xmlWriter) end(name string) {
	w.depth--
	hadChild := w.child[len(w.child)-1]
	w.child = w.child[:len(w.child)-1]
	if hadChild {
		w.b = append(w.b, '\n')
		for range w.depth {
			w.b = append(w.b, "  "...)
		}
	}
	w.b = append(w.b, "</"...)
	w.b = append(w.b, name...)
	w.b = append(w.b, '>')
}

// attr writes an attribute.
func (w *xmlWriter) attr(k, v string) {
	w.b = append(w.b, ' ')
	w.b = append(w.b, k...)
	w.b = append(w.b, `="`...)
	w.b = appendEscaped(w.b, v)
	w.b = append(w.b, '"')
}

// attrOmit writes an attribute unless v is empty.
func (w *xmlWriter) attrOmit(k, v string) {
	if v != "" {
		w.attr(k, v)
	}
}

func (w *xmlWriter) attrInt(k string, v int64) {
	w.b = append(w.b, ' ')
	w.b = append(w.b, k...)
	w.b = append(w.b, `="`...)
	w.b = strconv.AppendInt(w.b, v, 10)
	w.b = append(w.b, '"')
}

func (w *xmlWriter) attrUint(k string, v uint64) {
	w.b = append(w.b, ' ')
	w.b = append(w.b, k...)
	w.b = append(w.b, `="`...)
	w.b = strconv.AppendUint(w.b, v, 10)
	w.b = append(w.b, '"')
}

// attrIntOmit writes an integer attribute unless it is 0.
func (w *xmlWriter) attrIntOmit(k string, v int64) {
	if v != 0 {
		w.attrInt(k, v)
	}
}

// text writes element name holding text.
func (w *xmlWriter) text(name, v string) {
	w.start(name)
	w.open()
	w.b = appendEscaped(w.b, v)
	w.end(name)
}

// appendEscaped appends s escaped as encoding/xml escapes attribute
// values and character data.
func appendEscaped(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\'' || c == '&' || c == '<' || c == '>' {
			plain = false
			break
		}
	}
	if plain {
		return append(b, s...)
	}
	var buf bytes.Buffer
	xml.EscapeText(&buf, []byte(s))
	return append(b, buf.Bytes()...)
}

// write appends the MPD document body (no XML declaration).
func (m *MPD) write(w *xmlWriter) {
	w.start("MPD")
	w.attr("xmlns", m.Xmlns)
	w.attrOmit("xmlns:cenc", m.XmlnsCenc)
	w.attrOmit("id", m.ID)
	w.attr("profiles", m.Profiles)
	w.attr("type", m.Type)
	w.attrOmit("availabilityStartTime", m.AvailabilityStartTime)
	w.attrOmit("publishTime", m.PublishTime)
	w.attrOmit("mediaPresentationDuration", m.MediaPresentationDuration)
	w.attrOmit("minimumUpdatePeriod", m.MinimumUpdatePeriod)
	w.attrOmit("timeShiftBufferDepth", m.TimeShiftBufferDepth)
	w.attrOmit("suggestedPresentationDelay", m.SuggestedPresentationDelay)
	w.attrOmit("maxSegmentDuration", m.MaxSegmentDuration)
	w.attr("minBufferTime", m.MinBufferTime)
	w.open()
	for _, p := range m.Periods {
		p.write(w)
	}
	for _, u := range m.UTCTiming {
		u.write(w, "UTCTiming")
	}
	w.end("MPD")
}

func (p *Period) write(w *xmlWriter) {
	w.start("Period")
	w.attr("id", p.ID)
	w.attr("start", p.Start)
	w.attrOmit("duration", p.Duration)
	w.open()
	for _, es := range p.EventStreams {
		w.start("EventStream")
		w.attr("schemeIdUri", es.SchemeIDURI)
		w.attrInt("timescale", int64(es.Timescale))
		w.open()
		for _, ev := range es.Events {
			w.start("Event")
			w.attrUint("presentationTime", ev.PresentationTime)
			if ev.Duration != 0 {
				w.attrUint("duration", ev.Duration)
			}
			w.attrUint("id", uint64(ev.ID))
			w.open()
			w.start("Signal")
			w.attr("xmlns", SCTE35Namespace)
			w.open()
			w.text("Binary", ev.Signal.Binary)
			w.end("Signal")
			w.end("Event")
		}
		w.end("EventStream")
	}
	for _, as := range p.AdaptationSets {
		as.write(w)
	}
	w.end("Period")
}

func (as *AdaptationSet) write(w *xmlWriter) {
	w.start("AdaptationSet")
	w.attrInt("id", int64(as.ID))
	w.attr("contentType", as.ContentType)
	w.attr("mimeType", as.MimeType)
	w.attrOmit("lang", as.Lang)
	w.attr("segmentAlignment", strconv.FormatBool(as.SegmentAlignment))
	w.attrInt("startWithSAP", int64(as.StartWithSAP))
	w.attrIntOmit("maxWidth", int64(as.MaxWidth))
	w.attrIntOmit("maxHeight", int64(as.MaxHeight))
	w.attrOmit("par", as.Par)
	w.open()
	for _, cp := range as.ContentProtection {
		w.start("ContentProtection")
		w.attr("schemeIdUri", cp.SchemeIDURI)
		w.attrOmit("value", cp.Value)
		w.attrOmit("cenc:default_KID", cp.DefaultKID)
		w.open()
		if cp.PSSH != "" {
			w.text("cenc:pssh", cp.PSSH)
		}
		w.end("ContentProtection")
	}
	for _, ep := range as.EssentialProperty {
		ep.write(w, "EssentialProperty")
	}
	if as.Role != nil {
		as.Role.write(w, "Role")
	}
	if as.Label != "" {
		w.text("Label", as.Label)
	}
	for _, r := range as.Representations {
		r.write(w)
	}
	w.end("AdaptationSet")
}

func (s *Scheme) write(w *xmlWriter, name string) {
	w.start(name)
	w.attr("schemeIdUri", s.SchemeIDURI)
	w.attr("value", s.Value)
	w.open()
	w.end(name)
}

func (r *Representation) write(w *xmlWriter) {
	w.start("Representation")
	w.attr("id", r.ID)
	w.attrInt("bandwidth", int64(r.Bandwidth))
	w.attrOmit("codecs", r.Codecs)
	w.attrIntOmit("width", int64(r.Width))
	w.attrIntOmit("height", int64(r.Height))
	w.attrOmit("frameRate", r.FrameRate)
	w.attrOmit("sar", r.Sar)
	w.attrIntOmit("audioSamplingRate", int64(r.AudioSamplingRate))
	w.attrIntOmit("maxPlayoutRate", int64(r.MaxPlayoutRate))
	w.attrOmit("codingDependency", r.CodingDependency)
	w.open()
	if r.AudioChannelConfiguration != nil {
		r.AudioChannelConfiguration.write(w, "AudioChannelConfiguration")
	}
	if st := r.SegmentTemplate; st != nil {
		w.start("SegmentTemplate")
		w.attrInt("timescale", int64(st.Timescale))
		w.attrUint("presentationTimeOffset", st.PresentationTimeOffset)
		w.attrInt("startNumber", st.StartNumber)
		w.attr("initialization", st.Initialization)
		w.attr("media", st.Media)
		w.open()
		if len(st.Timeline) > 0 {
			w.start("SegmentTimeline")
			w.open()
			for _, s := range st.Timeline {
				w.start("S")
				if s.T != nil {
					w.attrUint("t", *s.T)
				}
				w.attrUint("d", s.D)
				w.attrIntOmit("r", int64(s.R))
				w.open()
				w.end("S")
			}
			w.end("SegmentTimeline")
		}
		w.end("SegmentTemplate")
	}
	w.end("Representation")
}
