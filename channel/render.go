package channel

import (
	"slices"
	"strconv"
	"time"

	"github.com/pullpush/pullpush/channel/internal/asset"
	"github.com/pullpush/pullpush/hls"
)

// buildMaster renders the channel's multivariant playlist.
func (ch *channel) buildMaster() []byte {
	tmpl := ch.template
	m := &hls.Multivariant{Version: ch.version, IndependentSegments: true}
	audioGroups := map[string]bool{}
	subGroups := map[string]bool{}
	for _, tr := range ch.tracks {
		if tr.kind == hls.MediaTypeVideo {
			continue
		}
		r := *assetTrack(tmpl, tmpl, tr).Rendition
		r.URI = tr.name
		r.Tags = nil
		m.Renditions = append(m.Renditions, &r)
		if tr.kind == hls.MediaTypeAudio {
			audioGroups[r.GroupID] = true
		} else {
			subGroups[r.GroupID] = true
		}
	}
	ccGroups := map[string]bool{}
	for _, r := range tmpl.CC {
		r := *r
		r.Tags = nil
		m.Renditions = append(m.Renditions, &r)
		ccGroups[r.GroupID] = true
	}
	for _, tr := range ch.tracks {
		if tr.kind != hls.MediaTypeVideo {
			continue
		}
		v := *tmpl.Video[tr.index].Variant
		v.URI = tr.name
		v.Tags = nil
		v.AverageBandwidth = 0
		for _, c := range ch.clips {
			v.Bandwidth = max(v.Bandwidth, assetTrack(tmpl, c.asset, tr).Variant.Bandwidth)
		}
		if !audioGroups[v.Audio] {
			v.Audio = ""
		}
		if !subGroups[v.Subtitles] {
			v.Subtitles = ""
		}
		if v.ClosedCaptions != "NONE" && !ccGroups[v.ClosedCaptions] {
			v.ClosedCaptions = ""
		}
		m.Variants = append(m.Variants, &v)
	}
	return m.Encode()
}

// resourceURL is the URL of resource i of asset a, relative to a media
// playlist of the channel.
func resourceURL(a *asset.Asset, i int) string {
	return "seg/" + a.ID + "/" + strconv.Itoa(i) + asset.ResourceExt(a.Res[i].Name)
}

// renderKeys renders a key state; nil renders METHOD=NONE.
func renderKeys(a *asset.Asset, ks *asset.KeyState) []*hls.Key {
	if ks == nil {
		return []*hls.Key{{Method: "NONE"}}
	}
	out := make([]*hls.Key, len(ks.Keys))
	for i, k := range ks.Keys {
		c := *k
		if ks.Res[i] >= 0 {
			c.URI = resourceURL(a, ks.Res[i])
		}
		out[i] = &c
	}
	return out
}

// moveDateRange moves an EXT-X-DATERANGE of an asset onto the live timeline:
// dates keep their distance to the segment's PROGRAM-DATE-TIME in the asset
// (or start at the segment when the asset has none), and the ID gets the loop
// and entry (or the schedule item) in suffix so that every occurrence is a
// distinct range.
func moveDateRange(dr *hls.DateRange, assetPDT, pdt time.Time, suffix string) *hls.DateRange {
	d := *dr
	shift := pdt.Sub(dr.StartDate)
	if !assetPDT.IsZero() {
		shift = pdt.Sub(assetPDT)
	}
	d.StartDate = dr.StartDate.Add(shift).UTC()
	if dr.EndDate != nil {
		end := dr.EndDate.Add(shift).UTC()
		d.EndDate = &end
	}
	d.ID = dr.ID + suffix
	d.Extra = slices.Clone(dr.Extra)
	return &d
}
