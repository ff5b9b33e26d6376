package origin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/origin/internal/index"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// CMAF ingest (DASH-IF Live Media Ingest, interface 1): an encoder POSTs or
// PUTs each CMAF track's init segment, then its fragments, on
//
//	/in/v2/{channel}/{input}/Streams({track}.cmfv)   (also .cmfa, .cmft, .cmfm, .mp4, .m4s)
//
// one request per segment or one long (chunked) request carrying the init
// segment and any number of fragments, or as the files of ffmpeg's dash
// muxer (init-stream{n}.m4s, chunk-stream{n}-{k}.m4s, its .mpd ignored).
// Boxes are parsed as they arrive; every completed segment is stored as a
// file of the input and listed in a synthesized one-segment media playlist
// that goes to the same index as HLS ingest (IndexPlaylist), and the
// input's tracks become a synthesized multivariant playlist (SetMaster), so
// every playback endpoint, redundancy and switching work unchanged.
//
// Segment boundaries: in the long-request form, a styp box starts a
// segment; without styp, a fragment starting with a sync sample starts one
// once the current segment lasts cmafMinSegment, and a fragment that alone
// lasts that long is a segment at once. In the file-per-request form every
// request is one segment. The end of a request ends its segment.

// cmafMinSegment is the shortest segment made from a stream of fragments
// without styp boxes.
const cmafMinSegment = 950 * time.Millisecond

// cmafIdleTimeout bounds the wait for the next bytes of an ingest stream.
const cmafIdleTimeout = 30 * time.Second

// cmafAnchorSlack is how far a track's time may drift from its receive
// time before it is re-anchored (an encoder that restarted its clock).
const cmafAnchorSlack = 30 * time.Second

// cmafJoinSlack is how close a new track's time must be to an existing
// anchor of the channel to share it (audio and video of one encoder,
// redundant encoders with one clock).
const cmafJoinSlack = 5 * time.Second

// maxCMAFAnchors bounds the anchors remembered per channel.
const maxCMAFAnchors = 8

// cmafAudioGroupID is the audio group of the synthesized multivariant.
const cmafAudioGroupID = "audio"

var (
	streamsRE = regexp.MustCompile(`^Streams\(([A-Za-z0-9_-][A-Za-z0-9._-]{0,110})(\.[A-Za-z0-9]{2,5})\)$`)
	ffInitRE  = regexp.MustCompile(`^init-(stream[0-9]{1,4})\.m4s$`)
	ffChunkRE = regexp.MustCompile(`^chunk-(stream[0-9]{1,4})-[0-9]{1,12}\.m4s$`)
)

// cmafPath is a parsed CMAF ingest request path.
type cmafPath struct {
	IngestPath
	track  string // rendition key
	stream bool   // Streams(...): segments cut from the box stream
	mpd    bool   // a DASH manifest of the pusher (ignored)
}

// parseCMAFPath recognises the CMAF ingest forms of an ingest path.
func parseCMAFPath(escapedPath string) (cmafPath, bool) {
	rest, ok := strings.CutPrefix(escapedPath, "/in/v2/")
	if !ok {
		return cmafPath{}, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || !validName(parts[0]) || !validName(parts[1]) {
		return cmafPath{}, false
	}
	p := cmafPath{IngestPath: IngestPath{Channel: parts[0], Input: parts[1], File: parts[2]}}
	file := parts[2]
	switch {
	case streamsRE.MatchString(file):
		m := streamsRE.FindStringSubmatch(file)
		if !media.IsCMAFExt(m[2]) {
			return cmafPath{}, false
		}
		p.track, p.stream = m[1], true
	case ffInitRE.MatchString(file):
		p.track = ffInitRE.FindStringSubmatch(file)[1]
	case ffChunkRE.MatchString(file):
		p.track = ffChunkRE.FindStringSubmatch(file)[1]
	case strings.HasSuffix(strings.ToLower(file), ".mpd") && validName(file):
		p.mpd = true
	default:
		return cmafPath{}, false
	}
	if p.track != "" && (!validName(p.track) || p.track == "index") {
		return cmafPath{}, false
	}
	return p, true
}

// cmafState is the origin's CMAF ingest state: per track of an input, and
// per channel the time anchors of its tracks.
type cmafState struct {
	mu      sync.Mutex
	tracks  map[string]*cmafTrack // channel/input/track
	anchors map[string][]int64    // channel: wall ns minus media ns
}

// cmafTrack is one ingested CMAF track of an input.
type cmafTrack struct {
	mu       sync.Mutex // serialises requests' segments
	name     string
	init     *media.InitInfo
	initData []byte
	initName string // stored file name of the init segment
	initN    int
	seq      int64 // last segment number
	anchor   int64 // wall ns = anchor + media ns
	anchored bool
	next     uint64 // expected decode time of the next segment
	peak     float64
	maxDur   time.Duration
	segs     int
	stored   string      // init name last stored (released when the init changes)
	sum      cmafSummary // guarded by cmafState.mu
}

// track returns the state of a track, creating it.
func (s *cmafState) track(channel, input, name string) *cmafTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tracks == nil {
		s.tracks, s.anchors = map[string]*cmafTrack{}, map[string][]int64{}
	}
	k := channel + "/" + input + "/" + name
	t := s.tracks[k]
	if t == nil {
		t = &cmafTrack{name: name}
		s.tracks[k] = t
	}
	return t
}

// cmafSummary is what the multivariant playlist shows of a track.
type cmafSummary struct {
	name string
	info *media.InitInfo
	bw   int
}

// setSummary records the summary of a track that has segments.
func (s *cmafState) setSummary(t *cmafTrack, sum cmafSummary) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.sum = sum
}

// inputTracks returns the summaries of the tracks of an input that have
// segments, by name.
func (s *cmafState) inputTracks(channel, input string) []cmafSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []cmafSummary
	prefix := channel + "/" + input + "/"
	for k, t := range s.tracks {
		if strings.HasPrefix(k, prefix) && t.sum.info != nil {
			out = append(out, t.sum)
		}
	}
	slices.SortFunc(out, func(a, b cmafSummary) int { return strings.Compare(a.name, b.name) })
	return out
}

// anchorFor picks the anchor of a segment starting at media time mediaNS
// and ending at receive time recvNS: an anchor of the channel that puts it
// within cmafJoinSlack of that, else 0 when the media time is already wall
// clock time, else a new one.
func (s *cmafState) anchorFor(channel string, mediaNS, durNS, recvNS int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.anchors == nil {
		s.anchors = map[string][]int64{}
	}
	near := func(a int64) bool {
		d := a + mediaNS + durNS - recvNS
		return d < int64(cmafJoinSlack) && d > -int64(cmafJoinSlack)
	}
	as := s.anchors[channel]
	for i := len(as) - 1; i >= 0; i-- {
		if near(as[i]) {
			return as[i]
		}
	}
	a := recvNS - durNS - mediaNS
	if near(0) {
		a = 0 // the encoder's timeline is UTC (DASH-IF recommends it)
	}
	as = append(as, a)
	if len(as) > maxCMAFAnchors {
		as = as[len(as)-maxCMAFAnchors:]
	}
	s.anchors[channel] = as
	return a
}

// cmafSegment is a segment being assembled from a request's boxes.
type cmafSegment struct {
	buf   bytes.Buffer
	start uint64 // decode time of its first fragment
	dur   uint64
	frags int
	boxes int // boxes buffered, fragments or not
}

func (g *cmafSegment) reset() {
	g.buf.Reset()
	g.start, g.dur, g.frags, g.boxes = 0, 0, 0, 0
}

// errStatusErr is an error with its HTTP status.
type errStatusErr struct {
	status int
	msg    string
}

func (e *errStatusErr) Error() string { return e.msg }

func badBox(format string, args ...any) error {
	return &errStatusErr{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// cmafIngest handles the request when its path is a CMAF ingest form, and
// reports whether it did.
func (o *Origin) cmafIngest(w http.ResponseWriter, r *http.Request) bool {
	p, ok := parseCMAFPath(r.URL.EscapedPath())
	if !ok {
		return false
	}
	ch := o.lookup(p.Channel)
	if ch == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown channel %q", p.Channel))
		return true
	}
	if !ch.acc.ingest(r) {
		writeError(w, http.StatusForbidden, "ingest from this address is not allowed")
		return true
	}
	if !o.ingestAuth(w, r, ch, p.Input) {
		return true
	}
	if o.shared != nil {
		writeError(w, http.StatusNotImplemented, "CMAF ingest is not available on shared storage; push HLS")
		return true
	}
	if r.Method == http.MethodDelete {
		// The index owns retention; a pusher's deletes are not needed.
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	if p.mpd {
		if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, o.cfg.MaxBodyBytes)); err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("read manifest: %v", err))
			return true
		}
		w.WriteHeader(http.StatusCreated)
		return true
	}
	ch.mu.Lock()
	in, err := ch.input(p.Input)
	ch.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return true
	}
	tr := o.cmaf.track(ch.cfg.ID, p.Input, p.track)
	if err := o.readCMAF(w, r, ch, in, tr, p); err != nil {
		var se *errStatusErr
		switch {
		case errors.As(err, &se):
			writeError(w, se.status, fmt.Sprintf("%s: %s", p.File, se.msg))
		case errors.Is(err, media.ErrBoxTooLarge):
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: %v", p.File, err))
		case errors.Is(err, media.ErrBox):
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %v", p.File, err))
		default:
			o.log.Warn("cmaf ingest", logChannel, p.Channel, logInput, p.Input, logFile, p.File, logErr, err)
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: read body: %v", p.File, err))
		}
		return true
	}
	w.WriteHeader(http.StatusCreated)
	return true
}

// readCMAF reads the boxes of one request and turns them into segments.
func (o *Origin) readCMAF(w http.ResponseWriter, r *http.Request, ch *channel, in *index.Input, tr *cmafTrack, p cmafPath) error {
	rc := http.NewResponseController(w)
	br := media.NewBoxReader(r.Body, o.cfg.MaxBodyBytes)
	var (
		seg      cmafSegment
		ftyp     []byte
		moof     []byte
		frag     media.FragInfo
		sawStyp  bool
		limitErr = &errStatusErr{http.StatusRequestEntityTooLarge, fmt.Sprintf("segment larger than %d bytes", o.cfg.MaxBodyBytes)}
	)
	flush := func() error {
		if seg.frags == 0 {
			seg.reset()
			return nil
		}
		err := o.cmafStore(ch, in, tr, &seg)
		seg.reset()
		return err
	}
	for {
		_ = rc.SetReadDeadline(time.Now().Add(cmafIdleTimeout)) // not every writer supports it
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch b.Type {
		case "ftyp":
			if seg.frags > 0 || moof != nil {
				if err := flush(); err != nil {
					return err
				}
			}
			ftyp = b.Data
		case "moov":
			if ftyp == nil {
				return badBox("moov without a preceding ftyp")
			}
			data := append(ftyp, b.Data...)
			ftyp = nil
			info, err := media.ParseInit(data)
			if err != nil {
				return err
			}
			if info.Kind != media.KindVideo && info.Kind != media.KindAudio {
				return &errStatusErr{http.StatusUnsupportedMediaType, "only video and audio tracks are taken"}
			}
			tr.mu.Lock()
			if !bytes.Equal(tr.initData, data) {
				tr.init, tr.initData, tr.initName = info, data, ""
			}
			tr.mu.Unlock()
		case "styp":
			if moof != nil {
				return badBox("styp between moof and mdat")
			}
			if p.stream {
				sawStyp = true
				if err := flush(); err != nil {
					return err
				}
			}
			seg.buf.Write(b.Data)
			seg.boxes++
		case "moof":
			if moof != nil {
				return badBox("moof without mdat")
			}
			tr.mu.Lock()
			init := tr.init
			tr.mu.Unlock()
			if init == nil {
				return &errStatusErr{http.StatusConflict, "fragment before the track's init segment"}
			}
			fi, err := media.ParseFragment(b.Data, init)
			if err != nil {
				return err
			}
			if p.stream && !sawStyp && seg.frags > 0 && fi.Sync && tsDur(seg.dur, init.Timescale) >= cmafMinSegment {
				if err := flush(); err != nil {
					return err
				}
			}
			moof, frag = b.Data, fi
		case "mdat":
			if moof == nil {
				return badBox("mdat without moof")
			}
			if seg.frags == 0 {
				seg.start = frag.BaseTime
			}
			if int64(seg.buf.Len()+len(moof)+len(b.Data)) > o.cfg.MaxBodyBytes {
				return limitErr
			}
			seg.buf.Write(moof)
			seg.buf.Write(b.Data)
			seg.frags++
			seg.boxes++
			seg.dur += frag.Dur
			moof = nil
			if p.stream && seg.frags == 1 && tsDur(seg.dur, tr.timescale()) >= cmafMinSegment {
				if err := flush(); err != nil {
					return err
				}
			}
		default: // emsg, prft, sidx, free, ...: kept with the next fragment
			if moof != nil {
				return badBox("%s between moof and mdat", b.Type)
			}
			if int64(seg.buf.Len()+len(b.Data)) > o.cfg.MaxBodyBytes {
				return limitErr
			}
			seg.buf.Write(b.Data)
			seg.boxes++
		}
	}
	if moof != nil {
		return badBox("stream ends after a moof without its mdat")
	}
	if ftyp != nil {
		return badBox("stream ends after an ftyp without its moov")
	}
	return flush()
}

func (t *cmafTrack) timescale() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.init == nil {
		return 1
	}
	return t.init.Timescale
}

// tsDur converts a duration in a timescale to a time.Duration, saturating.
func tsDur(d uint64, timescale uint32) time.Duration {
	if timescale == 0 {
		return 0
	}
	sec := d / uint64(timescale)
	if sec > math.MaxInt64/uint64(time.Second)-1 {
		return math.MaxInt64
	}
	return time.Duration(sec)*time.Second + time.Duration((d%uint64(timescale))*uint64(time.Second)/uint64(timescale))
}

// maxMediaTime bounds decode times (seconds) so that wall times cannot
// overflow.
const maxMediaTime = 1 << 33

// cmafStore stores a completed segment of track tr and indexes it.
func (o *Origin) cmafStore(ch *channel, in *index.Input, tr *cmafTrack, seg *cmafSegment) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	ts := tr.init.Timescale
	if seg.start/uint64(ts) > maxMediaTime {
		return badBox("decode time %d at timescale %d is out of range", seg.start, ts)
	}
	recv := o.cfg.Now()
	mediaNS, durNS := int64(tsDur(seg.start, ts)), int64(tsDur(seg.dur, ts))
	if durNS <= 0 {
		return badBox("segment has no duration")
	}
	disc := tr.segs > 0 && seg.start != tr.next
	if tr.anchored {
		if d := tr.anchor + mediaNS + durNS - recv.UnixNano(); d > int64(cmafAnchorSlack) || d < -int64(cmafAnchorSlack) {
			tr.anchored, disc = false, true // the encoder restarted its clock
		}
	}
	if !tr.anchored {
		tr.anchor, tr.anchored = o.cmaf.anchorFor(ch.cfg.ID, mediaNS, durNS, recv.UnixNano()), true
	}
	data := bytes.Clone(seg.buf.Bytes())
	tr.seq++
	name := fmt.Sprintf("%s-%d.m4s", tr.name, tr.seq)
	f := &index.StoredFile{Path: filepath.Join(in.Dir, fmt.Sprintf("%x-%s", o.uniq.Add(1), name)), Size: int64(len(data)), Recv: recv}
	if tr.init.Kind == media.KindVideo {
		f.KF, _ = media.ScanFMP4(data, tr.initData)
	}
	if err := os.WriteFile(f.Path, data, 0o644); err != nil {
		o.log.Error("store segment", logChannel, ch.cfg.ID, logInput, in.Name, logFile, name, logErr, err)
		return &errStatusErr{http.StatusInternalServerError, "cannot store file"}
	}
	dur := time.Duration(durNS)
	tr.maxDur = max(tr.maxDur, dur)
	if bps := float64(len(data)*8) / dur.Seconds(); bps > tr.peak {
		tr.peak = bps
	}
	tr.next, tr.segs = seg.start+seg.dur, tr.segs+1
	m := &hls.Media{
		Version:        7,
		TargetDuration: max(1, int(math.Ceil(tr.maxDur.Seconds()))),
		MediaSequence:  tr.seq,
		Segments: []*hls.Segment{{
			Discontinuity:   disc,
			Map:             &hls.Map{URI: "init"},
			ProgramDateTime: time.Unix(0, tr.anchor+mediaNS).UTC(),
			Duration:        dur.Seconds(),
			URI:             name,
		}},
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if tr.initName == "" || in.Files[tr.initName] == nil {
		tr.initN++
		tr.initName = fmt.Sprintf("%s-init-%d.mp4", tr.name, tr.initN)
		fi := &index.StoredFile{Path: filepath.Join(in.Dir, fmt.Sprintf("%x-%s", o.uniq.Add(1), tr.initName)), Size: int64(len(tr.initData)), Recv: recv}
		if err := os.WriteFile(fi.Path, tr.initData, 0o644); err != nil {
			o.log.Error("store init segment", logChannel, ch.cfg.ID, logInput, in.Name, logFile, tr.initName, logErr, err)
			os.Remove(f.Path)
			return &errStatusErr{http.StatusInternalServerError, "cannot store file"}
		}
		if tr.stored != "" {
			ch.DeleteFile(in, tr.stored)
		}
		ch.StoreFile(in, tr.initName, fi)
		tr.stored = tr.initName
	}
	m.Segments[0].Map.URI = tr.initName
	ch.StoreFile(in, name, f)
	ch.IndexPlaylist(in, tr.name, m, recv)
	o.cmaf.setSummary(tr, cmafSummary{name: tr.name, info: tr.init, bw: max(int(tr.peak), 1)})
	ch.SetMaster(in, o.cmafMaster(ch.cfg.ID, in.Name))
	return nil
}

// cmafMaster synthesizes the multivariant playlist of an input's CMAF
// tracks: a variant per video track, the audio tracks as one audio group
// (a variant each when there is no video).
func (o *Origin) cmafMaster(channel, input string) *hls.Multivariant {
	var video, audio []cmafSummary
	for _, t := range o.cmaf.inputTracks(channel, input) {
		switch t.info.Kind {
		case media.KindVideo:
			video = append(video, t)
		case media.KindAudio:
			audio = append(audio, t)
		}
	}
	mv := &hls.Multivariant{Version: 7, IndependentSegments: true}
	if len(video) == 0 {
		for _, a := range audio {
			mv.Variants = append(mv.Variants, &hls.Variant{Bandwidth: a.bw, Codecs: a.info.Codecs, URI: a.name + ".m3u8"})
		}
		return mv
	}
	abw, acodec := 0, ""
	for i, a := range audio {
		lang := a.info.Language
		if lang == "und" {
			lang = ""
		}
		rn := &hls.Rendition{Type: hls.MediaTypeAudio, GroupID: cmafAudioGroupID, Name: a.name, Language: lang,
			Default: i == 0, Autoselect: true, URI: a.name + ".m3u8"}
		if a.info.Channels > 0 {
			rn.Channels = fmt.Sprint(a.info.Channels)
		}
		mv.Renditions = append(mv.Renditions, rn)
		abw = max(abw, a.bw)
		if i == 0 {
			acodec = a.info.Codecs
		}
	}
	for _, v := range video {
		vr := &hls.Variant{Bandwidth: v.bw + abw, Codecs: v.info.Codecs, URI: v.name + ".m3u8"}
		if acodec != "" {
			vr.Codecs += "," + acodec
			vr.Audio = cmafAudioGroupID
		}
		if v.info.Width > 0 && v.info.Height > 0 {
			vr.Resolution = &hls.Resolution{Width: v.info.Width, Height: v.info.Height}
		}
		mv.Variants = append(mv.Variants, vr)
	}
	return mv
}
