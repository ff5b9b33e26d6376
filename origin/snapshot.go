package origin

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/origin/internal/shared"
)

// snapshotVersion is bumped when the snapshot format changes; a starting
// instance ignores snapshots of another version.
const snapshotVersion = 2

// snapshot is a channel's whole index at a virtual time of the replay
// (after every log entry before Time and every tick up to Time). Every
// instance that replayed the same log encodes the same bytes.
type snapshot struct {
	Version  int    `json:"version"`
	Channel  string `json:"channel"`
	Time     int64  `json:"time"`
	Active   string `json:"active"`
	Switches int    `json:"switches"`
	// ActiveSince is when Active became active (ingest clock, unix ns).
	ActiveSince int64      `json:"activeSince,omitempty"`
	Skew        int64      `json:"skew"`
	HasSkew     bool       `json:"hasSkew"`
	FileSeq     uint64     `json:"fileSeq"`
	MasterFrom  string     `json:"masterFrom,omitempty"`
	Order       []string   `json:"order"`
	RendKeys    []string   `json:"rendKeys"`
	Files       []fileDTO  `json:"files"`
	Rends       []rendDTO  `json:"rends"`
	Inputs      []inputDTO `json:"inputs"`
}

type fileDTO struct {
	ID   uint64               `json:"id"`
	Path string               `json:"path"`
	Size int64                `json:"size"`
	Recv int64                `json:"recv"`
	KF   *shared.KeyframesDTO `json:"kf,omitempty"`
	TS   *shared.TSInfoDTO    `json:"ts,omitempty"`
	Refs int                  `json:"refs"`
	Init bool                 `json:"init,omitempty"`
}

type recDTO struct {
	Start      int64             `json:"start"`
	Dur        int64             `json:"dur"`
	Seq        int64             `json:"seq"`
	DiscN      int64             `json:"discN"`
	Disc       bool              `json:"disc,omitempty"`
	File       uint64            `json:"file,omitempty"`
	Init       uint64            `json:"init,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	DateRanges []*hls.DateRange  `json:"dateRanges,omitempty"`
	HasExtra   bool              `json:"hasExtra,omitempty"`
	TS         *shared.TSInfoDTO `json:"ts,omitempty"`
	TSBase     int64             `json:"tsBase,omitempty"`
	TSOff      int64             `json:"tsOff,omitempty"`
	CDisc      bool              `json:"cdisc,omitempty"`
	CDiscN     int64             `json:"cdiscN,omitempty"`
	Pub        int64             `json:"pub"`
	Sw         bool              `json:"sw,omitempty"`
	Epoch      int64             `json:"epoch,omitempty"`
}

type rendDTO struct {
	Key     string            `json:"key"`
	Segs    []recDTO          `json:"segs"`
	NextSeq int64             `json:"nextSeq"`
	DiscN   int64             `json:"discN"`
	Target  time.Duration     `json:"target"`
	Ext     string            `json:"ext"`
	TSEnd   int64             `json:"tsEnd,omitempty"`
	TSOff   int64             `json:"tsOff,omitempty"`
	LastTS  *shared.TSInfoDTO `json:"lastTS,omitempty"`
	CDiscN  int64             `json:"cdiscN,omitempty"`
	Bytes   int64             `json:"bytes"`
	DurNS   int64             `json:"durNS"`
	Peak    float64           `json:"peak"`
	Sw      int               `json:"sw,omitempty"`
	Groups  []groupDTO        `json:"groups,omitempty"`
}

type inputDTO struct {
	Name   string               `json:"name"`
	Files  map[string]uint64    `json:"files"`
	Master string               `json:"master,omitempty"`
	Rends  map[string]inRendDTO `json:"rends"`
}

type inRendDTO struct {
	LastSeq   int64         `json:"lastSeq"`
	LastEnd   int64         `json:"lastEnd"`
	Restart   bool          `json:"restart,omitempty"`
	Shift     int64         `json:"shift,omitempty"`
	Target    time.Duration `json:"target"`
	Pending   string        `json:"pending,omitempty"`
	PendRecv  int64         `json:"pendRecv,omitempty"`
	WaitName  string        `json:"waitName,omitempty"`
	WaitSince int64         `json:"waitSince,omitempty"`
	Buf       []recDTO      `json:"buf,omitempty"`
	LastRecv  int64         `json:"lastRecv,omitempty"`
}

// encodeSnapshot encodes the index of c at virtual time t. Caller holds c.mu.
func (c *chIndex) encodeSnapshot(t int64) ([]byte, error) {
	s := snapshot{
		Version: snapshotVersion, Channel: c.id, Time: t, Active: c.active, Switches: c.switches,
		Skew: c.skew, HasSkew: c.hasSkew, FileSeq: c.fileSeq, Order: c.order, RendKeys: c.rendKeys,
		ActiveSince: unixNano(c.activeSince),
	}
	files := map[uint64]*storedFile{}
	ref := func(f *storedFile) uint64 {
		if f == nil {
			return 0
		}
		files[f.id] = f
		return f.id
	}
	recs := func(rs []rec) []recDTO {
		out := make([]recDTO, len(rs))
		for i := range rs {
			r := &rs[i]
			d := recDTO{Start: r.start, Dur: r.dur, Seq: r.seq, DiscN: r.discN, Disc: r.disc, File: ref(r.file), Init: ref(r.init),
				TS: shared.TSInfoToDTO(r.ts), TSBase: r.tsBase, TSOff: r.tsOff, CDisc: r.cdisc, CDiscN: r.cdiscN, Pub: r.pub, Sw: r.sw, Epoch: r.epoch}
			if r.extra != nil {
				d.HasExtra, d.Tags, d.DateRanges = true, r.extra.tags, r.extra.dateRanges
			}
			out[i] = d
		}
		return out
	}
	for _, k := range c.rendKeys {
		r := c.rends[k]
		s.Rends = append(s.Rends, rendDTO{Key: k, Segs: recs(r.segs), NextSeq: r.nextSeq, DiscN: r.discN, Target: r.target,
			Ext: r.ext, TSEnd: r.tsEnd, TSOff: r.tsOff, LastTS: shared.TSInfoToDTO(r.lastTS), CDiscN: r.cdiscN, Bytes: r.bytes, DurNS: r.durNS, Peak: r.peak, Sw: r.sw, Groups: r.groupDTOs()})
	}
	for _, n := range c.order {
		in := c.inputs[n]
		d := inputDTO{Name: n, Files: map[string]uint64{}, Rends: map[string]inRendDTO{}, Master: string(in.masterRaw)}
		if in.master != nil && in.master == c.master {
			s.MasterFrom = n
		}
		for name, f := range in.files {
			d.Files[name] = ref(f)
		}
		for k, ir := range in.rends {
			rd := inRendDTO{LastSeq: ir.lastSeq, LastEnd: ir.lastEnd, Restart: ir.restart, Shift: ir.shift, Target: ir.target,
				WaitName: ir.waitName, WaitSince: unixNano(ir.waitSince), Buf: recs(ir.buf), LastRecv: unixNano(ir.lastRecv)}
			if ir.pending != nil {
				rd.Pending, rd.PendRecv = string(ir.pendRaw), ir.pendRecv.UnixNano()
			}
			d.Rends[k] = rd
		}
		s.Inputs = append(s.Inputs, d)
	}
	for _, id := range sortedIDs(files) {
		f := files[id]
		s.Files = append(s.Files, fileDTO{ID: id, Path: f.path, Size: f.size, Recv: f.recv.UnixNano(), KF: shared.KeyframesToDTO(f.kf),
			TS: shared.TSInfoToDTO(f.ts), Refs: f.refs, Init: f.init})
	}
	data, err := json.Marshal(&s)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return data, nil
}

// unixNano is t in unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano inverts unixNano.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// clip returns s, cut to n bytes and marked when longer.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func sortedIDs(m map[uint64]*storedFile) []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	for i := 1; i < len(ids); i++ { // insertion sort: ids are mostly ordered
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
	return ids
}

// decodeIndexSnapshot parses a snapshot of channel ch, a channel of at
// most maxInputs inputs, and checks its references.
func decodeIndexSnapshot(ch string, data []byte, maxInputs int) (*snapshot, error) {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("snapshot version %d, want %d", s.Version, snapshotVersion)
	}
	if s.Channel != ch {
		return nil, fmt.Errorf("snapshot of channel %q, want %q", clip(s.Channel, 64), ch)
	}
	if len(s.Inputs) > maxInputs || len(s.Order) != len(s.Inputs) || len(s.RendKeys) != len(s.Rends) {
		return nil, fmt.Errorf("snapshot: inconsistent inputs or renditions")
	}
	ids := map[uint64]bool{}
	for _, f := range s.Files {
		if f.ID == 0 || ids[f.ID] || f.ID > s.FileSeq {
			return nil, fmt.Errorf("snapshot: bad file id %d", f.ID)
		}
		ids[f.ID] = true
	}
	check := func(rs []recDTO) error {
		for _, r := range rs {
			if (r.File != 0 && !ids[r.File]) || (r.Init != 0 && !ids[r.Init]) {
				return fmt.Errorf("snapshot: unknown file reference")
			}
		}
		return nil
	}
	for i, r := range s.Rends {
		if r.Key != s.RendKeys[i] {
			return nil, fmt.Errorf("snapshot: rendition order")
		}
		if err := check(r.Segs); err != nil {
			return nil, err
		}
	}
	for i, in := range s.Inputs {
		if in.Name != s.Order[i] || !shared.ValidName(in.Name) {
			return nil, fmt.Errorf("snapshot: input order")
		}
		for _, id := range in.Files {
			if !ids[id] {
				return nil, fmt.Errorf("snapshot: unknown file reference")
			}
		}
		for _, ir := range in.Rends {
			if err := check(ir.Buf); err != nil {
				return nil, err
			}
		}
	}
	return &s, nil
}

// restore replaces the index of c with s. Caller holds c.mu; c is empty.
func (c *chIndex) restore(s *snapshot) error {
	files := map[uint64]*storedFile{}
	for _, d := range s.Files {
		files[d.ID] = &storedFile{id: d.ID, path: d.Path, size: d.Size, recv: time.Unix(0, d.Recv), kf: d.KF.Value(),
			ts: d.TS.Value(), refs: d.Refs, init: d.Init}
	}
	recs := func(ds []recDTO) []rec {
		out := make([]rec, len(ds))
		for i, d := range ds {
			r := rec{start: d.Start, dur: d.Dur, seq: d.Seq, discN: d.DiscN, disc: d.Disc, file: files[d.File], init: files[d.Init],
				ts: d.TS.Value(), tsBase: d.TSBase, tsOff: d.TSOff, cdisc: d.CDisc, cdiscN: d.CDiscN, pub: d.Pub, sw: d.Sw, epoch: d.Epoch}
			if d.HasExtra {
				r.extra = &recExtra{tags: d.Tags, dateRanges: d.DateRanges}
				r.extra.cue, _ = adcue.Read(d.Tags, d.DateRanges)
			}
			out[i] = r
		}
		return out
	}
	c.active, c.switches, c.skew, c.hasSkew, c.fileSeq = s.Active, s.Switches, s.Skew, s.HasSkew, s.FileSeq
	c.activeSince = fromUnixNano(s.ActiveSince)
	c.rends, c.rendKeys = map[string]*rendition{}, nil
	for _, d := range s.Rends {
		c.rends[d.Key] = &rendition{key: d.Key, segs: recs(d.Segs), nextSeq: d.NextSeq, discN: d.DiscN, target: d.Target, ext: d.Ext,
			tsEnd: d.TSEnd, tsOff: d.TSOff, lastTS: d.LastTS.Value(), cdiscN: d.CDiscN, bytes: d.Bytes, durNS: d.DurNS, peak: d.Peak, sw: d.Sw}
		c.rendKeys = append(c.rendKeys, d.Key)
	}
	for _, d := range s.Rends {
		c.restoreGroups(c.rends[d.Key], d.Groups)
	}
	c.inputs, c.order, c.master = map[string]*input{}, nil, nil
	for _, d := range s.Inputs {
		in := &input{name: d.Name, files: map[string]*storedFile{}, rends: map[string]*inRend{}}
		if d.Master != "" {
			m, err := hls.ParseMultivariant([]byte(d.Master))
			if err != nil {
				return fmt.Errorf("snapshot: master of input %s: %w", d.Name, err)
			}
			in.master, in.masterRaw = m, []byte(d.Master)
			if d.Name == s.MasterFrom {
				c.master = m
			}
		}
		for name, id := range d.Files {
			in.files[name] = files[id]
		}
		for k, rd := range d.Rends {
			ir := &inRend{lastSeq: rd.LastSeq, lastEnd: rd.LastEnd, restart: rd.Restart, shift: rd.Shift, target: rd.Target,
				waitName: rd.WaitName, waitSince: fromUnixNano(rd.WaitSince), buf: recs(rd.Buf), lastRecv: fromUnixNano(rd.LastRecv)}
			if rd.Pending != "" {
				m, err := hls.ParseMedia([]byte(rd.Pending))
				if err != nil {
					return fmt.Errorf("snapshot: pending playlist of input %s: %w", d.Name, err)
				}
				ir.pending, ir.pendRaw, ir.pendRecv = m, []byte(rd.Pending), time.Unix(0, rd.PendRecv)
			}
			in.rends[k] = ir
		}
		c.inputs[d.Name] = in
		c.order = append(c.order, d.Name)
	}
	c.inits = map[uint64]*storedFile{}
	for id, f := range files {
		if f.init {
			c.inits[id] = f
		}
	}
	return nil
}
