// Package output defines where a fetcher pushes files and the registry that
// maps an output name (as used by the REST API) to a factory.
package output

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// File is one file to push. Open may be called more than once (once per
// attempt and per target), each call returning a fresh reader positioned at
// the start of the content.
type File struct {
	Name         string // relative name, e.g. "channel_720p_1234.ts"; never contains "/" or ".."
	ContentType  string // e.g. "video/mp2t", "application/vnd.apple.mpegurl"
	CacheControl string // suggested Cache-Control for outputs that store metadata (S3)
	Size         int64  // content length in bytes, -1 when unknown
	Open         func() (io.ReadCloser, error)
}

// Target is one independent destination. Outputs with redundant
// destinations (e.g. MediaPackage with two ingest URLs) expose one Target per
// destination; the fetcher drives each target on its own so that one failing
// never holds back the other.
//
// Put and Delete must honour ctx (timeouts, cancellation) and return an error
// for every failure, including non-2xx HTTP responses. They do not retry: the
// caller owns retry and backoff.
type Target interface {
	// Name identifies the target in status and metrics; it must not contain secrets.
	Name() string
	// Put stores f under f.Name, replacing any previous content.
	Put(ctx context.Context, f File) error
	// Delete removes name. Deleting a missing file is not an error.
	Delete(ctx context.Context, name string) error
}

// Output is a configured destination for one fetcher.
type Output interface {
	// Stem is the base name for pushed files: "channel" gives channel.m3u8,
	// channel_<rendition>.m3u8 and channel_<rendition>_<seq>.<ext>.
	Stem() string
	// Targets are the independent destinations of this output (at least one).
	Targets() []Target
	// Close releases resources (idle connections, clients).
	Close() error
}

// PartTarget is implemented by targets that take Low-Latency HLS partial
// segments. A fetcher relaying a source with EXT-X-PART tags pushes each
// part to such a target as it appears, then the media playlist listing it,
// then the whole segment once complete. Every other target (and a
// PartTarget whose AcceptsParts is false) gets whole segments and
// playlists without parts only, as from a source without parts.
//
// Storage that serves what was last written (WebDAV, S3, a directory)
// accepts parts; an ingest that takes segments only (MediaPackage) does
// not.
type PartTarget interface {
	Target
	// AcceptsParts reports whether the target wants partial segments.
	AcceptsParts() bool
}

// AcceptsParts reports whether t is a PartTarget that accepts parts.
func AcceptsParts(t Target) bool {
	pt, ok := t.(PartTarget)
	return ok && pt.AcceptsParts()
}

// SegmentTimeouter is implemented by outputs whose configuration bounds
// one download attempt of a source segment (headers and body), as the
// timeoutMs payload key of hls-pull-push's mediapackage and s3 plugins
// does. The fetcher uses it instead of its own default.
type SegmentTimeouter interface {
	// SegmentTimeout is the bound; zero or negative leaves the fetcher's
	// default.
	SegmentTimeout() time.Duration
}

// SegmentTimeout returns o's SegmentTimeout when o is a SegmentTimeouter
// with a positive one, and zero otherwise.
func SegmentTimeout(o Output) time.Duration {
	if st, ok := o.(SegmentTimeouter); ok {
		if d := st.SegmentTimeout(); d > 0 {
			return d
		}
	}
	return 0
}

// MaxTimeoutMs is the largest timeoutMs a payload may give (one hour).
const MaxTimeoutMs = 3_600_000

// TimeoutMs converts the optional timeoutMs payload value (milliseconds,
// as hls-pull-push's plugins take it) to a duration: absent or 0 gives
// zero, the default. Values outside 0..MaxTimeoutMs give a *PayloadError
// for "timeoutMs".
func TimeoutMs(ms *float64) (time.Duration, error) {
	if ms == nil {
		return 0, nil
	}
	if *ms < 0 || *ms > MaxTimeoutMs {
		return 0, Invalid("timeoutMs", "must be a number of milliseconds from 0 to %d (0 or absent: the default)", MaxTimeoutMs)
	}
	return time.Duration(*ms * float64(time.Millisecond)), nil
}

// ErrInvalidPayload is wrapped by factories when the JSON payload does not
// satisfy the output's schema.
var ErrInvalidPayload = errors.New("invalid output payload")

// Factory builds an Output from the JSON payload given to the REST API.
type Factory struct {
	// Name is the output name used in the API ("mediapackage", "s3", ...).
	Name string
	// Description is one human sentence.
	Description string
	// Schema is the JSON schema of the payload, served by GET /api/v1/outputs.
	Schema json.RawMessage
	// Secrets lists the JSON object keys (at any depth) whose values are
	// secrets and must be redacted in responses and logs (e.g. "password").
	Secrets []string
	// New validates payload and builds the output. Validation errors wrap
	// ErrInvalidPayload and name the offending field.
	New func(payload json.RawMessage) (Output, error)
}

// Registry maps output names to factories. It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{factories: make(map[string]Factory)}
}

// Register adds or replaces a factory.
func (r *Registry) Register(f Factory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.factories[f.Name] = f
}

// Lookup returns the factory for name.
func (r *Registry) Lookup(name string) (Factory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.factories[name]
	return f, ok
}

// List returns all factories sorted by name.
func (r *Registry) List() []Factory {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Factory, 0, len(r.factories))
	for _, f := range r.factories {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ErrUnknownOutput is returned by Build for a name with no factory.
var ErrUnknownOutput = errors.New("unknown output")

// Build looks up name and builds an output from payload.
func (r *Registry) Build(name string, payload json.RawMessage) (Output, error) {
	f, ok := r.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownOutput, name)
	}
	out, err := f.New(payload)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", name, err)
	}
	return out, nil
}
