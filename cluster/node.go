package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/store"
	"github.com/pullpush/pullpush/store/natskv"
)

// Defaults.
const (
	DefaultLeaseTTL       = 10 * time.Second
	MinLeaseTTL           = time.Second
	DefaultHandoffTimeout = 15 * time.Second
)

// Log keys.
const (
	logKeyFetcher = "fetcher"
	logKeyTTL     = "leaseTtl"
	logKeyBucket  = "bucket"
	logKeyReason  = "reason"
	logKeyErr     = logkey.Err
	logKeyCount   = "count"
	logKeyResumed = "resumed"
)

// Errors.
var (
	// ErrNotOwner is returned by fenced uploads and progress saves of a
	// fetcher whose lease this instance does not hold (any more).
	ErrNotOwner = errors.New("cluster: this instance does not hold the fetcher's lease")
	// ErrInstanceInUse is returned by Start when a live instance already
	// uses the same instance id.
	ErrInstanceInUse = errors.New("cluster: instance id in use by a live instance")
)

// Runner starts and stops fetchers on this instance; api.API implements it.
type Runner interface {
	// StartLocal starts the stored definition def here.
	StartLocal(ctx context.Context, def store.Fetcher) error
	// StopLocal stops fetcher id here, waiting for its in-flight uploads
	// and its last progress save until ctx ends. A fetcher not running
	// here is not an error.
	StopLocal(ctx context.Context, id string) error
	// LocalStatus returns the status of fetcher id running here, secrets
	// redacted.
	LocalStatus(id string) (fetch.Status, bool)
}

// Config configures a Node.
type Config struct {
	// JS is the JetStream context of this instance's NATS connection.
	JS jetstream.JetStream
	// Store is the shared store (same JetStream, same prefix).
	Store *natskv.Store
	// Instance names this instance; unique among live instances. Letters,
	// digits, '-' and '_' (natskv.ValidPrefix).
	Instance string
	// LeaseTTL is how long a lease and a membership live without renewal
	// (default DefaultLeaseTTL, at least MinLeaseTTL). Every instance of a
	// cluster must use the same value.
	LeaseTTL time.Duration
	// Prefix starts the bucket names (default natskv.DefaultPrefix); the
	// same as the store's.
	Prefix string
	// Replicas of each bucket in a clustered JetStream (default 1).
	Replicas int
	// MaxFetchers caps the fetchers this instance runs (0 = no cap).
	MaxFetchers int
	// HandoffTimeout bounds the graceful stop of one fetcher handed off
	// (default DefaultHandoffTimeout).
	HandoffTimeout time.Duration
	// Logger receives the node's logs; nil discards them. The node does
	// not add its instance id to each line: give it a logger With one.
	Logger *slog.Logger
	// OnEvent, when set, is called for every claim, hand-off and lost
	// lease (tests measure takeovers with it). It must not block.
	OnEvent func(Event)
}

// EventType says what happened to a lease.
type EventType string

// Event types.
const (
	EventClaimed  EventType = "claimed"  // this instance claimed the fetcher and started it
	EventReleased EventType = "released" // handed off: stopped gracefully, lease deleted
	EventLost     EventType = "lost"     // lease lost (expired or taken): fence closed, fetcher stopped
)

// Event is one change of a lease held by this instance.
type Event struct {
	Type     EventType
	Fetcher  string
	Instance string
	Time     time.Time
	Reason   string
}

// Stats counts what a node did.
type Stats struct {
	Claims, Handoffs, Lost int64
	// Refused counts uploads and progress saves refused by the fence.
	Refused int64
}

// node states.
const (
	stateNew = iota
	stateRunning
	stateLeaving
	stateStopped
)

// Node is one instance's membership of a cluster. Create it with New, give
// Progress and WrapOutput to the pullpush.Service, then Start it with the
// Runner.
type Node struct {
	cfg     Config
	log     *slog.Logger
	st      *natskv.Store
	members jetstream.KeyValue
	leases  jetstream.KeyValue
	status  jetstream.KeyValue
	ttl     time.Duration
	margin  time.Duration
	epoch   time.Time // monotonic base of mono()
	memKey  string
	joined  time.Time

	runner Runner
	ctx    context.Context // node lifetime
	cancel context.CancelFunc
	wg     sync.WaitGroup
	poke   chan struct{}

	claims, handoffs, lost, refused atomic.Int64

	mu         sync.Mutex
	state      int
	memberRev  uint64
	defs       map[string]bool // fetcher ids defined
	defsSynced bool
	views      map[string]map[string]viewEntry // bucket ("members", "leases", "status") → key → entry
	synced     map[string]bool
	held       map[string]*lease // fetcher id → lease this instance holds
	draining   map[string]bool   // fetchers whose lease was lost and that are still stopping
}

// viewEntry is the latest value of a key seen by a watcher.
type viewEntry struct {
	value []byte
	rev   uint64
	seen  int64 // mono() when the value was written, as far as we know
}

// memberValue is the value of a member key.
type memberValue struct {
	Instance string    `json:"instance"`
	Since    time.Time `json:"since"`
	Max      int       `json:"maxFetchers,omitempty"`
}

// leaseValue is the value of a lease key.
type leaseValue struct {
	Instance string    `json:"instance"`
	Since    time.Time `json:"since"`
}

// statusRecord is the value of a status key.
type statusRecord struct {
	Instance string       `json:"instance"`
	At       time.Time    `json:"at"`
	Status   fetch.Status `json:"status"`
}

// New opens the cluster buckets. It starts nothing.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.JS == nil || cfg.Store == nil {
		return nil, errors.New("cluster: Config.JS and Config.Store are required")
	}
	if !natskv.ValidPrefix(cfg.Instance) {
		return nil, fmt.Errorf("cluster: instance id %q: use letters, digits, '-' and '_' (at most 64)", cfg.Instance)
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LeaseTTL < MinLeaseTTL {
		return nil, fmt.Errorf("cluster: lease TTL %s is below the minimum %s", cfg.LeaseTTL, MinLeaseTTL)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = natskv.DefaultPrefix
	}
	if cfg.HandoffTimeout <= 0 {
		cfg.HandoffTimeout = DefaultHandoffTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg: cfg, log: log, st: cfg.Store, ttl: cfg.LeaseTTL, margin: cfg.LeaseTTL / 5,
		epoch: time.Now(), memKey: cfg.Instance, poke: make(chan struct{}, 1),
		defs: map[string]bool{}, views: map[string]map[string]viewEntry{}, synced: map[string]bool{},
		held: map[string]*lease{}, draining: map[string]bool{},
	}
	marker := max(cfg.LeaseTTL, time.Second)
	var err error
	n.members, err = natskv.EnsureBucket(ctx, cfg.JS, jetstream.KeyValueConfig{
		Bucket: natskv.BucketName(cfg.Prefix, "members"), Description: "pullpush cluster members",
		History: 1, TTL: cfg.LeaseTTL, LimitMarkerTTL: marker, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.leases, err = natskv.EnsureBucket(ctx, cfg.JS, jetstream.KeyValueConfig{
		Bucket: natskv.BucketName(cfg.Prefix, "leases"), Description: "pullpush fetcher leases",
		History: 1, TTL: cfg.LeaseTTL, LimitMarkerTTL: marker, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.status, err = natskv.EnsureBucket(ctx, cfg.JS, jetstream.KeyValueConfig{
		Bucket: natskv.BucketName(cfg.Prefix, "status"), Description: "pullpush fetcher status by owner",
		History: 1, TTL: 2 * cfg.LeaseTTL, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return n, nil
}

// Instance returns this instance's id.
func (n *Node) Instance() string { return n.cfg.Instance }

// LeaseTTL returns the lease TTL.
func (n *Node) LeaseTTL() time.Duration { return n.ttl }

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{Claims: n.claims.Load(), Handoffs: n.handoffs.Load(), Lost: n.lost.Load(), Refused: n.refused.Load()}
}

// mono returns the monotonic time since the node was created.
func (n *Node) mono() int64 { return int64(time.Since(n.epoch)) }

func (n *Node) event(t EventType, id, reason string) {
	if n.cfg.OnEvent != nil {
		n.cfg.OnEvent(Event{Type: t, Fetcher: id, Instance: n.cfg.Instance, Time: time.Now(), Reason: reason})
	}
}

func (n *Node) pokeReconcile() {
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

// Start joins the cluster and runs until Leave, Abort or Close: it
// registers the membership (waiting up to one TTL for a previous
// incarnation's membership to expire), starts the watchers, waits until
// they have loaded the current state, and starts claiming.
func (n *Node) Start(ctx context.Context, r Runner) error {
	n.mu.Lock()
	if n.state != stateNew {
		n.mu.Unlock()
		return errors.New("cluster: node already started")
	}
	n.runner = r
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.state = stateRunning
	n.mu.Unlock()

	if err := n.join(ctx); err != nil {
		n.cancel()
		n.mu.Lock()
		n.state = stateStopped
		n.mu.Unlock()
		return err
	}
	n.wg.Add(4)
	go n.watchDefs()
	go n.watch("members", n.members)
	go n.watch("leases", n.leases)
	go n.watch("status", n.status)
	// Wait for the first snapshot of every view, so the first
	// reconciliation sees the whole cluster.
	for {
		n.mu.Lock()
		ready := n.defsSynced && n.synced["members"] && n.synced["leases"] && n.synced["status"]
		n.mu.Unlock()
		if ready {
			break
		}
		select {
		case <-ctx.Done():
			n.Abort()
			return fmt.Errorf("cluster: start: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	n.wg.Add(3)
	go n.tickLoop()
	go n.statusLoop()
	go n.reconcileLoop()
	n.log.Info("joined cluster", logKeyTTL, n.ttl)
	return nil
}

// join creates this instance's member key.
func (n *Node) join(ctx context.Context) error {
	n.joined = time.Now().UTC()
	val := n.memberValue()
	deadline := time.Now().Add(n.ttl + 2*time.Second)
	waited := false
	for {
		rev, err := n.members.Create(ctx, n.memKey, val)
		if err == nil {
			n.mu.Lock()
			n.memberRev = rev
			n.mu.Unlock()
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("cluster: join: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %q is still renewed by another instance after %s: give each instance its own instance id",
				ErrInstanceInUse, n.cfg.Instance, n.ttl)
		}
		if !waited {
			n.log.Warn("instance id still registered (a previous run, or another instance): waiting for it to expire",
				logKeyTTL, n.ttl)
			waited = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: join: %w", ctx.Err())
		case <-time.After(n.ttl / 10):
		}
	}
}

// memberValue is the value of this instance's member key; it does not
// change between heartbeats.
func (n *Node) memberValue() []byte {
	val, _ := json.Marshal(memberValue{Instance: n.cfg.Instance, Since: n.joined, Max: n.cfg.MaxFetchers})
	return val
}

// running reports whether the node still takes part.
func (n *Node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state == stateRunning
}

// tickLoop heartbeats the membership, renews every lease and checks the
// fences every TTL/3.
func (n *Node) tickLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		n.heartbeat()
		n.renewAll()
		n.pokeReconcile()
	}
}

// heartbeat renews the member key.
func (n *Node) heartbeat() {
	n.mu.Lock()
	rev, leaving := n.memberRev, n.state != stateRunning
	n.mu.Unlock()
	if leaving {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.ttl/3)
	defer cancel()
	val := n.memberValue()
	next, err := n.members.Update(ctx, n.memKey, val, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		// Expired while we were cut off, or another instance uses our id.
		next, err = n.members.Create(ctx, n.memKey, val)
		if errors.Is(err, jetstream.ErrKeyExists) {
			n.log.Error("membership taken by another instance with the same id")
			return
		}
	}
	if err != nil {
		n.log.Warn("membership heartbeat failed", logKeyErr, err)
		return
	}
	n.mu.Lock()
	n.memberRev = next
	n.mu.Unlock()
}

// renewAll renews every held lease concurrently and loses those that can
// no longer be trusted.
func (n *Node) renewAll() {
	n.mu.Lock()
	list := make([]*lease, 0, len(n.held))
	for _, l := range n.held {
		list = append(list, l)
	}
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range list {
		wg.Add(1)
		go func() { defer wg.Done(); n.renew(l); n.retryUnsaved(l) }()
	}
	wg.Wait()
}

// Leave hands every fetcher off and leaves the cluster: the membership is
// removed first (so the others count one member less and claim), then each
// fetcher is stopped gracefully and its lease deleted. Then the node stops
// (Close is still needed to wait for its goroutines).
func (n *Node) Leave(ctx context.Context) error {
	n.mu.Lock()
	if n.state != stateRunning {
		n.mu.Unlock()
		return nil
	}
	n.state = stateLeaving
	list := make([]*lease, 0, len(n.held))
	for _, l := range n.held {
		if l.markStopping() {
			list = append(list, l)
		}
	}
	n.mu.Unlock()
	n.log.Info("leaving cluster: handing fetchers off", logKeyCount, len(list))
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.ttl)
	if err := n.members.Delete(dctx, n.memKey); err != nil {
		n.log.Warn("cannot remove membership", logKeyErr, err)
	}
	cancel()
	var wg sync.WaitGroup
	for _, l := range list {
		wg.Add(1)
		go func() { defer wg.Done(); n.handOff(ctx, l, "leaving") }()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		// Hand-offs a rebalance started before Leave finish too.
		for {
			n.mu.Lock()
			left := len(n.held)
			n.mu.Unlock()
			if left == 0 || ctx.Err() != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("cluster: leave: %w", ctx.Err())
	}
	n.stop()
	return err
}

// Abort stops taking part at once, as a crash would: no hand-off, leases
// and membership are left to expire; every fence closes, so the fetchers
// still running here can neither push nor save progress. The caller stops
// them (pullpush.Service.Close). Used by tests to simulate kill -9.
func (n *Node) Abort() {
	n.mu.Lock()
	n.state = stateStopped
	list := make([]*lease, 0, len(n.held))
	for _, l := range n.held {
		list = append(list, l)
	}
	clear(n.held)
	n.mu.Unlock()
	for _, l := range list {
		l.closeFence()
	}
	if n.cancel != nil {
		n.cancel()
	}
}

// stop ends the node's loops; held leases (if any) are fenced.
func (n *Node) stop() {
	n.mu.Lock()
	n.state = stateStopped
	list := make([]*lease, 0, len(n.held))
	for _, l := range n.held {
		list = append(list, l)
	}
	n.mu.Unlock()
	for _, l := range list {
		l.closeFence()
	}
	if n.cancel != nil {
		n.cancel()
	}
}

// Close stops the node (without hand-off if Leave was not called) and
// waits for its goroutines.
func (n *Node) Close() error {
	n.stop()
	n.wg.Wait()
	return nil
}

// Members returns the live members as this instance sees them, itself
// included while it runs.
func (n *Node) Members() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.liveMembersLocked()
}

// Owned returns the ids of the fetchers this instance holds.
func (n *Node) Owned() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.held))
	for id, l := range n.held {
		if !l.isStopping() {
			out = append(out, id)
		}
	}
	return out
}

// Placement returns the instance that holds fetcher id's lease ("" when
// none does) and, when that instance published one, its latest status.
func (n *Node) Placement(id string) (string, *fetch.Status) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.held[id]; ok {
		return n.cfg.Instance, nil
	}
	key := natskv.Key(id)
	e, ok := n.views["leases"][key]
	if !ok || n.expiredLocked(e) {
		return "", nil
	}
	var lv leaseValue
	if json.Unmarshal(e.value, &lv) != nil {
		return "", nil
	}
	se, ok := n.views["status"][key]
	if !ok {
		return lv.Instance, nil
	}
	var rec statusRecord
	if json.Unmarshal(se.value, &rec) != nil || rec.Instance != lv.Instance {
		return lv.Instance, nil
	}
	return lv.Instance, &rec.Status
}

// expiredLocked reports whether an entry of a TTL bucket was not renewed
// for longer than the TTL (a fallback for servers without expiry markers).
func (n *Node) expiredLocked(e viewEntry) bool {
	return n.mono()-e.seen > int64(n.ttl+n.margin)
}

// liveMembersLocked lists members whose key is fresh, plus this instance
// while it runs.
func (n *Node) liveMembersLocked() []string {
	var out []string
	self := false
	for key, e := range n.views["members"] {
		if n.expiredLocked(e) {
			continue
		}
		if key == n.memKey {
			if n.state != stateRunning {
				continue
			}
			self = true
		}
		out = append(out, key)
	}
	if !self && n.state == stateRunning {
		out = append(out, n.memKey)
	}
	return out
}

// statusLoop publishes the status of every fetcher running here every TTL/3.
func (n *Node) statusLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		n.publishStatus()
	}
}

func (n *Node) publishStatus() {
	n.mu.Lock()
	ids := make([]string, 0, len(n.held))
	for id, l := range n.held {
		if !l.isStopping() {
			ids = append(ids, id)
		}
	}
	n.mu.Unlock()
	for _, id := range ids {
		st, ok := n.runner.LocalStatus(id)
		if !ok {
			continue
		}
		data, err := json.Marshal(statusRecord{Instance: n.cfg.Instance, At: time.Now().UTC(), Status: st})
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.ttl/3)
		_, err = n.status.Put(ctx, natskv.Key(id), data)
		cancel()
		if err != nil && n.ctx.Err() == nil {
			n.log.Debug("publish status", logKeyFetcher, id, logKeyErr, err)
		}
	}
}
