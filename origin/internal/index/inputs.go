package index

import (
	"path"
	"time"
)

// staleAfter is how long the active input may go without delivering a new
// segment of a rendition, while the passive input has media the output
// lacks, before the origin switches to the passive input: one and a half
// target durations, so an input that keeps its cadence but arrives up to a
// target duration after the other (or sends its first backlog a moment
// later) never loses the output, and one that stopped loses it about a
// target duration after its next segment was due.
func staleAfter(target time.Duration) time.Duration {
	if target <= 0 {
		target = 2 * time.Second
	}
	return target * 3 / 2
}

// maxPassiveBuffer bounds the segments kept per rendition of a passive input.
const maxPassiveBuffer = 64

// covers reports whether in buffered a segment of key starting at end (±tol).
func (in *Input) covers(key string, end, tol int64) bool {
	ir := in.Rends[key]
	if ir == nil {
		return false
	}
	for i := range ir.buf {
		if d := ir.buf[i].Start - end; d >= -tol && d <= tol {
			return true
		}
	}
	return false
}

// checkPassive switches to passive input in when it buffered media of
// rendition key that the output timeline lacks and the active input
// delivered no new segment of key for longer than staleAfter (by the
// ingest clock). Where the passive input is ahead does not matter: during
// the first backlog burst, or with inputs arriving a little apart, the
// passive input is often ahead for a moment, and switching then would only
// flap. It reports whether it switched.
func (c *Index) checkPassive(in *Input, key string) bool {
	ir := in.Rends[key]
	act := c.Inputs[c.Active]
	if ir == nil || len(ir.buf) == 0 || act == nil || act == in {
		return false
	}
	newest := &ir.buf[len(ir.buf)-1]
	target := ir.target
	if r := c.Rends[key]; r != nil && len(r.Segs) > 0 {
		if newest.End() <= r.LastEnd()+newest.Dur/2 {
			return false // the output has all of it already
		}
		target = max(target, r.Target)
	}
	last := c.activeSince
	if air := act.Rends[key]; air != nil && air.LastRecv.After(last) {
		last = air.LastRecv
	}
	if c.clockNow().Sub(last) <= staleAfter(target) {
		return false
	}
	c.switchTo(in, "active input stopped delivering")
	return true
}

// checkInputs runs checkPassive on every rendition of the passive inputs,
// so an active input that stopped loses the output even when no further
// segment arrives on any input.
func (c *Index) checkInputs() {
	for _, n := range c.Order {
		in := c.Inputs[n]
		if n == c.Active {
			continue
		}
		for _, key := range sortedKeys(in.Rends) {
			if c.checkPassive(in, key) {
				return
			}
		}
	}
}

// switchTo makes in the active input and appends what it buffered.
func (c *Index) switchTo(in *Input, reason string) {
	c.Log.Warn("switching input", logChannel, c.ID, logFrom, c.Active, logTo, in.Name, logReason, reason)
	c.Active, c.activeSince = in.Name, c.clockNow()
	c.Switches++
	for _, r := range c.Rends {
		c.dropParts(r) // the new input's parts come with its next playlists
	}
	if in.master != nil {
		c.Master = in.master
	}
	for _, key := range sortedKeys(in.Rends) {
		ir := in.Rends[key]
		buf := ir.buf
		ir.buf = nil
		r := c.Rend(key)
		if ir.target > r.Target {
			r.Target = ir.target
		}
		for _, rc := range buf {
			tol := rc.Dur / 2
			if len(r.Segs) > 0 && rc.End() <= r.LastEnd()+tol {
				c.releaseRec(&rc)
				continue
			}
			if r.Ext == "" && rc.File != nil {
				r.Ext = path.Ext(rc.File.Path)
			}
			c.appendRec(r, rc, tol)
		}
	}
}
