package channel

import (
	"errors"
	"fmt"
	"hash/fnv"
	"time"
)

// spliceIDPrefix starts the ID of the SCTE-35 EXT-X-DATERANGE of a break,
// so it differs from the ID of the break's schedule EXT-X-DATERANGE (item
// ids have no ':').
const spliceIDPrefix = "splice:"

// spliceEventID is the splice_event_id of the break with item id id: the
// same on every engine.
func spliceEventID(id string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return h.Sum32()
}

// errAdsShort is why the slate plays at the end of a break: its ads do not
// fill it.
var errAdsShort = errors.New("the break's ads do not fill it")

// breakPart is one clip of a break: an ad (id) or the slate (id empty).
type breakPart struct {
	id   string
	clip *clip
}

// breakParts fills break it on ch: its ads (or the channel's) in order,
// each cut to its configured trim points, until the break is full; a
// failed ad plays the slate for its duration when it is known and is
// skipped otherwise; the slate fills the rest (unless shorter than
// minSpan).
func (e *Engine) breakParts(ch *channel, it ScheduleItem) ([]breakPart, error) {
	ids := it.Assets
	if len(ids) == 0 {
		ids = ch.ads
	}
	for _, id := range ids {
		if _, ok := e.library[id]; !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownAsset, id)
		}
	}
	dur := time.Duration(it.Duration)
	var parts []breakPart
	var filled time.Duration
	for _, id := range ids {
		if filled >= dur {
			break
		}
		ac := e.library[id]
		c, err := e.itemClip(ch, ScheduleItem{Asset: id, In: Seconds(ac.Offset), Out: Seconds(ac.Out)})
		if err != nil {
			return nil, err
		}
		if c.failed != nil && e.partials[id] == nil {
			continue // of unknown duration: the slate fills its place
		}
		parts = append(parts, breakPart{id: id, clip: c})
		filled += c.dur
	}
	if rest := dur - filled; rest >= minSpan {
		s, err := e.slate(ch.template.Format)
		if err != nil {
			return nil, err
		}
		c, err := ch.slateClip(s, rest)
		if err != nil {
			return nil, err
		}
		c.failed = errAdsShort
		parts = append(parts, breakPart{clip: c})
	}
	return parts, nil
}
