package asset

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
	FormatTS   = "ts"
	FormatFMP4 = "fmp4"
)

// Asset is a loaded VOD HLS asset: its renditions with their segments and
// the table of resources (segments, init sections, keys) the engine serves
// for it.
type Asset struct {
	ID     string
	URI    string
	title  string
	Format string // formatTS or formatFMP4

	Video []*Track   // video renditions, by bandwidth ascending
	Audio [][]*Track // demuxed audio groups (in the order the variants name them) and their renditions
	Subs  [][]*Track // subtitle groups, likewise
	CC    []*hls.Rendition

	Version int // lowest EXT-X-VERSION the asset's features need

	Res []Loc // resource table: index -> location
}

// Track is one rendition of an asset.
type Track struct {
	Variant   *hls.Variant   // video renditions
	Rendition *hls.Rendition // audio and subtitle renditions
	Segs      []*Seg
	Dur       time.Duration
}

// Seg is one segment of an asset rendition.
type Seg struct {
	Start, Dur time.Duration // in the asset
	Res        int           // resource index
	ByteRange  *hls.ByteRange
	Disc       bool // EXT-X-DISCONTINUITY inside the asset
	Keys       *KeyState
	Init       *InitSection
	URL        string    // live segments: the URI in the channel's playlists (res is -1)
	PDT        time.Time // the asset's own PROGRAM-DATE-TIME, zero when absent
	DateRanges []*hls.DateRange
	Tags       []string
	Gap        bool
	Bitrate    int
	Title      string
}

// KeyState is the EXT-X-KEY state in effect for a segment. nil: clear.
type KeyState struct {
	Keys []*hls.Key
	Res  []int // resource index of each key's URI, -1 to keep the URI
}

// InitSection is the EXT-X-MAP in effect for a segment.
type InitSection struct {
	Res       int
	URL       string // live sources: the URI in the channel's playlists (res is -1)
	ByteRange *hls.ByteRange
}

// Loader loads assets.
type Loader struct {
	Fetch    *Fetcher
	Embedded fs.FS
	Probe    bool // fetch the first segment of every http rendition
}

// Load reads and checks an asset. Every error means the asset failed; with a
// *segmentsError the asset is returned too (its playlists loaded).
func (ld *Loader) Load(ctx context.Context, id, title, uri string) (*Asset, error) {
	a := &Asset{ID: id, URI: uri, title: title, Version: 3}
	master, err := Locate(uri, ld.Embedded)
	if err != nil {
		return nil, err
	}
	data, err := ld.Fetch.Read(ctx, master)
	if err != nil {
		return nil, err
	}
	pl, err := hls.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", master, err)
	}
	resIdx := map[string]int{}
	addRes := func(l Loc) int {
		if i, ok := resIdx[l.Name]; ok {
			return i
		}
		resIdx[l.Name] = len(a.Res)
		a.Res = append(a.Res, l)
		return len(a.Res) - 1
	}
	loadTrack := func(ref string) (*Track, error) {
		l, err := master.Resolve(ref)
		if err != nil {
			return nil, err
		}
		data, err := ld.Fetch.Read(ctx, l)
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
		t.Variant = &hls.Variant{Bandwidth: 1_000_000}
		a.Video = []*Track{t}
	case *hls.Multivariant:
		if err := a.loadMultivariant(pl, loadTrack); err != nil {
			return nil, err
		}
	}
	a.Format = FormatTS
	for _, t := range a.Video {
		f := FormatTS
		if len(t.Segs) > 0 && t.Segs[0].Init != nil {
			f = FormatFMP4
		}
		if t != a.Video[0] && f != a.Format {
			return nil, fmt.Errorf("video renditions mix MPEG-TS and fMP4 segments")
		}
		a.Format = f
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
func (a *Asset) loadMultivariant(m *hls.Multivariant, loadTrack func(string) (*Track, error)) error {
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
		t.Variant = v
		a.Video = append(a.Video, t)
	}
	groups := func(typ hls.MediaType, name func(*hls.Variant) string) ([][]*Track, error) {
		var out [][]*Track
		var seen []string
		for _, v := range variants {
			g := name(v)
			if g == "" || g == "NONE" || slices.Contains(seen, g) {
				continue
			}
			seen = append(seen, g)
			var ts []*Track
			for _, r := range m.Renditions {
				if r.Type != typ || r.GroupID != g || r.URI == "" {
					continue
				}
				t, err := loadTrack(r.URI)
				if err != nil {
					return nil, err
				}
				t.Rendition = r
				ts = append(ts, t)
			}
			if len(ts) > 0 {
				out = append(out, ts)
			}
		}
		return out, nil
	}
	var err error
	if a.Audio, err = groups(hls.MediaTypeAudio, func(v *hls.Variant) string { return v.Audio }); err != nil {
		return err
	}
	if a.Subs, err = groups(hls.MediaTypeSubtitles, func(v *hls.Variant) string { return v.Subtitles }); err != nil {
		return err
	}
	for _, r := range m.Renditions {
		if r.Type == hls.MediaTypeClosedCaptions {
			a.CC = append(a.CC, r)
		}
	}
	return nil
}

// parseTrack parses the media playlist at l into a track.
func (a *Asset) parseTrack(l Loc, data []byte, addRes func(Loc) int) (*Track, error) {
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
	t := &Track{}
	var (
		keys    *KeyState
		init    *InitSection
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
			ml, err := l.Resolve(s.Map.URI)
			if err != nil {
				return nil, fmt.Errorf("parse %s: EXT-X-MAP: %w", l, err)
			}
			init = &InitSection{Res: addRes(ml)}
			if br := s.Map.ByteRange; br != nil {
				off := int64(0)
				if br.Offset != nil {
					off = *br.Offset
				}
				init.ByteRange = &hls.ByteRange{Length: br.Length, Offset: &off}
				a.Version = max(a.Version, 4)
			}
			a.Version = max(a.Version, 6)
		}
		switch {
		case !s.ProgramDateTime.IsZero():
			pdt = s.ProgramDateTime
		case !pdt.IsZero():
			prev := t.Segs[len(t.Segs)-1]
			pdt = prev.PDT.Add(prev.Dur)
		}
		sl, err := l.Resolve(s.URI)
		if err != nil {
			return nil, fmt.Errorf("parse %s: segment %d: %w", l, i, err)
		}
		sg := &Seg{
			Start:      t.Dur,
			Dur:        d,
			Res:        addRes(sl),
			Disc:       s.Discontinuity && i > 0,
			Keys:       keys,
			Init:       init,
			PDT:        pdt,
			DateRanges: s.DateRanges,
			Tags:       CloneStrings(s.Tags),
			Gap:        s.Gap,
			Bitrate:    s.Bitrate,
			Title:      strings.Clone(s.Title),
		}
		if br := s.ByteRange; br != nil {
			off, ok := lastEnd[sg.Res]
			if br.Offset != nil {
				off, ok = *br.Offset, true
			}
			if !ok {
				off = 0
			}
			sg.ByteRange = &hls.ByteRange{Length: br.Length, Offset: &off}
			lastEnd[sg.Res] = off + br.Length
			a.Version = max(a.Version, 4)
		}
		t.Segs = append(t.Segs, sg)
		t.Dur += d
	}
	return t, nil
}

// keyState builds the key state of EXT-X-KEY tags, registering their URIs as
// resources (except METHOD=NONE and URIs with a scheme other than http(s),
// such as skd: or data:, which are kept as they are).
func (a *Asset) keyState(l Loc, tags []*hls.Key, addRes func(Loc) int) (*KeyState, error) {
	ks := &KeyState{}
	for _, k := range tags {
		if k.Method == "NONE" {
			return nil, nil
		}
		if k.KeyFormat != "" || k.KeyFormatVersions != "" || k.Method == "SAMPLE-AES" || k.Method == "SAMPLE-AES-CTR" {
			a.Version = max(a.Version, 5)
		}
		res := -1
		if k.URI != "" && !hasOtherScheme(k.URI) {
			kl, err := l.Resolve(k.URI)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-KEY: %w", err)
			}
			res = addRes(kl)
		}
		ks.Keys = append(ks.Keys, k)
		ks.Res = append(ks.Res, res)
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

func CloneStrings(s []string) []string {
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
func (ld *Loader) check(ctx context.Context, a *Asset) error {
	for _, l := range a.Res {
		if l.isHTTP() {
			continue
		}
		f, err := l.fsys.Open(l.Name)
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
	if !ld.Probe {
		return nil
	}
	for _, t := range a.Tracks() {
		first := t.Segs[0]
		probe := []int{first.Res}
		if first.Init != nil {
			probe = append(probe, first.Init.Res)
		}
		for _, r := range probe {
			if l := a.Res[r]; l.isHTTP() {
				if _, err := ld.Fetch.Read(ctx, l); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Tracks lists all renditions of the asset.
func (a *Asset) Tracks() []*Track {
	ts := slices.Clone(a.Video)
	for _, g := range a.Audio {
		ts = append(ts, g...)
	}
	for _, g := range a.Subs {
		ts = append(ts, g...)
	}
	return ts
}
