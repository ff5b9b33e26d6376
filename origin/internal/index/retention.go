package index

import (
	"os"
	"time"
)

// fileGrace is how long a received file stays in an input's name table.
// Files that no playlist referenced by then are deleted.
const fileGrace = 2 * time.Minute

// release drops one reference to f and deletes the file at zero.
func (c *Index) release(f *StoredFile) {
	if f == nil {
		return
	}
	f.Refs--
	if f.Refs > 0 {
		return
	}
	if f.init {
		delete(c.Inits, f.ID)
	}
	if c.Shared {
		c.RemoveFile(f.Path)
		return
	}
	if err := os.Remove(f.Path); err != nil && !os.IsNotExist(err) {
		c.Log.Warn("remove segment", logFile, f.Path, logErr, err)
	}
}

func (c *Index) releaseRec(r *Rec) {
	c.release(r.File)
	c.release(r.Init)
}

// trim removes segments older than the startover window.
func (c *Index) trim(r *Rendition) {
	cutoff := c.ingestMediaNow() - int64(c.Retain)
	n := r.CountEndingBy(cutoff)
	if n == 0 {
		return
	}
	for i := range r.Segs[:n] {
		c.releaseRec(&r.Segs[i])
	}
	clear(r.Segs[:n])
	r.Segs = r.Segs[n:]
	r.trimGroups()
}

// Sweep applies retention to every rendition, forgets old file names and
// switches away from an active input that stopped delivering.
func (c *Index) Sweep() {
	for _, key := range c.RendKeys {
		c.trim(c.Rends[key])
	}
	now := c.clockNow()
	for _, n := range c.Order { // in order: indexing may switch inputs
		in := c.Inputs[n]
		for name, f := range in.Files {
			if now.Sub(f.Recv) > fileGrace {
				delete(in.Files, name)
				c.release(f)
			}
		}
		for _, key := range sortedKeys(in.Rends) {
			ir := in.Rends[key]
			if ir.Pending != nil && now.Sub(ir.waitSince) > skipAfter(ir.target) {
				c.IndexPlaylist(in, key, ir.Pending, ir.pendRecv)
			}
		}
	}
	c.checkInputs()
}
