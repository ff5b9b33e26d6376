// Package harvest turns a past window of an origin channel into a VOD HLS
// asset (live-to-VOD, as MediaPackage's harvest jobs do): the multivariant
// playlist, every media and I-frame playlist of the window with
// EXT-X-ENDLIST, and every segment, init section and local key they name,
// written to a pullpush output (a directory, S3, WebDAV...); for a DASH
// endpoint also its static MPD (index.mpd) over the same files.
//
// A job reads the window from the origin's own playback handler, in
// process, exactly as a player would fetch it with ?start=&end=, so the
// asset holds the same bytes the endpoint serves. Files are flattened into
// one directory (channel_video/123.ts becomes channel_video_123.ts) and
// the playlists rewritten to name them; segments are written before the
// playlists that list them, and the multivariant playlist (index.m3u8,
// then index.mpd) last, so a reader never finds a manifest naming a
// missing file.
//
// Jobs run one at a time per Manager, in order of submission; their state
// (pending, running, succeeded, failed with a reason, progress) is kept in
// a JSON file when the Manager has one, so it survives a restart (a job
// that was running is failed with "interrupted").
package harvest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pullpush/pullpush/internal/atomicfile"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/output"
)

// Job states.
const (
	StatePending   = "pending"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// Destination is where a job writes the asset: an output of the registry
// (e.g. "file" with {"dir": ...}, "s3" with the s3 output's payload).
type Destination struct {
	Output  string          `json:"output"`
	Payload json.RawMessage `json:"payload"`
}

// Request asks for the window [Start, End) of a channel's endpoint
// (Endpoint "" is the channel's default endpoint).
type Request struct {
	Channel     string      `json:"channel"`
	Endpoint    string      `json:"endpoint,omitempty"`
	Start       time.Time   `json:"start"`
	End         time.Time   `json:"end"`
	Destination Destination `json:"destination"`
}

// Job is a submitted request and its state. Destination payloads are
// kept with their secrets for the run; Manager methods return copies with
// secrets redacted.
type Job struct {
	ID       string    `json:"id"`
	Request            // the window and destination
	State    string    `json:"state"`
	Reason   string    `json:"reason,omitempty"`  // why it failed
	Progress float64   `json:"progress"`          // files written / files of the asset, 0..1
	Files    int       `json:"files"`             // files written
	Bytes    int64     `json:"bytes"`             // bytes written
	Created  time.Time `json:"created"`           // when it was submitted
	Finished time.Time `json:"finished,omitzero"` // when it succeeded or failed
}

// Config configures a Manager.
type Config struct {
	// Origin is the origin's playback handler (origin.Origin.Handler).
	Origin http.Handler
	// Endpoints, when set, lists a channel's endpoints (origin.Origin.Endpoints)
	// so that Submit refuses an unknown channel or endpoint by name.
	Endpoints func(channel string) ([]string, bool)
	// ManifestFile, when set, names an endpoint's multivariant playlist
	// (origin.Origin.ManifestFile); default index.m3u8.
	ManifestFile func(channel, endpoint string) string
	// DASHManifest, when set, names a DASH endpoint's MPD
	// (origin.Origin.DASHManifest), "" for other endpoints: the asset of
	// a DASH endpoint also gets a static MPD.
	DASHManifest func(channel, endpoint string) string
	// Outputs builds destinations; Redact removes their secrets from the
	// jobs the Manager returns.
	Outputs *output.Registry
	Redact  func(name string, payload json.RawMessage) json.RawMessage
	// StateFile, when set, keeps the jobs across restarts.
	StateFile string
	Logger    *slog.Logger
	Now       func() time.Time
	// MaxJobs bounds the jobs kept (oldest finished ones are forgotten
	// first); default 1000.
	MaxJobs int
}

// ErrBadRequest is wrapped by Submit's errors about the request itself.
var ErrBadRequest = errors.New("bad harvest request")

// ErrNotFound is wrapped by Submit's error for a channel or endpoint the
// origin does not serve.
var ErrNotFound = errors.New("not found")

// Manager runs harvest jobs.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu    sync.Mutex
	jobs  map[string]*Job
	order []string // submission order
}

// New returns a Manager and starts its worker; Close stops it.
func New(cfg Config) (*Manager, error) {
	if cfg.Origin == nil || cfg.Outputs == nil {
		return nil, errors.New("harvest: Origin and Outputs are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = 1000
	}
	if cfg.Redact == nil {
		cfg.Redact = func(string, json.RawMessage) json.RawMessage { return json.RawMessage(`{}`) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1),
		done: make(chan struct{}), jobs: map[string]*Job{}}
	if err := m.load(); err != nil {
		cancel()
		return nil, err
	}
	go m.worker()
	m.kick()
	return m, nil
}

// Close stops the worker; a running job fails with "interrupted".
func (m *Manager) Close() {
	m.cancel()
	<-m.done
}

// Submit validates req and queues a job for it. The window must be in the
// past and at most 24 hours long, the channel and endpoint must exist at
// the origin, and the destination must build.
func (m *Manager) Submit(ctx context.Context, req Request) (Job, error) {
	if req.Channel == "" {
		return Job{}, fmt.Errorf("%w: channel is required", ErrBadRequest)
	}
	if req.Start.IsZero() || req.End.IsZero() || !req.End.After(req.Start) {
		return Job{}, fmt.Errorf("%w: start and end are required, end after start", ErrBadRequest)
	}
	if req.End.After(m.cfg.Now()) {
		return Job{}, fmt.Errorf("%w: end %s is not in the past", ErrBadRequest, req.End.UTC().Format(time.RFC3339))
	}
	if req.End.Sub(req.Start) > 24*time.Hour {
		return Job{}, fmt.Errorf("%w: the window is longer than 24h", ErrBadRequest)
	}
	if req.Destination.Output == "" {
		return Job{}, fmt.Errorf("%w: destination.output is required", ErrBadRequest)
	}
	if m.cfg.Endpoints != nil {
		eps, ok := m.cfg.Endpoints(req.Channel)
		if !ok {
			return Job{}, fmt.Errorf("%w: no channel %q", ErrNotFound, req.Channel)
		}
		if req.Endpoint != "" && !slices.Contains(eps, req.Endpoint) {
			return Job{}, fmt.Errorf("%w: channel %q has no endpoint %q (it has %q)", ErrNotFound, req.Channel, req.Endpoint, eps)
		}
	}
	out, err := m.cfg.Outputs.Build(req.Destination.Output, req.Destination.Payload)
	if err != nil {
		return Job{}, fmt.Errorf("%w: destination: %v", ErrBadRequest, err)
	}
	out.Close()
	if _, err := m.get(ctx, m.multivariantPath(req)); err != nil {
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusNotFound {
			return Job{}, fmt.Errorf("%w: %v", ErrNotFound, se.msg)
		}
		return Job{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	var id [8]byte
	rand.Read(id[:])
	j := &Job{ID: hex.EncodeToString(id[:]), Request: req, State: StatePending, Created: m.cfg.Now().UTC()}
	m.mu.Lock()
	m.jobs[j.ID] = j
	m.order = append(m.order, j.ID)
	m.forget()
	out2 := m.redacted(j)
	m.saveLocked()
	m.mu.Unlock()
	m.log.Info("harvest job submitted", "job", j.ID, "channel", req.Channel, "endpoint", req.Endpoint,
		"start", req.Start, "end", req.End, "output", req.Destination.Output)
	m.kick()
	return out2, nil
}

// Job returns the job with id, secrets redacted.
func (m *Manager) Job(id string) (Job, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return Job{}, false
	}
	return m.redacted(j), true
}

// Jobs returns every job, newest first, secrets redacted.
func (m *Manager) Jobs() []Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Job, 0, len(m.order))
	for i := len(m.order) - 1; i >= 0; i-- {
		out = append(out, m.redacted(m.jobs[m.order[i]]))
	}
	return out
}

// redacted copies j without destination secrets; caller holds m.mu.
func (m *Manager) redacted(j *Job) Job {
	c := *j
	c.Destination.Payload = m.cfg.Redact(j.Destination.Output, j.Destination.Payload)
	return c
}

// forget drops the oldest finished jobs beyond MaxJobs; caller holds m.mu.
func (m *Manager) forget() {
	for len(m.order) > m.cfg.MaxJobs {
		dropped := false
		for i, id := range m.order {
			if s := m.jobs[id].State; s == StateSucceeded || s == StateFailed {
				delete(m.jobs, id)
				m.order = append(m.order[:i], m.order[i+1:]...)
				dropped = true
				break
			}
		}
		if !dropped {
			return
		}
	}
}

func (m *Manager) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// worker runs pending jobs in submission order.
func (m *Manager) worker() {
	defer close(m.done)
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.wake:
		}
		for {
			j := m.next()
			if j == nil {
				break
			}
			err := m.run(m.ctx, j)
			m.mu.Lock()
			j.Finished = m.cfg.Now().UTC()
			switch {
			case err == nil:
				j.State, j.Progress = StateSucceeded, 1
			case m.ctx.Err() != nil:
				j.State, j.Reason = StateFailed, "interrupted: the origin stopped"
			default:
				j.State, j.Reason = StateFailed, err.Error()
			}
			m.saveLocked()
			m.mu.Unlock()
			if err != nil {
				m.log.Warn("harvest job failed", "job", j.ID, logkey.Err, err)
			} else {
				m.log.Info("harvest job succeeded", "job", j.ID, "files", j.Files, "bytes", j.Bytes)
			}
			if m.ctx.Err() != nil {
				return
			}
		}
	}
}

// next marks the oldest pending job running and returns it.
func (m *Manager) next() *Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range m.order {
		if j := m.jobs[id]; j.State == StatePending {
			j.State = StateRunning
			m.saveLocked()
			return j
		}
	}
	return nil
}

// progress records a written file; caller does not hold m.mu.
func (m *Manager) progress(j *Job, bytes int64, total int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j.Files++
	j.Bytes += bytes
	if total > 0 {
		j.Progress = min(1, float64(j.Files)/float64(total))
	}
}

// stateFile is the JSON document of StateFile.
type stateFile struct {
	Jobs []*Job `json:"jobs"`
}

// load reads StateFile; a job that was pending or running when the
// process stopped is failed.
func (m *Manager) load() error {
	if m.cfg.StateFile == "" {
		return nil
	}
	data, err := os.ReadFile(m.cfg.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("harvest: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("harvest: %s: %w", m.cfg.StateFile, err)
	}
	sort.SliceStable(st.Jobs, func(a, b int) bool { return st.Jobs[a].Created.Before(st.Jobs[b].Created) })
	for _, j := range st.Jobs {
		if j.State == StatePending || j.State == StateRunning {
			j.State, j.Reason, j.Finished = StateFailed, "interrupted: the origin restarted", m.cfg.Now().UTC()
		}
		m.jobs[j.ID] = j
		m.order = append(m.order, j.ID)
	}
	return nil
}

// saveLocked writes StateFile atomically; caller holds m.mu. A failure is
// logged: the jobs go on.
func (m *Manager) saveLocked() {
	if m.cfg.StateFile == "" {
		return
	}
	st := stateFile{Jobs: make([]*Job, 0, len(m.order))}
	for _, id := range m.order {
		st.Jobs = append(st.Jobs, m.jobs[id])
	}
	data, err := json.Marshal(st)
	if err == nil {
		err = atomicfile.Write(m.cfg.StateFile, data)
	}
	if err != nil {
		m.log.Error("harvest: save job state", "file", m.cfg.StateFile, logkey.Err, err)
	}
}
