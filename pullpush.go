// Package pullpush relays live HLS channels: it pulls every rendition of a
// source and pushes segments and playlists to outputs such as a
// MediaPackage-style WebDAV ingest, S3, or a directory.
//
//	svc := pullpush.New(pullpush.Options{Logger: slog.Default()})
//	dest, err := mediapackage.New(mediapackage.Config{IngestURLs: ...})
//	id, err := svc.StartFetcher(ctx, pullpush.FetcherSpec{Name: "demo", URL: src, Output: dest})
package pullpush

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/output"
)

// Errors callers branch on.
var (
	ErrNotFound        = errors.New("fetcher not found")
	ErrTooManyFetchers = errors.New("too many fetchers")
	ErrInvalidSpec     = errors.New("invalid fetcher spec")
	ErrClosed          = errors.New("service closed")
)

// Options configure a Service. The zero value works.
type Options struct {
	Logger *slog.Logger
	// Client fetches sources; nil uses a client with sane timeouts.
	Client *http.Client
	// AllowHosts, when not empty, restricts every source request of every
	// fetcher (playlists, segments, keys, redirects) to these hosts: names,
	// IP addresses or "*.example.com" (see fetch.Config.AllowHosts). A
	// fetcher whose URL is off the list is refused with ErrInvalidSpec.
	AllowHosts []string
	// DenyPrivate refuses source connections to loopback, private,
	// link-local and other non-public addresses, checked on the resolved
	// address when connecting (see fetch.Config.DenyPrivate). Off by
	// default so local demos work; it cannot be combined with Client.
	DenyPrivate bool
	// SpoolDir is the parent directory of each fetcher's spool (default under os.TempDir()).
	SpoolDir string
	// SpoolBytes bounds each fetcher's spool (default fetch.DefaultSpoolBytes).
	SpoolBytes int64
	// SpoolMemoryBytes is the memory shared by all fetchers for segments
	// in flight (default fetch.DefaultSpoolMemoryBytes); segments beyond it,
	// when an output is down or slow, wait in files under SpoolDir.
	SpoolMemoryBytes int64
	// Progress persists fetcher progress across restarts (optional).
	Progress fetch.ProgressStore
	// Observer receives metrics events (optional).
	Observer fetch.Observer
	// MaxFetchers limits concurrently running fetchers (0 = unlimited).
	MaxFetchers int
	// Outputs is the output registry; nil creates an empty one.
	Outputs *output.Registry
	// WrapOutput, when set, wraps every fetcher's output before the fetcher
	// starts; the wrapper's Close must close out. A cluster uses it to fence
	// uploads to the instance that holds the fetcher's lease.
	WrapOutput func(fetcherID string, out output.Output) output.Output
}

// FetcherSpec describes a fetcher to start.
type FetcherSpec struct {
	ID          string        // optional; generated when empty
	Name        string        // human name
	URL         string        // source playlist (http or https)
	Output      output.Output // where to push
	OutputName  string        // registry name of the output, for status (optional)
	WindowSize  time.Duration // pushed playlist window (default 120 s)
	Concurrency int           // parallel transfers (default 4)
	Created     time.Time     // optional creation time, kept by callers that persist fetchers; zero means now
}

// FetcherInfo is a fetcher's definition and live status.
type FetcherInfo struct {
	ID          string    `json:"fetcherId"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	Output      string    `json:"output"`
	WindowSize  float64   `json:"windowSize"` // seconds
	Concurrency int       `json:"concurrency"`
	Created     time.Time `json:"created"`
	fetch.Status
}

// Service runs fetchers. It is safe for concurrent use.
type Service struct {
	opts    Options
	log     *slog.Logger
	outputs *output.Registry
	memory  *fetch.MemoryBudget
	sources *fetch.SourceTransport // nil when Options.Client is set

	mu       sync.Mutex
	closed   bool
	fetchers map[string]*running
	wg       sync.WaitGroup
}

type running struct {
	spec    FetcherSpec
	created time.Time
	f       *fetch.Fetcher
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
}

// New returns a Service.
func New(opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := opts.Outputs
	if reg == nil {
		reg = output.NewRegistry()
	}
	s := &Service{opts: opts, log: log, outputs: reg, memory: fetch.NewMemoryBudget(opts.SpoolMemoryBytes),
		fetchers: make(map[string]*running)}
	if opts.Client == nil {
		// One connection pool for every fetcher's source requests.
		s.sources = fetch.NewSourceTransport(opts.DenyPrivate)
	}
	return s
}

// RegisterOutput makes an output available by name to BuildOutput and the REST API.
func (s *Service) RegisterOutput(f output.Factory) { s.outputs.Register(f) }

// Outputs returns the output registry.
func (s *Service) Outputs() *output.Registry { return s.outputs }

// BuildOutput builds a registered output from its JSON payload.
func (s *Service) BuildOutput(name string, payload []byte) (output.Output, error) {
	return s.outputs.Build(name, payload)
}

// NewID returns a random fetcher id.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidateSourceURL checks that u is an absolute http or https URL.
func ValidateSourceURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%w: url: %v", ErrInvalidSpec, err)
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return fmt.Errorf("%w: url must be http or https, got %q", ErrInvalidSpec, p.Scheme)
	}
	if p.Host == "" {
		return fmt.Errorf("%w: url has no host", ErrInvalidSpec)
	}
	return nil
}

// StartFetcher starts relaying spec.URL to spec.Output and returns the fetcher id.
// The fetcher runs until StopFetcher, Close, or the source ends; ctx only
// bounds the start itself.
func (s *Service) StartFetcher(ctx context.Context, spec FetcherSpec) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := ValidateSourceURL(spec.URL); err != nil {
		return "", err
	}
	if spec.Output == nil {
		return "", fmt.Errorf("%w: no output", ErrInvalidSpec)
	}
	if spec.WindowSize < 0 || spec.Concurrency < 0 {
		return "", fmt.Errorf("%w: windowSize and concurrency must not be negative", ErrInvalidSpec)
	}
	if spec.WindowSize == 0 {
		spec.WindowSize = fetch.DefaultWindow
	}
	if spec.Concurrency == 0 {
		spec.Concurrency = fetch.DefaultConcurrency
	}
	if spec.ID == "" {
		spec.ID = NewID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	if _, dup := s.fetchers[spec.ID]; dup {
		return "", fmt.Errorf("%w: id %q already running", ErrInvalidSpec, spec.ID)
	}
	if s.opts.MaxFetchers > 0 && len(s.fetchers) >= s.opts.MaxFetchers {
		return "", fmt.Errorf("%w: limit is %d", ErrTooManyFetchers, s.opts.MaxFetchers)
	}
	observer := s.opts.Observer
	if observer == nil {
		observer = fetch.NopObserver{}
	}
	// Read before wrapping: a wrapper need not pass optional interfaces on.
	segTimeout := output.SegmentTimeout(spec.Output)
	if s.opts.WrapOutput != nil {
		spec.Output = s.opts.WrapOutput(spec.ID, spec.Output)
	}
	spoolDir := ""
	if s.opts.SpoolDir != "" {
		spoolDir = s.opts.SpoolDir + "/" + spec.ID
	}
	f, err := fetch.New(fetch.Config{
		ID: spec.ID, Name: spec.Name, URL: spec.URL, Output: spec.Output,
		Window: spec.WindowSize, Concurrency: spec.Concurrency, SegmentTimeout: segTimeout,
		Client: s.opts.Client, AllowHosts: s.opts.AllowHosts, DenyPrivate: s.opts.DenyPrivate,
		Sources:  s.sources,
		SpoolDir: spoolDir, SpoolBytes: s.opts.SpoolBytes, SpoolMemory: s.memory,
		Progress: s.opts.Progress, Observer: observer,
		Logger: s.log.With("fetcher", spec.ID, "name", spec.Name),
	})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	created := spec.Created.UTC()
	if spec.Created.IsZero() {
		created = time.Now().UTC()
	}
	r := &running{spec: spec, created: created, f: f, cancel: cancel, done: make(chan struct{})}
	s.fetchers[spec.ID] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(r.done)
		defer spec.Output.Close()
		r.err = f.Run(runCtx)
		if r.err != nil {
			s.log.Error("fetcher stopped", "fetcher", spec.ID, logkey.Err, r.err)
		}
	}()
	s.log.Info("fetcher started", "fetcher", spec.ID, "name", spec.Name, "output", spec.OutputName)
	return spec.ID, nil
}

// StopFetcher stops a fetcher, waits for in-flight uploads (bounded by ctx)
// and forgets it.
func (s *Service) StopFetcher(ctx context.Context, id string) error {
	s.mu.Lock()
	r, ok := s.fetchers[id]
	if ok {
		delete(s.fetchers, id)
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", id, ctx.Err())
	}
}

// Fetcher returns one fetcher's definition and status.
func (s *Service) Fetcher(id string) (FetcherInfo, error) {
	s.mu.Lock()
	r, ok := s.fetchers[id]
	s.mu.Unlock()
	if !ok {
		return FetcherInfo{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return r.info(), nil
}

// Fetchers lists all fetchers, oldest first.
func (s *Service) Fetchers() []FetcherInfo {
	s.mu.Lock()
	list := make([]*running, 0, len(s.fetchers))
	for _, r := range s.fetchers {
		list = append(list, r)
	}
	s.mu.Unlock()
	out := make([]FetcherInfo, 0, len(list))
	for _, r := range list {
		out = append(out, r.info())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Wait blocks until fetcher id has finished (ENDLIST, failure or stop) and
// returns its error.
func (s *Service) Wait(ctx context.Context, id string) error {
	s.mu.Lock()
	r, ok := s.fetchers[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops every fetcher, letting in-flight uploads finish until ctx ends.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for _, r := range s.fetchers {
		r.cancel()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		if s.sources != nil {
			s.sources.CloseIdleConnections()
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close: %w", ctx.Err())
	}
}

func (r *running) info() FetcherInfo {
	return FetcherInfo{
		ID: r.spec.ID, Name: r.spec.Name, URL: r.spec.URL, Output: r.spec.OutputName,
		WindowSize: r.spec.WindowSize.Seconds(), Concurrency: r.spec.Concurrency,
		Created: r.created, Status: r.f.Status(),
	}
}
