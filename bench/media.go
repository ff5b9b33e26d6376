package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Source media kinds (bench source -media).
const (
	mediaNull = "null" // TS null packets only: cheapest, for byte-copying relays
	mediaH264 = "h264" // a real (tiny) H.264 MPEG-TS stream, for remuxing relays such as ffmpeg
)

// H.264 stream geometry of the h264 media: a 32x32 picture (2x2 macroblocks)
// at 25 frames per second, one IDR frame (I_PCM macroblocks) at the start of
// every segment and P frames of skipped macroblocks after it. Every frame is
// padded with a filler-data NAL unit so a segment still has the configured
// bitrate. It is valid H.264 (ffmpeg decodes it) at almost no cost to make.
const (
	h264MBW      = 2
	h264MBH      = 2
	h264FPS      = 25
	videoPID     = 0x100
	pmtPID       = 0x1000
	ptsOffset90k = 90000 // first PTS: 1 s, so PCR (PTS - 100 ms) stays positive
	pcrDelay90k  = 9000
)

// seiUUID is the uuid_iso_iec_11578 of the marker SEI (no zero bytes, so the
// NAL unit needs no emulation prevention).
var seiUUID = [16]byte{'p', 'u', 'l', 'l', 'p', 'u', 's', 'h', '-', 'b', 'e', 'n', 'c', 'h', '!', '!'}

// textMagic opens the text form of a marker, carried in an H.264 SEI so it
// survives remuxing (ffmpeg -c copy rewrites every TS packet but copies the
// video bitstream).
const textMagic = "PPBENCH2"

// textMarkerLen is the length of a text marker: magic and fixed-width hex
// fields (channel 8, rendition 4, sequence 16, listing time 16, size 8).
const textMarkerLen = len(textMagic) + 8 + 4 + 16 + 16 + 8

// appendText appends the text form of m.
func (m marker) appendText(b []byte) []byte {
	b = append(b, textMagic...)
	b = appendHex(b, uint64(m.Channel), 8)
	b = appendHex(b, uint64(m.Rendition), 4)
	b = appendHex(b, m.Seq, 16)
	b = appendHex(b, uint64(m.Listed), 16)
	return appendHex(b, uint64(m.Size), 8)
}

func appendHex(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(4*uint(i)))&0xF])
	}
	return b
}

// parseText reads a text marker at the start of p.
func parseText(p []byte) (marker, bool) {
	if len(p) < textMarkerLen || string(p[:len(textMagic)]) != textMagic {
		return marker{}, false
	}
	p = p[len(textMagic):]
	field := func(n int) (uint64, bool) {
		v, err := strconv.ParseUint(string(p[:n]), 16, 64)
		p = p[n:]
		return v, err == nil
	}
	c, ok1 := field(8)
	r, ok2 := field(4)
	s, ok3 := field(16)
	l, ok4 := field(16)
	z, ok5 := field(8)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return marker{}, false
	}
	return marker{Channel: uint32(c), Rendition: uint16(r), Seq: s, Listed: int64(l), Size: uint32(z)}, true
}

// scanTextMarkers finds every text marker in the TS payloads of body (a
// remuxed segment: the marker may straddle TS packets, so payloads are joined
// first). buf is scratch space and is returned, possibly grown.
func scanTextMarkers(body, buf []byte) ([]marker, []byte) {
	buf = buf[:0]
	for i := 0; i+tsPacket <= len(body); i += tsPacket {
		p := body[i : i+tsPacket]
		if p[0] != tsSync {
			// Not packet aligned: fall back to the raw bytes.
			buf = append(buf[:0], body...)
			break
		}
		pid := int(p[1]&0x1F)<<8 | int(p[2])
		afc := p[3] >> 4 & 3
		if pid == 0x1FFF || afc&1 == 0 {
			continue
		}
		off := 4
		if afc&2 != 0 {
			off += 1 + int(p[4])
		}
		if off < tsPacket {
			buf = append(buf, p[off:]...)
		}
	}
	var ms []marker
	for rest := buf; ; {
		i := bytes.Index(rest, []byte(textMagic))
		if i < 0 {
			break
		}
		if m, ok := parseText(rest[i:]); ok {
			ms = append(ms, m)
		}
		rest = rest[i+len(textMagic):]
	}
	return ms, buf
}

// bitWriter writes an H.264 RBSP.
type bitWriter struct {
	b    []byte
	cur  byte
	nbit int
}

func (w *bitWriter) bit(v uint) {
	w.cur = w.cur<<1 | byte(v&1)
	if w.nbit++; w.nbit == 8 {
		w.b = append(w.b, w.cur)
		w.cur, w.nbit = 0, 0
	}
}

func (w *bitWriter) bits(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		w.bit(uint(v >> uint(i)))
	}
}

// ue writes an unsigned Exp-Golomb code.
func (w *bitWriter) ue(v uint64) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.bits(0, n)
	w.bits(v, n+1)
}

// align pads with zero bits to a byte boundary.
func (w *bitWriter) align() {
	for w.nbit != 0 {
		w.bit(0)
	}
}

// trailing writes rbsp_trailing_bits.
func (w *bitWriter) trailing() []byte {
	w.bit(1)
	w.align()
	return w.b
}

// nal appends a start code and the NAL unit (header byte hdr, emulation
// prevention applied to rbsp).
func appendNAL(b []byte, hdr byte, rbsp []byte) []byte {
	b = append(b, 0, 0, 0, 1, hdr)
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			b = append(b, 3)
			zeros = 0
		}
		b = append(b, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return b
}

func h264SPS() []byte {
	var w bitWriter
	w.bits(66, 8)   // profile_idc: baseline
	w.bits(0xC0, 8) // constraint_set0/1
	w.bits(30, 8)   // level_idc 3.0
	w.ue(0)         // seq_parameter_set_id
	w.ue(4)         // log2_max_frame_num_minus4: frame_num is 8 bits
	w.ue(2)         // pic_order_cnt_type 2: output order = decoding order
	w.ue(1)         // max_num_ref_frames
	w.bit(0)        // gaps_in_frame_num_value_allowed_flag
	w.ue(h264MBW - 1)
	w.ue(h264MBH - 1)
	w.bit(1) // frame_mbs_only_flag
	w.bit(1) // direct_8x8_inference_flag
	w.bit(0) // frame_cropping_flag
	w.bit(0) // vui_parameters_present_flag
	return w.trailing()
}

func h264PPS() []byte {
	var w bitWriter
	w.ue(0)      // pic_parameter_set_id
	w.ue(0)      // seq_parameter_set_id
	w.bit(0)     // entropy_coding_mode_flag: CAVLC
	w.bit(0)     // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)      // num_slice_groups_minus1
	w.ue(0)      // num_ref_idx_l0_default_active_minus1
	w.ue(0)      // num_ref_idx_l1_default_active_minus1
	w.bit(0)     // weighted_pred_flag
	w.bits(0, 2) // weighted_bipred_idc
	w.ue(0)      // pic_init_qp_minus26 (se 0)
	w.ue(0)      // pic_init_qs_minus26 (se 0)
	w.ue(0)      // chroma_qp_index_offset (se 0)
	w.bit(0)     // deblocking_filter_control_present_flag
	w.bit(0)     // constrained_intra_pred_flag
	w.bit(0)     // redundant_pic_cnt_present_flag
	return w.trailing()
}

// h264IDR is an IDR slice of I_PCM macroblocks (mid grey).
func h264IDR(idrPicID uint64) []byte {
	var w bitWriter
	w.ue(0)      // first_mb_in_slice
	w.ue(7)      // slice_type: I (all slices)
	w.ue(0)      // pic_parameter_set_id
	w.bits(0, 8) // frame_num
	w.ue(idrPicID)
	w.bit(0) // no_output_of_prior_pics_flag
	w.bit(0) // long_term_reference_flag
	w.ue(0)  // slice_qp_delta (se 0)
	for mb := 0; mb < h264MBW*h264MBH; mb++ {
		w.ue(25) // mb_type I_PCM
		w.align()
		for i := 0; i < 256+2*64; i++ {
			w.bits(0x80, 8)
		}
	}
	return w.trailing()
}

// h264P is a P slice whose macroblocks are all skipped.
func h264P(frameNum uint64) []byte {
	var w bitWriter
	w.ue(0) // first_mb_in_slice
	w.ue(5) // slice_type: P (all slices)
	w.ue(0) // pic_parameter_set_id
	w.bits(frameNum&0xFF, 8)
	w.bit(0) // num_ref_idx_active_override_flag
	w.bit(0) // ref_pic_list_modification_flag_l0
	w.bit(0) // adaptive_ref_pic_marking_mode_flag
	w.ue(0)  // slice_qp_delta
	w.ue(h264MBW * h264MBH)
	return w.trailing()
}

// appendFiller appends a filler-data NAL unit of exactly n bytes (n >= 6).
func appendFiller(b []byte, n int) []byte {
	b = append(b, 0, 0, 0, 1, 12)
	for i := 0; i < n-6; i++ {
		b = append(b, 0xFF)
	}
	return append(b, 0x80)
}

const fillerMin = 6

// h264Template is the h264 segment k of a schedule, without its markers: the
// TS bytes and where the markers go.
type h264Template struct {
	body    []byte
	textOff []int // TS byte offset of each text-marker byte (it may straddle packets)
}

// h264Segments builds and caches segment templates. Templates depend only on
// the sequence number, so all channels and renditions share them.
type h264Segments struct {
	sch    schedule
	frames int
	size   int // target segment size (bytes, whole packets)

	mu    sync.Mutex
	cache map[uint64]*h264Template
	order []uint64
}

func newH264Segments(sch schedule) *h264Segments {
	frames := max(1, int(sch.Segment*h264FPS/time.Second))
	return &h264Segments{sch: sch, frames: frames, size: sch.segSize(), cache: map[uint64]*h264Template{}}
}

// segment returns segment seq of channel c, rendition r, with its markers, in
// a fresh slice.
func (h *h264Segments) segment(m marker) []byte {
	t := h.template(m.Seq)
	b := bytes.Clone(t.body)
	m.Size = uint32(len(b))
	m.encode(b[:tsPacket])
	text := m.appendText(make([]byte, 0, textMarkerLen))
	for i, off := range t.textOff {
		b[off] = text[i]
	}
	return b
}

func (h *h264Segments) template(seq uint64) *h264Template {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.cache[seq]; t != nil {
		return t
	}
	t := h.build(seq)
	h.cache[seq] = t
	h.order = append(h.order, seq)
	if len(h.order) > 4*h.sch.Window+8 {
		delete(h.cache, h.order[0])
		h.order = h.order[1:]
	}
	return t
}

// tsWriter packetizes into 188-byte packets.
type tsWriter struct {
	b  []byte
	cc map[int]byte
}

// psi writes a one-packet PSI section.
func (w *tsWriter) psi(pid int, section []byte) {
	p := make([]byte, tsPacket)
	p[0], p[1], p[2] = tsSync, 0x40|byte(pid>>8), byte(pid)
	p[3] = 0x10 | w.cc[pid]&0xF
	w.cc[pid]++
	p[4] = 0 // pointer_field
	n := copy(p[5:], section)
	for i := 5 + n; i < tsPacket; i++ {
		p[i] = 0xFF
	}
	w.b = append(w.b, p...)
}

// pes writes one PES packet (already including its header) on pid, with a
// PCR in the first packet, and returns the TS offset of every payload byte
// index asked for in track (payload offsets, ascending).
func (w *tsWriter) pes(pid int, pes []byte, pcr uint64, track []int) []int {
	var offs []int
	first := true
	pos := 0
	for pos < len(pes) {
		start := len(w.b)
		p := make([]byte, tsPacket)
		p[0], p[1], p[2] = tsSync, byte(pid>>8), byte(pid)
		if first {
			p[1] |= 0x40
		}
		af := 0 // adaptation field bytes including its length byte
		if first {
			af = 8
		}
		room := tsPacket - 4 - af
		n := min(room, len(pes)-pos)
		if n < room {
			// Stuff the last packet through the adaptation field.
			af += room - n
		}
		if af > 0 {
			p[3] = 0x30 | w.cc[pid]&0xF
			p[4] = byte(af - 1)
			if af > 1 {
				p[5] = 0
				i := 6
				if first {
					p[5] = 0x10 // PCR flag
					base := pcr
					p[6] = byte(base >> 25)
					p[7] = byte(base >> 17)
					p[8] = byte(base >> 9)
					p[9] = byte(base >> 1)
					p[10] = byte(base<<7) | 0x7E
					p[11] = 0
					i = 12
				}
				for ; i < 4+af; i++ {
					p[i] = 0xFF
				}
			}
		} else {
			p[3] = 0x10 | w.cc[pid]&0xF
		}
		w.cc[pid]++
		hdr := 4 + af
		copy(p[hdr:], pes[pos:pos+n])
		for len(track) > 0 && track[0] < pos+n {
			offs = append(offs, start+hdr+track[0]-pos)
			track = track[1:]
		}
		pos += n
		first = false
		w.b = append(w.b, p...)
	}
	return offs
}

// pesPackets is how many TS packets a PES of n bytes takes (PCR in the first).
func pesPackets(n int) int {
	if n <= tsPacket-4-8 {
		return 1
	}
	return 1 + (n-(tsPacket-4-8)+tsPacket-5)/(tsPacket-4)
}

func appendPTS(b []byte, pts uint64) []byte {
	pts &= 1<<33 - 1
	return append(b, 0x21|byte(pts>>29)&0x0E, byte(pts>>22), byte(pts>>14)|1, byte(pts>>7), byte(pts<<1)|1)
}

func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, c := range b {
		crc ^= uint32(c) << 24
		for i := 0; i < 8; i++ {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func withCRC(s []byte) []byte {
	return binary.BigEndian.AppendUint32(s, crc32MPEG(s))
}

func patSection() []byte {
	return withCRC([]byte{0x00, 0xB0, 13, 0x00, 0x01, 0xC1, 0, 0, 0x00, 0x01, 0xE0 | pmtPID>>8, pmtPID & 0xFF})
}

func pmtSection() []byte {
	return withCRC([]byte{0x02, 0xB0, 18, 0x00, 0x01, 0xC1, 0, 0,
		0xE0 | videoPID>>8, videoPID & 0xFF, 0xF0, 0, // PCR PID, no program info
		0x1B, 0xE0 | videoPID>>8, videoPID & 0xFF, 0xF0, 0}) // H.264
}

// build makes the template of segment seq: marker packet, PAT, PMT, then the
// frames, each one PES, filled to the segment size.
func (h *h264Segments) build(seq uint64) *h264Template {
	seg90k := uint64(h.sch.Segment * 90000 / time.Second)
	frame90k := seg90k / uint64(h.frames)
	// Payloads of every frame without filler.
	payloads := make([][]byte, h.frames)
	textAt := 0
	for i := range payloads {
		b := []byte{0, 0, 0, 1, 9, 0xF0} // access unit delimiter
		if i == 0 {
			b = appendNAL(b, 0x67, h264SPS())
			b = appendNAL(b, 0x68, h264PPS())
			sei := []byte{5, byte(16 + textMarkerLen)}
			sei = append(sei, seiUUID[:]...)
			textAt = len(b) + 5 + len(sei)
			sei = append(sei, make([]byte, textMarkerLen)...)
			for j := range textMarkerLen {
				sei[len(sei)-textMarkerLen+j] = 'x'
			}
			b = appendNAL(b, 0x06, append(sei, 0x80))
			b = appendNAL(b, 0x65, h264IDR(seq&1))
		} else {
			b = appendNAL(b, 0x41, h264P(uint64(i)))
		}
		payloads[i] = b
	}
	// Packet budget: everything after the marker, PAT and PMT.
	budget := h.size/tsPacket - 3
	const pesHdr = 14
	need := make([]int, h.frames)
	total := 0
	for i, p := range payloads {
		need[i] = pesPackets(pesHdr + len(p) + fillerMin)
		total += need[i]
	}
	extra := max(0, budget-total)
	w := &tsWriter{cc: map[int]byte{}}
	// Continuity counters continue from the previous segment.
	w.cc[0], w.cc[pmtPID] = byte(seq), byte(seq)
	w.cc[videoPID] = byte(seq * uint64(max(budget, total)))
	w.b = make([]byte, tsPacket, h.size+tsPacket)
	w.psi(0, patSection())
	w.psi(pmtPID, pmtSection())
	t := &h264Template{}
	for i, p := range payloads {
		pk := need[i] + extra/h.frames
		if i < extra%h.frames {
			pk++
		}
		capacity := tsPacket - 4 - 8 + (pk-1)*(tsPacket-4)
		pts := ptsOffset90k + seq*seg90k + uint64(i)*frame90k
		pes := []byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5}
		pes = appendPTS(pes, pts)
		pes = append(pes, p...)
		pes = appendFiller(pes, max(fillerMin, capacity-len(pes)))
		var track []int
		if i == 0 {
			for j := range textMarkerLen {
				track = append(track, pesHdr+textAt+j)
			}
		}
		offs := w.pes(videoPID, pes, (pts-pcrDelay90k)&(1<<33-1), track)
		if i == 0 {
			t.textOff = offs
		}
	}
	// Whatever is left of the budget: null packets.
	for len(w.b) < h.size {
		p := make([]byte, tsPacket)
		nullPacket(p, 0)
		w.b = append(w.b, p...)
	}
	t.body = w.b
	if len(t.textOff) != textMarkerLen {
		panic(fmt.Sprintf("h264 template: text marker at %d offsets", len(t.textOff)))
	}
	return t
}
