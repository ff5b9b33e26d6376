package fetch

import (
	"sync"
	"time"

	"github.com/pullpush/pullpush/fetch/internal/spool"
	"github.com/pullpush/pullpush/hls"
)

// aux is an auxiliary file (init segment or key) copied once per rendition
// and pushed to each target before the first segment that needs it.
type aux struct {
	name   string // pushed name
	srcURL string
	rng    *hls.ByteRange // resolved absolute range, nil for whole file
	once   sync.Once
	ready  chan struct{}
	data   []byte
	err    error
}

// entry is one segment of one rendition, from discovery to the last push.
type entry struct {
	r        *rendition
	seq      int64 // output media sequence (also the number in the pushed name)
	src      int64 // source media sequence number
	srcURL   string
	rng      *hls.ByteRange // resolved absolute byte range, nil for whole file
	name     string         // pushed file name
	duration float64
	title    string
	disc     bool
	pdt      time.Time
	keys     []*hls.Key // key state for this segment, rewritten to pushed URIs (nil: no encryption)
	initMap  *aux       // init segment (EXT-X-MAP), nil when none
	keyAux   []*aux     // keys to push before this segment
	tags     []string   // passthrough unknown tags (CUE, SCTE35, ...)
	dranges  []*hls.DateRange
	bitrate  int

	ready chan struct{} // closed when download finished (file set) or missed

	// set before ready is closed:
	missed bool // gone from the source (or gap in source): pushed as EXT-X-GAP
	file   *spool.File[*entry]
	size   int64

	// guarded by the rendition's mutex:
	dropped  map[int]bool // target index -> evicted from spool before push
	pending  int          // targets still needing the file
	released bool
}

func (e *entry) isReady() bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// notifier is a broadcast signal: waiters get a channel closed on the next Notify.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}
