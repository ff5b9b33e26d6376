package chaos

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Limits on what the proxy buffers.
const (
	// maxPlaylist bounds a playlist body read for rewriting or caching;
	// larger bodies are streamed through unchanged.
	maxPlaylist = 4 << 20
	// maxTruncateBuffer bounds a body of unknown length read to truncate it.
	maxTruncateBuffer = 256 << 20
	// maxCachedPaths bounds the number of playlist paths remembered for
	// FaultStale.
	maxCachedPaths = 4096
	// defaultEventLimit is the number of events Events keeps by default.
	defaultEventLimit = 1000
)

// Proxy is a reverse proxy to one target that injects faults into the
// requests its rules select. It is an http.Handler; serve it with an
// http.Server or httptest.Server. All methods are safe for concurrent use.
type Proxy struct {
	target     *url.URL
	transport  http.RoundTripper
	ownsRT     bool
	now        func() time.Time
	hook       func(Event)
	eventLimit int

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // handlers in flight

	mu       sync.Mutex
	closed   bool
	enabled  bool
	rules    []*ruleState
	epoch    time.Time // when the rules were installed
	rng      *rand.Rand
	seq      int64
	stats    Stats
	events   []Event // ring of the last eventLimit events
	next     int     // next slot in events once full
	cacheOn  bool    // some rule is FaultStale: remember playlists
	playlist map[string]cachedBody
}

// ruleState is an installed rule and what it has done so far.
type ruleState struct {
	compiledRule
	label   string
	fired   int
	seqBase map[string]uint64 // FaultResetSequence: source sequence at the first rewrite, per path
}

type cachedBody struct {
	contentType string
	body        []byte
}

// Stats counts what the proxy did.
type Stats struct {
	// Requests is the number of requests received.
	Requests int64
	// Forwarded is the number of requests sent to the target.
	Forwarded int64
	// Faults counts the faults actually injected, per kind. A rule that
	// fired but could not apply (say, skip on a body that is not a media
	// playlist) is not counted.
	Faults map[Fault]int64
}

// Event records one request handled by the proxy. It holds no headers and
// no query string, so nothing secret ends up in logs.
type Event struct {
	// Seq numbers the requests in the order they arrived, from 1.
	Seq int64
	// Time is when the request arrived (by the proxy's clock).
	Time time.Time
	// Duration is how long the proxy took to handle it.
	Duration time.Duration
	Method   string
	Path     string
	// Rule is the label of the rule that fired, "" when none did.
	Rule string
	// Fault is the fault injected, "" when none was.
	Fault Fault
	// Status is the status code sent to the client; 0 when the connection
	// was dropped without a response.
	Status int
	// Detail says what was done, e.g. "sent 100 of 1000 bytes".
	Detail string
}

// Option configures a Proxy.
type Option func(*Proxy)

// WithSeed seeds the PCG source behind Rule.Probability. Two proxies with the
// same seed, rules and sequence of requests inject the same faults. The
// default seed is 0.
func WithSeed(seed uint64) Option {
	return func(p *Proxy) { p.rng = newRand(seed) }
}

// WithClock replaces time.Now for rule windows (Rule.After/For) and event
// times.
func WithClock(now func() time.Time) Option {
	return func(p *Proxy) { p.now = now }
}

// WithTransport sets the RoundTripper used to reach the target. The default
// is a clone of http.DefaultTransport without environment proxies and
// without transparent decompression.
func WithTransport(rt http.RoundTripper) Option {
	return func(p *Proxy) { p.transport, p.ownsRT = rt, false }
}

// WithEventHook calls fn with every event once its request is handled (for a
// hang: once the client gave up). fn runs on the request's goroutine and must
// not block.
func WithEventHook(fn func(Event)) Option {
	return func(p *Proxy) { p.hook = fn }
}

// WithEventLimit sets how many of the latest events Events returns (default
// 1000; 0 keeps none).
func WithEventLimit(n int) Option {
	return func(p *Proxy) { p.eventLimit = max(n, 0) }
}

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// New returns an enabled proxy to target with no rules: it forwards every
// request unchanged until SetRules installs some. Requests are sent to
// target's scheme and host, with target's path prepended to theirs.
func New(target *url.URL, opts ...Option) *Proxy {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DisableCompression = true
	t := *target
	t.User = nil
	p := &Proxy{
		target:     &t,
		transport:  tr,
		ownsRT:     true,
		now:        time.Now,
		eventLimit: defaultEventLimit,
		enabled:    true,
		rng:        newRand(0),
		playlist:   make(map[string]cachedBody),
		stats:      Stats{Faults: make(map[Fault]int64)},
	}
	for _, o := range opts {
		o(p)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.epoch = p.now()
	return p
}

// SetRules validates and installs rules, replacing the previous ones. It
// restarts the rule clock (Rule.After/For count from now) and forgets
// counts, reset-sequence bases and cached playlists; the random source goes
// on. Rules are tried in order and the first that fires wins.
func (p *Proxy) SetRules(rules []Rule) error {
	states := make([]*ruleState, 0, len(rules))
	cacheOn := false
	for i, r := range rules {
		cr, err := compileRule(r, fmt.Sprintf("rules[%d].", i))
		if err != nil {
			return err
		}
		states = append(states, &ruleState{compiledRule: cr, label: r.label(i), seqBase: make(map[string]uint64)})
		cacheOn = cacheOn || r.Fault == FaultStale
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = states
	p.epoch = p.now()
	p.cacheOn = cacheOn
	clear(p.playlist)
	return nil
}

// Rules returns a copy of the installed rules.
func (p *Proxy) Rules() []Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Rule, len(p.rules))
	for i, rs := range p.rules {
		out[i] = rs.Rule
		out[i].Methods = slices.Clone(rs.Methods)
	}
	return out
}

// Enable turns fault injection on (the default).
func (p *Proxy) Enable() { p.setEnabled(true) }

// Disable turns fault injection off: requests are forwarded unchanged and
// rules neither fire nor draw random numbers until Enable.
func (p *Proxy) Disable() { p.setEnabled(false) }

func (p *Proxy) setEnabled(on bool) {
	p.mu.Lock()
	p.enabled = on
	p.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Faults = make(map[Fault]int64, len(p.stats.Faults))
	for f, n := range p.stats.Faults {
		s.Faults[f] = n
	}
	return s
}

// Events returns the latest events (see WithEventLimit) ordered by Seq.
func (p *Proxy) Events() []Event {
	p.mu.Lock()
	out := slices.Clone(p.events)
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b Event) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// Close cancels every request in flight (hung requests are dropped), waits
// for their handlers to return and closes idle connections to the target.
// Requests arriving later are answered 503. Close is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	if c, ok := p.transport.(interface{ CloseIdleConnections() }); ok && p.ownsRT {
		c.CloseIdleConnections()
	}
	return nil
}

// decision is what the rules chose for one request.
type decision struct {
	seq   int64
	at    time.Time
	rule  *ruleState // nil: forward unchanged
	cache bool       // remember a playlist answer for FaultStale
}

// begin registers a request and picks its rule; ok is false once closed.
func (p *Proxy) begin(r *http.Request) (d decision, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return decision{}, false
	}
	p.wg.Add(1)
	p.seq++
	p.stats.Requests++
	d = decision{seq: p.seq, at: p.now(), cache: p.cacheOn}
	if !p.enabled {
		return d, true
	}
	elapsed := d.at.Sub(p.epoch)
	var u, acc float64
	drawn := false
	for _, rs := range p.rules {
		if !rs.matches(r.Method, r.URL.Path) || !rs.inWindow(elapsed) || (rs.Count > 0 && rs.fired >= rs.Count) {
			continue
		}
		if rs.Fault == FaultStale && !p.staleAvailable(r) {
			continue
		}
		if !rs.alwaysFires() {
			if !drawn {
				u, drawn = p.rng.Float64(), true
			}
			lo := acc
			acc += rs.Probability
			if u < lo || u >= acc {
				continue
			}
		}
		rs.fired++
		d.rule = rs
		return d, true
	}
	return d, true
}

// staleAvailable reports whether a stale answer can be served; p.mu held.
func (p *Proxy) staleAvailable(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	_, ok := p.playlist[r.URL.Path]
	return ok
}

// ServeHTTP handles one request according to the rules.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, ok := p.begin(r)
	if !ok {
		http.Error(w, "chaos: proxy closed", http.StatusServiceUnavailable)
		return
	}
	defer p.wg.Done()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()

	h := &handling{p: p, w: w, r: r, ctx: ctx, d: d, ev: Event{Seq: d.seq, Time: d.at, Method: r.Method, Path: r.URL.Path}}
	if d.rule != nil {
		h.ev.Rule = d.rule.label
	}
	start := time.Now()
	defer func() {
		h.ev.Duration = time.Since(start)
		p.record(h.ev)
	}()
	if d.rule == nil {
		h.forward()
		return
	}
	switch d.rule.Fault {
	case FaultStatus:
		h.status()
	case FaultDelay:
		h.delay()
	case FaultHang:
		h.hang()
	case FaultReset:
		h.reset()
	case FaultTruncate:
		h.truncate()
	case FaultStale:
		h.stale()
	case FaultResetSequence, FaultSkip:
		h.rewrite()
	}
}

// record stores ev and passes it to the hook.
func (p *Proxy) record(ev Event) {
	p.mu.Lock()
	if p.eventLimit > 0 {
		if len(p.events) < p.eventLimit {
			p.events = append(p.events, ev)
		} else {
			p.events[p.next] = ev
			p.next = (p.next + 1) % p.eventLimit
		}
	}
	p.mu.Unlock()
	if p.hook != nil {
		p.hook(ev)
	}
}

// remember stores a playlist answer for FaultStale.
func (p *Proxy) remember(path, contentType string, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cacheOn {
		return
	}
	if _, ok := p.playlist[path]; !ok && len(p.playlist) >= maxCachedPaths {
		return
	}
	p.playlist[path] = cachedBody{contentType: contentType, body: body}
}

// targetURL maps a request URL onto the target.
func (p *Proxy) targetURL(in *url.URL) *url.URL {
	u := *p.target
	u.Path = joinPath(p.target.Path, in.Path)
	u.RawPath = ""
	if p.target.RawPath != "" || in.RawPath != "" {
		u.RawPath = joinPath(p.target.EscapedPath(), in.EscapedPath())
	}
	switch {
	case p.target.RawQuery == "":
		u.RawQuery = in.RawQuery
	case in.RawQuery != "":
		u.RawQuery = p.target.RawQuery + "&" + in.RawQuery
	}
	u.Fragment, u.RawFragment = "", ""
	return &u
}

func joinPath(base, p string) string {
	if base == "" || base == "/" {
		return p
	}
	return strings.TrimSuffix(base, "/") + "/" + strings.TrimPrefix(p, "/")
}
