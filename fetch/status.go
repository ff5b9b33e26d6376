package fetch

import "time"

// State is the lifecycle state of a fetcher.
type State string

// Fetcher states.
const (
	StateStarting State = "starting" // created, first playlist not yet loaded
	StateRunning  State = "running"  // polling and pushing
	StateRetrying State = "retrying" // source or every output failing, backing off
	StateFailed   State = "failed"   // gave up (bad source, unrecoverable)
	StateStopped  State = "stopped"  // stopped by request
	StateEnded    State = "ended"    // source reached ENDLIST and everything was pushed
)

// TargetStatus is the progress of one output target.
type TargetStatus struct {
	Name            string    `json:"name"`
	SegmentsPushed  int64     `json:"segmentsPushed"`
	BytesPushed     int64     `json:"bytesPushed"`
	PushFailures    int64     `json:"pushFailures"`
	SegmentsDropped int64     `json:"segmentsDropped"` // dropped from a full spool (declared gaps)
	Pending         int       `json:"pending"`         // files waiting to be pushed
	LastPush        time.Time `json:"lastPush,omitzero"`
	LastError       string    `json:"lastError,omitempty"`
	LastErrorAt     time.Time `json:"lastErrorAt,omitzero"`
}

// RenditionStatus is the progress of one source rendition.
type RenditionStatus struct {
	Name           string    `json:"name"`          // name used in pushed file names
	URI            string    `json:"uri"`           // source media playlist URL
	Type           string    `json:"type"`          // video, audio, subtitles
	MediaSequence  int64     `json:"mediaSequence"` // last source media sequence seen
	SegmentsPulled int64     `json:"segmentsPulled"`
	SegmentsMissed int64     `json:"segmentsMissed"` // gone from the source before download (gaps)
	Reloads        int64     `json:"reloads"`
	LastReload     time.Time `json:"lastReload,omitzero"`
	Stalled        bool      `json:"stalled"`
}

// Status is a snapshot of a fetcher.
type Status struct {
	State          State             `json:"state"`
	LastError      string            `json:"lastError,omitempty"`
	LastErrorAt    time.Time         `json:"lastErrorAt,omitzero"`
	SegmentsPulled int64             `json:"segmentsPulled"`
	SegmentsPushed int64             `json:"segmentsPushed"` // segments that reached every target
	BytesPulled    int64             `json:"bytesPulled"`
	LastPush       time.Time         `json:"lastPush,omitzero"`
	LagSeconds     float64           `json:"lagSeconds"` // source live edge minus newest segment pushed everywhere
	Renditions     []RenditionStatus `json:"renditions"`
	Targets        []TargetStatus    `json:"targets"`
}

// Observer receives events for metrics. Implementations must be cheap and
// safe for concurrent use. All methods may be called from many goroutines.
type Observer interface {
	PlaylistReloaded(fetcherID, rendition string, err error)
	SegmentPulled(fetcherID, rendition string, bytes int64)
	SegmentMissed(fetcherID, rendition string)
	FilePushed(fetcherID, target string, bytes int64, took time.Duration)
	PushFailed(fetcherID, target string)
	SegmentDropped(fetcherID, target string)
	Lag(fetcherID string, seconds float64)
}

// StallObserver is an optional interface of an Observer. SourceStalled is
// called when a rendition's source stops delivering new segments for three
// target durations (stalled, whether its playlist reloads fail or stay
// unchanged) and again when new segments arrive (not stalled).
type StallObserver interface {
	SourceStalled(fetcherID, rendition string, stalled bool)
}

// NopObserver ignores every event.
type NopObserver struct{}

func (NopObserver) PlaylistReloaded(string, string, error)          {}
func (NopObserver) SegmentPulled(string, string, int64)             {}
func (NopObserver) SegmentMissed(string, string)                    {}
func (NopObserver) FilePushed(string, string, int64, time.Duration) {}
func (NopObserver) PushFailed(string, string)                       {}
func (NopObserver) SegmentDropped(string, string)                   {}
func (NopObserver) Lag(string, float64)                             {}

// ProgressStore persists a fetcher's progress (an opaque JSON document) so a
// restarted fetcher continues the same stream without re-pushing or
// colliding names.
type ProgressStore interface {
	LoadProgress(fetcherID string) ([]byte, error) // nil, nil when none
	SaveProgress(fetcherID string, data []byte) error
}
