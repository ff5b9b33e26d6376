package origin

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pullpush/pullpush/hls"
)

// manifestFilterParam is the query parameter of per-request manifest
// filtering, as MediaPackage names it.
const manifestFilterParam = "aws.manifestfilter"

// maxManifestFilter bounds the length of a filter, as MediaPackage does.
const maxManifestFilter = 1024

// errFilter is wrapped by the errors of parseManifestFilter.
var errFilter = errors.New("bad manifest filter")

// numRange is an inclusive range of a numeric filter clause.
type numRange struct{ lo, hi float64 }

func (r numRange) has(v float64) bool { return v >= r.lo && v <= r.hi }

// manifestFilter is a parsed ?aws.manifestfilter=: which variants,
// renditions and I-frame variants of a multivariant playlist to keep. A
// nil field does not filter.
type manifestFilter struct {
	videoBitrate, videoHeight, videoFramerate []numRange
	videoCodec                                []string // h264, h265
	audioLanguage, audioCodec                 []string // audio codecs: aacl, aach, ac-3, ec-3
	audioChannels                             []numRange
	subtitleLanguage                          []string
	trickplayType                             []string // none, iframe
	trickplayHeight                           []numRange
}

// manifestFilterFromQuery returns the filter of a raw query string, nil
// when it has none. The query is split by hand: the clauses are separated
// by ";", which net/url refuses as a separator and drops the parameter.
func manifestFilterFromQuery(rawQuery string) (*manifestFilter, error) {
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err != nil || !strings.EqualFold(dk, manifestFilterParam) {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not URL-encoded correctly", errFilter, manifestFilterParam)
		}
		return parseManifestFilter(val)
	}
	return nil, nil
}

// parseManifestFilter parses "name:value[,value];name:lo-hi;...". Names
// and values are case-insensitive; an unknown name, an empty or malformed
// value is an error naming the clause.
func parseManifestFilter(s string) (*manifestFilter, error) {
	if len(s) > maxManifestFilter {
		return nil, fmt.Errorf("%w: longer than %d characters", errFilter, maxManifestFilter)
	}
	f := &manifestFilter{}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty", errFilter)
	}
	for _, clause := range strings.Split(s, ";") {
		name, val, ok := strings.Cut(clause, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		bad := func(why string) error { return fmt.Errorf("%w: clause %q: %s", errFilter, clause, why) }
		if !ok || strings.TrimSpace(val) == "" {
			return nil, bad("want name:value")
		}
		list := func(allowed ...string) ([]string, error) {
			var out []string
			for _, v := range strings.Split(val, ",") {
				v = strings.ToLower(strings.TrimSpace(v))
				if v == "" {
					return nil, bad("empty value")
				}
				if allowed != nil && !slices.Contains(allowed, v) {
					return nil, bad(fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")))
				}
				out = append(out, v)
			}
			return out, nil
		}
		ranges := func(max float64, integer bool) ([]numRange, error) {
			var out []numRange
			for _, v := range strings.Split(val, ",") {
				lo, hi, ok := strings.Cut(strings.TrimSpace(v), "-")
				if !ok {
					return nil, bad("want a range lo-hi")
				}
				a, errA := strconv.ParseFloat(strings.TrimSpace(lo), 64)
				b, errB := strconv.ParseFloat(strings.TrimSpace(hi), 64)
				if errA != nil || errB != nil || math.IsNaN(a) || math.IsNaN(b) || a < 0 || b > max || a > b ||
					(integer && (a != math.Trunc(a) || b != math.Trunc(b))) {
					return nil, bad(fmt.Sprintf("want lo-hi with 0 <= lo <= hi <= %g", max))
				}
				out = append(out, numRange{a, b})
			}
			return out, nil
		}
		var err error
		switch name {
		case "video_bitrate":
			f.videoBitrate, err = ranges(math.MaxInt32, true)
		case "video_height":
			f.videoHeight, err = ranges(math.MaxInt32, true)
		case "video_framerate":
			f.videoFramerate, err = ranges(1000, false)
		case "video_codec":
			f.videoCodec, err = list("h264", "h265")
		case "audio_language":
			f.audioLanguage, err = list()
		case "audio_codec":
			f.audioCodec, err = list("aacl", "aach", "ac-3", "ec-3")
		case "audio_channels":
			f.audioChannels, err = ranges(32767, true)
		case "subtitle_language":
			f.subtitleLanguage, err = list()
		case "trickplay_type":
			f.trickplayType, err = list("none", "iframe")
		case "trickplay_height":
			f.trickplayHeight, err = ranges(math.MaxInt32, true)
		case "audio_bitrate", "audio_sample_rate", "video_dynamic_range", "trickplay_framerate":
			return nil, bad("not supported: HLS multivariant playlists do not carry it")
		default:
			return nil, bad("unknown parameter")
		}
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

func anyRange(rs []numRange, v float64) bool {
	for _, r := range rs {
		if r.has(v) {
			return true
		}
	}
	return false
}

// codecFamilies maps the codec names of filters to CODECS prefixes.
var codecFamilies = map[string][]string{
	"h264": {"avc1", "avc3"},
	"h265": {"hvc1", "hev1"},
	"aacl": {"mp4a.40.2", "mp4a.40.02"},
	"aach": {"mp4a.40.5", "mp4a.40.05", "mp4a.40.29"},
	"ac-3": {"ac-3"},
	"ec-3": {"ec-3"},
}

// codecsMatch reports whether every codec of CODECS that belongs to kind
// ("video": avc/hevc, "audio": mp4a/ac-3/ec-3) is one of names; CODECS
// without such a codec matches (nothing to refuse).
func codecsMatch(codecs, kind string, names []string) bool {
	for _, c := range strings.Split(codecs, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		isVideo := strings.HasPrefix(c, "avc") || strings.HasPrefix(c, "hvc") || strings.HasPrefix(c, "hev")
		isAudio := strings.HasPrefix(c, "mp4a") || c == "ac-3" || c == "ec-3"
		if (kind == "video" && !isVideo) || (kind == "audio" && !isAudio) || c == "" {
			continue
		}
		ok := false
		for _, n := range names {
			for _, p := range codecFamilies[n] {
				if c == p || strings.HasPrefix(c, p+".") {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// languageIn reports whether a rendition's language is one of langs
// (case-insensitive; "en" does not match "en-US": MediaPackage compares
// the strings the encoder set).
func languageIn(lang string, langs []string) bool {
	return slices.Contains(langs, strings.ToLower(lang))
}

// apply filters mv in place. It reports an error when nothing playable
// is left.
func (f *manifestFilter) apply(mv *hls.Multivariant) error {
	if f == nil {
		return nil
	}
	// Renditions first: a variant whose audio group lost every rendition
	// cannot play.
	groups := map[hls.MediaType]map[string]bool{} // groups with a rendition left
	var kept []*hls.Rendition
	for _, r := range mv.Renditions {
		keep := true
		switch r.Type {
		case hls.MediaTypeAudio:
			if f.audioLanguage != nil && !languageIn(r.Language, f.audioLanguage) {
				keep = false
			}
			if f.audioChannels != nil {
				n, err := strconv.Atoi(strings.SplitN(r.Channels, "/", 2)[0])
				if err != nil || !anyRange(f.audioChannels, float64(n)) {
					keep = false
				}
			}
		case hls.MediaTypeSubtitles:
			if f.subtitleLanguage != nil && !languageIn(r.Language, f.subtitleLanguage) {
				keep = false
			}
		}
		if keep {
			kept = append(kept, r)
			if groups[r.Type] == nil {
				groups[r.Type] = map[string]bool{}
			}
			groups[r.Type][r.GroupID] = true
		}
	}
	audioGroups := map[string]bool{}
	for _, r := range mv.Renditions {
		if r.Type == hls.MediaTypeAudio {
			audioGroups[r.GroupID] = true
		}
	}
	hadDefault := map[string]bool{}
	for _, r := range mv.Renditions {
		if r.Default {
			hadDefault[string(r.Type)+"/"+r.GroupID] = true
		}
	}
	mv.Renditions = kept
	fixDefaults(mv.Renditions, hadDefault)
	var variants []*hls.Variant
	for _, v := range mv.Variants {
		if f.videoBitrate != nil && !anyRange(f.videoBitrate, float64(v.Bandwidth)) {
			continue
		}
		if f.videoHeight != nil && (v.Resolution == nil || !anyRange(f.videoHeight, float64(v.Resolution.Height))) {
			continue
		}
		if f.videoFramerate != nil && (v.FrameRate == 0 || !anyRange(f.videoFramerate, v.FrameRate)) {
			continue
		}
		if f.videoCodec != nil && !codecsMatch(v.Codecs, "video", f.videoCodec) {
			continue
		}
		if f.audioCodec != nil && !codecsMatch(v.Codecs, "audio", f.audioCodec) {
			continue
		}
		if v.Audio != "" && audioGroups[v.Audio] && !groups[hls.MediaTypeAudio][v.Audio] {
			continue // its audio is filtered out
		}
		if v.Subtitles != "" && !groups[hls.MediaTypeSubtitles][v.Subtitles] {
			cp := *v
			cp.Subtitles = "" // subtitles are optional: play without
			v = &cp
		}
		variants = append(variants, v)
	}
	mv.Variants = variants
	var iframes []*hls.IFrameVariant
	for _, v := range mv.IFrameVariants {
		if slices.Contains(f.trickplayType, "none") && !slices.Contains(f.trickplayType, "iframe") {
			continue
		}
		if f.trickplayHeight != nil && (v.Resolution == nil || !anyRange(f.trickplayHeight, float64(v.Resolution.Height))) {
			continue
		}
		iframes = append(iframes, v)
	}
	mv.IFrameVariants = iframes
	if len(mv.Variants) == 0 {
		return fmt.Errorf("%w: no variant matches", errFilter)
	}
	return nil
}

// fixDefaults gives every group that had a DEFAULT rendition (hadDefault,
// by "TYPE/GROUP-ID") and lost it a new default: its first rendition.
func fixDefaults(rs []*hls.Rendition, hadDefault map[string]bool) {
	hasDefault := map[string]bool{}
	for _, r := range rs {
		if r.Default {
			hasDefault[string(r.Type)+"/"+r.GroupID] = true
		}
	}
	for i, r := range rs {
		k := string(r.Type) + "/" + r.GroupID
		if hadDefault[k] && !hasDefault[k] {
			cp := *r
			cp.Default = true
			rs[i] = &cp
			hasDefault[k] = true
		}
	}
}

// Stream orders of an endpoint's stream selection.
const (
	StreamOrderOriginal   = "original"
	StreamOrderAscending  = "video_bitrate_ascending"
	StreamOrderDescending = "video_bitrate_descending"
)

// selectStreams applies an endpoint's stream selection to mv: variants
// outside [min, max] bits per second (0: no bound) are removed, and the
// rest ordered. It runs before a request's manifest filter.
func selectStreams(mv *hls.Multivariant, sel *StreamSelection) {
	if sel == nil {
		return
	}
	var out []*hls.Variant
	for _, v := range mv.Variants {
		if sel.MinVideoBitsPerSecond > 0 && v.Bandwidth < sel.MinVideoBitsPerSecond {
			continue
		}
		if sel.MaxVideoBitsPerSecond > 0 && v.Bandwidth > sel.MaxVideoBitsPerSecond {
			continue
		}
		out = append(out, v)
	}
	switch sel.StreamOrder {
	case StreamOrderAscending:
		sort.SliceStable(out, func(a, b int) bool { return out[a].Bandwidth < out[b].Bandwidth })
	case StreamOrderDescending:
		sort.SliceStable(out, func(a, b int) bool { return out[a].Bandwidth > out[b].Bandwidth })
	}
	mv.Variants = out
}
