package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Eyevinn/mp4ff/mp4"
)

// ErrBox is wrapped by the errors of a malformed box stream.
var ErrBox = errors.New("bad box")

// ErrBoxTooLarge is wrapped when a box is larger than the reader's limit.
var ErrBoxTooLarge = errors.New("box too large")

// Box is one top-level ISO BMFF box read from a stream: its type and its
// whole bytes, header included.
type Box struct {
	Type string
	Data []byte
}

// BoxReader reads top-level boxes from a byte stream as they arrive (a
// chunked request body), each box whole, none larger than a limit.
type BoxReader struct {
	r     io.Reader
	limit int64
	hdr   [16]byte
}

// NewBoxReader returns a reader of the boxes of r, refusing any box of more
// than limit bytes.
func NewBoxReader(r io.Reader, limit int64) *BoxReader {
	return &BoxReader{r: r, limit: limit}
}

// Next returns the next box; io.EOF at a clean end of the stream (between
// boxes), an error wrapping ErrBox for a truncated or malformed box and
// ErrBoxTooLarge for one over the limit.
func (b *BoxReader) Next() (Box, error) {
	n, err := io.ReadFull(b.r, b.hdr[:8])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return Box{}, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Box{}, fmt.Errorf("%w: stream ends inside a box header", ErrBox)
		}
		return Box{}, err
	}
	size := int64(binary.BigEndian.Uint32(b.hdr[:4]))
	typ := string(b.hdr[4:8])
	hl := int64(8)
	for _, c := range []byte(typ) {
		if c < 0x20 || c > 0x7e {
			return Box{}, fmt.Errorf("%w: box type %q is not printable", ErrBox, typ)
		}
	}
	switch size {
	case 0:
		return Box{}, fmt.Errorf("%w: %s box of size 0 (to end of stream) is not supported in a stream", ErrBox, typ)
	case 1:
		if _, err := io.ReadFull(b.r, b.hdr[8:16]); err != nil {
			return Box{}, fmt.Errorf("%w: stream ends inside the large size of a %s box", ErrBox, typ)
		}
		u := binary.BigEndian.Uint64(b.hdr[8:16])
		if u > uint64(b.limit)+16 || u > 1<<62 {
			return Box{}, fmt.Errorf("%w: %q box of %d bytes, limit %d", ErrBoxTooLarge, typ, u, b.limit)
		}
		size, hl = int64(u), 16
	}
	if size < hl {
		return Box{}, fmt.Errorf("%w: %s box size %d is smaller than its header", ErrBox, typ, size)
	}
	if size > b.limit {
		return Box{}, fmt.Errorf("%w: %q box of %d bytes, limit %d", ErrBoxTooLarge, typ, size, b.limit)
	}
	data := make([]byte, size)
	copy(data, b.hdr[:hl])
	if _, err := io.ReadFull(b.r, data[hl:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Box{}, fmt.Errorf("%w: stream ends inside a %s box (%d bytes)", ErrBox, typ, size)
		}
		return Box{}, err
	}
	return Box{Type: typ, Data: data}, nil
}

// TrackKind is the kind of media of a CMAF track.
type TrackKind uint8

// Track kinds.
const (
	KindOther TrackKind = iota
	KindVideo
	KindAudio
	KindText
)

// InitInfo is what the origin needs of a CMAF track's init segment.
type InitInfo struct {
	TrackID   uint32
	Kind      TrackKind
	Timescale uint32
	// Codecs is the RFC 6381 codecs string ("avc1.64001f", "mp4a.40.2", or
	// the sample entry's type when it is not worked out).
	Codecs        string
	Width, Height int
	// Bitrate is the init's bit rate hint (btrt or esds), 0 when absent.
	Bitrate  int
	Channels int
	Language string
	trex     *mp4.TrexBox
}

// ParseInit parses the init segment (ftyp + moov) of one CMAF track.
func ParseInit(data []byte) (*InitInfo, error) {
	f, err := decodeFile(data)
	if err != nil {
		return nil, fmt.Errorf("%w: decode init segment: %v", ErrBox, err)
	}
	if f.Moov == nil {
		return nil, fmt.Errorf("%w: init segment has no moov", ErrBox)
	}
	if n := len(f.Moov.Traks); n != 1 {
		return nil, fmt.Errorf("%w: init segment has %d tracks; CMAF ingest takes one track per stream", ErrBox, n)
	}
	trak := f.Moov.Traks[0]
	if trak.Tkhd == nil || trak.Mdia == nil || trak.Mdia.Mdhd == nil || trak.Mdia.Hdlr == nil ||
		trak.Mdia.Minf == nil || trak.Mdia.Minf.Stbl == nil || trak.Mdia.Minf.Stbl.Stsd == nil {
		return nil, fmt.Errorf("%w: init segment track lacks tkhd, mdhd, hdlr or stsd", ErrBox)
	}
	info := &InitInfo{TrackID: trak.Tkhd.TrackID, Timescale: trak.Mdia.Mdhd.Timescale, Language: trak.Mdia.Mdhd.GetLanguage()}
	if info.Timescale == 0 {
		return nil, fmt.Errorf("%w: init segment has timescale 0", ErrBox)
	}
	switch trak.Mdia.Hdlr.HandlerType {
	case "vide":
		info.Kind = KindVideo
	case "soun":
		info.Kind = KindAudio
	case "text", "subt", "sbtl":
		info.Kind = KindText
	}
	if f.Moov.Mvex != nil {
		for _, t := range f.Moov.Mvex.Trexs {
			if t.TrackID == info.TrackID {
				info.trex = t
			}
		}
	}
	stsd := trak.Mdia.Minf.Stbl.Stsd
	if len(stsd.Children) == 0 {
		return nil, fmt.Errorf("%w: init segment has no sample entry", ErrBox)
	}
	se := stsd.Children[0]
	info.Codecs = se.Type()
	switch e := se.(type) {
	case *mp4.VisualSampleEntryBox:
		info.Width, info.Height = int(e.Width), int(e.Height)
		if e.AvcC != nil {
			info.Codecs = fmt.Sprintf("%s.%02x%02x%02x", se.Type(), e.AvcC.AVCProfileIndication, e.AvcC.ProfileCompatibility, e.AvcC.AVCLevelIndication)
		}
		if e.Btrt != nil {
			info.Bitrate = int(max(e.Btrt.MaxBitrate, e.Btrt.AvgBitrate))
		}
	case *mp4.AudioSampleEntryBox:
		info.Channels = int(e.ChannelCount)
		if e.Esds != nil && e.Esds.DecConfigDescriptor != nil {
			dc := e.Esds.DecConfigDescriptor
			info.Bitrate = int(max(dc.MaxBitrate, dc.AvgBitrate))
			if dc.ObjectType == 0x40 && dc.DecSpecificInfo != nil && len(dc.DecSpecificInfo.DecConfig) > 0 {
				info.Codecs = fmt.Sprintf("mp4a.40.%d", dc.DecSpecificInfo.DecConfig[0]>>3)
			} else {
				info.Codecs = fmt.Sprintf("mp4a.%02x", dc.ObjectType)
			}
		}
	}
	return info, nil
}

// FragInfo is the timing of one CMAF fragment (moof) of a track.
type FragInfo struct {
	// BaseTime is the tfdt decode time in the track's timescale.
	BaseTime uint64
	// Dur is the sum of the sample durations in the track's timescale.
	Dur uint64
	// Samples is the number of samples.
	Samples int
	// Sync reports whether the first sample is a sync sample.
	Sync bool
}

// maxFragSamples bounds the samples of one fragment (sanity, not CMAF).
const maxFragSamples = 1 << 20

// ParseFragment parses a moof box of the track described by init.
func ParseFragment(moof []byte, init *InitInfo) (fi FragInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			fi, err = FragInfo{}, fmt.Errorf("%w: moof decoder failed: %v", ErrBox, p)
		}
	}()
	b, err := mp4.DecodeBox(0, bytes.NewReader(moof))
	if err != nil {
		return FragInfo{}, fmt.Errorf("%w: decode moof: %v", ErrBox, err)
	}
	m, ok := b.(*mp4.MoofBox)
	if !ok {
		return FragInfo{}, fmt.Errorf("%w: %s is not a moof box", ErrBox, b.Type())
	}
	if len(m.Trafs) != 1 {
		return FragInfo{}, fmt.Errorf("%w: moof has %d track fragments; CMAF takes one", ErrBox, len(m.Trafs))
	}
	traf := m.Traf
	if traf.Tfhd == nil || traf.Tfdt == nil {
		return FragInfo{}, fmt.Errorf("%w: traf lacks tfhd or tfdt", ErrBox)
	}
	if traf.Tfhd.TrackID != init.TrackID {
		return FragInfo{}, fmt.Errorf("%w: fragment of track %d, init segment is of track %d", ErrBox, traf.Tfhd.TrackID, init.TrackID)
	}
	fi = FragInfo{BaseTime: traf.Tfdt.BaseMediaDecodeTime()}
	for i, trun := range traf.Truns {
		if fi.Samples+int(trun.SampleCount()) > maxFragSamples || int(trun.SampleCount()) > len(trun.Samples) {
			return FragInfo{}, fmt.Errorf("%w: trun sample count %d", ErrBox, trun.SampleCount())
		}
		fi.Dur += trun.AddSampleDefaultValues(traf.Tfhd, init.trex)
		if i == 0 && trun.SampleCount() > 0 {
			fi.Sync = mp4.IsSyncSampleFlags(trun.Samples[0].Flags)
		}
		fi.Samples += int(trun.SampleCount())
	}
	if fi.Samples == 0 {
		return FragInfo{}, fmt.Errorf("%w: fragment has no samples", ErrBox)
	}
	if init.Kind != KindVideo {
		fi.Sync = true // audio and text: every sample is a sync sample
	}
	return fi, nil
}

// decodeFile decodes an mp4 file from bytes, turning a panic of the
// decoder on hostile input into an error.
func decodeFile(data []byte) (f *mp4.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed: %v", p)
		}
	}()
	return mp4.DecodeFile(bytes.NewReader(data))
}

// IsCMAFExt reports whether ext (with the dot) is a CMAF track file
// extension of the DASH-IF ingest paths (Streams(name.ext)).
func IsCMAFExt(ext string) bool {
	switch strings.ToLower(ext) {
	case ".cmfv", ".cmfa", ".cmft", ".cmfm", ".mp4", ".m4s", ".m4v", ".m4a":
		return true
	}
	return false
}
