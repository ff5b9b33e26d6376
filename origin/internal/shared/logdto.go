package shared

import "github.com/pullpush/pullpush/origin/internal/media"

// The JSON forms of what the index takes from a segment's bytes, in
// ingest-log entries and snapshots. Their field names are the format: keep
// them.

// KeyframesDTO is media.Keyframes as JSON.
type KeyframesDTO struct {
	Frames []media.Keyframe `json:"frames"`
	Frac   bool             `json:"frac,omitempty"`
	MapLen int64            `json:"mapLen,omitempty"`
}

// tsTrackDTO is a media.Track as JSON.
type tsTrackDTO struct {
	PID        uint16   `json:"pid"`
	Video      bool     `json:"video,omitempty"`
	Codec      string   `json:"codec"`
	Hash       string   `json:"hash"`
	VPS        [][]byte `json:"vps,omitempty"`
	SPS        [][]byte `json:"sps,omitempty"`
	PPS        [][]byte `json:"pps,omitempty"`
	ObjType    byte     `json:"objType,omitempty"`
	SampleRate int      `json:"sampleRate,omitempty"`
	Channels   byte     `json:"channels,omitempty"`
}

// TSInfoDTO is media.TSInfo as JSON.
type TSInfoDTO struct {
	Tracks []tsTrackDTO `json:"tracks"`
	DTS0   int64        `json:"dts0"`
	Dur    int64        `json:"dur"`
}

// KeyframesToDTO returns the JSON form of k (nil for nil).
func KeyframesToDTO(k *media.Keyframes) *KeyframesDTO {
	if k == nil {
		return nil
	}
	return &KeyframesDTO{Frames: k.Frames, Frac: k.Frac, MapLen: k.MapLen}
}

// Value returns the keyframes of d (nil for nil).
func (d *KeyframesDTO) Value() *media.Keyframes {
	if d == nil {
		return nil
	}
	return &media.Keyframes{Frames: d.Frames, Frac: d.Frac, MapLen: d.MapLen}
}

// TSInfoToDTO returns the JSON form of t (nil for nil).
func TSInfoToDTO(t *media.TSInfo) *TSInfoDTO {
	if t == nil {
		return nil
	}
	d := &TSInfoDTO{DTS0: t.DTS0, Dur: t.Dur, Tracks: make([]tsTrackDTO, 0, len(t.Tracks))}
	for _, tr := range t.Tracks {
		d.Tracks = append(d.Tracks, tsTrackDTO{PID: tr.PID, Video: tr.Video, Codec: tr.Codec, Hash: tr.Hash,
			VPS: tr.VPS, SPS: tr.SPS, PPS: tr.PPS, ObjType: tr.ObjType, SampleRate: tr.SampleRate, Channels: tr.Channels})
	}
	return d
}

// Value returns the TS timing and tracks of d (nil for nil).
func (d *TSInfoDTO) Value() *media.TSInfo {
	if d == nil {
		return nil
	}
	t := &media.TSInfo{DTS0: d.DTS0, Dur: d.Dur}
	for _, tr := range d.Tracks {
		t.Tracks = append(t.Tracks, &media.Track{PID: tr.PID, Video: tr.Video, Codec: tr.Codec, Hash: tr.Hash,
			VPS: tr.VPS, SPS: tr.SPS, PPS: tr.PPS, ObjType: tr.ObjType, SampleRate: tr.SampleRate, Channels: tr.Channels})
	}
	return t
}
