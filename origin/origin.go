package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/safepath"
)

// Origin is a MediaPackage-compatible ingest and playback origin. It is safe
// for concurrent use.
type Origin struct {
	cfg Config
	log *slog.Logger
	// set is the channels now; chMu serialises changes to it, to the
	// channel store and to seeds and recs (the seed and the record text
	// last applied per channel).
	set atomic.Pointer[channelSet]
	// waiting counts playback requests held for a part or segment to
	// arrive (LL-HLS blocking reloads and preloaded parts).
	waiting atomic.Int64
	chMu    sync.Mutex
	chStore channelStore
	seeds   map[string]string
	recs    map[string]string
	// restored holds the rotations of stored records until their
	// channels start.
	restored map[string]map[string]*credScope
	// replaying is set once shared storage recovery is done: channels
	// created later recover their own index before they are published.
	replaying atomic.Bool
	mux       *http.ServeMux
	uniq      atomic.Uint64
	cmaf      cmafState  // CMAF ingest tracks (cmafingest.go)
	cache     *packCache // packaged segments
	playlists *packCache // rendered media playlists
	metrics   *originMetrics
	keys      *keyCache // content keys of encrypted endpoints
	// shared is the shared storage runtime (nil: local storage).
	shared *sharedStore
	cancel context.CancelFunc
	bg     sync.WaitGroup

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Option configures an Origin beyond its Config.
type Option func(*Origin)

// WithLogger sets the logger (overrides Config.Logger).
func WithLogger(l *slog.Logger) Option { return func(o *Origin) { o.log = l } }

// WithClock sets the clock (overrides Config.Now).
func WithClock(now func() time.Time) Option { return func(o *Origin) { o.cfg.Now = now } }

// sweepInterval is how often retention runs without ingest activity.
const sweepInterval = 5 * time.Second

// realm is the digest realm of the ingest endpoints.
const realm = "pullpush-origin"

// New validates cfg (after applying defaults), prepares DataDir and returns
// an Origin. The segment index lives in memory: files left in a channel's
// folder by an earlier run are removed.
//
// With shared storage (Config.Storage), nothing is kept on disk: New
// checks the bucket and rebuilds every channel's index from it (the newest
// snapshot and the ingest log after it) before it returns; see
// NewContext to bound that.
func New(cfg Config, opts ...Option) (*Origin, error) {
	return NewContext(context.Background(), cfg, opts...)
}

// NewContext is New with a context bounding the recovery from shared
// storage.
func NewContext(ctx context.Context, cfg Config, opts ...Option) (*Origin, error) {
	o := &Origin{cfg: cfg.WithDefaults(), log: cfg.Logger}
	for _, opt := range opts {
		opt(o)
	}
	if o.cfg.Now == nil {
		o.cfg.Now = time.Now
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if err := o.cfg.Validate(); err != nil {
		return nil, err
	}
	o.uniq.Store(uint64(time.Now().UnixNano()))
	o.cache = newPackCache(o.cfg.PackagerCacheBytes)
	o.playlists = newPackCache(playlistCacheBytes)
	provider := o.cfg.KeyProvider
	if provider == nil {
		var err error
		if provider, err = o.cfg.Keys.provider(); err != nil {
			return nil, err
		}
	}
	o.keys = newKeyCache(provider)
	if o.cfg.Storage.Enabled() {
		blob, err := openBucket(o.cfg.Storage)
		if err != nil {
			return nil, fmt.Errorf("%w: storage: %v", ErrConfig, err)
		}
		if err := blob.CheckBucket(ctx); err != nil {
			return nil, fmt.Errorf("origin: storage %s: %w", blob, err)
		}
		o.shared = newSharedStore(blob, o.cfg.Storage, o.log, o.cfg.Now)
	}
	o.set.Store(&channelSet{byID: map[string]*channel{}})
	o.chStore, o.seeds, o.recs = o.newChannelStore(), map[string]string{}, map[string]string{}
	o.restored = map[string]map[string]*credScope{}
	o.chMu.Lock()
	chans, err := o.initialChannels(ctx, cfg.Channels)
	if err == nil {
		for _, cc := range chans {
			if err = o.startChannel(ctx, cc, nil); err != nil {
				break
			}
		}
	}
	o.chMu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := o.loadCredentials(); err != nil {
		return nil, err
	}
	if err := o.startBackground(ctx); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /in/v2/{channel}/{input}/{file}", o.serveIngest)
	mux.HandleFunc("DELETE /in/v2/{channel}/{input}/{file}", o.serveIngest)
	mux.HandleFunc("POST /in/v2/{channel}/{input}/{file}", o.serveIngest)
	mux.HandleFunc("GET /out/v1/{channel}/{rest...}", o.servePlayback)
	mux.HandleFunc("HEAD /out/v1/{channel}/{rest...}", o.servePlayback)
	mux.HandleFunc("OPTIONS /out/v1/{channel}/{rest...}", o.servePlayback)
	o.mux = mux
	o.metrics = newOriginMetrics(o)
	return o, nil
}

// startBackground recovers shared state and starts the replay loop and
// deleter, or starts the retention sweeper of local storage.
func (o *Origin) startBackground(ctx context.Context) error {
	o.stop = make(chan struct{})
	o.done = make(chan struct{})
	if o.shared == nil {
		go o.sweeper()
		return nil
	}
	close(o.done)
	bg, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	o.bg.Add(1)
	go func() { defer o.bg.Done(); o.shared.deleter(bg) }()
	for _, ch := range o.list() {
		if err := o.recoverChannel(ctx, ch); err != nil {
			cancel()
			o.bg.Wait()
			return fmt.Errorf("origin: recover channel %s from %s: %w", ch.cfg.ID, o.shared.blob, err)
		}
	}
	o.replaying.Store(true)
	o.bg.Add(2)
	go func() { defer o.bg.Done(); o.replayLoop(bg) }()
	go func() { defer o.bg.Done(); o.channelSyncLoop(bg) }()
	return nil
}

// Handler returns the HTTP handler serving PUT|DELETE /in/v2/... and
// GET|HEAD|OPTIONS /out/v1/...; the paths are absolute, so it can be
// mounted as is on a larger mux (mux.Handle("/in/", h); mux.Handle("/out/", h)).
// It answers 400 to paths with dot or empty segments, encoded slashes or
// NUL bytes (see SafePaths); a larger ServeMux redirects those before h
// sees them, so wrap that mux in SafePaths too.
func (o *Origin) Handler() http.Handler { return safepath.Handler(o.instrument(o.mux)) }

// SafePaths returns h behind a check that answers 400 with a JSON error,
// before h (and its authentication) runs, to every request whose path has
// a "." or ".." segment (also percent-encoded), an empty segment ("//"),
// an encoded slash or backslash, or a NUL byte. net/http's ServeMux would
// redirect such a path to its cleaned form, and a client following the
// redirect would re-send an ingest body to a URL it never named.
func SafePaths(h http.Handler) http.Handler { return safepath.Handler(h) }

// Close stops background retention (and, on shared storage, the replay
// of the ingest log). Stored files stay on disk or in the bucket.
func (o *Origin) Close() error {
	o.closeOnce.Do(func() {
		close(o.stop)
		<-o.done
		if o.cancel != nil {
			o.cancel()
			o.bg.Wait()
		}
	})
	return nil
}

func (o *Origin) sweeper() {
	defer close(o.done)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
			o.Sweep()
		}
	}
}

// Sweep applies retention now: segments older than each channel's startover
// window are deleted from the index and disk. It also runs every few
// seconds in the background and after every ingested segment.
//
// On shared storage, retention follows the ingest log (every instance
// sweeps at the same points of it) and Sweep does nothing.
func (o *Origin) Sweep() {
	if o.shared != nil {
		return
	}
	for _, ch := range o.list() {
		ch.mu.Lock()
		ch.Sweep()
		ch.mu.Unlock()
	}
}

// ActiveInput returns the name of the input a channel currently serves
// from, or "" before any segment arrived.
func (o *Origin) ActiveInput(channelID string) string {
	ch := o.lookup(channelID)
	if ch == nil {
		return ""
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.Active
}

// InputSwitches returns how many times a channel switched its active input
// (0 for an unknown channel). Becoming active for the first time is not a
// switch.
func (o *Origin) InputSwitches(channelID string) int {
	ch := o.lookup(channelID)
	if ch == nil {
		return 0
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.Switches
}

// writeError writes {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// segmentTypes maps accepted segment extensions to their Content-Type.
var segmentTypes = map[string]string{
	".ts":     "video/mp2t",
	".mp4":    "video/mp4",
	".m4s":    "video/mp4",
	".m4v":    "video/mp4",
	".m4a":    "audio/mp4",
	".cmfv":   "video/mp4",
	".cmfa":   "audio/mp4",
	".aac":    "audio/aac",
	".vtt":    "text/vtt",
	".webvtt": "text/vtt",
}

func (o *Origin) serveIngest(w http.ResponseWriter, r *http.Request) {
	if o.cmafIngest(w, r) {
		return
	}
	p, err := ParseIngestPath(r.URL.EscapedPath())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ch := o.lookup(p.Channel)
	if ch == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown channel %q", p.Channel))
		return
	}
	if !ch.acc.ingest(r) {
		writeError(w, http.StatusForbidden, "ingest from this address is not allowed")
		return
	}
	if !o.ingestAuth(w, r, ch, p.Input) {
		return
	}
	if o.shared != nil {
		o.ingestShared(w, r, ch, p)
		return
	}
	if r.Method == http.MethodDelete {
		ch.mu.Lock()
		if in := ch.Inputs[p.Input]; in != nil {
			ch.DeleteFile(in, p.File)
		}
		ch.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	data, ext, ok := o.readIngestBody(w, r, p)
	if !ok {
		return
	}
	recv := o.cfg.Now()
	if ext == ".m3u8" {
		pl, err := hls.Parse(data)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("parse %s: %v", p.File, err))
			return
		}
		ch.mu.Lock()
		in, err := ch.input(p.Input)
		if err != nil {
			ch.mu.Unlock()
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		switch pl := pl.(type) {
		case *hls.Multivariant:
			ch.SetMaster(in, pl)
		case *hls.Media:
			ch.IndexPlaylist(in, playlistKey(p.File), pl, recv)
		}
		ch.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		return
	}
	ch.mu.Lock()
	in, err := ch.input(p.Input)
	ch.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	f := &index.StoredFile{
		Path: filepath.Join(in.Dir, fmt.Sprintf("%x-%s", o.uniq.Add(1), p.File)),
		Size: int64(len(data)),
		Recv: recv,
	}
	f.KF, f.TS = probeSegment(ext, data, ch.needTS)
	if err := os.WriteFile(f.Path, data, 0o644); err != nil {
		o.log.Error("store segment", logChannel, p.Channel, logInput, p.Input, logFile, p.File, logErr, err)
		writeError(w, http.StatusInternalServerError, "cannot store file")
		return
	}
	ch.mu.Lock()
	ch.StoreFile(in, p.File, f)
	ch.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// readIngestBody checks the file type of an ingest PUT and reads its
// body; on failure it writes the error response and returns false.
func (o *Origin) readIngestBody(w http.ResponseWriter, r *http.Request, p IngestPath) (data []byte, ext string, ok bool) {
	ext = strings.ToLower(filepath.Ext(p.File))
	if ext != ".m3u8" && segmentTypes[ext] == "" {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported file type %q", ext))
		return nil, "", false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, o.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", mbe.Limit))
			return nil, "", false
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("read body: %v", err))
		return nil, "", false
	}
	return data, ext, true
}

// input returns the named input, creating it (and its folder) when the
// channel has fewer than MaxInputs.
func (c *channel) input(name string) (*index.Input, error) {
	if in := c.Inputs[name]; in != nil {
		return in, nil
	}
	if len(c.Inputs) >= MaxInputs {
		return nil, fmt.Errorf("channel %s already has %d inputs (%s)", c.cfg.ID, MaxInputs, strings.Join(c.Order, ", "))
	}
	dir := ""
	if !c.Shared {
		dir = filepath.Join(c.dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create input folder: %w", err)
		}
	}
	in := &index.Input{Name: name, Dir: dir, Files: make(map[string]*index.StoredFile), Rends: make(map[string]*index.InRend)}
	c.Inputs[name] = in
	c.Order = append(c.Order, name)
	return in, nil
}

// Endpoints returns the endpoint IDs of a channel, the default endpoint
// (served at /out/v1/{channel}/index.m3u8 too; "" when the channel has no
// endpoints configured) first, and whether the channel exists.
func (o *Origin) Endpoints(channelID string) ([]string, bool) {
	ch := o.lookup(channelID)
	if ch == nil {
		return nil, false
	}
	ids := make([]string, len(ch.eps))
	for i, ep := range ch.eps {
		ids[i] = ep.id
	}
	return ids, true
}

// ManifestFile returns the file name of an endpoint's multivariant
// playlist ("index.m3u8" unless the endpoint sets manifestName); endpoint
// "" is the channel's default endpoint. It is "" for an unknown channel or
// endpoint.
func (o *Origin) ManifestFile(channelID, endpointID string) string {
	ep := o.endpointOf(channelID, endpointID)
	if ep == nil {
		return ""
	}
	return ep.manifest0
}

// DASHManifest returns the file name of a DASH endpoint's MPD
// ("index.mpd"), or "" when the endpoint serves no DASH or is unknown;
// endpoint "" is the channel's default endpoint.
func (o *Origin) DASHManifest(channelID, endpointID string) string {
	ep := o.endpointOf(channelID, endpointID)
	if ep == nil || !ep.dash {
		return ""
	}
	return mpdName
}

// endpointOf returns a channel's endpoint by ID ("" the default one), or
// nil.
func (o *Origin) endpointOf(channelID, endpointID string) *endpoint {
	ch := o.lookup(channelID)
	if ch == nil {
		return nil
	}
	if endpointID == "" {
		return ch.eps[0]
	}
	return ch.endpoint(endpointID)
}
