package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// logEndpoint is the slog key of an endpoint ID.
const logEndpoint = "endpoint"

// audioSuffix names the audio rendition a CMAF endpoint splits off a muxed
// TS rendition: {key}.audio.
const audioSuffix = ".audio"

// commonPSSHSystemID is the W3C Common PSSH system ID (ClearKey); CMAF
// init segments of encrypted endpoints carry one with the key ID, so EME
// ClearKey players find it.
const commonPSSHSystemID = "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"

// maxIFramePackaging bounds the segments one I-frame playlist request
// packages; the rest are listed by later requests.
const maxIFramePackaging = 500

// rview is what one endpoint shows of one rendition.
type rview struct {
	ep   *endpoint
	name string // rendition name in URLs: the rendition key, or key.audio
	rd   *index.Rendition
	pick media.TrackPick
	cmaf bool     // TS segments repackaged as CMAF
	enc  *encSpec // nil: clear (or subtitles)
	cues bool     // WebVTT on a CMAF endpoint: timestamp map follows the CMAF timeline
	// hasInit: segments have an init section (CMAF, or fMP4 ingest), so
	// AES-128 uses one explicit IV per key (the init section is encrypted
	// too and needs one).
	hasInit bool
	// base is the ingest timeline when rd is a joined one (segdur.go).
	base *index.Rendition
}

// view resolves rendition name for endpoint ep; nil when there is no such
// rendition or it has no segments. Caller holds c.mu.
func (c *channel) view(ep *endpoint, name string) *rview {
	rd := c.Rends[name]
	pick := media.PickMain
	if rd == nil && ep.cmaf {
		if k, ok := strings.CutSuffix(name, audioSuffix); ok {
			if r := c.Rends[k]; r != nil && r.Ext == ".ts" && r.Muxed() {
				rd, pick = r, media.PickAudio
			}
		}
	}
	if rd == nil || len(rd.Segs) == 0 {
		return nil
	}
	v := &rview{ep: ep, name: name, rd: rd, pick: pick, cmaf: ep.cmaf && rd.Ext == ".ts"}
	v.hasInit = v.cmaf || rd.Segs[len(rd.Segs)-1].Init != nil
	if !index.IsSubtitles(rd.Ext) {
		v.enc = ep.enc
	} else {
		v.cues = ep.cmaf
	}
	return c.joinView(v)
}

// ext is the extension of the rendition's segments on this endpoint.
func (v *rview) ext() string {
	if v.cmaf {
		return ".m4s"
	}
	return v.rd.Ext
}

// transformed reports whether segments are packaged rather than served as
// stored.
func (v *rview) transformed() bool { return v.cmaf || v.enc != nil || v.cues || v.base != nil }

// jobKind is what a packaging job produces.
type jobKind uint8

const (
	jobSegment  jobKind = iota // a media segment
	jobCMAFInit                // a CMAF init segment built from TS codec configuration
	jobInit                    // a stored (fMP4) init section, encrypted
	jobTrick                   // a CMAF segment of the key frame only (DASH trick play)
	jobWVTT                    // a WebVTT segment as CMAF WebVTT (DASH)
	jobWVTTInit                // the init segment of CMAF WebVTT (DASH)
)

// job describes one packaged file; it holds what produce needs, so that it
// runs without the channel lock.
type job struct {
	kind     jobKind
	ep       *endpoint
	name     string
	pick     media.TrackPick
	cmaf     bool
	enc      *encSpec
	path     string // stored segment or init section
	initPath string // stored init section of an fMP4 segment
	fileID   uint64
	ts       *media.TSInfo
	track    *media.Track
	tsBase   int64
	tsOff    int64
	seq      int64
	dur      int64 // ns
	period   int64
	hasInit  bool
	ext      string
	lang     string    // jobWVTTInit
	parts    []jobPart // members of a joined segment (segdur.go)
}

func (j *job) contentType() string {
	switch {
	case j.kind == jobWVTT || j.kind == jobWVTTInit:
		return "application/mp4"
	case j.kind != jobSegment:
		return "video/mp4"
	case j.cmaf:
		if t := j.ts.Track(j.pick); t != nil && !t.Video {
			return "audio/mp4"
		}
		return "video/mp4"
	}
	if ct := segmentTypes[strings.ToLower(j.ext)]; ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// cacheKey identifies a job's product in the origin's cache.
func (j *job) cacheKey(channel string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s/%s/%d/", channel, j.ep.id, j.name, j.kind)
	switch j.kind {
	case jobCMAFInit:
		fmt.Fprintf(&b, "%s/%d", j.track.Hash, j.period)
	default:
		fmt.Fprintf(&b, "%d/%d/%d/%d", j.fileID, j.seq, j.period, j.tsOff)
	}
	return b.String()
}

// job resolves the packaged file base+ext of view v. Caller holds c.mu.
func (c *channel) job(v *rview, base, ext string) (*job, string) {
	if v.cues && v.ep.dash {
		if wj, msg, ok := c.wvttJob(v, base, ext); ok {
			return wj, msg
		}
	}
	j := &job{ep: v.ep, name: v.name, pick: v.pick, cmaf: v.cmaf, enc: v.enc, ext: ext}
	rd := v.rd
	period := func(s string) (int64, bool) {
		if v.enc == nil || !v.enc.keyedInit() {
			return 0, s == ""
		}
		p, err := strconv.ParseInt(strings.TrimPrefix(s, "-k"), 10, 64)
		if err != nil || !strings.HasPrefix(s, "-k") {
			return 0, false
		}
		// Only periods of retained segments: clients cannot make the
		// origin ask the key provider for arbitrary keys.
		if v.enc.rotation <= 0 {
			return p, p == 0
		}
		from := p * int64(v.enc.rotation)
		i := rd.CountStartingBefore(from)
		return p, i < len(rd.Segs) && v.enc.period(rd.Segs[i].Start) == p
	}
	switch {
	case strings.HasPrefix(base, "cinit-") && v.cmaf && ext == ".mp4":
		rest := strings.TrimPrefix(base, "cinit-")
		h, ps, _ := strings.Cut(rest, "-")
		if ps != "" {
			ps = "-" + ps
		}
		p, ok := period(ps)
		if !ok {
			return nil, "init segment not found"
		}
		for i := len(rd.Segs) - 1; i >= 0; i-- {
			if t := rd.Segs[i].TS.Track(v.pick); t != nil && t.Hash == h {
				j.kind, j.track, j.period = jobCMAFInit, t, p
				return j, ""
			}
		}
		return nil, "init segment not found"
	case strings.HasPrefix(base, "init-") && !v.cmaf:
		rest := strings.TrimPrefix(base, "init-")
		idS, ps, _ := strings.Cut(rest, "-")
		if ps != "" {
			ps = "-" + ps
		}
		id, err := strconv.ParseUint(idS, 10, 64)
		f := c.Inits[id]
		p, ok := period(ps)
		if err != nil || f == nil || !ok {
			return nil, "init section not found"
		}
		j.kind, j.path, j.fileID, j.period = jobInit, f.Path, f.ID, p
		return j, ""
	}
	trick := false
	if b, ok := strings.CutPrefix(base, trickPrefix); ok && v.cmaf && v.ep.dash && v.ep.iframes && v.pick == media.PickMain {
		base, trick = b, true
	}
	seq, err := strconv.ParseInt(base, 10, 64)
	if err != nil || ext != v.ext() {
		return nil, "not found"
	}
	i, ok := rd.BySeq(seq)
	if !ok {
		return nil, "segment not found (outside the startover window?)"
	}
	s := &rd.Segs[i]
	if s.File == nil {
		return nil, "segment not found"
	}
	j.kind, j.path, j.fileID, j.seq, j.dur = jobSegment, s.File.Path, s.File.ID, s.Seq, s.Dur
	if s.Init != nil {
		j.initPath = s.Init.Path
	}
	j.ts, j.tsBase, j.tsOff, j.hasInit = s.TS, s.TSBase, s.TSOff, v.hasInit
	if v.cmaf {
		if j.track = s.TS.Track(v.pick); j.track == nil {
			return nil, "segment cannot be repackaged"
		}
		if trick {
			if !j.track.Video {
				return nil, "not found"
			}
			j.kind = jobTrick
		}
	}
	if v.enc != nil {
		j.period = v.enc.period(s.Start)
	}
	if s.Grp != nil {
		if msg := joinParts(v, s, j); msg != "" {
			return nil, msg
		}
	}
	if v.cues {
		// Cues follow the CMAF timeline of the renditions they belong to.
		if p := c.PeerTS(rd, s.Start, s.Dur/2); p != nil {
			j.tsOff = p.TSOff
		}
	}
	return j, ""
}

// produce returns the packaged file of job j, from the cache or built now.
func (o *Origin) produce(ctx context.Context, ch *channel, j *job) (*product, error) {
	return o.cache.get(ctx, j.cacheKey(ch.cfg.ID+"#"+strconv.FormatUint(ch.gen, 10)), func() (p *product, err error) {
		// The packagers parse pushed media with libraries: a panic on odd
		// input fails this request, not the origin.
		defer func() {
			if r := recover(); r != nil {
				p, err = nil, fmt.Errorf("packager panic: %v", r)
			}
		}()
		return o.build(ctx, ch, j)
	})
}

// build packages a file.
func (o *Origin) build(ctx context.Context, ch *channel, j *job) (*product, error) {
	var k keys.Key
	if j.enc != nil {
		var err error
		if k, err = o.keys.get(ctx, j.enc.resource, j.period); err != nil {
			return nil, fmt.Errorf("key of period %d: %w", j.period, err)
		}
	}
	switch j.kind {
	case jobWVTTInit:
		return wvttInit(j.lang)
	case jobCMAFInit:
		init, err := media.BuildInit(j.track)
		if err != nil {
			return nil, err
		}
		if j.enc != nil && j.enc.method != MethodAES128 {
			iv, _ := j.enc.segmentIV(k, 0, j.period, true)
			if _, err := protectInit(init, j.enc, k, iv); err != nil {
				return nil, err
			}
		}
		var buf bytes.Buffer
		if err := init.Encode(&buf); err != nil {
			return nil, fmt.Errorf("encode init: %w", err)
		}
		return o.finishAES(j, k, buf.Bytes(), nil)
	case jobInit:
		data, err := o.readStored(ctx, j.path)
		if err != nil {
			return nil, err
		}
		if j.enc != nil && (j.enc.method == MethodCBCS || j.enc.method == MethodCENC) {
			init, _, err := protectStoredInit(data, j, k)
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			if err := init.Encode(&buf); err != nil {
				return nil, fmt.Errorf("encode init: %w", err)
			}
			return &product{data: buf.Bytes()}, nil
		}
		return o.finishAES(j, k, data, nil)
	}
	if len(j.parts) > 0 {
		return o.buildJoined(ctx, j, k)
	}
	data, err := o.readStored(ctx, j.path)
	if err != nil {
		return nil, err
	}
	if j.kind == jobWVTT {
		return wvttSegment(data, j)
	}
	switch {
	case j.cmaf:
		d, err := media.DemuxTS(data)
		if err != nil {
			return nil, err
		}
		pack := media.CMAFSegment
		if j.kind == jobTrick {
			pack = trickSegment
		}
		seg, err := pack(d, j.track, j.seq, j.tsBase, j.tsOff, j.dur*9/100000)
		if err != nil {
			return nil, err
		}
		if j.enc != nil && j.enc.method != MethodAES128 {
			if err := encryptCMAF(seg, j, k); err != nil {
				return nil, err
			}
		}
		var buf bytes.Buffer
		if err := seg.Encode(&buf); err != nil {
			return nil, fmt.Errorf("encode segment: %w", err)
		}
		data = buf.Bytes()
		var kf *media.Keyframes
		if j.track.Video {
			if kf, err = media.ScanFMP4(data, nil); err != nil {
				return nil, err
			}
		}
		return o.finishAES(j, k, data, kf)
	case j.enc != nil && j.enc.method == MethodSampleAES:
		if j.ext != ".ts" {
			return nil, errors.New("SAMPLE-AES needs TS segments")
		}
		d, err := media.DemuxTS(data)
		if err != nil {
			return nil, err
		}
		iv, _ := j.enc.segmentIV(k, j.seq, j.period, false)
		out, err := media.SampleAESTS(d, k.Value, iv)
		if err != nil {
			return nil, err
		}
		kf, err := media.ScanTS(out)
		if err != nil {
			return nil, err
		}
		return &product{data: out, kf: kf}, nil
	case j.enc != nil && (j.enc.method == MethodCBCS || j.enc.method == MethodCENC):
		if j.initPath == "" {
			return nil, errors.New("fMP4 segment without an init section")
		}
		initData, err := o.readStored(ctx, j.initPath)
		if err != nil {
			return nil, err
		}
		return encryptStoredFMP4(data, initData, j, k)
	case index.IsSubtitles(j.ext) && j.tsOff != 0:
		data = media.ShiftTimestampMap(data, j.tsOff)
	}
	return o.finishAES(j, k, data, nil)
}

// finishAES applies whole-file AES-128 when the endpoint uses it.
func (o *Origin) finishAES(j *job, k keys.Key, data []byte, kf *media.Keyframes) (*product, error) {
	if j.enc == nil || j.enc.method != MethodAES128 {
		return &product{data: data, kf: kf}, nil
	}
	hasInit := j.hasInit || j.kind != jobSegment
	iv, _ := j.enc.segmentIV(k, j.seq, j.period, hasInit)
	out, err := aes128CBC(k.Value, iv, data)
	if err != nil {
		return nil, err
	}
	return &product{data: out}, nil
}

// protectInit adds the protection boxes (sinf with tenc, W3C common PSSH)
// of a cbcs or cenc endpoint to a one-track init segment.
func protectInit(init *mp4.InitSegment, e *encSpec, k keys.Key, iv []byte) (*mp4.InitProtectData, error) {
	pssh, err := mp4.NewPsshBox(commonPSSHSystemID, []string{k.ID.String()}, nil)
	if err != nil {
		return nil, err
	}
	ipd, err := mp4.InitProtect(init, k.Value.Bytes(), iv, e.method, mp4.UUID(k.ID[:]), []*mp4.PsshBox{pssh})
	if err != nil {
		return nil, fmt.Errorf("protect init: %w", err)
	}
	return ipd, nil
}

// encryptCMAF encrypts the fragments of a repackaged segment with cbcs or
// cenc (mp4ff's Common Encryption).
func encryptCMAF(seg *mp4.MediaSegment, j *job, k keys.Key) error {
	init, err := media.BuildInit(j.track)
	if err != nil {
		return err
	}
	iv, _ := j.enc.segmentIV(k, j.seq, j.period, true)
	ipd, err := protectInit(init, j.enc, k, iv)
	if err != nil {
		return err
	}
	for n, frag := range seg.Fragments {
		fiv := iv
		if j.enc.method == MethodCENC {
			fiv = fragmentIV(j.seq, n)
		}
		if err := mp4.EncryptFragment(frag, k.Value.Bytes(), fiv, ipd); err != nil {
			return fmt.Errorf("encrypt fragment: %w", err)
		}
	}
	return nil
}

// derivedKeyframes returns the keyframes of the packaged form of each of
// segs (nil for segments that cannot be packaged), packaging at most
// maxIFramePackaging segments that were never packaged before.
func (o *Origin) derivedKeyframes(ctx context.Context, ch *channel, v *rview, segs []index.Rec) ([]*media.Keyframes, error) {
	kfs := make([]*media.Keyframes, len(segs))
	id := v.ep.id + "/" + v.name
	built := 0
	for i := range segs {
		s := &segs[i]
		if s.File == nil {
			continue
		}
		ch.mu.Lock()
		kf, ok := s.File.Derived[id]
		var j *job
		if !ok && built < maxIFramePackaging {
			j, _ = ch.job(v, strconv.FormatInt(s.Seq, 10), v.ext())
		}
		ch.mu.Unlock()
		if ok || j == nil {
			kfs[i] = kf
			continue
		}
		built++
		p, err := o.produce(ctx, ch, j)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			o.log.Warn("package segment", logChannel, ch.cfg.ID, logEndpoint, v.ep.id, logFile, path.Join(v.name, strconv.FormatInt(s.Seq, 10)), logErr, err)
			continue
		}
		kfs[i] = p.kf
		ch.mu.Lock()
		if s.File.Derived == nil {
			s.File.Derived = make(map[string]*media.Keyframes)
		}
		s.File.Derived[id] = p.kf
		ch.mu.Unlock()
	}
	return kfs, nil
}

// addKeyTags fetches the keys of refs and sets their EXT-X-KEY tags.
func (o *Origin) addKeyTags(ctx context.Context, ch *channel, v *rview, refs []keyRef) error {
	if len(refs) == 0 {
		return nil
	}
	var (
		k      keys.Key
		have   bool
		period int64
	)
	for _, ref := range refs {
		if !have || ref.period != period {
			var err error
			if k, err = o.keys.get(ctx, v.enc.resource, ref.period); err != nil {
				return fmt.Errorf("key of period %d: %w", ref.period, err)
			}
			have, period = true, ref.period
		}
		iv, explicit := v.enc.segmentIV(k, ref.seq, ref.period, v.hasInit)
		if !ref.newKey && !v.enc.repeat && !v.enc.perSegmentIV(k) {
			continue
		}
		tag, err := v.enc.keyTag(ch.cfg.ID, v.ep.id, k, ref.period, iv, explicit)
		if err != nil {
			return err
		}
		ref.seg.Keys = []*hls.Key{tag}
	}
	return nil
}

// protectStoredInit decodes a stored (fMP4 ingest) init section and adds
// the protection boxes of a cbcs or cenc endpoint. Only one-track init
// sections can be protected.
func protectStoredInit(data []byte, j *job, k keys.Key) (*mp4.InitSegment, *mp4.InitProtectData, error) {
	f, err := mp4.DecodeFile(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("decode init: %w", err)
	}
	if f.Init == nil || f.Init.Moov == nil || len(f.Init.Moov.Traks) != 1 {
		return nil, nil, errors.New("cbcs/cenc needs fMP4 ingest with one track per init section")
	}
	iv, _ := j.enc.segmentIV(k, j.seq, j.period, true)
	ipd, err := protectInit(f.Init, j.enc, k, iv)
	if err != nil {
		return nil, nil, err
	}
	return f.Init, ipd, nil
}

// encryptStoredFMP4 encrypts the fragments of a stored (fMP4 ingest)
// segment with cbcs or cenc.
func encryptStoredFMP4(data, initData []byte, j *job, k keys.Key) (*product, error) {
	_, ipd, err := protectStoredInit(initData, j, k)
	if err != nil {
		return nil, err
	}
	f, err := mp4.DecodeFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode segment: %w", err)
	}
	iv, _ := j.enc.segmentIV(k, j.seq, j.period, true)
	n := 0
	for _, seg := range f.Segments {
		for _, frag := range seg.Fragments {
			fiv := iv
			if j.enc.method == MethodCENC {
				fiv = fragmentIV(j.seq, n)
			}
			n++
			if err := mp4.EncryptFragment(frag, k.Value.Bytes(), fiv, ipd); err != nil {
				return nil, fmt.Errorf("encrypt fragment: %w", err)
			}
		}
	}
	var buf bytes.Buffer
	if err := f.Encode(&buf); err != nil {
		return nil, fmt.Errorf("encode segment: %w", err)
	}
	out := buf.Bytes()
	kf, _ := media.ScanFMP4(out, nil)
	return &product{data: out, kf: kf}, nil
}
