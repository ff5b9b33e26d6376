// Package llsource is a live Low-Latency HLS source made by a muxer
// nobody here wrote: gohlslib's low-latency muxer (fMP4 segments and
// parts, blocking playlist reloads, preload hints) fed the embedded test
// programme (testmedia's TS video_hi and audio renditions) in real time,
// with PROGRAM-DATE-TIME from the wall clock at which each access unit is
// fed, so a player's playing date minus the clock is glass-to-glass
// latency. It serves tests, benchmarks and the demo on loopback.
package llsource

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// AccessUnit is one access unit of the test programme.
type AccessUnit struct {
	Video bool
	DTS   int64 // 90 kHz
	PTS   int64 // 90 kHz for video, the audio clock rate for audio
	Data  [][]byte
}

// Programme reads the embedded MPEG-TS test media (video_hi and audio
// renditions) into access units in decoding order, with the AAC
// configuration.
func Programme() ([]AccessUnit, *codecs.MPEG4Audio, error) {
	sub, err := testmedia.Sub(testmedia.TS)
	if err != nil {
		return nil, nil, err
	}
	var aus []AccessUnit
	var audio *codecs.MPEG4Audio
	for _, rend := range []string{"video_hi", "audio"} {
		var stream []byte
		for i := 0; ; i++ {
			b, err := fs.ReadFile(sub, fmt.Sprintf("%s/seg_%d.ts", rend, i))
			if err != nil {
				break
			}
			stream = append(stream, b...)
		}
		if len(stream) == 0 {
			return nil, nil, fmt.Errorf("llsource: no segments for %s", rend)
		}
		r := &mpegts.Reader{R: bytes.NewReader(stream)}
		if err := r.Initialize(); err != nil {
			return nil, nil, fmt.Errorf("llsource: %s: %w", rend, err)
		}
		td := &mpegts.TimeDecoder{}
		td.Initialize()
		for _, tr := range r.Tracks() {
			switch c := tr.Codec.(type) {
			case *mpegts.CodecH264:
				r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
					aus = append(aus, AccessUnit{Video: true, DTS: td.Decode(dts), PTS: td.Decode(pts), Data: au})
					return nil
				})
			case *mpegts.CodecMPEG4Audio:
				audio = &codecs.MPEG4Audio{Config: c.Config}
				rate := int64(c.Config.SampleRate)
				r.OnDataMPEG4Audio(tr, func(pts int64, frames [][]byte) error {
					p := td.Decode(pts)
					aus = append(aus, AccessUnit{DTS: p, PTS: p * rate / 90000, Data: frames})
					return nil
				})
			}
		}
		for r.Read() == nil {
		}
	}
	if audio == nil {
		return nil, nil, errors.New("llsource: no AAC track in the test media")
	}
	sort.SliceStable(aus, func(i, j int) bool { return aus[i].DTS < aus[j].DTS })
	return aus, audio, nil
}

// Options configure a Source.
type Options struct {
	// SegmentMinDuration and PartMinDuration are the muxer's (defaults
	// 1 s and 200 ms).
	SegmentMinDuration, PartMinDuration time.Duration
	// SegmentCount is how many segments the playlists list (default 12).
	SegmentCount int
	// Loops is how many times the programme plays; 0 loops until Close.
	Loops int
	// OnError receives the muxer's encode errors (may be nil).
	OnError func(error)
}

// Source is a running LL-HLS source; serve it with ServeHTTP (the
// multivariant playlist is /index.m3u8).
type Source struct {
	mux     *gohlslib.Muxer
	cancel  context.CancelFunc
	done    chan error
	stopped chan struct{} // closed when the feed goroutine has returned
}

// Start starts the muxer and feeds it the programme in real time until
// ctx ends, the loops are played or Close.
func Start(ctx context.Context, opts Options) (*Source, error) {
	aus, audio, err := Programme()
	if err != nil {
		return nil, err
	}
	video := &gohlslib.Track{Codec: &codecs.H264{}, ClockRate: 90000}
	aac := &gohlslib.Track{Codec: audio, ClockRate: audio.Config.SampleRate}
	mux := &gohlslib.Muxer{
		Tracks:             []*gohlslib.Track{video, aac},
		Variant:            gohlslib.MuxerVariantLowLatency,
		SegmentCount:       cmp.Or(opts.SegmentCount, 12),
		SegmentMinDuration: cmp.Or(opts.SegmentMinDuration, time.Second),
		PartMinDuration:    cmp.Or(opts.PartMinDuration, 200*time.Millisecond),
		OnEncodeError: func(err error) {
			if opts.OnError != nil {
				opts.OnError(err)
			}
		},
	}
	if err := mux.Start(); err != nil {
		return nil, fmt.Errorf("llsource: start muxer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Source{mux: mux, cancel: cancel, done: make(chan error, 1), stopped: make(chan struct{})}
	go func() {
		defer close(s.stopped)
		s.done <- feed(ctx, mux, video, aac, aus, opts.Loops)
	}()
	return s, nil
}

// feed writes the programme to the muxer in real time, each loop's
// timestamps continuing the previous one's.
func feed(ctx context.Context, mux *gohlslib.Muxer, video, aac *gohlslib.Track, aus []AccessUnit, loops int) error {
	// One loop lasts until the later of the last video frame (one frame
	// after its DTS) and the last AAC frame (1024 samples) ends, so the
	// next loop's timestamps start after both tracks.
	rate := int64(aac.ClockRate)
	var last, frame, audioEnd int64
	for _, au := range aus {
		if au.Video {
			if last != 0 {
				frame = au.DTS - last
			}
			last = au.DTS
		} else {
			audioEnd = max(audioEnd, au.DTS+int64(len(au.Data))*1024*90000/rate)
		}
	}
	loopDur := max(last+frame, audioEnd)
	start := time.Now()
	for loop := 0; loops == 0 || loop < loops; loop++ {
		off := int64(loop) * loopDur
		for _, au := range aus {
			at := start.Add(time.Duration(au.DTS+off) * time.Second / 90000)
			timer := time.NewTimer(time.Until(at))
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			}
			var err error
			if au.Video {
				err = mux.WriteH264(video, at, au.PTS+off, au.Data)
			} else {
				err = mux.WriteMPEG4Audio(aac, at, au.PTS+off*rate/90000, au.Data)
			}
			if err != nil {
				return fmt.Errorf("llsource: write: %w", err)
			}
		}
	}
	return nil
}

// ServeHTTP serves the playlists, segments and parts.
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.Handle(w, r) }

// Done delivers the feed's end: nil once every loop played, else why it
// stopped.
func (s *Source) Done() <-chan error { return s.done }

// Close stops the feed, waits for it to return (the muxer is not safe
// for a write and Close at once), then closes the muxer, releasing held
// playlist requests.
func (s *Source) Close() {
	s.cancel()
	<-s.stopped
	s.mux.Close()
}

// VODList returns a VOD playlist of the complete segments of live media
// playlist m (URIs resolved against base, absolute), for decoding a live
// source's whole window with ffmpeg (which starts a live playlist near its
// end).
func VODList(m *hls.Media, base *url.URL) ([]byte, error) {
	out := &hls.Media{Version: 7, TargetDuration: m.TargetDuration, PlaylistType: hls.PlaylistTypeVOD, Endlist: true}
	var mp *hls.Map
	for _, s := range m.Segments {
		if s.Map != nil {
			mp = s.Map
		}
		if s.Gap {
			continue
		}
		u, err := base.Parse(s.URI)
		if err != nil {
			return nil, fmt.Errorf("llsource: segment URI: %w", err)
		}
		c := &hls.Segment{Duration: s.Duration, URI: u.String()}
		if len(out.Segments) == 0 && mp != nil {
			mu, err := base.Parse(mp.URI)
			if err != nil {
				return nil, fmt.Errorf("llsource: map URI: %w", err)
			}
			c.Map = &hls.Map{URI: mu.String()}
		}
		out.Segments = append(out.Segments, c)
	}
	if len(out.Segments) == 0 {
		return nil, errors.New("llsource: no complete segment")
	}
	return out.Encode(), nil
}
