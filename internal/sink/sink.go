// Package sink is an in-process WebDAV-style ingest server for tests: it
// accepts PUT and DELETE under any path, optionally behind HTTP digest
// authentication like a MediaPackage ingest endpoint, keeps the uploaded
// files in memory, serves them back with GET (so ffprobe can play a pushed
// playlist), can inject failures, and records every request in order.
//
// Mount a Sink on an httptest.Server (loopback):
//
//	snk := sink.New(sink.Options{Username: "u", Password: "p"})
//	srv := httptest.NewServer(snk)
//	// ingest URL: srv.URL + "/in/v2/ch/a/channel"
package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pullpush/pullpush/digest"
)

// DefaultRealm is the digest realm used when Options.Realm is empty.
const DefaultRealm = "pullpush-sink"

// DefaultMaxBodySize bounds an upload when Options.MaxBodySize is 0.
const DefaultMaxBodySize = 64 << 20

// Options configures a Sink. The zero value accepts anonymous writes.
type Options struct {
	// Username and Password, when Username is set, require HTTP digest
	// authentication (MD5, qop=auth) for writes.
	Username, Password string
	// Realm is the digest realm; empty means DefaultRealm.
	Realm string
	// NonceTTL is how long a digest nonce stays valid; 0 means 5 minutes.
	NonceTTL time.Duration
	// AuthGET also requires authentication for GET and HEAD. By default
	// reads are anonymous so players and ffprobe can read pushed files.
	AuthGET bool
	// MaxBodySize bounds an upload (413 beyond); 0 means DefaultMaxBodySize.
	MaxBodySize int64
	// Clock stamps Request.Time; nil means time.Now.
	Clock func() time.Time
}

// Request is the record of one request received by a Sink.
type Request struct {
	// Arrived and Completed are ticks of one counter shared by all
	// requests: request A finished before request B started exactly when
	// A.Completed < B.Arrived.
	Arrived, Completed uint64
	// Method and Path are the request's method and URL path (not cleaned).
	Method, Path string
	// Status is the response status sent.
	Status int
	// Size is the number of body bytes read (0 when the body was not read,
	// e.g. for a 401 challenge) and SHA256 their hex digest.
	Size   int64
	SHA256 string
	// ContentType is the request's Content-Type header.
	ContentType string
	// User is the authenticated digest user, if any.
	User string
	// Injected reports that Status came from failure injection.
	Injected bool
	// Time is when the request completed (Options.Clock).
	Time time.Time
}

// OK reports a 2xx status.
func (r Request) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Sink is the recording WebDAV sink. Create it with New.
type Sink struct {
	opts     Options
	verifier *digest.Verifier
	now      func() time.Time

	mu       sync.Mutex
	files    map[string][]byte
	types    map[string]string // Content-Type given on PUT
	reqs     []Request
	tick     uint64
	changed  chan struct{} // closed and replaced on every recorded request
	failAll  int
	failNext int
	failNSt  int
	failWhen func(method, path string) int
}

// New returns a Sink configured by opts.
func New(opts Options) *Sink {
	s := &Sink{
		opts:    opts,
		now:     opts.Clock,
		files:   make(map[string][]byte),
		types:   make(map[string]string),
		changed: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.MaxBodySize <= 0 {
		s.opts.MaxBodySize = DefaultMaxBodySize
	}
	if opts.Username != "" {
		realm := opts.Realm
		if realm == "" {
			realm = DefaultRealm
		}
		user, pass := opts.Username, opts.Password
		s.verifier = digest.NewVerifier(realm, opts.NonceTTL, func(u string) (string, bool) {
			return pass, u == user
		})
	}
	return s
}

// FailAll makes every write (PUT, DELETE, MKCOL) that passes authentication
// fail with status, until FailAll(0). Bodies are read and recorded but not
// stored.
func (s *Sink) FailAll(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAll = status
}

// FailNext makes the next n authenticated writes fail with status.
func (s *Sink) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failNSt = n, status
}

// FailWhen installs a predicate consulted for every authenticated write not
// already failed by FailAll or FailNext: a non-zero result is the status to
// fail with. nil removes it. f runs on handler goroutines without the
// Sink's lock held, so it must be safe for concurrent use (it may call the
// Sink's accessors).
func (s *Sink) FailWhen(f func(method, path string) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWhen = f
}

// Files returns the stored files by path. The map is a copy; the byte
// slices are shared and must not be modified.
func (s *Sink) Files() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.files)
}

// Paths returns the stored paths, sorted.
func (s *Sink) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.files))
}

// Get returns the stored content of path (shared; do not modify).
func (s *Sink) Get(path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[path]
	return b, ok
}

// Requests returns a copy of the request log in completion order.
func (s *Sink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Writes returns the successful PUT and DELETE requests in completion order.
func (s *Sink) Writes() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.reqs {
		if r.OK() && (r.Method == http.MethodPut || r.Method == http.MethodDelete) {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets every file and request and removes failure injection.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.files)
	clear(s.types)
	s.reqs = nil
	s.failAll, s.failNext, s.failNSt, s.failWhen = 0, 0, 0, nil
	s.notify()
}

// WaitFor blocks until cond returns true or ctx ends. cond is evaluated
// now and after every request the sink records; it may call the Sink's
// accessors. The error wraps ctx.Err().
func (s *Sink) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sink: wait: %w", ctx.Err())
		case <-ch:
		}
	}
}

// WaitForFile blocks until path is stored and returns its content.
func (s *Sink) WaitForFile(ctx context.Context, path string) ([]byte, error) {
	var b []byte
	err := s.WaitFor(ctx, func() bool {
		var ok bool
		b, ok = s.Get(path)
		return ok
	})
	if err != nil {
		return nil, fmt.Errorf("sink: wait for %s: %w", path, err)
	}
	return b, nil
}

// notify wakes WaitFor callers. Called with s.mu held.
func (s *Sink) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// ServeHTTP handles PUT, DELETE, MKCOL, GET, HEAD and OPTIONS.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tick++
	rec := Request{Arrived: s.tick, Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
	s.mu.Unlock()
	rec.Status = s.handle(w, r, &rec)
	s.mu.Lock()
	s.tick++
	rec.Completed = s.tick
	rec.Time = s.now()
	s.reqs = append(s.reqs, rec)
	s.notify()
	s.mu.Unlock()
}

// handle serves r, fills rec and returns the status written.
func (s *Sink) handle(w http.ResponseWriter, r *http.Request, rec *Request) int {
	write := false
	switch r.Method {
	case http.MethodPut, http.MethodDelete, "MKCOL":
		write = true
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		w.Header().Set("Allow", "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return http.StatusMethodNotAllowed
	}
	if s.verifier != nil && (write || s.opts.AuthGET) {
		user, err := s.verifier.Verify(r)
		if err != nil {
			s.verifier.Challenge(w, errors.Is(err, digest.ErrStale))
			return http.StatusUnauthorized
		}
		rec.User = user
	}
	var body []byte
	if r.Method == http.MethodPut {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodySize))
		rec.Size = int64(len(body))
		sum := sha256.Sum256(body)
		rec.SHA256 = hex.EncodeToString(sum[:])
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return http.StatusRequestEntityTooLarge
			}
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return http.StatusBadRequest
		}
	}
	if write {
		if st := s.injected(r.Method, r.URL.Path); st != 0 {
			rec.Injected = true
			http.Error(w, fmt.Sprintf("injected failure %d", st), st)
			return st
		}
	}
	p := r.URL.Path
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Allow", "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL")
		w.Header().Set("DAV", "1")
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	case "MKCOL":
		w.WriteHeader(http.StatusCreated)
		return http.StatusCreated
	case http.MethodPut:
		s.mu.Lock()
		_, existed := s.files[p]
		s.files[p] = body
		s.types[p] = rec.ContentType
		s.mu.Unlock()
		if existed {
			w.WriteHeader(http.StatusNoContent)
			return http.StatusNoContent
		}
		w.WriteHeader(http.StatusCreated)
		return http.StatusCreated
	case http.MethodDelete:
		s.mu.Lock()
		_, existed := s.files[p]
		delete(s.files, p)
		delete(s.types, p)
		s.mu.Unlock()
		if !existed {
			http.NotFound(w, r)
			return http.StatusNotFound
		}
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	default: // GET, HEAD
		s.mu.Lock()
		b, ok := s.files[p]
		ct := s.types[p]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return http.StatusNotFound
		}
		w.Header().Set("Content-Type", contentType(p, ct))
		if strings.HasSuffix(p, ".m3u8") {
			w.Header().Set("Cache-Control", "no-cache")
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		http.ServeContent(sw, r, "", time.Time{}, bytes.NewReader(b))
		return sw.status
	}
}

// injected returns the status to fail a write with, or 0.
func (s *Sink) injected(method, path string) int {
	s.mu.Lock()
	if s.failAll != 0 {
		st := s.failAll
		s.mu.Unlock()
		return st
	}
	if s.failNext > 0 {
		s.failNext--
		st := s.failNSt
		s.mu.Unlock()
		return st
	}
	f := s.failWhen
	s.mu.Unlock()
	if f != nil {
		return f(method, path)
	}
	return 0
}

// contentType picks a type from the extension, else the uploaded type.
func contentType(p, uploaded string) string {
	switch path.Ext(p) {
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".ts":
		return "video/mp2t"
	case ".m4s", ".mp4", ".cmfv", ".cmfa":
		return "video/mp4"
	case ".aac":
		return "audio/aac"
	case ".vtt":
		return "text/vtt"
	case ".json":
		return "application/json"
	}
	if uploaded != "" {
		return uploaded
	}
	return "application/octet-stream"
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
