package origin

import (
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

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/hls"
)

// Origin is a MediaPackage-compatible ingest and playback origin. It is safe
// for concurrent use.
type Origin struct {
	cfg      Config
	log      *slog.Logger
	channels map[string]*channel
	mux      *http.ServeMux
	uniq     atomic.Uint64
	cache    *packCache // packaged segments
	keys     *keyCache  // content keys of encrypted endpoints

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
func New(cfg Config, opts ...Option) (*Origin, error) {
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
	provider := o.cfg.KeyProvider
	if provider == nil {
		var err error
		if provider, err = o.cfg.Keys.provider(); err != nil {
			return nil, err
		}
	}
	o.keys = newKeyCache(provider)
	o.channels = make(map[string]*channel, len(o.cfg.Channels))
	for _, cc := range o.cfg.Channels {
		dir := filepath.Join(o.cfg.DataDir, cc.ID)
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("origin: clear %s: %w", dir, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("origin: create %s: %w", dir, err)
		}
		ch := &channel{
			cfg:    cc,
			eps:    newEndpoints(cc),
			dir:    dir,
			log:    o.log,
			now:    o.cfg.Now,
			inputs: make(map[string]*input),
			rends:  make(map[string]*rendition),
			inits:  make(map[uint64]*storedFile),
		}
		for _, ep := range ch.eps {
			ch.retain = max(ch.retain, ep.startover, cc.StartoverWindow)
			ch.needTS = ch.needTS || ep.cmaf
		}
		clock := digest.WithClock(o.cfg.Now)
		if len(cc.Inputs) == 0 {
			user, pass := cc.Username, cc.Password
			ch.verifier = digest.NewVerifier(realm, o.cfg.NonceTTL, func(u string) (string, bool) { return pass, u == user }, clock)
		} else {
			ch.perInput = make(map[string]*digest.Verifier)
			for _, in := range cc.Inputs {
				user, pass, _ := cc.credentials(in.Name)
				ch.perInput[in.Name] = digest.NewVerifier(realm, o.cfg.NonceTTL, func(u string) (string, bool) { return pass, u == user }, clock)
			}
		}
		o.channels[cc.ID] = ch
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /in/v2/{channel}/{input}/{file}", o.serveIngest)
	mux.HandleFunc("DELETE /in/v2/{channel}/{input}/{file}", o.serveIngest)
	mux.HandleFunc("GET /out/v1/{channel}/{rest...}", o.servePlayback)
	mux.HandleFunc("HEAD /out/v1/{channel}/{rest...}", o.servePlayback)
	mux.HandleFunc("OPTIONS /out/v1/{channel}/{rest...}", o.servePlayback)
	o.mux = mux
	o.stop = make(chan struct{})
	o.done = make(chan struct{})
	go o.sweeper()
	return o, nil
}

// Handler returns the HTTP handler serving PUT|DELETE /in/v2/... and
// GET|HEAD|OPTIONS /out/v1/...; the paths are absolute, so it can be
// mounted as is on a larger mux (mux.Handle("/in/", h); mux.Handle("/out/", h)).
func (o *Origin) Handler() http.Handler { return o.mux }

// Close stops background retention. Stored files stay on disk.
func (o *Origin) Close() error {
	o.closeOnce.Do(func() {
		close(o.stop)
		<-o.done
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
func (o *Origin) Sweep() {
	for _, ch := range o.channels {
		ch.mu.Lock()
		ch.sweep()
		ch.mu.Unlock()
	}
}

// ActiveInput returns the name of the input a channel currently serves
// from, or "" before any segment arrived.
func (o *Origin) ActiveInput(channelID string) string {
	ch := o.channels[channelID]
	if ch == nil {
		return ""
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.active
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
	p, err := ParseIngestPath(r.URL.EscapedPath())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ch := o.channels[p.Channel]
	if ch == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown channel %q", p.Channel))
		return
	}
	v := ch.verifier
	if ch.perInput != nil {
		v = ch.perInput[p.Input]
		if v == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown input %q", p.Input))
			return
		}
	}
	if _, err := v.Verify(r); err != nil {
		v.Challenge(w, errors.Is(err, digest.ErrStale))
		return
	}
	if r.Method == http.MethodDelete {
		ch.mu.Lock()
		if in := ch.inputs[p.Input]; in != nil {
			ch.deleteFile(in, p.File)
		}
		ch.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ext := strings.ToLower(filepath.Ext(p.File))
	if ext != ".m3u8" && segmentTypes[ext] == "" {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported file type %q", ext))
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, o.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("read body: %v", err))
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
			ch.setMaster(in, pl)
		case *hls.Media:
			ch.indexPlaylist(in, playlistKey(p.File), pl, recv)
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
	f := &storedFile{
		path: filepath.Join(in.dir, fmt.Sprintf("%x-%s", o.uniq.Add(1), p.File)),
		size: int64(len(data)),
		recv: recv,
	}
	switch ext {
	case ".ts":
		if ch.needTS {
			if d, err := demuxTS(data); err == nil {
				f.kf, _ = tsKeyframes(d, int64(len(data)))
				f.ts = probeTS(d)
			}
		} else {
			f.kf, _ = scanTS(data)
		}
	case ".m4s", ".mp4", ".m4v", ".cmfv":
		f.kf, _ = scanFMP4(data, nil)
	}
	if err := os.WriteFile(f.path, data, 0o644); err != nil {
		o.log.Error("store segment", logChannel, p.Channel, logInput, p.Input, logFile, p.File, logErr, err)
		writeError(w, http.StatusInternalServerError, "cannot store file")
		return
	}
	ch.mu.Lock()
	ch.storeFile(in, p.File, f)
	ch.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// input returns the named input, creating it (and its folder) when the
// channel has fewer than MaxInputs.
func (c *channel) input(name string) (*input, error) {
	if in := c.inputs[name]; in != nil {
		return in, nil
	}
	if len(c.inputs) >= MaxInputs {
		return nil, fmt.Errorf("channel %s already has %d inputs (%s)", c.cfg.ID, MaxInputs, strings.Join(c.order, ", "))
	}
	dir := filepath.Join(c.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create input folder: %w", err)
	}
	in := &input{name: name, dir: dir, files: make(map[string]*storedFile), rends: make(map[string]*inRend)}
	c.inputs[name] = in
	c.order = append(c.order, name)
	return in, nil
}
