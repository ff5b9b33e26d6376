package index

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

// Snapshot is a channel's whole index at a virtual time of the replay
// (after every log entry before Time and every tick up to Time). Every
// instance that replayed the same log encodes the same bytes.
type Snapshot struct {
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

// EncodeSnapshot encodes the index of c at virtual time t. Caller holds the channel lock.
func (c *Index) EncodeSnapshot(t int64) ([]byte, error) {
	s := Snapshot{
		Version: snapshotVersion, Channel: c.ID, Time: t, Active: c.Active, Switches: c.Switches,
		Skew: c.skew, HasSkew: c.hasSkew, FileSeq: c.fileSeq, Order: c.Order, RendKeys: c.RendKeys,
		ActiveSince: unixNano(c.activeSince),
	}
	files := map[uint64]*StoredFile{}
	ref := func(f *StoredFile) uint64 {
		if f == nil {
			return 0
		}
		files[f.ID] = f
		return f.ID
	}
	recs := func(rs []Rec) []recDTO {
		out := make([]recDTO, len(rs))
		for i := range rs {
			r := &rs[i]
			d := recDTO{Start: r.Start, Dur: r.Dur, Seq: r.Seq, DiscN: r.DiscN, Disc: r.Disc, File: ref(r.File), Init: ref(r.Init),
				TS: shared.TSInfoToDTO(r.TS), TSBase: r.TSBase, TSOff: r.TSOff, CDisc: r.CDisc, CDiscN: r.CDiscN, Pub: r.Pub, Sw: r.sw, Epoch: r.epoch}
			if r.Extra != nil {
				d.HasExtra, d.Tags, d.DateRanges = true, r.Extra.Tags, r.Extra.DateRanges
			}
			out[i] = d
		}
		return out
	}
	for _, k := range c.RendKeys {
		r := c.Rends[k]
		s.Rends = append(s.Rends, rendDTO{Key: k, Segs: recs(r.Segs), NextSeq: r.nextSeq, DiscN: r.discN, Target: r.Target,
			Ext: r.Ext, TSEnd: r.tsEnd, TSOff: r.tsOff, LastTS: shared.TSInfoToDTO(r.lastTS), CDiscN: r.cdiscN, Bytes: r.Bytes, DurNS: r.DurNS, Peak: r.Peak, Sw: r.sw, Groups: r.groupDTOs()})
	}
	for _, n := range c.Order {
		in := c.Inputs[n]
		d := inputDTO{Name: n, Files: map[string]uint64{}, Rends: map[string]inRendDTO{}, Master: string(in.MasterRaw)}
		if in.master != nil && in.master == c.Master {
			s.MasterFrom = n
		}
		for name, f := range in.Files {
			d.Files[name] = ref(f)
		}
		for k, ir := range in.Rends {
			rd := inRendDTO{LastSeq: ir.lastSeq, LastEnd: ir.lastEnd, Restart: ir.restart, Shift: ir.shift, Target: ir.target,
				WaitName: ir.waitName, WaitSince: unixNano(ir.waitSince), Buf: recs(ir.buf), LastRecv: unixNano(ir.LastRecv)}
			if ir.Pending != nil {
				rd.Pending, rd.PendRecv = string(ir.PendRaw), ir.pendRecv.UnixNano()
			}
			d.Rends[k] = rd
		}
		s.Inputs = append(s.Inputs, d)
	}
	for _, id := range sortedIDs(files) {
		f := files[id]
		s.Files = append(s.Files, fileDTO{ID: id, Path: f.Path, Size: f.Size, Recv: f.Recv.UnixNano(), KF: shared.KeyframesToDTO(f.KF),
			TS: shared.TSInfoToDTO(f.TS), Refs: f.Refs, Init: f.init})
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

func sortedIDs(m map[uint64]*StoredFile) []uint64 {
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

// DecodeSnapshot parses a snapshot of channel ch, a channel of at
// most maxInputs inputs, and checks its references.
func DecodeSnapshot(ch string, data []byte, maxInputs int) (*Snapshot, error) {
	var s Snapshot
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

// Restore replaces the index of c with s. Caller holds the channel lock; c is empty.
func (c *Index) Restore(s *Snapshot) error {
	files := map[uint64]*StoredFile{}
	for _, d := range s.Files {
		files[d.ID] = &StoredFile{ID: d.ID, Path: d.Path, Size: d.Size, Recv: time.Unix(0, d.Recv), KF: d.KF.Value(),
			TS: d.TS.Value(), Refs: d.Refs, init: d.Init}
	}
	recs := func(ds []recDTO) []Rec {
		out := make([]Rec, len(ds))
		for i, d := range ds {
			r := Rec{Start: d.Start, Dur: d.Dur, Seq: d.Seq, DiscN: d.DiscN, Disc: d.Disc, File: files[d.File], Init: files[d.Init],
				TS: d.TS.Value(), TSBase: d.TSBase, TSOff: d.TSOff, CDisc: d.CDisc, CDiscN: d.CDiscN, Pub: d.Pub, sw: d.Sw, epoch: d.Epoch}
			if d.HasExtra {
				r.Extra = &RecExtra{Tags: d.Tags, DateRanges: d.DateRanges}
				r.Extra.Cue, _ = adcue.Read(d.Tags, d.DateRanges)
			}
			out[i] = r
		}
		return out
	}
	c.Active, c.Switches, c.skew, c.hasSkew, c.fileSeq = s.Active, s.Switches, s.Skew, s.HasSkew, s.FileSeq
	c.activeSince = fromUnixNano(s.ActiveSince)
	c.Rends, c.RendKeys = map[string]*Rendition{}, nil
	for _, d := range s.Rends {
		c.Rends[d.Key] = &Rendition{Key: d.Key, Segs: recs(d.Segs), nextSeq: d.NextSeq, discN: d.DiscN, Target: d.Target, Ext: d.Ext,
			tsEnd: d.TSEnd, tsOff: d.TSOff, lastTS: d.LastTS.Value(), cdiscN: d.CDiscN, Bytes: d.Bytes, DurNS: d.DurNS, Peak: d.Peak, sw: d.Sw}
		c.RendKeys = append(c.RendKeys, d.Key)
	}
	for _, d := range s.Rends {
		c.restoreGroups(c.Rends[d.Key], d.Groups)
	}
	c.Inputs, c.Order, c.Master = map[string]*Input{}, nil, nil
	for _, d := range s.Inputs {
		in := &Input{Name: d.Name, Files: map[string]*StoredFile{}, Rends: map[string]*InRend{}}
		if d.Master != "" {
			m, err := hls.ParseMultivariant([]byte(d.Master))
			if err != nil {
				return fmt.Errorf("snapshot: master of input %s: %w", d.Name, err)
			}
			in.master, in.MasterRaw = m, []byte(d.Master)
			if d.Name == s.MasterFrom {
				c.Master = m
			}
		}
		for name, id := range d.Files {
			in.Files[name] = files[id]
		}
		for k, rd := range d.Rends {
			ir := &InRend{lastSeq: rd.LastSeq, lastEnd: rd.LastEnd, restart: rd.Restart, shift: rd.Shift, target: rd.Target,
				waitName: rd.WaitName, waitSince: fromUnixNano(rd.WaitSince), buf: recs(rd.Buf), LastRecv: fromUnixNano(rd.LastRecv)}
			if rd.Pending != "" {
				m, err := hls.ParseMedia([]byte(rd.Pending))
				if err != nil {
					return fmt.Errorf("snapshot: pending playlist of input %s: %w", d.Name, err)
				}
				ir.Pending, ir.PendRaw, ir.pendRecv = m, []byte(rd.Pending), time.Unix(0, rd.PendRecv)
			}
			in.Rends[k] = ir
		}
		c.Inputs[d.Name] = in
		c.Order = append(c.Order, d.Name)
	}
	c.Inits = map[uint64]*StoredFile{}
	for id, f := range files {
		if f.init {
			c.Inits[id] = f
		}
	}
	return nil
}
