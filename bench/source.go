package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sourceStats are the counters of a running source, served at /stats.
type sourceStats struct {
	Schedule        schedule `json:"schedule"`
	SegmentSize     int      `json:"segmentSize"`
	MasterGets      int64    `json:"masterGets"`
	PlaylistGets    int64    `json:"playlistGets"`
	SegmentGets     int64    `json:"segmentGets"`
	SegmentBytes    int64    `json:"segmentBytes"`
	NotFound        int64    `json:"notFound"`
	SegmentTooEarly int64    `json:"segmentTooEarly"` // requested before being listed
	SegmentTooLate  int64    `json:"segmentTooLate"`  // requested after leaving the availability window
}

// source serves the synthetic live channels of a schedule.
type source struct {
	sch  schedule
	body []byte        // shared segment body; the first packet is replaced per segment
	h264 *h264Segments // h264 media: per-segment bodies (nil for null media)
	now  func() time.Time
	pool sync.Pool

	masterGets, playlistGets, segmentGets, segmentBytes atomic.Int64
	notFound, segmentTooEarly, segmentTooLate           atomic.Int64
}

func newSource(sch schedule) *source {
	s := &source{sch: sch, body: segmentBody(sch.segSize()), now: time.Now}
	if sch.Media == mediaH264 {
		s.h264 = newH264Segments(sch)
	}
	s.pool.New = func() any { b := make([]byte, 0, 1024); return &b }
	return s
}

// stats returns a snapshot of the counters.
func (s *source) stats() sourceStats {
	return sourceStats{
		Schedule: s.sch, SegmentSize: len(s.body),
		MasterGets: s.masterGets.Load(), PlaylistGets: s.playlistGets.Load(),
		SegmentGets: s.segmentGets.Load(), SegmentBytes: s.segmentBytes.Load(),
		NotFound: s.notFound.Load(), SegmentTooEarly: s.segmentTooEarly.Load(),
		SegmentTooLate: s.segmentTooLate.Load(),
	}
}

// sourcePath returns the multivariant playlist path of channel c.
func sourcePath(c int) string { return "/live/" + strconv.Itoa(c) + "/master.m3u8" }

// ServeHTTP routes /live/{c}/master.m3u8, /live/{c}/{r}.m3u8,
// /live/{c}/{r}_{seq}.ts and /stats.
func (s *source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/stats" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.stats())
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/live/")
	if !ok {
		s.nf(w)
		return
	}
	cs, file, ok := strings.Cut(rest, "/")
	c, err := strconv.Atoi(cs)
	if !ok || err != nil || c < 0 || c >= s.sch.Channels {
		s.nf(w)
		return
	}
	switch {
	case file == "master.m3u8":
		s.masterGets.Add(1)
		s.writeMaster(w)
	case strings.HasSuffix(file, ".m3u8"):
		rd, err := strconv.Atoi(strings.TrimSuffix(file, ".m3u8"))
		if err != nil || rd < 0 || rd >= s.sch.Renditions {
			s.nf(w)
			return
		}
		s.playlistGets.Add(1)
		s.writeMedia(w, c, rd)
	case strings.HasSuffix(file, ".ts"):
		rs, qs, ok := strings.Cut(strings.TrimSuffix(file, ".ts"), "_")
		rd, err1 := strconv.Atoi(rs)
		seq, err2 := strconv.ParseUint(qs, 10, 64)
		if !ok || err1 != nil || err2 != nil || rd < 0 || rd >= s.sch.Renditions {
			s.nf(w)
			return
		}
		s.writeSegment(w, r, c, rd, seq)
	default:
		s.nf(w)
	}
}

func (s *source) nf(w http.ResponseWriter) {
	s.notFound.Add(1)
	http.Error(w, "not found", http.StatusNotFound)
}

func (s *source) writeMaster(w http.ResponseWriter) {
	bp := s.pool.Get().(*[]byte)
	b := append((*bp)[:0], "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	for r := 0; r < s.sch.Renditions; r++ {
		b = append(b, "#EXT-X-STREAM-INF:BANDWIDTH="...)
		b = strconv.AppendInt(b, s.sch.bandwidth(r), 10)
		b = append(b, ",AVERAGE-BANDWIDTH="...)
		b = strconv.AppendInt(b, s.sch.Bitrate, 10)
		b = append(b, ",CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720\n"...)
		b = strconv.AppendInt(b, int64(r), 10)
		b = append(b, ".m3u8\n"...)
	}
	writePlaylist(w, b)
	*bp = b
	s.pool.Put(bp)
}

func (s *source) writeMedia(w http.ResponseWriter, c, r int) {
	last, ok := s.sch.latest(c, s.now())
	if !ok {
		// Before the channel's phase start: not live yet.
		s.nf(w)
		return
	}
	first := uint64(0)
	if last+1 > uint64(s.sch.Window) {
		first = last + 1 - uint64(s.sch.Window)
	}
	bp := s.pool.Get().(*[]byte)
	b := append((*bp)[:0], "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:"...)
	b = strconv.AppendInt(b, int64((s.sch.Segment+time.Second-1)/time.Second), 10)
	b = append(b, "\n#EXT-X-MEDIA-SEQUENCE:"...)
	b = strconv.AppendUint(b, first, 10)
	b = append(b, '\n')
	dur := strconv.FormatFloat(s.sch.Segment.Seconds(), 'f', 3, 64)
	for k := first; k <= last; k++ {
		start := s.sch.listed(c, k).Add(-s.sch.Segment)
		b = append(b, "#EXT-X-PROGRAM-DATE-TIME:"...)
		b = start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, "\n#EXTINF:"...)
		b = append(b, dur...)
		b = append(b, ",\n"...)
		b = strconv.AppendInt(b, int64(r), 10)
		b = append(b, '_')
		b = strconv.AppendUint(b, k, 10)
		b = append(b, ".ts\n"...)
	}
	writePlaylist(w, b)
	*bp = b
	s.pool.Put(bp)
}

func writePlaylist(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func (s *source) writeSegment(w http.ResponseWriter, r *http.Request, c, rd int, seq uint64) {
	last, ok := s.sch.latest(c, s.now())
	switch {
	case !ok || seq > last:
		s.segmentTooEarly.Add(1)
		s.nf(w)
		return
	case last-seq > uint64(3*s.sch.Window):
		s.segmentTooLate.Add(1)
		s.nf(w)
		return
	}
	s.segmentGets.Add(1)
	if s.h264 != nil {
		b := s.h264.segment(marker{Channel: uint32(c), Rendition: uint16(rd), Seq: seq, Listed: s.sch.listed(c, seq).UnixNano()})
		w.Header().Set("Content-Type", "video/mp2t")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method != http.MethodHead {
			n, _ := w.Write(b)
			s.segmentBytes.Add(int64(n))
		}
		return
	}
	var first [tsPacket]byte
	marker{Channel: uint32(c), Rendition: uint16(rd), Seq: seq,
		Listed: s.sch.listed(c, seq).UnixNano(), Size: uint32(len(s.body))}.encode(first[:])
	h := w.Header()
	h.Set("Content-Type", "video/mp2t")
	h.Set("Content-Length", strconv.Itoa(len(s.body)))
	if r.Method == http.MethodHead {
		return
	}
	n1, err := w.Write(first[:])
	if err != nil {
		s.segmentBytes.Add(int64(n1))
		return
	}
	n2, _ := w.Write(s.body[tsPacket:])
	s.segmentBytes.Add(int64(n1 + n2))
}

// runSource implements 'bench source'.
func runSource(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("source", stderr)
	listen := fs.String("listen", "127.0.0.1:0", "listen address (loopback)")
	channels := fs.Int("channels", 10, "number of channels")
	renditions := fs.Int("renditions", 4, "renditions per channel")
	segment := fs.Duration("segment", 2*time.Second, "segment duration")
	bitrate := fs.String("bitrate", "1M", "bitrate of each rendition (bits/s; k, M, G suffixes)")
	window := fs.Int("window", 5, "segments per media playlist")
	media := fs.String("media", mediaNull, "segment content: null (TS null packets) or h264 (a tiny real H.264 stream, for remuxing relays such as ffmpeg)")
	stagger := fs.Bool("stagger", true, "spread the channels' segment boundaries evenly over one segment duration")
	epochMs := fs.Int64("epoch", 0, "schedule epoch in unix milliseconds (default: now)")
	statsOut := fs.String("stats-out", "", "write final stats JSON to this file at exit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	br, err := parseBitrate(*bitrate)
	if err != nil {
		return fmt.Errorf("%w: -bitrate: %v", errUsage, err)
	}
	if *channels < 1 || *renditions < 1 || *segment <= 0 || *window < 1 {
		return fmt.Errorf("%w: -channels, -renditions, -segment and -window must be positive", errUsage)
	}
	if *media != mediaNull && *media != mediaH264 {
		return fmt.Errorf("%w: -media must be %s or %s", errUsage, mediaNull, mediaH264)
	}
	epoch := time.Now()
	if *epochMs != 0 {
		epoch = time.UnixMilli(*epochMs)
	}
	src := newSource(schedule{Epoch: epoch, Channels: *channels, Renditions: *renditions,
		Segment: *segment, Window: *window, Bitrate: br, Stagger: *stagger, Media: *media})
	err = serveUntilDone(ctx, *listen, src, stdout)
	if *statsOut != "" {
		if werr := writeJSONFile(*statsOut, src.stats()); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// serveUntilDone listens on addr (loopback only), prints "LISTEN <addr>" on
// stdout so a parent process can find the port, and serves h until ctx ends.
func serveUntilDone(ctx context.Context, addr string, h http.Handler, stdout io.Writer) error {
	if err := requireLoopback(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "LISTEN %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

// requireLoopback refuses listen addresses outside loopback.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: listen address %q: %v", errUsage, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%w: listen address %q is not loopback; benchmarks only use 127.0.0.1", errUsage, addr)
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
