package origin

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/origin/internal/dash"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// URL names of the DASH manifest and its UTCTiming source under an endpoint.
const (
	mpdName  = "index.mpd"
	timeName = "time"
)

// DASH endpoints (packaging: dash) serve the CMAF segments of a CMAF
// endpoint with an MPEG-DASH manifest, /out/v1/{channel}/{endpoint}/index.mpd:
//
//   - One Period per CMAF timeline epoch of the first video rendition: a
//     new Period starts at a discontinuity (a source clock restart, as at
//     every VOD2Live asset, or lost segments), where the codec
//     configuration (the init segment) changes, and, on encrypted
//     endpoints with key rotation, at every key period.
//   - One video AdaptationSet with a Representation per variant of the
//     ingested multivariant playlist (bandwidth, codecs, resolution and
//     frame rate from EXT-X-STREAM-INF), one audio AdaptationSet per
//     language and name of the EXT-X-MEDIA audio renditions (the audio of
//     muxed TS variants is one more).
//   - SegmentTemplate with a SegmentTimeline per Representation; media
//     URLs are the CMAF endpoint's ({rendition}/$Number$.m4s, the origin's
//     sequence numbers), S@t the CMAF decode times (continuous within a
//     Period).
//   - The media timeline is the source's PROGRAM-DATE-TIME: a dynamic MPD
//     has availabilityStartTime 1970-01-01 and Period@start the
//     PROGRAM-DATE-TIME of the Period's first segment, and its UTCTiming
//     source (/out/v1/{channel}/{endpoint}/time) answers the origin's clock
//     on that timeline, minus the endpoint's time delay.
//   - ?start=&end= select a window as for HLS; a window that ended is a
//     static MPD with mediaPresentationDuration, starting at 0.
//   - Ad breaks are Events of a SCTE-35 EventStream (dash_events.go).
//   - A trick-play AdaptationSet of key frames (dash_trick.go).
//   - WebVTT subtitles as CMAF WebVTT text AdaptationSets (dash_text.go).
//
// Only TS (and WebVTT) renditions are listed (fMP4 ingest is not yet).

// dashRep is one Representation: a rendition as a CMAF endpoint shows it.
type dashRep struct {
	v         *rview
	video     bool
	set       string // AdaptationSet key
	bandwidth int
	codecs    string
	width     int
	height    int
	frameRate string
	lang      string
	label     string
	def       bool
	channels  string
	timescale int
	win       window
}

// dashPeriod is a Period, anchored at the segment of the timing rendition
// it starts with.
type dashPeriod struct {
	id     string
	start  int64 // PROGRAM-DATE-TIME of the first segment (ns)
	media  int64 // CMAF time of the first segment (90 kHz)
	key    int64 // key period (encrypted endpoints)
	cdiscN int64
}

// dashReps lists the Representations of endpoint ep: the variants its
// stream selection and the request's manifest filter f keep. Caller holds
// c.mu.
func (c *channel) dashReps(ep *endpoint, f *manifestFilter) []*dashRep {
	var reps []*dashRep
	seen := map[string]bool{}
	add := func(name string, fill func(r *dashRep)) *dashRep {
		if seen[name] {
			return nil
		}
		v := c.view(ep, name)
		if v == nil || !v.cmaf {
			return nil
		}
		t := v.rd.Segs[len(v.rd.Segs)-1].TS.Track(v.pick)
		if t == nil {
			return nil
		}
		seen[name] = true
		r := &dashRep{v: v, video: t.Video}
		if t.Video {
			r.set, r.timescale, r.codecs = "video", media.VideoTimescale, trackCodecs(t)
		} else {
			r.set, r.timescale, r.codecs = "audio", t.SampleRate, trackCodecs(t)
			r.channels = strconv.Itoa(int(t.Channels))
			r.bandwidth = 128000
		}
		if rd := v.rd; v.pick == media.PickMain && rd.DurNS > 0 {
			r.bandwidth = max(int(rd.Peak), int(float64(rd.Bytes*8)/(float64(rd.DurNS)/1e9)), 1)
		}
		if fill != nil {
			fill(r)
		}
		reps = append(reps, r)
		return r
	}
	if c.Master != nil {
		cp := *c.Master
		m := &cp
		selectStreams(m, ep.sel)
		if err := f.apply(m); err != nil || len(m.Variants) == 0 {
			return nil
		}
		var muxed string
		for _, vr := range m.Variants {
			k := playlistKey(vr.URI)
			r := add(k, func(r *dashRep) {
				if !r.video {
					return
				}
				r.bandwidth = max(vr.Bandwidth, 1)
				if vc := videoCodecs(vr.Codecs); vc != "" && !strings.Contains(vc, ",") {
					r.codecs = vc
				}
				if vr.Resolution != nil {
					r.width, r.height = vr.Resolution.Width, vr.Resolution.Height
				}
				r.frameRate = dash.FrameRate(vr.FrameRate)
			})
			if r != nil && r.video && vr.Audio == "" && muxed == "" && r.v.rd.Muxed() {
				muxed = k
			}
		}
		for _, rn := range m.Renditions {
			if rn.Type != hls.MediaTypeAudio || rn.URI == "" {
				continue
			}
			add(playlistKey(rn.URI), func(r *dashRep) {
				r.set = "audio/" + rn.Language + "/" + rn.Name
				r.lang, r.label, r.def = rn.Language, rn.Name, rn.Default
				if ch, _, _ := strings.Cut(rn.Channels, "/"); ch != "" {
					r.channels = ch
				}
			})
		}
		if muxed != "" {
			add(muxed+audioSuffix, func(r *dashRep) { r.label, r.def = "audio", true })
		}
		return reps
	}
	for _, k := range c.RendKeys {
		if r := add(k, nil); r != nil && r.video && r.v.rd.Muxed() {
			add(k+audioSuffix, nil)
		}
	}
	return reps
}

// trackCodecs is the RFC 6381 codecs string of a repackaged track.
func trackCodecs(t *media.Track) string {
	switch {
	case t.Codec == media.CodecAVC && len(t.SPS) > 0 && len(t.SPS[0]) >= 4:
		return fmt.Sprintf("avc1.%02x%02x%02x", t.SPS[0][1], t.SPS[0][2], t.SPS[0][3])
	case t.Codec == media.CodecAAC || !t.Video:
		return "mp4a.40." + strconv.Itoa(int(t.ObjType))
	}
	return t.Codec
}

// mediaTime is the CMAF decode time of segment s in the rendition's
// timescale: the TS time plus the CMAF offset (see rendition.appendTS),
// audio converted to its sample rate as the packager does. The audio of a
// muxed TS rendition is timed by its video.
func (r *dashRep) mediaTime(s *index.Rec) uint64 {
	return r.scale(s.TSBase + s.TSOff)
}

// scale converts a 90 kHz time to the rendition's timescale.
func (r *dashRep) scale(t int64) uint64 {
	if t < 0 {
		return 0
	}
	if r.timescale == media.VideoTimescale {
		return uint64(t)
	}
	return uint64((t*int64(r.timescale) + media.VideoTimescale/2) / media.VideoTimescale)
}

// keyPeriod is the key period of segment s on ep (0 when clear).
func keyPeriod(ep *endpoint, s *index.Rec) int64 {
	if ep.enc == nil {
		return 0
	}
	return ep.enc.period(s.Start)
}

// dashPeriods splits the timing rendition's window into Periods and
// returns them with the index of each one's first segment in the window.
// The first Period's anchor is its first retained segment (dynamic) or the
// window's first (static).
func dashPeriods(ep *endpoint, r *dashRep, static bool) ([]dashPeriod, []int) {
	rd := r.v.rd
	segs := rd.Segs
	lo, hi := r.win.lo, r.win.hi
	b := lo
	if !static {
		n := segs[lo].CDiscN
		b = sort.Search(lo, func(i int) bool { return segs[i].CDiscN >= n })
		if ep.enc != nil && ep.enc.rotation > 0 {
			from := keyPeriod(ep, &segs[lo]) * int64(ep.enc.rotation)
			b = max(b, rd.CountStartingBefore(from))
		}
		h := segs[lo].TS.Hash(r.v.pick)
		if b < lo && segs[b].TS.Hash(r.v.pick) != h {
			for b = lo; b > 0 && segs[b-1].TS.Hash(r.v.pick) == h; b-- {
			}
		}
	}
	mk := func(i int) dashPeriod {
		s := &segs[i]
		p := dashPeriod{start: s.Start, media: s.TSBase + s.TSOff, key: keyPeriod(ep, s), cdiscN: s.CDiscN}
		p.id = "p" + strconv.FormatInt(s.CDiscN, 10)
		if ep.enc != nil && ep.enc.rotation > 0 {
			p.id += "k" + strconv.FormatInt(p.key, 10)
		}
		if h := s.TS.Hash(r.v.pick); len(h) >= 8 {
			p.id += "-" + h[:8]
		}
		return p
	}
	periods := []dashPeriod{mk(b)}
	firsts := []int{lo}
	for i := lo + 1; i < hi; i++ {
		s, prev := &segs[i], &segs[i-1]
		if s.CDiscN != prev.CDiscN || s.TS.Hash(r.v.pick) != prev.TS.Hash(r.v.pick) || keyPeriod(ep, s) != keyPeriod(ep, prev) {
			periods = append(periods, mk(i))
			firsts = append(firsts, i)
		}
	}
	return periods, firsts
}

// dashSeg is a segment of a Representation in a Period.
type dashSeg struct {
	rec *index.Rec
	t   uint64
}

// bucket assigns the segments of r's window to the periods: by start
// time, within half a segment of a Period's start, and on encrypted
// endpoints to a Period of the segment's key.
func (r *dashRep) bucket(ep *endpoint, periods []dashPeriod, timing *dashRep, firsts []int) [][]dashSeg {
	out := make([][]dashSeg, len(periods))
	segs := r.v.rd.Segs
	if r == timing {
		for p := range periods {
			end := r.win.hi
			if p+1 < len(firsts) {
				end = firsts[p+1]
			}
			for i := firsts[p]; i < end; i++ {
				out[p] = append(out[p], dashSeg{rec: &segs[i], t: r.mediaTime(&segs[i])})
			}
		}
		return out
	}
	p := 0
	for i := r.win.lo; i < r.win.hi; i++ {
		s := &segs[i]
		tol := s.Dur / 2
		if s.Start < periods[0].start-tol {
			continue
		}
		for p+1 < len(periods) && s.Start >= periods[p+1].start-tol {
			p++
		}
		q := p
		if k := keyPeriod(ep, s); k != periods[q].key {
			switch {
			case q+1 < len(periods) && periods[q+1].key == k:
				q++
			case q > 0 && periods[q-1].key == k:
				q--
			default:
				continue // no Period carries this key
			}
		}
		out[q] = append(out[q], dashSeg{rec: s, t: r.mediaTime(s)})
	}
	return out
}

// timeline writes the SegmentTimeline of segs: durations are the distance
// to the next segment where that follows on (so S@t + d*(r+1) is the next
// S@t), else the segment's own duration; a gap starts an S with t.
func (r *dashRep) timeline(segs []dashSeg) []dash.S {
	var out []dash.S
	var end uint64
	for i, s := range segs {
		own := r.scale(s.rec.TS.Dur)
		if own == 0 {
			own = r.scale(s.rec.Dur * 9 / 100000)
		}
		d := own
		if i+1 < len(segs) {
			if n := segs[i+1].t; n > s.t && n-s.t < own+own/2 && n-s.t > own/2 {
				d = n - s.t
			}
		}
		if len(out) > 0 && s.t == end {
			if last := &out[len(out)-1]; last.D == d {
				last.R++
			} else {
				out = append(out, dash.S{D: d})
			}
		} else {
			t := s.t
			out = append(out, dash.S{T: &t, D: d})
		}
		end = s.t + d
	}
	return out
}

// mpdBuild is a manifest under construction, with the key periods whose
// ContentProtection is filled in after the channel lock is released.
type mpdBuild struct {
	m    *dash.MPD
	prot []protRef
}

type protRef struct {
	as  *dash.AdaptationSet
	key int64
}

// dashManifest builds the MPD of ep. Caller holds c.mu.
func (c *channel) dashManifest(ep *endpoint, sh shift, timeURL string, f *manifestFilter) (*mpdBuild, *errStatus) {
	reps := c.dashReps(ep, f)
	if len(reps) == 0 && (f != nil || ep.sel != nil) {
		return nil, &errStatus{http.StatusNotFound, "no stream matches the stream selection and manifest filter"}
	}
	if len(reps) == 0 {
		return nil, &errStatus{http.StatusNotFound, "channel has no TS content for DASH yet"}
	}
	timing := reps[0]
	for _, r := range reps {
		if r.video {
			timing = r
			break
		}
	}
	var es *errStatus
	if timing.win, es = c.window(ep, timing.v.rd, sh); es != nil {
		return nil, es
	}
	live := reps[:0]
	for _, r := range reps {
		if r != timing {
			var e *errStatus
			if r.win, e = c.window(ep, r.v.rd, sh); e != nil {
				continue
			}
		}
		live = append(live, r)
	}
	reps = live
	texts := c.dashTextReps(ep, f, sh)
	static := timing.win.vod
	periods, firsts := dashPeriods(ep, timing, static)
	tsegs := timing.v.rd.Segs[timing.win.lo:timing.win.hi]
	winStart, winEnd := tsegs[0].Start, tsegs[len(tsegs)-1].End()
	now := c.MediaNow() - int64(ep.delay)
	target := timing.v.rd.Target
	var maxDur int64
	for i := range tsegs {
		maxDur = max(maxDur, tsegs[i].Dur)
	}
	target = max(target, time.Duration(maxDur), time.Second)

	m := &dash.MPD{
		Xmlns: dash.Namespace, Profiles: dash.LiveProfile,
		MinBufferTime:      dash.XSDuration(2 * target),
		MaxSegmentDuration: dash.XSDuration(time.Duration(maxDur)),
	}
	if ep.enc != nil {
		m.XmlnsCenc = dash.CENCNamespace
	}
	origin := int64(0)
	if static {
		m.Type = "static"
		origin = winStart
		m.MediaPresentationDuration = dash.XSDuration(time.Duration(winEnd - winStart))
	} else {
		m.Type = "dynamic"
		m.AvailabilityStartTime = dash.XSDateTime(0)
		m.PublishTime = dash.XSDateTime(now)
		m.MinimumUpdatePeriod = dash.XSDuration(time.Duration(min(maxDur, int64(target))))
		depth := ep.manifest
		if sh.hasStart {
			depth = max(depth, time.Duration(now-winStart))
		}
		m.TimeShiftBufferDepth = dash.XSDuration(depth)
		m.SuggestedPresentationDelay = dash.XSDuration(3 * target)
		m.UTCTiming = []dash.Scheme{
			{SchemeIDURI: dash.SchemeUTCHTTPISO, Value: timeURL},
			{SchemeIDURI: dash.SchemeUTCDirect, Value: dash.XSDateTime(now)},
		}
	}
	buckets := make([][][]dashSeg, len(reps))
	for i, r := range reps {
		buckets[i] = r.bucket(ep, periods, timing, firsts)
	}
	var breaks []dashBreak
	if ep.ads != adcue.ModeNone {
		breaks = timing.adBreaks(winStart)
	}
	var prot []protRef
	for pi, p := range periods {
		start := p.start
		if static && pi == 0 {
			start = winStart
		}
		mp := &dash.Period{ID: p.id, Start: dash.XSDuration(time.Duration(start - origin))}
		if static && pi == len(periods)-1 {
			mp.Duration = dash.XSDuration(time.Duration(winEnd - start))
		}
		mp.EventStreams = eventStream(breaks, start, periodEnd(periods, pi), pi == 0)
		sets := map[string]*dash.AdaptationSet{}
		for i, r := range reps {
			segs := buckets[i][pi]
			if len(segs) == 0 {
				continue
			}
			as := sets[r.set]
			if as == nil {
				as = &dash.AdaptationSet{ID: len(sets), SegmentAlignment: true, StartWithSAP: 1}
				if r.video {
					as.ContentType, as.MimeType = "video", "video/mp4"
				} else {
					as.ContentType, as.MimeType, as.Lang = "audio", "audio/mp4", r.lang
					as.Label = r.label
					if r.def {
						as.Role = &dash.Scheme{SchemeIDURI: dash.SchemeRole, Value: "main"}
					}
				}
				sets[r.set] = as
				mp.AdaptationSets = append(mp.AdaptationSets, as)
				if ep.enc != nil {
					prot = append(prot, protRef{as: as, key: p.key})
				}
			}
			first := segs[0].rec
			init := r.v.name + "/cinit-" + first.TS.Hash(r.v.pick)
			if ep.enc.keyedInit() {
				init += "-k" + strconv.FormatInt(keyPeriod(ep, first), 10)
			}
			rep := &dash.Representation{
				ID: r.v.name, Bandwidth: r.bandwidth, Codecs: r.codecs,
				SegmentTemplate: &dash.SegmentTemplate{
					Timescale: r.timescale, PresentationTimeOffset: r.scale(p.media + (start-p.start)*9/100000),
					StartNumber: first.Seq, Initialization: init + ".mp4", Media: r.v.name + "/$Number$.m4s",
					Timeline: r.timeline(segs),
				},
			}
			if r.video {
				rep.Width, rep.Height, rep.FrameRate = r.width, r.height, r.frameRate
				as.MaxWidth, as.MaxHeight = max(as.MaxWidth, r.width), max(as.MaxHeight, r.height)
				if r.width > 0 {
					rep.Sar = "1:1"
				}
			} else {
				rep.AudioSamplingRate = r.timescale
				if r.channels != "" {
					rep.AudioChannelConfiguration = &dash.Scheme{SchemeIDURI: dash.SchemeAudioChannels, Value: r.channels}
				}
			}
			as.Representations = append(as.Representations, rep)
		}
		if tas := c.trickSet(ep, f, mp, reps); tas != nil {
			mp.AdaptationSets = append(mp.AdaptationSets, tas)
			if ep.enc != nil {
				prot = append(prot, protRef{as: tas, key: p.key})
			}
		}
		mp.AdaptationSets = append(mp.AdaptationSets, c.textSets(texts, periods, pi, start, len(mp.AdaptationSets))...)
		if len(mp.AdaptationSets) > 0 {
			m.Periods = append(m.Periods, mp)
		}
	}
	return &mpdBuild{m: m, prot: prot}, nil
}

// protect adds the ContentProtection descriptors of each key: Common
// Encryption with the key ID, and the W3C common PSSH (ClearKey) the init
// segments carry.
func (o *Origin) protect(ctx context.Context, ep *endpoint, b *mpdBuild) error {
	for _, ref := range b.prot {
		k, err := o.keys.get(ctx, ep.enc.resource, ref.key)
		if err != nil {
			return fmt.Errorf("key of period %d: %w", ref.key, err)
		}
		pssh, err := mp4.NewPsshBox(commonPSSHSystemID, []string{k.ID.String()}, nil)
		if err != nil {
			return fmt.Errorf("pssh: %w", err)
		}
		var buf bytes.Buffer
		if err := pssh.Encode(&buf); err != nil {
			return fmt.Errorf("pssh: %w", err)
		}
		ref.as.ContentProtection = []*dash.ContentProtection{
			{SchemeIDURI: dash.SchemeMP4Protection, Value: ep.enc.method, DefaultKID: k.ID.UUID()},
			{SchemeIDURI: "urn:uuid:" + commonPSSHSystemID, Value: "ClearKey1.0", PSSH: base64.StdEncoding.EncodeToString(buf.Bytes())},
		}
	}
	return nil
}

// requestBase is the scheme and host the client reached the origin at.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// serveMPD answers index.mpd of a DASH endpoint.
func (o *Origin) serveMPD(w http.ResponseWriter, r *http.Request, ch *channel, ep *endpoint, sh shift) {
	filter, err := manifestFilterFromQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	timeURL := requestBase(r) + "/out/v1/" + ch.cfg.ID + "/" + ep.id + "/" + timeName
	ch.mu.Lock()
	b, es := ch.dashManifest(ep, sh, timeURL, filter)
	ch.mu.Unlock()
	if es != nil {
		writeError(w, es.code, es.msg)
		return
	}
	if err := o.protect(r.Context(), ep, b); err != nil {
		o.log.Warn("key for MPD", logChannel, ch.cfg.ID, logEndpoint, ep.id, logErr, err)
		writeError(w, http.StatusServiceUnavailable, "encryption key unavailable")
		return
	}
	body, err := b.m.Encode()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	cache := cacheLive
	if b.m.Type == "static" {
		cache = cacheImmutable
	}
	w.Header().Set("Content-Type", dash.MIMEType)
	w.Header().Set("Cache-Control", cache)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// serveDASHTime answers the UTCTiming source of a DASH endpoint: the
// origin's clock on the source's PROGRAM-DATE-TIME timeline, minus the
// endpoint's time delay, as xs:dateTime.
func (o *Origin) serveDASHTime(w http.ResponseWriter, r *http.Request, ch *channel, ep *endpoint) {
	ch.mu.Lock()
	now := ch.MediaNow() - int64(ep.delay)
	ch.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(dash.XSDateTime(now)))
}
