package origin

import (
	"net/http"
	"slices"
	"strings"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/pullpush/pullpush/hls"
)

// iframeKeys returns the renditions that have an I-frame playlist, in the
// order of the master's variants (of the renditions received without a
// master): every video variant whose segments have keyframes.
func (c *channel) iframeKeys() []string {
	hasKF := func(key string) bool {
		rd := c.Rends[key]
		if rd == nil || len(rd.Segs) == 0 {
			return false
		}
		f := rd.Segs[len(rd.Segs)-1].File
		return f != nil && f.KF != nil && len(f.KF.Frames) > 0
	}
	var keys []string
	add := func(k string) {
		if hasKF(k) && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if c.Master != nil {
		for _, v := range c.Master.Variants {
			add(playlistKey(v.URI))
		}
		return keys
	}
	for _, k := range c.RendKeys {
		add(k)
	}
	return keys
}

// playlistKey maps a playlist URI or ingested file name to a rendition key:
// the file name without .m3u8 ("index" is renamed, as index.m3u8 is the
// playback multivariant).
func playlistKey(uri string) string {
	k := strings.TrimSuffix(index.FileName(uri), ".m3u8")
	if k == "index" {
		k = "index-media"
	}
	return k
}

// videoCodecs keeps the video entries of a CODECS attribute.
func videoCodecs(codecs string) string {
	var out []string
	for _, c := range strings.Split(codecs, ",") {
		c = strings.TrimSpace(c)
		for _, p := range []string{"avc", "hvc", "hev", "dvh", "dva", "av01", "vp09", "vp8"} {
			if strings.HasPrefix(c, p) {
				out = append(out, c)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

func (o *Origin) serveMultivariant(w http.ResponseWriter, r *http.Request, ch *channel, ep *endpoint, sh shift) {
	filter, err := manifestFilterFromQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ch.mu.Lock()
	mv, es := ch.multivariant(ep, sh)
	cutoff := ch.MediaNow() - int64(ep.delay)
	ch.mu.Unlock()
	if es != nil {
		writeError(w, es.code, es.msg)
		return
	}
	mv.Start = ep.start
	selectStreams(mv, ep.sel)
	if len(mv.Variants) == 0 {
		writeError(w, http.StatusNotFound, "no variant within the endpoint's stream selection")
		return
	}
	if err := filter.apply(mv); err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	cache := cacheLive
	if sh.hasEnd && sh.end.UnixNano() <= cutoff {
		cache = cacheImmutable
	}
	servePlaylist(w, r, mv.Encode(), cache)
}

// cmafAudioGroup is the audio group a CMAF endpoint adds for the audio of
// muxed TS variants.
const cmafAudioGroup = "cmaf-audio"

// multivariant builds the playback multivariant playlist from the ingested
// one (or, without one, from the renditions received). Caller holds c.mu.
func (c *channel) multivariant(ep *endpoint, sh shift) (*hls.Multivariant, *errStatus) {
	if len(c.RendKeys) == 0 {
		return nil, &errStatus{http.StatusNotFound, "channel has no content yet"}
	}
	if sh.hasStart {
		// 404 when the requested window is outside what is retained.
		probe := c.Rends[c.RendKeys[0]]
		if ks := c.iframeKeys(); len(ks) > 0 {
			probe = c.Rends[ks[0]]
		}
		if _, es := c.window(ep, probe, sh); es != nil {
			return nil, es
		}
	}
	mv := &hls.Multivariant{Version: 3}
	src := c.Master
	if src == nil {
		for _, k := range c.RendKeys {
			rd := c.Rends[k]
			avg := 0
			if rd.DurNS > 0 {
				avg = int(float64(rd.Bytes*8) / (float64(rd.DurNS) / 1e9))
			}
			mv.Variants = append(mv.Variants, &hls.Variant{Bandwidth: max(int(rd.Peak), avg, 1), AverageBandwidth: avg, URI: k + ".m3u8" + sh.query})
		}
	} else {
		mv.Version = src.Version
		mv.IndependentSegments = src.IndependentSegments
		mv.SessionData = src.SessionData
		mv.Tags = src.Tags
		for _, rn := range src.Renditions {
			cp := *rn
			if cp.URI != "" {
				cp.URI = playlistKey(cp.URI) + ".m3u8" + sh.query
			}
			mv.Renditions = append(mv.Renditions, &cp)
		}
		for _, v := range src.Variants {
			cp := *v
			cp.URI = playlistKey(v.URI) + ".m3u8" + sh.query
			mv.Variants = append(mv.Variants, &cp)
		}
	}
	if ep.cmaf {
		c.splitMuxedAudio(mv, sh)
	}
	if ep.iframes {
		// One I-frame playlist per video rendition, so that a player can
		// scrub on the rendition it plays.
		for _, k := range c.iframeKeys() {
			iv := &hls.IFrameVariant{URI: k + "/" + iframesName + sh.query, Bandwidth: c.iframeBandwidth(c.Rends[k])}
			for _, v := range mv.Variants {
				if strings.HasPrefix(v.URI, k+".m3u8") {
					iv.Codecs = videoCodecs(v.Codecs)
					iv.Resolution = v.Resolution
					iv.VideoRange = v.VideoRange
					iv.HDCPLevel = v.HDCPLevel
					break
				}
			}
			mv.IFrameVariants = append(mv.IFrameVariants, iv)
			mv.Version = max(mv.Version, 4)
		}
	}
	return mv, nil
}

// splitMuxedAudio makes the audio of muxed TS variants an audio rendition
// of its own, as CMAF carries one track per segment: variants whose TS has
// video and audio and that name no audio group get the group
// cmafAudioGroup, whose one rendition is the audio of the first of them
// ({key}.audio.m3u8).
func (c *channel) splitMuxedAudio(mv *hls.Multivariant, sh shift) {
	var from string
	for _, v := range mv.Variants {
		k := playlistKey(strings.SplitN(v.URI, "?", 2)[0])
		rd := c.Rends[k]
		if rd == nil || rd.Ext != ".ts" || !rd.Muxed() || v.Audio != "" {
			continue
		}
		if from == "" {
			from = k
		}
		v.Audio = cmafAudioGroup
	}
	if from == "" {
		return
	}
	mv.Renditions = append(mv.Renditions, &hls.Rendition{
		Type: hls.MediaTypeAudio, GroupID: cmafAudioGroup, Name: "audio", Default: true, Autoselect: true,
		URI: from + audioSuffix + ".m3u8" + sh.query,
	})
}

// iframeBandwidth estimates the peak bit rate of the I-frame playlist from
// the newest segments.
func (c *channel) iframeBandwidth(rd *index.Rendition) int {
	best := 0.0
	n := c.published(rd)
	for i := max(0, n-10); i < n; i++ {
		s := &rd.Segs[i]
		if s.File == nil || s.File.KF == nil || len(s.File.KF.Frames) == 0 || s.Dur <= 0 {
			continue
		}
		var n int64
		for _, f := range s.File.KF.Frames {
			n += f.Len
		}
		per := float64(s.Dur) / 1e9 / float64(len(s.File.KF.Frames))
		if bps := float64(n*8) / float64(len(s.File.KF.Frames)) / per; bps > best {
			best = bps
		}
	}
	return max(int(best), 1)
}
