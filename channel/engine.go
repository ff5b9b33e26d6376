package channel

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/channel/internal/asset"
)

// Log keys.
const (
	logKeyChannel = "channel"
	logKeyAsset   = "asset"
	logKeyURI     = "uri"
	logKeyItem    = "item"
	logKeyError   = "err"
)

// defaultCacheSize is the default size of the segment cache for http assets.
const defaultCacheSize = 64 << 20

// loadConcurrency is how many assets New loads at once.
const loadConcurrency = 4

// Errors callers can branch on (wrapped with details).
var (
	// ErrUnknownAsset: a session names an asset the config does not define.
	ErrUnknownAsset = errors.New("unknown asset")
	// ErrTooManySessions: the engine already has MaxSessions session channels.
	ErrTooManySessions = errors.New("too many session channels")
)

// Option configures an Engine.
type Option func(*options)

type options struct {
	now         func() time.Time
	client      *http.Client
	logger      *slog.Logger
	fsys        fs.FS
	ctx         context.Context
	cacheSize   int64
	scheduleDir string
	livePoll    time.Duration // tests: poll live sources this often instead of every half target duration
}

// WithClock sets the clock the live playlists are computed from (default
// time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithHTTPClient sets the client for http assets (default: a client with a
// 30 s timeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithLogger sets the logger for failed assets (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithFS sets the file system "embed:" URIs refer to (default EmbeddedFS()).
func WithFS(fsys fs.FS) Option { return func(o *options) { o.fsys = fsys } }

// WithContext sets the context New loads assets with; cancelling it aborts
// loading and stops the pollers of live sources.
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

// WithCacheSize sets the size in bytes of the cache of proxied http
// segments (default 64 MiB).
func WithCacheSize(n int64) Option { return func(o *options) { o.cacheSize = n } }

// Engine serves live channels made of VOD assets. It is safe for concurrent
// use.
type Engine struct {
	cfg    config.Config
	now    func() time.Time
	log    *slog.Logger
	fetch  *asset.Fetcher
	loader *asset.Loader

	library  map[string]config.AssetConfig // configured assets by id
	assets   map[string]*asset.Asset       // loaded assets by id
	failed   map[string]error              // assets that failed to load, by id
	partials map[string]*asset.Asset       // failed assets whose playlists loaded, by id

	slateMu sync.Mutex
	slates  map[string]*asset.Asset // by format

	static []*channel // configured channels, in order

	mu       sync.Mutex
	sessions map[string]*channel
	created  int64 // sessions created so far, orders the list

	logged sync.Map // keys of runtime failures already logged

	scheduleDir string
	scheds      map[string]*schedState // schedules of the configured channels, by id

	handler http.Handler
	metrics *engineMetrics

	ctx      context.Context // bounds the pollers of live sources
	livePoll time.Duration
}

// New loads the assets of a config and builds its channels. An asset that
// cannot be loaded is replaced by the slate and logged; an invalid config, a
// ladder mismatch or an unusable slate is an error.
func New(cfg config.Config, opts ...Option) (*Engine, error) {
	o := options{
		now:       time.Now,
		client:    &http.Client{Timeout: asset.FetchTimeout},
		logger:    slog.Default(),
		fsys:      EmbeddedFS(),
		ctx:       context.Background(),
		cacheSize: defaultCacheSize,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = config.DefaultSessionTTL
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = config.DefaultMaxSessions
	}
	e := &Engine{
		cfg:      cfg,
		now:      o.now,
		log:      o.logger,
		fetch:    asset.NewFetcher(o.client, o.cacheSize),
		library:  map[string]config.AssetConfig{},
		assets:   map[string]*asset.Asset{},
		failed:   map[string]error{},
		partials: map[string]*asset.Asset{},
		slates:   map[string]*asset.Asset{},
		sessions: map[string]*channel{},
		ctx:      o.ctx,
		livePoll: o.livePoll,
	}
	e.metrics = newEngineMetrics(e)
	e.loader = &asset.Loader{Fetch: e.fetch, Embedded: o.fsys, Probe: true}
	var ids []string
	for _, ch := range cfg.Channels {
		for j, a := range ch.Assets {
			a.ID = config.AssetID(ch.ID, j, a)
			if _, ok := e.library[a.ID]; !ok {
				e.library[a.ID] = a
				ids = append(ids, a.ID)
			}
		}
		for j, a := range ch.Ads {
			a.ID = config.AdID(ch.ID, j, a)
			if _, ok := e.library[a.ID]; !ok {
				e.library[a.ID] = a
				ids = append(ids, a.ID)
			}
		}
	}
	if err := e.loadAssets(o.ctx, ids); err != nil {
		return nil, err
	}
	for _, cc := range cfg.Channels {
		spec := channelSpec{
			id:     cc.ID,
			epoch:  defaultStartOf(cc),
			window: cc.Window,
			order:  cc.Order,
			seed:   cc.Seed,
		}
		if spec.window == 0 {
			spec.window = config.DefaultWindow
		}
		for j, a := range cc.Assets {
			a.ID = config.AssetID(cc.ID, j, a)
			spec.assets = append(spec.assets, a)
		}
		ch, err := buildChannel(spec, e)
		if err != nil {
			return nil, fmt.Errorf("channel %q: %w", cc.ID, err)
		}
		for j, a := range cc.Ads {
			ch.ads = append(ch.ads, config.AdID(cc.ID, j, a))
		}
		e.static = append(e.static, ch)
	}
	if o.scheduleDir != "" {
		e.scheduleDir = o.scheduleDir
		e.scheds = map[string]*schedState{}
		for _, ch := range e.static {
			e.scheds[ch.id] = &schedState{path: filepath.Join(o.scheduleDir, ch.id+".json")}
			_ = e.refreshSchedule(ch) // logged once; the loop plays
		}
	}
	e.handler = e.instrument(e.newHandler())
	return e, nil
}

// loadAssets loads the library, a few assets at a time.
func (e *Engine) loadAssets(ctx context.Context, ids []string) error {
	type result struct {
		a   *asset.Asset
		err error
	}
	results := make([]result, len(ids))
	sem := make(chan struct{}, loadConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ac := e.library[id]
			a, err := e.loader.Load(ctx, id, ac.Title, ac.URI)
			results[i] = result{a, err}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("load assets: %w", err)
	}
	for i, id := range ids {
		if err := results[i].err; err != nil {
			e.failed[id] = err
			e.metrics.assetErrors.WithLabelValues(id, "load").Inc()
			if results[i].a != nil {
				e.partials[id] = results[i].a
			}
			e.log.Warn("channel asset failed; the slate plays instead",
				logKeyAsset, id, logKeyURI, asset.Redact(e.library[id].URI), logKeyError, err)
			continue
		}
		e.assets[id] = results[i].a
	}
	return nil
}

// asset implements assetSource.
func (e *Engine) asset(id string) (*asset.Asset, error) {
	if a, ok := e.assets[id]; ok {
		return a, nil
	}
	if err, ok := e.failed[id]; ok {
		return nil, err
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownAsset, id)
}

// partial implements assetSource.
func (e *Engine) partial(id string) *asset.Asset { return e.partials[id] }

// slate implements assetSource: the configured slate, or the bundled one of
// the format.
func (e *Engine) slate(format string) (*asset.Asset, error) {
	e.slateMu.Lock()
	defer e.slateMu.Unlock()
	if a, ok := e.slates[format]; ok {
		return a, nil
	}
	uri, id := e.cfg.Slate, "_slate"
	if uri == "" {
		uri, id = slateTS, "_slate-ts"
		if format == asset.FormatFMP4 {
			uri, id = slateFMP4, "_slate-fmp4"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), asset.FetchTimeout)
	defer cancel()
	a, err := e.loader.Load(ctx, id, "slate", uri)
	if err != nil {
		return nil, fmt.Errorf("slate %s: %w", asset.Redact(uri), err)
	}
	if a.Format != format {
		return nil, fmt.Errorf("slate %s: %s segments, the channel has %s", asset.Redact(uri), a.Format, format)
	}
	e.slates[format] = a
	return a, nil
}

// SessionSpec describes a session channel.
type SessionSpec struct {
	// Assets are ids of configured assets, played in this order.
	Assets []string `json:"assets"`
	// Order is OrderSequential (default) or OrderShuffle.
	Order config.Order `json:"order,omitempty"`
	// Seed drives OrderShuffle.
	Seed int64 `json:"seed,omitempty"`
}

// ChannelInfo describes a channel.
type ChannelInfo struct {
	ID      string    `json:"id"`
	Path    string    `json:"path"`          // /channels/{id}/master.m3u8
	URL     string    `json:"url,omitempty"` // absolute, in HTTP responses
	Session bool      `json:"session"`
	Start   time.Time `json:"start"`
	// Window and Loop are in seconds.
	Window  float64      `json:"window"`
	Loop    float64      `json:"loop"`
	Order   config.Order `json:"order"`
	Assets  []AssetInfo  `json:"assets"`
	Expires *time.Time   `json:"expires,omitempty"` // sessions: when idle expiry happens
}

// AssetInfo describes one entry of a channel.
type AssetInfo struct {
	ID       string  `json:"id"`
	Title    string  `json:"title,omitempty"`
	Duration float64 `json:"duration"`         // seconds, as scheduled
	Failed   string  `json:"failed,omitempty"` // why the slate plays instead
}

// NewSession creates a session channel over configured assets. It starts
// one window before now, so its playlists are full at once, and expires
// after the config's SessionTTL without requests.
func (e *Engine) NewSession(spec SessionSpec) (ChannelInfo, error) {
	if len(spec.Assets) == 0 {
		return ChannelInfo{}, errors.New("session: 'assets' must list at least one asset")
	}
	if len(spec.Assets) > 1000 {
		return ChannelInfo{}, errors.New("session: too many assets")
	}
	if spec.Order != "" && spec.Order != config.OrderSequential && spec.Order != config.OrderShuffle {
		return ChannelInfo{}, fmt.Errorf("session: 'order' must be %q or %q, got %q", config.OrderSequential, config.OrderShuffle, spec.Order)
	}
	now := e.now()
	cs := channelSpec{
		session: true,
		epoch:   now.Truncate(time.Second).Add(-config.DefaultWindow),
		window:  config.DefaultWindow,
		order:   spec.Order,
		seed:    spec.Seed,
	}
	for _, id := range spec.Assets {
		ac, ok := e.library[id]
		if !ok {
			return ChannelInfo{}, fmt.Errorf("session: %w %q", ErrUnknownAsset, id)
		}
		cs.assets = append(cs.assets, ac)
	}
	if e.sessionCount(now) >= e.cfg.MaxSessions {
		return ChannelInfo{}, fmt.Errorf("session: %w (max %d)", ErrTooManySessions, e.cfg.MaxSessions)
	}
	// Built outside the lock: a configured http slate may have to be loaded.
	ch, err := buildChannel(cs, e)
	if err != nil {
		return ChannelInfo{}, fmt.Errorf("session: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expireLocked(now)
	if len(e.sessions) >= e.cfg.MaxSessions {
		return ChannelInfo{}, fmt.Errorf("session: %w (max %d)", ErrTooManySessions, e.cfg.MaxSessions)
	}
	for {
		ch.id = newSessionID()
		if _, ok := e.sessions[ch.id]; !ok && e.staticChannel(ch.id) == nil {
			break
		}
	}
	e.created++
	ch.created = e.created
	ch.lastUsed.Store(now.UnixNano())
	e.sessions[ch.id] = ch
	return e.info(ch), nil
}

func newSessionID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "s" + hex.EncodeToString(b[:])
}

// sessionCount expires idle sessions and counts the others.
func (e *Engine) sessionCount(now time.Time) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expireLocked(now)
	return len(e.sessions)
}

// expireLocked removes idle sessions. e.mu must be held.
func (e *Engine) expireLocked(now time.Time) {
	for id, ch := range e.sessions {
		if e.expired(ch, now) {
			delete(e.sessions, id)
		}
	}
}

func (e *Engine) expired(ch *channel, now time.Time) bool {
	return now.UnixNano()-ch.lastUsed.Load() > int64(e.cfg.SessionTTL)
}

func (e *Engine) staticChannel(id string) *channel {
	for _, ch := range e.static {
		if ch.id == id {
			return ch
		}
	}
	return nil
}

// lookup returns a channel by id and marks a session as used.
func (e *Engine) lookup(id string) *channel {
	if ch := e.staticChannel(id); ch != nil {
		return ch
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.sessions[id]
	if !ok {
		return nil
	}
	if e.expired(ch, now) {
		delete(e.sessions, id)
		return nil
	}
	ch.lastUsed.Store(now.UnixNano())
	return ch
}

// Channels lists the configured channels, then the live session channels in
// the order they were created.
func (e *Engine) Channels() []ChannelInfo {
	var out []ChannelInfo
	for _, ch := range e.static {
		out = append(out, e.info(ch))
	}
	e.mu.Lock()
	e.expireLocked(e.now())
	sessions := make([]*channel, 0, len(e.sessions))
	for _, ch := range e.sessions {
		sessions = append(sessions, ch)
	}
	e.mu.Unlock()
	slices.SortFunc(sessions, func(a, b *channel) int { return cmp.Compare(a.created, b.created) })
	for _, ch := range sessions {
		out = append(out, e.info(ch))
	}
	return out
}

func (e *Engine) info(ch *channel) ChannelInfo {
	in := ChannelInfo{
		ID:      ch.id,
		Path:    "/channels/" + ch.id + "/master.m3u8",
		Session: ch.session,
		Start:   ch.epoch,
		Window:  ch.window.Seconds(),
		Loop:    ch.loop.Seconds(),
		Order:   ch.order,
	}
	if in.Order == "" {
		in.Order = config.OrderSequential
	}
	if ch.session {
		exp := time.Unix(0, ch.lastUsed.Load()).Add(e.cfg.SessionTTL).UTC()
		in.Expires = &exp
	}
	for i, c := range ch.clips {
		ai := AssetInfo{ID: ch.assetID[i], Title: e.library[ch.assetID[i]].Title, Duration: c.dur.Seconds()}
		if c.failed != nil {
			ai.Failed = c.failed.Error()
		}
		in.Assets = append(in.Assets, ai)
	}
	return in
}

// logOnce logs a runtime failure the first time it happens for key.
func (e *Engine) logOnce(key, msg string, args ...any) {
	if _, loaded := e.logged.LoadOrStore(key, true); !loaded {
		e.log.Warn(msg, args...)
	}
}
