package keys

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/pullpush/pullpush/internal/logkey"
)

// Paths served by Server.
const (
	// SPEKEPath is where Server answers CPIX key requests (POST).
	SPEKEPath = "/speke/v1.0/copyProtection"
	// KeysPath is the prefix of raw key URLs: KeysPath + {resource}/{kid}.
	KeysPath = "/keys/"
)

// DefaultMaxKeys bounds the random keys a Server without a secret keeps.
const DefaultMaxKeys = 100_000

// Log keys of the key server.
const (
	logResource = "resource"
	logKID      = "kid"
	logRemote   = "remote"
	logErr      = logkey.Err
)

// ServerConfig configures a key server.
type ServerConfig struct {
	// Token, when set, must accompany every request, as
	// "Authorization: Bearer <token>" or ?token=<token>.
	Token string
	// Secret, when set, makes keys derived: the key of (resource, kid) is
	// HMAC-SHA256(Secret, resource, kid) cut to 16 bytes, so a restarted
	// server serves the same keys and any key ID is valid. When empty,
	// keys are random and kept in memory (lost on restart).
	Secret []byte
	// Static keys are served first (their key IDs, for their channels).
	Static *Static
	// PublicURL is the base of the key URIs returned in CPIX responses,
	// e.g. https://keys.example.com (default: http://<request Host>).
	PublicURL string
	// MaxKeys bounds the random keys kept in memory (default 100000).
	MaxKeys int
	// Logger receives one line per issued or refused key, never a key
	// value (default: discard).
	Logger *slog.Logger
}

// Server is a small SPEKE/CPIX key server with a raw-key endpoint for
// players. It is safe for concurrent use.
type Server struct {
	cfg ServerConfig
	log *slog.Logger
	mux *http.ServeMux

	mu     sync.Mutex
	random map[string]Secret // resource/kid -> key
	order  []string          // insertion order, for the bound
}

// NewServer returns a key server.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.MaxKeys < 0 {
		return nil, errors.New("key server: MaxKeys must not be negative")
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, log: cfg.Logger, random: make(map[string]Secret)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+SPEKEPath, s.serveCPIX)
	mux.HandleFunc("POST /cpix", s.serveCPIX)
	mux.HandleFunc("GET "+KeysPath+"{resource}/{kid}", s.serveKey)
	mux.HandleFunc("OPTIONS "+KeysPath+"{resource}/{kid}", s.serveKey)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	s.mux = mux
	return s, nil
}

// Handler returns the HTTP handler: POST /speke/v1.0/copyProtection (and
// POST /cpix), GET /keys/{resource}/{kid}, GET /health.
func (s *Server) Handler() http.Handler { return s.mux }

// KeyURL returns the player URL of a key: PublicURL (or base when
// PublicURL is empty) + /keys/{resource}/{kid}.
func (s *Server) KeyURL(base, resource string, kid KID) string {
	if s.cfg.PublicURL != "" {
		base = s.cfg.PublicURL
	}
	return base + KeysPath + resource + "/" + kid.String()
}

// Provider returns an in-process Provider issuing this server's keys (no
// HTTP round trip), e.g. for a demo that runs the origin and the key
// server in one process. Key URIs are PublicURL + /keys/..., or the path
// alone (/keys/...) when PublicURL is empty, which players resolve against
// the playlist's host.
func (s *Server) Provider() Provider { return serverProvider{s} }

type serverProvider struct{ s *Server }

func (p serverProvider) Key(_ context.Context, resource string, period int64) (Key, error) {
	if !validChannel(resource) || resource == "*" {
		return Key{}, fmt.Errorf("key server: bad resource %q", resource)
	}
	kid := DeriveKID(resource, period)
	k, err := p.s.issue(resource, kid)
	if err != nil {
		return Key{}, err
	}
	if k.URI == "" {
		k.URI = p.s.KeyURL("", resource, kid)
	}
	return k, nil
}

// authorized checks the token in constant time.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	got := r.URL.Query().Get("token")
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = h
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}

// lookup returns the key of (resource, kid) if it exists (static, derived,
// or issued before).
func (s *Server) lookup(resource string, kid KID) (Key, bool) {
	if s.cfg.Static != nil {
		if k, ok := s.cfg.Static.Lookup(resource, kid); ok {
			return k, true
		}
	}
	if len(s.cfg.Secret) > 0 {
		return Key{ID: kid, Value: s.derive(resource, kid)}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.random[resource+"/"+kid.String()]
	return Key{ID: kid, Value: v}, ok
}

func (s *Server) derive(resource string, kid KID) Secret {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte("pullpush/key\x00" + resource + "\x00"))
	m.Write(kid[:])
	var k Secret
	copy(k[:], m.Sum(nil))
	return k
}

// issue returns the key of (resource, kid), creating a random one when the
// server has neither a static nor a derived key for it.
func (s *Server) issue(resource string, kid KID) (Key, error) {
	if k, ok := s.lookup(resource, kid); ok {
		return k, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := resource + "/" + kid.String()
	if v, ok := s.random[id]; ok {
		return Key{ID: kid, Value: v}, nil
	}
	var v Secret
	if _, err := rand.Read(v[:]); err != nil {
		return Key{}, fmt.Errorf("key server: random key: %w", err)
	}
	s.random[id] = v
	s.order = append(s.order, id)
	if over := len(s.order) - s.cfg.MaxKeys; over > 0 {
		for _, old := range s.order[:over] {
			delete(s.random, old)
		}
		s.order = append(s.order[:0], s.order[over:]...)
	}
	s.log.Info("key issued", logResource, resource, logKID, kid.String())
	return Key{ID: kid, Value: v}, nil
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"error\":%q}\n", msg)
}

func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization")
	h.Set("Access-Control-Max-Age", "86400")
}

// serveKey serves GET /keys/{resource}/{kid}: the raw 16-byte key.
func (s *Server) serveKey(w http.ResponseWriter, r *http.Request) {
	setCORS(w.Header())
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !s.authorized(r) {
		s.log.Warn("key request refused: bad or missing token", logRemote, r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="pullpush-keys"`)
		writeErr(w, http.StatusUnauthorized, "token required")
		return
	}
	resource := r.PathValue("resource")
	kid, err := ParseKID(r.PathValue("kid"))
	if err != nil || !validChannel(resource) || resource == "*" {
		writeErr(w, http.StatusNotFound, "no such key")
		return
	}
	k, ok := s.lookup(resource, kid)
	if !ok {
		writeErr(w, http.StatusNotFound, "no such key")
		return
	}
	s.log.Debug("key served", logResource, resource, logKID, kid.String(), logRemote, r.RemoteAddr)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(k.Value[:])
}

// maxCPIXRequest bounds a CPIX request body.
const maxCPIXRequest = 1 << 20

// serveCPIX answers a SPEKE v1 request: every ContentKey gets its value,
// and every DRMSystem of the HLS AES-128 system ID (one is added per key
// when the request has none) gets the key URI.
func (s *Server) serveCPIX(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		s.log.Warn("CPIX request refused: bad or missing token", logRemote, r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="pullpush-keys"`)
		writeErr(w, http.StatusUnauthorized, "token required")
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCPIXRequest))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	doc, err := ParseCPIX(data)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	resource := doc.ID
	if !validChannel(resource) || resource == "*" {
		writeErr(w, http.StatusBadRequest, "CPIX id must match [A-Za-z0-9_.-]{1,128}")
		return
	}
	if len(doc.ContentKeys) == 0 {
		writeErr(w, http.StatusBadRequest, "no ContentKey in request")
		return
	}
	base := "http://" + r.Host
	hasSystem := map[KID]bool{}
	for i := range doc.DRMSystems {
		d := &doc.DRMSystems[i]
		kid, err := ParseKID(d.KID)
		if err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("DRMSystem kid: %v", err))
			return
		}
		if strings.EqualFold(d.SystemID, SystemIDHLSAES128) {
			s.fillSystem(d, base, resource, kid)
			hasSystem[kid] = true
		}
	}
	for i := range doc.ContentKeys {
		ck := &doc.ContentKeys[i]
		kid, err := ParseKID(ck.KID)
		if err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("ContentKey kid: %v", err))
			return
		}
		k, err := s.issue(resource, kid)
		if err != nil {
			s.log.Error("issue key", logResource, resource, logKID, kid.String(), logErr, err)
			writeErr(w, http.StatusInternalServerError, "cannot issue key")
			return
		}
		ck.PlainValue = base64.StdEncoding.EncodeToString(k.Value[:])
		if ck.ExplicitIV == "" && len(k.IV) == 16 {
			ck.ExplicitIV = base64.StdEncoding.EncodeToString(k.IV)
		}
		if !hasSystem[kid] {
			d := CPIXDRMSystem{KID: kid.UUID(), SystemID: SystemIDHLSAES128}
			s.fillSystem(&d, base, resource, kid)
			doc.DRMSystems = append(doc.DRMSystems, d)
			hasSystem[kid] = true
		}
		s.log.Info("key delivered over CPIX", logResource, resource, logKID, kid.String(), logRemote, r.RemoteAddr)
	}
	out, err := doc.Marshal()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Speke-User-Agent", "pullpush-keys")
	w.Write(out)
}

func (s *Server) fillSystem(d *CPIXDRMSystem, base, resource string, kid KID) {
	uri := s.KeyURL(base, resource, kid)
	if st, ok := s.staticURI(resource, kid); ok {
		uri = st
	}
	d.URIExtXKey = base64.StdEncoding.EncodeToString([]byte(uri))
	d.KeyFormat = base64.StdEncoding.EncodeToString([]byte("identity"))
	d.KeyFormatVersions = base64.StdEncoding.EncodeToString([]byte("1"))
}

func (s *Server) staticURI(resource string, kid KID) (string, bool) {
	if s.cfg.Static == nil {
		return "", false
	}
	k, ok := s.cfg.Static.Lookup(resource, kid)
	if !ok || k.URI == "" {
		return "", false
	}
	return k.URI, true
}
