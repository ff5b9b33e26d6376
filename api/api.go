package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pullpush/pullpush/api/internal/redact"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/metrics"
	"github.com/pullpush/pullpush/store"
)

// Log keys.
const (
	logKeyMethod   = "method"
	logKeyPath     = "path"
	logKeyStatus   = "status"
	logKeyDuration = "duration"
	logKeyRemote   = "remote"
	logKeyFetcher  = "fetcher"
	logKeyName     = "name"
	logKeyURL      = "url"
	logKeyOutput   = "output"
	logKeyErr      = logkey.Err
	logKeyCount    = "count"
)

// DefaultStopTimeout bounds how long DELETE waits for a fetcher's in-flight
// uploads.
const DefaultStopTimeout = 10 * time.Second

// Options configure an API. The zero value works: definitions live in
// memory only, no token, logs discarded.
type Options struct {
	// Store persists fetcher definitions; nil keeps them in memory only.
	Store store.Store
	// Token, when not empty, is required as "Authorization: Bearer <token>"
	// on every /api/v1 call. It is compared in constant time and never logged.
	Token string
	// Logger receives request and fetcher logs; nil discards them.
	Logger *slog.Logger
	// Metrics is served at /metrics. Give the same Metrics to
	// pullpush.Options.Observer to get per-fetcher series; nil creates one
	// with only the Go, process and fetcher-state series.
	Metrics *metrics.Metrics
	// CORSOrigin, when not empty, is sent as Access-Control-Allow-Origin and
	// makes the API answer CORS preflight (OPTIONS) requests, for browser
	// dashboards on another origin. Use "*" for any origin.
	CORSOrigin string
	// StopTimeout bounds how long DELETE waits for in-flight uploads
	// (default DefaultStopTimeout).
	StopTimeout time.Duration
	// Version is reported in the OpenAPI document (default "dev").
	Version string
	// Redactor, when set, is the one whose Handler wraps Logger and the
	// service's logger: the API registers each fetcher's secrets with it so
	// that no log line shows them, whoever writes it. When nil, the API
	// makes one and wraps Logger with it (the service's own logger is then
	// protected only against URL secrets if the caller wraps it too).
	Redactor *redact.Redactor
	// Pprof serves Go's profiling endpoints (net/http/pprof) under
	// /debug/pprof/, behind the bearer token like /api/v1.
	Pprof bool
	// Cluster, when set, makes this API one instance of a cluster sharing
	// Store (see Cluster): it lists and deletes the fetchers of every
	// instance and leaves starting them to the cluster.
	Cluster Cluster
}

// API serves the REST API for one pullpush.Service. Create it with New.
type API struct {
	svc     *pullpush.Service
	opts    Options
	log     *slog.Logger
	store   store.Store
	metrics *metrics.Metrics
	token   [sha256.Size]byte
	routes  []route
	handler http.Handler

	// opMu serialises create and delete so that the name check, the store
	// and the service agree.
	opMu sync.Mutex

	mu     sync.Mutex
	defs   map[string]store.Fetcher // definitions of fetchers created or restored here
	logged map[string][]string      // secret values registered with the Redactor, by fetcher id
	broken map[string]brokenFetcher // stored fetchers that could not be started again
	names  map[string][]string      // ids of the fetchers in defs and broken, by name
}

// brokenFetcher is a stored definition whose restart failed: it is listed
// with state "failed" and can be deleted.
type brokenFetcher struct {
	def store.Fetcher
	err string
	at  time.Time
}

// New returns the API for svc. Call Restore to start the stored fetchers.
func New(svc *pullpush.Service, opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Redactor == nil {
		opts.Redactor = redact.NewRedactor()
		opts.Logger = slog.New(opts.Redactor.Handler(opts.Logger.Handler()))
	}
	if opts.Store == nil {
		opts.Store = store.NewMemory()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	a := &API{
		svc: svc, opts: opts, log: opts.Logger, store: opts.Store, metrics: opts.Metrics,
		defs: make(map[string]store.Fetcher), broken: make(map[string]brokenFetcher),
		logged: make(map[string][]string), names: make(map[string][]string),
	}
	if opts.Token != "" {
		a.token = sha256.Sum256([]byte(opts.Token))
	}
	a.metrics.SetFetchers(a.fetcherStates)
	a.routes = a.routeTable()
	a.handler = a.buildHandler()
	return a
}

// Handler returns the HTTP handler. It serves /health, /metrics, /api/docs,
// /api/docs/openapi.json and /api/v1/...; anything else gets a JSON 404, so
// a bigger mux should mount it on those paths (or use it as its fallback).
func (a *API) Handler() http.Handler { return a.handler }

// Restore starts every stored fetcher again with its id. A definition that
// cannot be started (output no longer registered, payload now invalid, limit
// reached) is kept and listed with state "failed" and its error, so nothing
// is lost and it can be deleted. It returns the number started and an error
// only when the store cannot be read.
func (a *API) Restore(ctx context.Context) (int, error) {
	if a.clustered() {
		return 0, nil // the cluster claims and starts stored fetchers
	}
	defs, err := a.store.Fetchers(ctx)
	if err != nil {
		return 0, fmt.Errorf("restore fetchers: %w", err)
	}
	a.opMu.Lock()
	defer a.opMu.Unlock()
	started := 0
	for _, def := range defs {
		a.mu.Lock()
		_, known := a.defs[def.ID]
		a.mu.Unlock()
		if known {
			continue
		}
		if _, err := a.svc.Fetcher(def.ID); err == nil {
			continue // started by someone else already
		}
		if err := a.start(ctx, def); err != nil {
			msg := a.errorText(err, def)
			a.log.Error("fetcher not restored", logKeyFetcher, def.ID, logKeyName, def.Name, logKeyErr, msg)
			a.mu.Lock()
			a.setBrokenLocked(def, "restore: "+msg)
			a.mu.Unlock()
			continue
		}
		started++
	}
	a.log.Info("fetchers restored", logKeyCount, started)
	return started, nil
}

// start builds the output of def and starts it under def.ID.
func (a *API) start(ctx context.Context, def store.Fetcher) error {
	payload := def.Payload
	if payload == nil {
		payload = json.RawMessage("{}")
	}
	out, err := a.svc.BuildOutput(def.Output, payload)
	if err != nil {
		return err
	}
	return a.startWith(ctx, def, out)
}

// secretsOf lists the secret keys of the output def uses.
func (a *API) secretsOf(output string) []string {
	if f, ok := a.svc.Outputs().Lookup(output); ok {
		return f.Secrets
	}
	return nil
}

// errorText is err's message with every secret of def's payload and URL
// scrubbed.
func (a *API) errorText(err error, def store.Fetcher) string {
	secrets := redact.SecretValues(def.Payload, a.secretsOf(def.Output))
	secrets = append(secrets, redact.SecretValues(jsonString(def.URL), nil)...)
	return redact.Scrub(redact.RedactURLsIn(err.Error()), secrets)
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// fetcherStates feeds pullpush_fetchers and pullpush_fetcher_info.
func (a *API) fetcherStates() []metrics.FetcherState {
	list := a.list()
	out := make([]metrics.FetcherState, len(list))
	for i, f := range list {
		out[i] = metrics.FetcherState{ID: f.ID, Name: f.Name, Output: f.Output, State: f.State}
	}
	return out
}

// authorized reports whether r carries the configured bearer token.
func (a *API) authorized(r *http.Request) bool {
	if a.opts.Token == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], a.token[:]) == 1
}

// route is one entry of the route table that drives both the mux and the
// OpenAPI document.
type route struct {
	method  string
	path    string // OpenAPI path; also the mux pattern
	auth    bool   // needs the bearer token when one is configured
	handler http.HandlerFunc
	op      operation
}

// buildHandler mounts the route table: one mux pattern per path, with a
// dispatcher that answers 405 and Allow for other methods, and a JSON 404
// for unknown paths.
func (a *API) buildHandler() http.Handler {
	mux := http.NewServeMux()
	byPath := map[string][]route{}
	var paths []string
	for _, rt := range a.routes {
		if _, ok := byPath[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		byPath[rt.path] = append(byPath[rt.path], rt)
	}
	for _, p := range paths {
		rts := byPath[p]
		allow := allowHeader(rts)
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			method := r.Method
			if method == http.MethodHead {
				method = http.MethodGet
			}
			for _, rt := range rts {
				if rt.method == method {
					rt.handler(w, r)
					return
				}
			}
			if a.isPreflight(r) {
				w.Header().Set("Allow", allow)
				w.Header().Set("Access-Control-Allow-Methods", allow)
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				w.Header().Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s (see /api/docs)", r.URL.Path))
	})
	var h http.Handler = mux
	h = a.authMiddleware(h)
	h = a.corsMiddleware(h)
	h = trailingSlash(h)
	h = securityHeaders(h)
	h = a.logRequests(h)
	if a.opts.Pprof {
		pp := http.NewServeMux()
		pp.HandleFunc("GET /debug/pprof/", pprof.Index)
		pp.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		pp.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		pp.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		pp.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		pp.Handle("/", h)
		h = a.authMiddleware(pp)
	}
	h = a.recoverPanics(h)
	return h
}

func allowHeader(rts []route) string {
	var ms []string
	for _, rt := range rts {
		ms = append(ms, rt.method)
		if rt.method == http.MethodGet {
			ms = append(ms, http.MethodHead)
		}
	}
	sort.Strings(ms)
	return strings.Join(ms, ", ")
}

// needsAuth reports whether p is under /api/v1 or /debug/pprof, judged on the cleaned path
// so that "//api/v1" or "/x/../api/v1" cannot slip past.
func needsAuth(p string) bool {
	p = path.Clean("/" + p)
	return p == "/api/v1" || strings.HasPrefix(p, "/api/v1/") ||
		p == "/debug/pprof" || strings.HasPrefix(p, "/debug/pprof/")
}

func (a *API) authMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if needsAuth(r.URL.Path) && !a.isPreflight(r) && !a.authorized(r) {
			challenge := `Bearer realm="pullpush"`
			msg := "missing bearer token: send Authorization: Bearer <token>"
			if r.Header.Get("Authorization") != "" {
				challenge += `, error="invalid_token"`
				msg = "invalid bearer token"
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isPreflight reports a CORS preflight request, which browsers send without
// credentials; it is answered only when CORS is configured.
func (a *API) isPreflight(r *http.Request) bool {
	return a.opts.CORSOrigin != "" && r.Method == http.MethodOptions &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

func (a *API) corsMiddleware(next http.Handler) http.Handler {
	if a.opts.CORSOrigin == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", a.opts.CORSOrigin)
		if a.opts.CORSOrigin != "*" {
			w.Header().Add("Vary", "Origin")
		}
		next.ServeHTTP(w, r)
	})
}

// trailingSlash serves "/api/v1/fetcher/" as "/api/v1/fetcher", as the
// hls-pull-push server (ignoreTrailingSlash) did.
func trailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			r2 := new(http.Request)
			*r2 = *r
			u := *r.URL
			u.Path = strings.TrimSuffix(p, "/")
			u.RawPath = ""
			r2.URL = &u
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets headers that keep browsers from sniffing, framing or
// caching API responses. The docs page relaxes the CSP for its inline style.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cross-Origin-Resource-Policy", "same-site")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs one line per request: changes and errors at Info or
// above, reads at Debug. Headers and bodies are never logged.
func (a *API) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		level := slog.LevelDebug
		switch {
		case sw.status >= 500:
			level = slog.LevelError
		case sw.status >= 400, r.Method != http.MethodGet && r.Method != http.MethodHead:
			level = slog.LevelInfo
		}
		a.log.Log(r.Context(), level, "http request",
			logKeyMethod, r.Method, logKeyPath, r.URL.Path, logKeyStatus, sw.status,
			logKeyDuration, time.Since(start), logKeyRemote, r.RemoteAddr)
	})
}

func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("panic in handler", logKeyMethod, r.Method, logKeyPath, r.URL.Path, logKeyErr, fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// errorBody is every error response.
type errorBody struct {
	Error     string `json:"error"`
	FetcherID string `json:"fetcherId,omitempty"` // the existing fetcher, for 409 duplicate name
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"cannot encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// statusFor maps service errors to HTTP statuses for create.
func statusFor(err error) int {
	switch {
	case errors.Is(err, pullpush.ErrTooManyFetchers):
		return http.StatusConflict
	case errors.Is(err, pullpush.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, pullpush.ErrInvalidSpec):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}
