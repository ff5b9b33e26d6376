package main

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pullpush/pullpush/digest"
)

// Sink authentication modes.
const (
	authStrict  = "strict"  // digest.Verifier: nonce expiry and nonce-count replay protection
	authLenient = "lenient" // digest response hash checked; nonce counts may repeat
	authNone    = "none"    // no authentication
)

// segKey identifies one synthetic segment.
type segKey struct {
	C   uint32
	R   uint16
	Seq uint64
}

// segRecord is what the sink knows about one delivered segment.
type segRecord struct {
	C      uint32 `json:"c"`
	R      uint16 `json:"r"`
	Seq    uint64 `json:"s"`
	Listed int64  `json:"l"` // unix ns, from the marker
	Done   int64  `json:"d"` // unix ns, first PUT completion
	Count  int32  `json:"n"` // PUTs of this segment (1 = no duplicate)
}

// sinkStats are the counters of a running sink, served at /stats.
type sinkStats struct {
	Auth             string           `json:"auth"`
	Puts             int64            `json:"puts"`
	SegmentPuts      int64            `json:"segmentPuts"`
	PlaylistPuts     int64            `json:"playlistPuts"`
	OtherPuts        int64            `json:"otherPuts"`
	Deletes          int64            `json:"deletes"`
	SegmentBytes     int64            `json:"segmentBytes"`
	PlaylistBytes    int64            `json:"playlistBytes"`
	Segments         int              `json:"segments"`         // distinct segments delivered
	DuplicateSegment int64            `json:"duplicateSegment"` // extra PUTs of an already delivered segment
	DuplicatePath    int64            `json:"duplicatePath"`    // extra PUTs of an already written segment path
	BadSize          int64            `json:"badSize"`          // segment bodies whose size differs from the marker's
	Misrouted        int64            `json:"misrouted"`        // segments PUT under another channel's ingest path
	ReadErrors       int64            `json:"readErrors"`       // bodies that failed mid-transfer
	RemuxedPuts      int64            `json:"remuxedPuts"`      // TS bodies without a leading marker packet, scanned for SEI markers
	RemuxedSegments  int64            `json:"remuxedSegments"`  // markers found in them (one per source segment)
	Unauthorized     map[string]int64 `json:"unauthorized"`     // 401 answers by reason
}

// sink accepts MediaPackage-style WebDAV PUTs with digest auth, discards the
// bodies and records each synthetic segment's first completion time.
type sink struct {
	mode     string
	user     string
	pass     string
	realm    string
	verifier *digest.Verifier
	bufs     sync.Pool
	scans    sync.Pool // whole bodies of remuxed segments
	now      func() time.Time

	mu    sync.Mutex
	st    sinkStats
	segs  map[segKey]*segRecord
	paths map[string]int32
}

func newSink(mode, user, pass, realm string) (*sink, error) {
	switch mode {
	case authStrict, authLenient, authNone:
	default:
		return nil, fmt.Errorf("%w: unknown auth mode %q (strict, lenient, none)", errUsage, mode)
	}
	s := &sink{mode: mode, user: user, pass: pass, realm: realm, now: time.Now,
		segs: make(map[segKey]*segRecord), paths: make(map[string]int32)}
	s.st.Auth = mode
	s.st.Unauthorized = map[string]int64{}
	s.verifier = digest.NewVerifier(realm, 10*time.Minute, func(u string) (string, bool) {
		return pass, u == user
	})
	s.bufs.New = func() any { b := make([]byte, 64<<10); return &b }
	s.scans.New = func() any { b := make([]byte, 0, 512<<10); return &[2][]byte{b, nil} }
	return s, nil
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/stats" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.stats())
		return
	case r.URL.Path == "/records" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.records())
		return
	}
	if r.Method != http.MethodPut && r.Method != http.MethodDelete {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.authorize(w, r) {
		return
	}
	if r.Method == http.MethodDelete {
		s.mu.Lock()
		s.st.Deletes++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.put(w, r)
}

// authorize checks r's credentials per the sink's mode and answers 401 when
// they are missing or wrong.
func (s *sink) authorize(w http.ResponseWriter, r *http.Request) bool {
	var err error
	switch s.mode {
	case authNone:
		return true
	case authStrict:
		_, err = s.verifier.Verify(r)
	case authLenient:
		err = s.verifyLenient(r)
	}
	if err == nil {
		return true
	}
	reason := "other"
	switch {
	case errors.Is(err, digest.ErrNoCredentials):
		reason = "challenge" // first request of a client: expected
	case errors.Is(err, digest.ErrStale):
		reason = "stale"
	case errors.Is(err, digest.ErrReplay):
		reason = "replay"
	case errors.Is(err, digest.ErrBadCredentials):
		reason = "bad-credentials"
	case errors.Is(err, digest.ErrMalformed):
		reason = "malformed"
	}
	s.mu.Lock()
	s.st.Unauthorized[reason]++
	s.mu.Unlock()
	s.verifier.Challenge(w, errors.Is(err, digest.ErrStale))
	return false
}

// verifyLenient checks the digest response hash (MD5, with or without
// qop=auth) but neither nonce age nor nonce-count reuse. It exists because
// the reference relay's WebDAV client reuses nonce counts under concurrency.
func (s *sink) verifyLenient(r *http.Request) error {
	h := r.Header.Get("Authorization")
	if h == "" {
		return digest.ErrNoCredentials
	}
	p, err := digest.ParseParams(h)
	if err != nil {
		return err
	}
	if p["username"] != s.user || p["realm"] != s.realm {
		return digest.ErrBadCredentials
	}
	ha1 := md5hex(s.user + ":" + s.realm + ":" + s.pass)
	ha2 := md5hex(r.Method + ":" + p["uri"])
	var want string
	if p["qop"] != "" {
		want = md5hex(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + ha2)
	} else {
		want = md5hex(ha1 + ":" + p["nonce"] + ":" + ha2)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(p["response"]))) != 1 {
		return digest.ErrBadCredentials
	}
	return nil
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// put reads (and discards) one PUT body and records it.
func (s *sink) put(w http.ResponseWriter, r *http.Request) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	n, err := io.ReadFull(r.Body, buf[:tsPacket])
	total := int64(n)
	head := buf[:n]
	var m marker
	isSeg := false
	var remuxed []marker
	scanned := false
	if err == nil {
		m, isSeg = decodeMarker(head)
		if !isSeg && head[0] == tsSync {
			scanned = true
			// A TS body without the source's marker packet: a remuxing
			// relay (ffmpeg) rewrote the packets. The markers travel in
			// the H.264 SEI of each source segment's IDR frame.
			sp := s.scans.Get().(*[2][]byte)
			defer s.scans.Put(sp)
			body := append(sp[0][:0], head...)
			for {
				if len(body) == cap(body) {
					body = append(body, 0)[:len(body)]
				}
				k, rerr := r.Body.Read(body[len(body):cap(body)])
				body = body[:len(body)+k]
				if rerr == io.EOF {
					break
				}
				if rerr != nil {
					err = rerr
					break
				}
			}
			total = int64(len(body))
			remuxed, sp[1] = scanTextMarkers(body, sp[1])
			sp[0] = body
		}
		for !scanned {
			k, rerr := r.Body.Read(buf)
			total += int64(k)
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				err = rerr
				break
			}
		}
	} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // short body: a small playlist or empty file
	}
	done := s.now()
	if err != nil {
		s.mu.Lock()
		s.st.ReadErrors++
		s.mu.Unlock()
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	path := r.URL.Path
	s.mu.Lock()
	s.st.Puts++
	switch {
	case isSeg:
		s.st.SegmentPuts++
		s.st.SegmentBytes += total
		if total != int64(m.Size) {
			s.st.BadSize++
		}
		if c, ok := ingestChannel(path); ok && c != int(m.Channel) {
			s.st.Misrouted++
		}
		k := segKey{m.Channel, m.Rendition, m.Seq}
		if rec := s.segs[k]; rec != nil {
			rec.Count++
			s.st.DuplicateSegment++
		} else {
			s.segs[k] = &segRecord{C: m.Channel, R: m.Rendition, Seq: m.Seq, Listed: m.Listed, Done: done.UnixNano(), Count: 1}
		}
		if s.paths[path]++; s.paths[path] > 1 {
			s.st.DuplicatePath++
		}
	case len(remuxed) > 0:
		s.st.SegmentPuts++
		s.st.RemuxedPuts++
		s.st.SegmentBytes += total
		c, routed := ingestChannel(path)
		for _, m := range remuxed {
			s.st.RemuxedSegments++
			if routed && c != int(m.Channel) {
				s.st.Misrouted++
			}
			k := segKey{m.Channel, m.Rendition, m.Seq}
			if rec := s.segs[k]; rec != nil {
				rec.Count++
				s.st.DuplicateSegment++
			} else {
				s.segs[k] = &segRecord{C: m.Channel, R: m.Rendition, Seq: m.Seq, Listed: m.Listed, Done: done.UnixNano(), Count: 1}
			}
		}
		if s.paths[path]++; s.paths[path] > 1 {
			s.st.DuplicatePath++
		}
	case strings.HasSuffix(path, ".m3u8"):
		s.st.PlaylistPuts++
		s.st.PlaylistBytes += total
	default:
		s.st.OtherPuts++
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// ingestChannel extracts c from the harness's ingest paths /in/v2/ch{c}/...
func ingestChannel(path string) (int, bool) {
	rest, ok := strings.CutPrefix(path, "/in/v2/ch")
	if !ok {
		return 0, false
	}
	cs, _, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, false
	}
	c, err := strconv.Atoi(cs)
	return c, err == nil
}

func (s *sink) stats() sinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Segments = len(s.segs)
	st.Unauthorized = make(map[string]int64, len(s.st.Unauthorized))
	for k, v := range s.st.Unauthorized {
		st.Unauthorized[k] = v
	}
	return st
}

func (s *sink) records() []segRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]segRecord, 0, len(s.segs))
	for _, r := range s.segs {
		out = append(out, *r)
	}
	return out
}

// runSink implements 'bench sink'.
func runSink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sink", stderr)
	listen := fs.String("listen", "127.0.0.1:0", "listen address (loopback)")
	user := fs.String("user", "bench", "digest username")
	pass := fs.String("pass", "bench", "digest password")
	realm := fs.String("realm", "pullpush-bench", "digest realm")
	auth := fs.String("auth", authStrict, "authentication: strict (digest, replay-protected), lenient (digest hash only), none")
	statsOut := fs.String("stats-out", "", "write final stats JSON to this file at exit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := newSink(*auth, *user, *pass, *realm)
	if err != nil {
		return err
	}
	err = serveUntilDone(ctx, *listen, s, stdout)
	if *statsOut != "" {
		if werr := writeJSONFile(*statsOut, s.stats()); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}
