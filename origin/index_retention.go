package origin

import (
	"os"
	"time"
)

// fileGrace is how long a received file stays in an input's name table.
// Files that no playlist referenced by then are deleted.
const fileGrace = 2 * time.Minute

// release drops one reference to f and deletes the file at zero.
func (c *chIndex) release(f *storedFile) {
	if f == nil {
		return
	}
	f.refs--
	if f.refs > 0 {
		return
	}
	if f.init {
		delete(c.inits, f.id)
	}
	if c.shared {
		c.removeFile(f.path)
		return
	}
	if err := os.Remove(f.path); err != nil && !os.IsNotExist(err) {
		c.log.Warn("remove segment", ixLogFile, f.path, ixLogErr, err)
	}
}

func (c *chIndex) releaseRec(r *rec) {
	c.release(r.file)
	c.release(r.init)
}

// trim removes segments older than the startover window.
func (c *chIndex) trim(r *rendition) {
	cutoff := c.ingestMediaNow() - int64(c.retain)
	n := r.countEndingBy(cutoff)
	if n == 0 {
		return
	}
	for i := range r.segs[:n] {
		c.releaseRec(&r.segs[i])
	}
	clear(r.segs[:n])
	r.segs = r.segs[n:]
	r.trimGroups()
}

// sweep applies retention to every rendition, forgets old file names and
// switches away from an active input that stopped delivering.
func (c *chIndex) sweep() {
	for _, key := range c.rendKeys {
		c.trim(c.rends[key])
	}
	now := c.clockNow()
	for _, n := range c.order { // in order: indexing may switch inputs
		in := c.inputs[n]
		for name, f := range in.files {
			if now.Sub(f.recv) > fileGrace {
				delete(in.files, name)
				c.release(f)
			}
		}
		for _, key := range sortedKeys(in.rends) {
			ir := in.rends[key]
			if ir.pending != nil && now.Sub(ir.waitSince) > skipAfter(ir.target) {
				c.indexPlaylist(in, key, ir.pending, ir.pendRecv)
			}
		}
	}
	c.checkInputs()
}
