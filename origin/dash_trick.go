package origin

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/pullpush/pullpush/origin/internal/dash"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// Trick play in DASH (DASH-IF IOP, "Trick Mode Support"): next to the
// video AdaptationSet of every Period, one more with
// EssentialProperty http://dashif.org/guidelines/trickmode naming it, and
// a Representation per video Representation whose segments hold one
// sample each: the first key frame of the ingest segment, lasting the
// whole segment. Its SegmentTimeline, numbers and init segment are those
// of the main Representation; its media URLs are
// {rendition}/trick-$Number$.m4s. maxPlayoutRate is the speed at which
// those key frames need as many frames per second as the main
// Representation (frame rate × segment duration), so a player's decoder
// keeps up. The endpoint's iframes setting turns it on and off with the
// HLS I-frame playlists; ?aws.manifestfilter=trickplay_type:none removes
// it and trickplay_height selects Representations.

const (
	schemeTrickMode = "http://dashif.org/guidelines/trickmode"
	// trickPrefix starts the file name of a trick-play segment.
	trickPrefix = "trick-"
	// trickSuffix ends the ID of a trick-play Representation.
	trickSuffix = "-trick"
	// fallbackFPS is the frame rate assumed where the source declares none.
	fallbackFPS = 25
)

// keepsTrickplay reports whether the filter keeps trick play.
func (f *manifestFilter) keepsTrickplay() bool {
	return f == nil || !slices.Contains(f.trickplayType, "none") || slices.Contains(f.trickplayType, "iframe")
}

// keepsTrickHeight reports whether the filter keeps trick play of height h.
func (f *manifestFilter) keepsTrickHeight(h int) bool {
	return f == nil || f.trickplayHeight == nil || anyRange(f.trickplayHeight, float64(h))
}

// trickSet returns the trick-play AdaptationSet of Period mp (nil when
// the endpoint has no I-frames, the filter removes trick play, or the
// Period has no video with key frames). reps are the Period's
// Representations' renditions. Caller holds c.mu.
func (c *channel) trickSet(ep *endpoint, f *manifestFilter, mp *dash.Period, reps []*dashRep) *dash.AdaptationSet {
	if !ep.iframes || !f.keepsTrickplay() {
		return nil
	}
	var main *dash.AdaptationSet
	for _, as := range mp.AdaptationSets {
		if as.ContentType == "video" {
			main = as
			break
		}
	}
	if main == nil {
		return nil
	}
	keys := c.iframeKeys()
	tas := &dash.AdaptationSet{
		ID: len(mp.AdaptationSets), ContentType: "video", MimeType: main.MimeType,
		SegmentAlignment: true, StartWithSAP: 1,
		EssentialProperty: []dash.Scheme{{SchemeIDURI: schemeTrickMode, Value: strconv.Itoa(main.ID)}},
	}
	for _, rep := range main.Representations {
		i := slices.IndexFunc(reps, func(r *dashRep) bool { return r.video && r.v.name == rep.ID })
		if i < 0 || reps[i].v.pick != media.PickMain || !slices.Contains(keys, reps[i].v.rd.Key) || !f.keepsTrickHeight(rep.Height) {
			continue
		}
		r := reps[i]
		tr := *rep
		st := *rep.SegmentTemplate
		st.Media = r.v.name + "/" + trickPrefix + "$Number$.m4s"
		tr.SegmentTemplate = &st
		tr.ID = rep.ID + trickSuffix
		tr.Bandwidth = c.iframeBandwidth(r.v.rd)
		tr.FrameRate = ""
		tr.CodingDependency = "false"
		tr.MaxPlayoutRate = maxPlayoutRate(rep.FrameRate, &st)
		tas.MaxWidth, tas.MaxHeight = max(tas.MaxWidth, tr.Width), max(tas.MaxHeight, tr.Height)
		tas.Representations = append(tas.Representations, &tr)
	}
	if len(tas.Representations) == 0 {
		return nil
	}
	return tas
}

// maxPlayoutRate is the frame rate (a DASH frameRate, "" unknown) times
// the longest segment of st, at least 1.
func maxPlayoutRate(frameRate string, st *dash.SegmentTemplate) int {
	fps := float64(fallbackFPS)
	if n, d, ok := strings.Cut(frameRate, "/"); ok {
		nv, err1 := strconv.ParseFloat(n, 64)
		dv, err2 := strconv.ParseFloat(d, 64)
		if err1 == nil && err2 == nil && dv > 0 {
			fps = nv / dv
		}
	} else if v, err := strconv.ParseFloat(frameRate, 64); err == nil && v > 0 {
		fps = v
	}
	var d uint64
	for _, s := range st.Timeline {
		d = max(d, s.D)
	}
	if st.Timescale <= 0 {
		return 1
	}
	return max(1, int(math.Floor(fps*float64(d)/float64(st.Timescale)+1e-6)))
}

// trickSegment packages the first key frame of the video track t of a
// demuxed TS segment as a CMAF segment of that one sample, decoded at
// the segment's first decode time and lasting until the segment's end, so
// that the trick-play timeline is the main one (arguments as for
// cmafSegment).
func trickSegment(d *media.TSDemux, t *media.Track, seq, base, off, fallbackDur int64) (*mp4.MediaSegment, error) {
	s := d.Stream(t.PID)
	if s == nil || !t.Video {
		return nil, fmt.Errorf("segment has no video stream on PID %d", t.PID)
	}
	samples, err := media.VideoSamples(s, t, base, off, fallbackDur)
	if err != nil {
		return nil, err
	}
	k := slices.IndexFunc(samples, func(fs mp4.FullSample) bool { return fs.Flags == mp4.SyncSampleFlags })
	if k < 0 {
		return nil, errors.New("segment has no key frame")
	}
	first, last := samples[0], samples[len(samples)-1]
	fs := samples[k]
	pts := int64(fs.DecodeTime) + int64(fs.CompositionTimeOffset)
	fs.DecodeTime = first.DecodeTime
	fs.CompositionTimeOffset = int32(pts - int64(first.DecodeTime))
	fs.Dur = uint32(last.DecodeTime + uint64(last.Dur) - first.DecodeTime)
	seg := mp4.NewMediaSegment()
	frag, err := mp4.CreateFragment(uint32(seq)*64, 1)
	if err != nil {
		return nil, err
	}
	seg.AddFragment(frag)
	frag.AddFullSample(fs)
	return seg, nil
}
