package origin

import (
	"log/slog"
	"sync"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/origin/internal/index"
	"github.com/pullpush/pullpush/sigv4"
)

// Log keys.
const (
	logChannel = "channel"
	logInput   = "input"
	logFile    = "file"
	logErr     = logkey.Err
)

// channel is one channel: its settings (immutable; an update builds a new
// channel value around the same index) and its index.
type channel struct {
	cfg      ChannelConfig
	acc      *access     // CDN authorization and ingest allowlist
	eps      []*endpoint // eps[0] is the default endpoint
	needTS   bool        // a CMAF endpoint needs the TS timing of every segment
	dir      string
	log      *slog.Logger
	now      func() time.Time
	verifier *digest.Verifier            // shared credentials
	perInput map[string]*digest.Verifier // per-input credentials
	creds    *credStore                  // what the verifiers accept
	sig      *sigv4.Verifier             // SigV4-signed ingest, or nil
	// publishLag is set on shared storage (ns); see published.
	publishLag int64
	// gen tells this channel's settings apart from earlier ones of the same
	// channel ID (an update or a re-creation): packaged products are
	// cached under it.
	gen uint64

	// mu guards the index; like the index state it is shared by every
	// settings generation of the channel.
	mu *sync.Mutex
	// Index is the index: its state is shared by every settings
	// generation of the channel (an update swaps the settings above and
	// keeps it), its parameters are this generation's.
	index.Index
}
