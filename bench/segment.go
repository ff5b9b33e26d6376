package main

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TS packet geometry of the synthetic segments.
const (
	tsPacket = 188
	tsSync   = 0x47
)

// markerMagic opens the payload of the first TS packet of every synthetic
// segment. The sink reads it to identify a segment whatever name the relay
// gives the file, so the harness needs no knowledge of relay naming.
const markerMagic = "PPBENCH1"

// marker identifies one synthetic segment.
type marker struct {
	Channel   uint32 // channel index
	Rendition uint16 // rendition index
	Seq       uint64 // media sequence number
	Listed    int64  // unix nanoseconds at which the source first lists it
	Size      uint32 // total segment size in bytes
}

// nullPacket writes a TS null packet header (PID 0x1FFF, payload only) with
// continuity counter cc into p and fills its payload with 0xFF.
func nullPacket(p []byte, cc byte) {
	p[0] = tsSync
	p[1] = 0x1F
	p[2] = 0xFF
	p[3] = 0x10 | (cc & 0x0F)
	for i := 4; i < tsPacket; i++ {
		p[i] = 0xFF
	}
}

// encode writes m as the first TS packet of a segment into p (len >= 188).
func (m marker) encode(p []byte) {
	nullPacket(p, 0)
	b := p[4:]
	copy(b, markerMagic)
	b = b[len(markerMagic):]
	binary.BigEndian.PutUint32(b[0:], m.Channel)
	binary.BigEndian.PutUint16(b[4:], m.Rendition)
	binary.BigEndian.PutUint64(b[6:], m.Seq)
	binary.BigEndian.PutUint64(b[14:], uint64(m.Listed))
	binary.BigEndian.PutUint32(b[22:], m.Size)
}

// decodeMarker reads the marker from the first TS packet of a segment.
func decodeMarker(p []byte) (marker, bool) {
	if len(p) < tsPacket || p[0] != tsSync || string(p[4:4+len(markerMagic)]) != markerMagic {
		return marker{}, false
	}
	b := p[4+len(markerMagic):]
	return marker{
		Channel:   binary.BigEndian.Uint32(b[0:]),
		Rendition: binary.BigEndian.Uint16(b[4:]),
		Seq:       binary.BigEndian.Uint64(b[6:]),
		Listed:    int64(binary.BigEndian.Uint64(b[14:])),
		Size:      binary.BigEndian.Uint32(b[22:]),
	}, true
}

// segmentBody returns the shared body of every synthetic segment of size
// bytes: null TS packets with running continuity counters. The first packet
// is replaced by the per-segment marker when served.
func segmentBody(size int) []byte {
	b := make([]byte, size)
	for i := 0; i*tsPacket < size; i++ {
		nullPacket(b[i*tsPacket:], byte(i))
	}
	return b
}

// segmentSize is the size of a segment of duration d at bitrate bits per
// second, rounded up to whole TS packets (at least two: marker + payload).
func segmentSize(bitrate int64, d time.Duration) int {
	bytes := bitrate * int64(d) / int64(time.Second) / 8
	n := (bytes + tsPacket - 1) / tsPacket
	if n < 2 {
		n = 2
	}
	return int(n * tsPacket)
}

// schedule is the deterministic timeline of the synthetic source. Channel c's
// segment k is listed (first appears in its media playlist) at
//
//	Epoch + Phase(c) + (k+1-Window)*Segment
//
// so at Epoch+Phase(c) the playlist already holds a full window of segments
// 0..Window-1. With Stagger the channels' phases are spread evenly over one
// segment duration, so load arrives smoothly instead of in one burst.
type schedule struct {
	Epoch      time.Time     `json:"epoch"`
	Channels   int           `json:"channels"`
	Renditions int           `json:"renditions"`
	Segment    time.Duration `json:"segmentNs"`
	Window     int           `json:"window"`
	Bitrate    int64         `json:"bitrate"`
	Stagger    bool          `json:"stagger"`
	Media      string        `json:"media,omitempty"` // mediaNull (default) or mediaH264
}

// phase is channel c's offset from the epoch.
func (s schedule) phase(c int) time.Duration {
	if !s.Stagger || s.Channels <= 0 {
		return 0
	}
	return time.Duration(int64(s.Segment) * int64(c%s.Channels) / int64(s.Channels))
}

// listed returns when segment k of channel c is first listed.
func (s schedule) listed(c int, k uint64) time.Time {
	return s.Epoch.Add(s.phase(c) + time.Duration(int64(k)+1-int64(s.Window))*s.Segment)
}

// latest returns the newest listed segment of channel c at t (window full at
// Epoch+Phase(c), so latest >= Window-1 from then on), and false before that.
func (s schedule) latest(c int, t time.Time) (uint64, bool) {
	el := t.Sub(s.Epoch.Add(s.phase(c)))
	if el < 0 {
		return 0, false
	}
	return uint64(el/s.Segment) + uint64(s.Window) - 1, true
}

// segSize is the size of every segment of the schedule.
func (s schedule) segSize() int { return segmentSize(s.Bitrate, s.Segment) }

// bandwidth is the BANDWIDTH advertised for rendition r. Values differ per
// rendition because the reference relay keys renditions by bandwidth.
func (s schedule) bandwidth(r int) int64 {
	return s.Bitrate + s.Bitrate/10 + int64(r)*1000
}

// parseBitrate parses "1M", "800k", "2.5M" or a plain number of bits per second.
func parseBitrate(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mul := 1.0
	switch {
	case strings.HasSuffix(v, "k") || strings.HasSuffix(v, "K"):
		mul, v = 1e3, v[:len(v)-1]
	case strings.HasSuffix(v, "M") || strings.HasSuffix(v, "m"):
		mul, v = 1e6, v[:len(v)-1]
	case strings.HasSuffix(v, "G") || strings.HasSuffix(v, "g"):
		mul, v = 1e9, v[:len(v)-1]
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad bitrate %q", v)
	}
	return int64(f * mul), nil
}
