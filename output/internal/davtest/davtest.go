package davtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/output/outputtest"
)

// Options configure a Server.
type Options struct {
	// Digest, when Username is set, requires digest auth with these credentials.
	Digest *Credentials
	// Basic requires basic auth with these credentials.
	Basic *Credentials
	// Handler, when set, answers every request instead of the recorder
	// (after authentication).
	Handler http.Handler
}

// Credentials are a username and password.
type Credentials struct{ Username, Password string }

// Stored is what a PUT stored.
type Stored struct {
	Data          []byte
	ContentType   string
	ContentLength int64 // request Content-Length, -1 for chunked
	Header        http.Header
}

// Request is one request the recorder handled (after authentication).
type Request struct {
	Method, Path string
	Header       http.Header
}

// Server records PUTs and DELETEs by URL path.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	files    map[string]Stored
	inflight map[string]*atomic.Int64
	requests []Request
}

// New starts a server on 127.0.0.1 and closes it when t ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{files: make(map[string]Stored), inflight: make(map[string]*atomic.Int64)}
	var h http.Handler = http.HandlerFunc(s.record)
	if opts.Handler != nil {
		h = opts.Handler
	}
	if c := opts.Digest; c != nil {
		v := digest.NewVerifier("pullpush-test", time.Minute, func(user string) (string, bool) {
			return c.Password, user == c.Username
		})
		h = v.Middleware(h)
	}
	if c := opts.Basic; c != nil {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != c.Username || p != c.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	s.Server = httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func (s *Server) record(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()})
	s.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		n := new(atomic.Int64)
		s.mu.Lock()
		s.inflight[r.URL.Path] = n
		s.mu.Unlock()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			k, err := r.Body.Read(buf)
			b.Write(buf[:k])
			n.Add(int64(k))
			if err == io.EOF {
				break
			}
			if err != nil { // client gone: store nothing
				return
			}
		}
		s.mu.Lock()
		s.files[r.URL.Path] = Stored{
			Data:          []byte(b.String()),
			ContentType:   r.Header.Get("Content-Type"),
			ContentLength: r.ContentLength,
			Header:        r.Header.Clone(),
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		s.mu.Lock()
		_, ok := s.files[r.URL.Path]
		delete(s.files, r.URL.Path)
		s.mu.Unlock()
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// Get returns what is stored at path.
func (s *Server) Get(path string) (Stored, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[path]
	return f, ok
}

// Paths returns the stored paths.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.files))
	for p := range s.files {
		out = append(out, p)
	}
	return out
}

// Requests returns the requests recorded so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Received returns the body bytes received so far by the latest PUT to path.
func (s *Server) Received(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.inflight[path]; n != nil {
		return n.Load()
	}
	return 0
}

// Reader adapts servers (one per target, each with the directory its
// target writes to) to outputtest.Reader.
type Reader struct {
	Servers []*Server
	Dirs    []string // URL path of each target's directory, ending in "/"
}

var (
	_ outputtest.Reader          = Reader{}
	_ outputtest.RequestObserver = Reader{}
	_ outputtest.MetadataKeeper  = Reader{}
)

// Get implements outputtest.Reader.
func (r Reader) Get(t testing.TB, target int, name string) (outputtest.Object, bool) {
	f, ok := r.Servers[target].Get(r.Dirs[target] + name)
	if !ok {
		return outputtest.Object{}, false
	}
	return outputtest.Object{Data: f.Data, ContentType: f.ContentType}, true
}

// RequestContentLength implements outputtest.RequestObserver.
func (r Reader) RequestContentLength(target int, name string) (int64, bool) {
	f, ok := r.Servers[target].Get(r.Dirs[target] + name)
	return f.ContentLength, ok
}

// Received implements outputtest.RequestObserver.
func (r Reader) Received(target int, name string) int64 {
	return r.Servers[target].Received(r.Dirs[target] + name)
}

// KeepsMetadata implements outputtest.MetadataKeeper: the content type
// header is recorded; Cache-Control is not sent over HTTP PUT.
func (r Reader) KeepsMetadata() (contentType, cacheControl bool) { return true, false }
