package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pullpush/pullpush/hls"
)

// Segment formats.
const (
	formatTS   = "ts"
	formatFMP4 = "fmp4"
)

// asset is a loaded VOD HLS asset: its renditions with their segments and
// the table of resources (segments, init sections, keys) the engine serves
// for it.
type asset struct {
	id     string
	uri    string
	title  string
	format string // formatTS or formatFMP4

	video []*track   // video renditions, by bandwidth ascending
	audio [][]*track // demuxed audio groups (in the order the variants name them) and their renditions
	subs  [][]*track // subtitle groups, likewise
	cc    []*hls.Rendition

	version int // lowest EXT-X-VERSION the asset's features need

	res []loc // resource table: index -> location
}

// track is one rendition of an asset.
type track struct {
	variant   *hls.Variant   // video renditions
	rendition *hls.Rendition // audio and subtitle renditions
	segs      []*seg
	dur       time.Duration
}

// seg is one segment of an asset rendition.
type seg struct {
	start, dur time.Duration // in the asset
	res        int           // resource index
	byteRange  *hls.ByteRange
	disc       bool // EXT-X-DISCONTINUITY inside the asset
	keys       *keyState
	init       *initSection
	url        string    // live segments: the URI in the channel's playlists (res is -1)
	pdt        time.Time // the asset's own PROGRAM-DATE-TIME, zero when absent
	dateRanges []*hls.DateRange
	tags       []string
	gap        bool
	bitrate    int
	title      string
}

// keyState is the EXT-X-KEY state in effect for a segment. nil: clear.
type keyState struct {
	keys []*hls.Key
	res  []int // resource index of each key's URI, -1 to keep the URI
}

// initSection is the EXT-X-MAP in effect for a segment.
type initSection struct {
	res       int
	url       string // live sources: the URI in the channel's playlists (res is -1)
	byteRange *hls.ByteRange
}

// assetLoader loads assets.
type assetLoader struct {
	fetch    *fetcher
	embedded fs.FS
	probe    bool // fetch the first segment of every http rendition
}

// load reads and checks an asset. Every error means the asset failed; with a
// *segmentsError the asset is returned too (its playlists loaded).
func (ld *assetLoader) load(ctx context.Context, id, title, uri string) (*asset, error) {
	a := &asset{id: id, uri: uri, title: title, version: 3}
	master, err := assetLoc(uri, ld.embedded)
	if err != nil {
		return nil, err
	}
	data, err := ld.fetch.read(ctx, master)
	if err != nil {
		return nil, err
	}
	pl, err := hls.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", master, err)
	}
	resIdx := map[string]int{}
	addRes := func(l loc) int {
		if i, ok := resIdx[l.name]; ok {
			return i
		}
		resIdx[l.name] = len(a.res)
		a.res = append(a.res, l)
		return len(a.res) - 1
	}
	loadTrack := func(ref string) (*track, error) {
		l, err := master.resolve(ref)
		if err != nil {
			return nil, err
		}
		data, err := ld.fetch.read(ctx, l)
		if err != nil {
			return nil, err
		}
		return a.parseTrack(l, data, addRes)
	}
	switch pl := pl.(type) {
	case *hls.Media:
		t, err := a.parseTrack(master, data, addRes)
		if err != nil {
			return nil, err
		}
		t.variant = &hls.Variant{Bandwidth: 1_000_000}
		a.video = []*track{t}
	case *hls.Multivariant:
		if err := a.loadMultivariant(pl, loadTrack); err != nil {
			return nil, err
		}
	}
	a.format = formatTS
	for _, t := range a.video {
		f := formatTS
		if len(t.segs) > 0 && t.segs[0].init != nil {
			f = formatFMP4
		}
		if t != a.video[0] && f != a.format {
			return nil, fmt.Errorf("video renditions mix MPEG-TS and fMP4 segments")
		}
		a.format = f
	}
	if err := ld.check(ctx, a); err != nil {
		return a, &segmentsError{err}
	}
	return a, nil
}

// segmentsError is a load failure of an asset whose playlists were read but
// whose segments could not be: load returns the asset with it, so the slate
// can play for the asset's duration.
type segmentsError struct{ err error }

func (e *segmentsError) Error() string { return e.err.Error() }
func (e *segmentsError) Unwrap() error { return e.err }

// loadMultivariant loads the renditions a multivariant playlist names.
func (a *asset) loadMultivariant(m *hls.Multivariant, loadTrack func(string) (*track, error)) error {
	variants := slices.Clone(m.Variants)
	slices.SortStableFunc(variants, func(x, y *hls.Variant) int { return x.Bandwidth - y.Bandwidth })
	if len(variants) == 0 {
		return fmt.Errorf("multivariant playlist has no variants")
	}
	for _, v := range variants {
		t, err := loadTrack(v.URI)
		if err != nil {
			return err
		}
		t.variant = v
		a.video = append(a.video, t)
	}
	groups := func(typ hls.MediaType, name func(*hls.Variant) string) ([][]*track, error) {
		var out [][]*track
		var seen []string
		for _, v := range variants {
			g := name(v)
			if g == "" || g == "NONE" || slices.Contains(seen, g) {
				continue
			}
			seen = append(seen, g)
			var ts []*track
			for _, r := range m.Renditions {
				if r.Type != typ || r.GroupID != g || r.URI == "" {
					continue
				}
				t, err := loadTrack(r.URI)
				if err != nil {
					return nil, err
				}
				t.rendition = r
				ts = append(ts, t)
			}
			if len(ts) > 0 {
				out = append(out, ts)
			}
		}
		return out, nil
	}
	var err error
	if a.audio, err = groups(hls.MediaTypeAudio, func(v *hls.Variant) string { return v.Audio }); err != nil {
		return err
	}
	if a.subs, err = groups(hls.MediaTypeSubtitles, func(v *hls.Variant) string { return v.Subtitles }); err != nil {
		return err
	}
	for _, r := range m.Renditions {
		if r.Type == hls.MediaTypeClosedCaptions {
			a.cc = append(a.cc, r)
		}
	}
	return nil
}

// parseTrack parses the media playlist at l into a track.
func (a *asset) parseTrack(l loc, data []byte, addRes func(loc) int) (*track, error) {
	if bytes.Contains(data, []byte("#EXT-X-STREAM-INF")) {
		return nil, fmt.Errorf("parse %s: expected a media playlist, got a multivariant playlist", l)
	}
	m, err := hls.ParseMedia(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", l, err)
	}
	if !m.Endlist && m.PlaylistType != hls.PlaylistTypeVOD {
		return nil, fmt.Errorf("parse %s: not a VOD playlist (no EXT-X-ENDLIST)", l)
	}
	if m.IFramesOnly {
		return nil, fmt.Errorf("parse %s: I-frame playlist", l)
	}
	if len(m.Segments) == 0 {
		return nil, fmt.Errorf("parse %s: no segments", l)
	}
	t := &track{}
	var (
		keys    *keyState
		init    *initSection
		pdt     time.Time
		lastEnd = map[int]int64{}
	)
	for i, s := range m.Segments {
		if s.Duration <= 0 || math.IsInf(s.Duration, 0) || s.Duration > 24*3600 {
			return nil, fmt.Errorf("parse %s: segment %d: invalid duration %v", l, i, s.Duration)
		}
		d := time.Duration(math.Round(s.Duration*1e6)) * time.Microsecond
		if len(s.Keys) > 0 {
			keys, err = a.keyState(l, s.Keys, addRes)
			if err != nil {
				return nil, fmt.Errorf("parse %s: segment %d: %w", l, i, err)
			}
		}
		if s.Map != nil {
			ml, err := l.resolve(s.Map.URI)
			if err != nil {
				return nil, fmt.Errorf("parse %s: EXT-X-MAP: %w", l, err)
			}
			init = &initSection{res: addRes(ml)}
			if br := s.Map.ByteRange; br != nil {
				off := int64(0)
				if br.Offset != nil {
					off = *br.Offset
				}
				init.byteRange = &hls.ByteRange{Length: br.Length, Offset: &off}
				a.version = max(a.version, 4)
			}
			a.version = max(a.version, 6)
		}
		switch {
		case !s.ProgramDateTime.IsZero():
			pdt = s.ProgramDateTime
		case !pdt.IsZero():
			prev := t.segs[len(t.segs)-1]
			pdt = prev.pdt.Add(prev.dur)
		}
		sl, err := l.resolve(s.URI)
		if err != nil {
			return nil, fmt.Errorf("parse %s: segment %d: %w", l, i, err)
		}
		sg := &seg{
			start:      t.dur,
			dur:        d,
			res:        addRes(sl),
			disc:       s.Discontinuity && i > 0,
			keys:       keys,
			init:       init,
			pdt:        pdt,
			dateRanges: s.DateRanges,
			tags:       cloneStrings(s.Tags),
			gap:        s.Gap,
			bitrate:    s.Bitrate,
			title:      strings.Clone(s.Title),
		}
		if br := s.ByteRange; br != nil {
			off, ok := lastEnd[sg.res]
			if br.Offset != nil {
				off, ok = *br.Offset, true
			}
			if !ok {
				off = 0
			}
			sg.byteRange = &hls.ByteRange{Length: br.Length, Offset: &off}
			lastEnd[sg.res] = off + br.Length
			a.version = max(a.version, 4)
		}
		t.segs = append(t.segs, sg)
		t.dur += d
	}
	return t, nil
}

// keyState builds the key state of EXT-X-KEY tags, registering their URIs as
// resources (except METHOD=NONE and URIs with a scheme other than http(s),
// such as skd: or data:, which are kept as they are).
func (a *asset) keyState(l loc, tags []*hls.Key, addRes func(loc) int) (*keyState, error) {
	ks := &keyState{}
	for _, k := range tags {
		if k.Method == "NONE" {
			return nil, nil
		}
		if k.KeyFormat != "" || k.KeyFormatVersions != "" || k.Method == "SAMPLE-AES" || k.Method == "SAMPLE-AES-CTR" {
			a.version = max(a.version, 5)
		}
		res := -1
		if k.URI != "" && !hasOtherScheme(k.URI) {
			kl, err := l.resolve(k.URI)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-KEY: %w", err)
			}
			res = addRes(kl)
		}
		ks.keys = append(ks.keys, k)
		ks.res = append(ks.res, res)
	}
	return ks, nil
}

// hasOtherScheme reports whether uri has a scheme other than http(s).
func hasOtherScheme(uri string) bool {
	i := strings.Index(uri, ":")
	if i <= 0 || strings.ContainsAny(uri[:i], "/?#.") {
		return false
	}
	s := strings.ToLower(uri[:i])
	return s != "http" && s != "https"
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.Clone(v)
	}
	return out
}

// check verifies that the asset's resources can be read: every file of a
// file-system asset can be opened; the first segment (and init section) of every
// rendition of an http asset can be fetched (which also warms the cache).
func (ld *assetLoader) check(ctx context.Context, a *asset) error {
	for _, l := range a.res {
		if l.isHTTP() {
			continue
		}
		f, err := l.fsys.Open(l.name)
		if err != nil {
			return fmt.Errorf("open %s: %w", l, bareErr(err))
		}
		st, err := f.Stat()
		_ = f.Close()
		if err == nil && st.IsDir() {
			err = errors.New("is a directory")
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", l, bareErr(err))
		}
	}
	if !ld.probe {
		return nil
	}
	for _, t := range a.tracks() {
		first := t.segs[0]
		probe := []int{first.res}
		if first.init != nil {
			probe = append(probe, first.init.res)
		}
		for _, r := range probe {
			if l := a.res[r]; l.isHTTP() {
				if _, err := ld.fetch.read(ctx, l); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// tracks lists all renditions of the asset.
func (a *asset) tracks() []*track {
	ts := slices.Clone(a.video)
	for _, g := range a.audio {
		ts = append(ts, g...)
	}
	for _, g := range a.subs {
		ts = append(ts, g...)
	}
	return ts
}
