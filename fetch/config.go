package fetch

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/pullpush/pullpush/output"
)

// Defaults.
const (
	DefaultWindow      = 120 * time.Second
	DefaultConcurrency = 4
	DefaultSpoolBytes  = 512 << 20
)

// Config configures one fetcher.
type Config struct {
	ID   string // stable identifier (persistence key, metrics label)
	Name string // human name
	URL  string // source multivariant or media playlist (http/https)

	Output output.Output

	// Window is the duration kept in pushed media playlists (default 120 s).
	Window time.Duration
	// Concurrency bounds parallel segment downloads and uploads per target (default 4).
	Concurrency int

	// Client fetches the source; nil uses a client with sane timeouts on
	// Sources.
	Client *http.Client
	// Sources is the connection pool for source requests shared by the
	// fetchers of a process (see NewSourceTransport); nil gives the fetcher
	// a pool of its own.
	Sources *SourceTransport
	// AllowHosts, when not empty, restricts every source request
	// (playlists, segments, keys, init segments and redirects) to these
	// hosts: a host name or IP address, or "*.example.com" for a domain and
	// its subdomains. Case-insensitive; ports are not checked.
	AllowHosts []string
	// DenyPrivate refuses source connections to loopback, private,
	// link-local, multicast and other non-public addresses. The address is
	// checked after DNS resolution when connecting, so redirects and DNS
	// rebinding do not get around it. It needs the built-in client (Client
	// nil), which then uses no proxy from the environment.
	DenyPrivate bool
	// SpoolDir holds downloaded segments until every target has them
	// (default: a directory under os.TempDir()).
	SpoolDir string
	// SpoolBytes bounds the spool; when full the oldest unpushed segments of a
	// target are dropped and counted as gaps (default 512 MiB).
	SpoolBytes int64
	// SpoolMemory is the memory budget for segments in flight, shared by
	// the fetchers of a process; segments that do not fit go to files
	// under SpoolDir. Nil gives this fetcher a private budget.
	SpoolMemory *MemoryBudget
	// SegmentTimeout bounds one download attempt of a source segment,
	// headers and body. Zero means the Output's bound when it is an
	// output.SegmentTimeouter (the timeoutMs payload key), else four
	// segment durations (at least 10 s) plus 5 s.
	SegmentTimeout time.Duration
	// PushTimeout bounds one upload attempt (default 10 s).
	PushTimeout time.Duration
	// Progress persists progress across restarts (optional).
	Progress ProgressStore
	Observer Observer
	Logger   *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// ReloadRFC reloads media playlists strictly at the RFC 8216 intervals
	// (a target duration after a change, half of it otherwise). By default
	// the fetcher tracks the source's live edge instead: it learns when
	// segments appear and reloads just then, about two requests per segment,
	// which cuts the added latency from up to a target duration to a fraction.
	ReloadRFC bool
	// PollInterval overrides the reload interval (tests); 0 follows the source.
	PollInterval time.Duration
}
