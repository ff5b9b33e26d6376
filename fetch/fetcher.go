package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pullpush/pullpush/fetch/internal/guard"

	"github.com/pullpush/pullpush/fetch/internal/backoff"

	"github.com/pullpush/pullpush/fetch/internal/naming"

	"github.com/pullpush/pullpush/fetch/internal/spool"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/output"
)

// maxPlaylistBytes bounds a source playlist.
const maxPlaylistBytes = 16 << 20

// Fetcher relays one source to one output. Create with New, drive with Run.
type Fetcher struct {
	cfg      Config
	log      *slog.Logger
	obs      Observer
	now      func() time.Time
	client   *http.Client
	targets  []output.Target
	anyParts bool // some target accepts LL-HLS parts
	stem     string

	sem   chan struct{} // bounds parallel downloads
	dlCtx context.Context
	spool *spool.Spool[*entry]
	save  *saver

	mu          sync.Mutex
	state       State
	lastErr     string
	lastErrAt   time.Time
	pulled      int64
	pushedAll   int64
	bytesPulled int64
	lastPush    time.Time
	tstat       []TargetStatus
	renditions  []*rendition
	master      *hls.Multivariant // source multivariant, nil for a media playlist source
	masterSent  []bool            // per target
	progress    *progressDoc      // restored progress
}

// New validates cfg and returns a fetcher.
func New(cfg Config) (*Fetcher, error) {
	if cfg.Output == nil {
		return nil, errors.New("fetch: no output")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("fetch: source url %q must be an absolute http or https URL", cfg.URL)
	}
	targets := cfg.Output.Targets()
	if len(targets) == 0 {
		return nil, errors.New("fetch: output has no targets")
	}
	if cfg.ID == "" {
		cfg.ID = "fetcher"
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.SpoolBytes <= 0 {
		cfg.SpoolBytes = DefaultSpoolBytes
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = 10 * time.Second
	}
	if cfg.SegmentTimeout <= 0 {
		cfg.SegmentTimeout = output.SegmentTimeout(cfg.Output)
	}
	allow, err := guard.NewHostList(cfg.AllowHosts)
	if err != nil {
		return nil, err
	}
	if len(allow) > 0 && !allow.Allows(u.Hostname()) {
		return nil, fmt.Errorf("fetch: source url %q: %w: host %q is not in the allowed hosts", cfg.URL, guard.ErrSourceNotAllowed, u.Hostname())
	}
	if cfg.DenyPrivate {
		if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !guard.IsPublic(ip) {
			return nil, fmt.Errorf("fetch: source url %q: %w: %s is a private, loopback or reserved address", cfg.URL, guard.ErrSourceNotAllowed, ip)
		}
	}
	client, err := guard.NewSourceClient(cfg.Client, cfg.Sources, allow, cfg.DenyPrivate)
	if err != nil {
		return nil, err
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = filepath.Join(os.TempDir(), "pullpush-spool", naming.SanitizeName(cfg.ID)+"-"+naming.ShortHash(fmt.Sprint(os.Getpid(), cfg.ID, time.Now().UnixNano())))
	}
	f := &Fetcher{
		cfg:     cfg,
		log:     cfg.Logger,
		obs:     cfg.Observer,
		now:     cfg.Now,
		client:  client,
		targets: targets,
		stem:    cfg.Output.Stem(),
		sem:     make(chan struct{}, cfg.Concurrency),
		state:   StateStarting,
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.obs == nil {
		f.obs = NopObserver{}
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.stem == "" {
		f.stem = "channel"
	}
	f.tstat = make([]TargetStatus, len(targets))
	f.masterSent = make([]bool, len(targets))
	for i, t := range targets {
		f.tstat[i].Name = t.Name()
		f.anyParts = f.anyParts || output.AcceptsParts(t)
	}
	return f, nil
}

// Run relays until ctx is cancelled (returns nil), the source ends and
// everything was pushed (returns nil), or the fetcher fails.
func (f *Fetcher) Run(ctx context.Context) error {
	sp, err := spool.New[*entry](f.cfg.SpoolDir, f.cfg.SpoolBytes, f.cfg.SpoolMemory)
	if err != nil {
		f.fail(err)
		return err
	}
	f.spool = sp
	defer sp.Close()
	if err := f.restore(); err != nil {
		f.fail(err)
		return err
	}
	dlCtx, cancelDL := context.WithCancel(context.Background())
	defer cancelDL()
	f.dlCtx = dlCtx
	f.save = newSaver(f)
	saveDone := make(chan struct{})
	go func() { defer close(saveDone); f.save.run() }()
	defer func() { f.save.stop(); <-saveDone }()

	// pushCtx outlives ctx by the push timeout so in-flight uploads finish.
	pushCtx, cancelPush := context.WithCancel(context.Background())
	defer cancelPush()
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(f.cfg.PushTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				cancelPush()
			case <-pushCtx.Done():
			}
		case <-pushCtx.Done():
		}
	}()

	if err := f.discover(ctx); err != nil {
		if ctx.Err() != nil {
			f.setState(StateStopped)
			return nil
		}
		f.fail(err)
		return err
	}
	var wg sync.WaitGroup
	for _, r := range f.renditions {
		wg.Add(1)
		go func() { defer wg.Done(); r.poll(ctx) }()
		for ti := range f.targets {
			wg.Add(1)
			go func() { defer wg.Done(); r.push(ctx, pushCtx, ti) }()
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		f.setState(StateStopped)
		return nil
	}
	f.setState(StateEnded)
	f.log.Info("source ended, everything pushed")
	return nil
}

// discover loads the source URL until it parses, then creates renditions.
func (f *Fetcher) discover(ctx context.Context) error {
	bo := backoff.New(500*time.Millisecond, 30*time.Second)
	for {
		data, final, err := f.get(ctx, f.cfg.URL, maxPlaylistBytes)
		var pl hls.Playlist
		if err == nil {
			pl, err = hls.Parse(data)
			if err != nil {
				err = fmt.Errorf("parse %s: %w", f.cfg.URL, err)
			}
		}
		if err == nil {
			return f.setup(final, pl)
		}
		f.recordError(err)
		f.setState(StateRetrying)
		f.log.Warn("source not available", "url", f.cfg.URL, logkey.Err, err)
		if !bo.Wait(ctx) {
			return ctx.Err()
		}
	}
}

func (f *Fetcher) setup(base *url.URL, pl hls.Playlist) error {
	type src struct{ uri, ref, kind string }
	var srcs []src
	seen := map[string]bool{}
	add := func(ref, kind string) error {
		if ref == "" {
			return nil
		}
		u, err := base.Parse(ref)
		if err != nil {
			return fmt.Errorf("rendition uri %q: %w", ref, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("rendition uri %q: not http or https", ref)
		}
		s := u.String()
		if !seen[s] {
			seen[s] = true
			srcs = append(srcs, src{s, ref, kind})
		}
		return nil
	}
	switch p := pl.(type) {
	case *hls.Multivariant:
		f.master = p
		for _, v := range p.Variants {
			if err := add(v.URI, "video"); err != nil {
				return err
			}
		}
		for _, m := range p.Renditions {
			kind := strings.ToLower(string(m.Type))
			if m.Type == hls.MediaTypeClosedCaptions {
				continue
			}
			if err := add(m.URI, kind); err != nil {
				return err
			}
		}
		if len(srcs) == 0 {
			return errors.New("multivariant playlist lists no media playlists")
		}
	case *hls.Media:
		if err := add(base.String(), "video"); err != nil {
			return err
		}
	}
	uris := make([]string, len(srcs))
	for i, s := range srcs {
		uris[i] = s.uri
	}
	names := naming.RenditionNames(uris)
	rs := make([]*rendition, 0, len(srcs))
	for _, s := range srcs {
		rs = append(rs, newRendition(f, names[s.uri], s.uri, s.ref, s.kind))
	}
	f.mu.Lock()
	f.renditions = rs
	f.mu.Unlock()
	f.log.Info("source discovered", "renditions", len(f.renditions), "multivariant", f.master != nil)
	return nil
}

// playlistTimeout bounds a playlist request that is not a blocking reload.
const playlistTimeout = 15 * time.Second

// get fetches url with a bounded body and returns the final URL after redirects.
func (f *Fetcher) get(ctx context.Context, u string, limit int64) ([]byte, *url.URL, error) {
	return f.getTimeout(ctx, u, limit, playlistTimeout)
}

// getTimeout is get with the given timeout.
func (f *Fetcher) getTimeout(ctx context.Context, u string, limit int64, timeout time.Duration) ([]byte, *url.URL, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", u, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, nil, &httpError{url: u, status: resp.StatusCode}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", u, err)
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("get %s: larger than %d bytes", u, limit)
	}
	return data, resp.Request.URL, nil
}

type httpError struct {
	url    string
	status int
}

func (e *httpError) Error() string { return fmt.Sprintf("get %s: HTTP %d", e.url, e.status) }

// Status returns a snapshot of the fetcher's progress.
func (f *Fetcher) Status() Status {
	f.mu.Lock()
	st := Status{
		State: f.state, LastError: f.lastErr, LastErrorAt: f.lastErrAt,
		SegmentsPulled: f.pulled, SegmentsPushed: f.pushedAll, BytesPulled: f.bytesPulled,
		LastPush: f.lastPush,
		Targets:  append([]TargetStatus(nil), f.tstat...),
	}
	rs := f.renditions
	f.mu.Unlock()
	lag := 0.0
	for ti := range st.Targets {
		st.Targets[ti].Pending = 0
	}
	for _, r := range rs {
		rst, rlag, pending := r.snapshot()
		st.Renditions = append(st.Renditions, rst)
		lag = math.Max(lag, rlag)
		for ti, n := range pending {
			st.Targets[ti].Pending += n
		}
	}
	st.LagSeconds = math.Round(lag*1000) / 1000
	return st
}

func (f *Fetcher) setState(s State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == StateEnded || f.state == StateFailed {
		if s != StateStopped {
			return
		}
	}
	f.state = s
}

func (f *Fetcher) recordError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastErr = err.Error()
	f.lastErrAt = f.now().UTC()
}

func (f *Fetcher) fail(err error) {
	f.recordError(err)
	f.mu.Lock()
	f.state = StateFailed
	f.mu.Unlock()
}

// running marks the fetcher healthy after a successful step.
func (f *Fetcher) running() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == StateStarting || f.state == StateRetrying {
		f.state = StateRunning
	}
}

// masterReady is called after target ti pushed a media playlist; it pushes
// the multivariant playlist once every rendition has a playlist there.
func (f *Fetcher) masterReady(ctx context.Context, ti int) error {
	f.mu.Lock()
	if f.masterSent[ti] {
		f.mu.Unlock()
		return nil
	}
	f.mu.Unlock()
	for _, r := range f.renditions {
		if !r.playlistPushed(ti) {
			return nil
		}
	}
	data := f.masterPlaylist()
	err := f.putBytes(ctx, ti, f.stem+".m3u8", data, "max-age=5")
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.masterSent[ti] = true
	f.mu.Unlock()
	return nil
}

// masterPlaylist returns the multivariant playlist with URIs rewritten to
// the pushed media playlists (I-frame playlists are not relayed).
func (f *Fetcher) masterPlaylist() []byte {
	byURI := map[string]*rendition{}
	for _, r := range f.renditions {
		byURI[r.url] = r
	}
	rewrite := func(ref string) string {
		if ref == "" {
			return ""
		}
		for _, r := range f.renditions {
			if r.ref == ref {
				return r.playlistName()
			}
		}
		return ref
	}
	if f.master == nil {
		r := f.renditions[0]
		bw := r.bandwidth()
		m := &hls.Multivariant{Version: 3, Variants: []*hls.Variant{{Bandwidth: bw, URI: r.playlistName()}}}
		return m.Encode()
	}
	m := *f.master
	m.IFrameVariants = nil
	m.Variants = make([]*hls.Variant, len(f.master.Variants))
	for i, v := range f.master.Variants {
		c := *v
		c.URI = rewrite(v.URI)
		m.Variants[i] = &c
	}
	m.Renditions = make([]*hls.Rendition, len(f.master.Renditions))
	for i, v := range f.master.Renditions {
		c := *v
		c.URI = rewrite(v.URI)
		m.Renditions[i] = &c
	}
	return m.Encode()
}

// putBytes pushes an in-memory file to target ti (single attempt).
func (f *Fetcher) putBytes(ctx context.Context, ti int, name string, data []byte, cache string) error {
	file := output.File{
		Name: name, ContentType: naming.ContentType(filepath.Ext(name)), CacheControl: cache, Size: int64(len(data)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
	return f.put(ctx, ti, file)
}

// put performs one upload attempt with the push timeout and records the outcome.
func (f *Fetcher) put(ctx context.Context, ti int, file output.File) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.PushTimeout)
	defer cancel()
	start := time.Now()
	err := f.targets[ti].Put(ctx, file)
	took := time.Since(start)
	tname := f.targets[ti].Name()
	if err != nil {
		err = fmt.Errorf("push %s to %s: %w", file.Name, tname, err)
		f.obs.PushFailed(f.cfg.ID, tname)
		f.mu.Lock()
		f.tstat[ti].PushFailures++
		f.tstat[ti].LastError = err.Error()
		f.tstat[ti].LastErrorAt = f.now().UTC()
		f.lastErr = err.Error()
		f.lastErrAt = f.tstat[ti].LastErrorAt
		f.mu.Unlock()
		return err
	}
	f.obs.FilePushed(f.cfg.ID, tname, file.Size, took)
	return nil
}

// segmentPushed records a segment pushed to target ti.
func (f *Fetcher) segmentPushed(ti int, size int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now().UTC()
	f.tstat[ti].SegmentsPushed++
	f.tstat[ti].BytesPushed += size
	f.tstat[ti].LastPush = now
	f.lastPush = now
}

// targetRecovered clears a target's error after a success.
func (f *Fetcher) targetOK(ti int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tstat[ti].LastError = ""
}

func (f *Fetcher) segmentDropped(ti int) {
	f.obs.SegmentDropped(f.cfg.ID, f.targets[ti].Name())
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tstat[ti].SegmentsDropped++
}

// deletesExpired reports whether the output wants expired segments deleted.
func (f *Fetcher) deletesExpired() bool {
	d, ok := f.cfg.Output.(interface{ DeletesExpired() bool })
	return ok && d.DeletesExpired()
}

// restore loads saved progress.
func (f *Fetcher) restore() error {
	if f.cfg.Progress == nil {
		return nil
	}
	data, err := f.cfg.Progress.LoadProgress(f.cfg.ID)
	if err != nil {
		return fmt.Errorf("load progress: %w", err)
	}
	if len(data) == 0 {
		return nil
	}
	var doc progressDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		f.log.Warn("ignoring unreadable progress", logkey.Err, err)
		return nil
	}
	f.progress = &doc
	return nil
}
