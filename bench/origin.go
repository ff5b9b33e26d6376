package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// originConfig configures 'bench origin'.
type originConfig struct {
	Clients      int           `json:"clients"`
	Duration     time.Duration `json:"durationNs"` // per scenario
	Window       time.Duration `json:"windowNs"`   // startover window to pre-fill
	Segment      time.Duration `json:"segmentNs"`
	Renditions   int           `json:"renditions"`
	SegmentBytes int           `json:"segmentBytes"`
	Media        string        `json:"media"`       // segment bodies: mediaNull or mediaH264
	ShiftSpan    time.Duration `json:"shiftSpanNs"` // end-start of time-shifted requests
	// ShiftWindows > 0 makes time-shifted requests ask for one of that
	// many fixed windows per rendition (viewers of the same catch-up
	// programmes), which nginx is given as copies; 0: a random start per
	// request, every request a new window.
	ShiftWindows int      `json:"shiftWindows"`
	Scenarios    []string `json:"scenarios"`
	PutWorkers   int      `json:"putWorkers"`
	PullpushBin  string   `json:"-"`
	Source       string   `json:"source"`
	Addr         string   `json:"-"` // use a running origin instead of starting one
	Pid          int      `json:"-"` // its process id, for CPU and RSS
	WorkDir      string   `json:"-"`
	Keep         bool     `json:"-"`
	Peer         string   `json:"peer,omitempty"` // "nginx": the same files from nginx, scenario by scenario
}

// originScenario is the result of one request mix.
type originScenario struct {
	Name        string       `json:"name"`
	Requests    int64        `json:"requests"`
	Errors      int64        `json:"errors"`
	FirstError  string       `json:"firstError,omitempty"`
	PerSecond   float64      `json:"perSecond"`
	MBPerSecond float64      `json:"mbPerSecond"`
	AvgBytes    float64      `json:"avgBytes"`
	Latency     latencyStats `json:"latency"`
	OriginCores float64      `json:"originCores"` // of the server under test (pullpush origin or the peer)
	RSSMiB      float64      `json:"rssMiB"`      // its RSS at the end (summed over its processes)
	ClientCores float64      `json:"clientCores"`
	OtherCores  float64      `json:"otherCores"` // everything else on the machine (noise)
}

// originResult is the report of 'bench origin'.
type originResult struct {
	Date         time.Time        `json:"date"`
	Machine      machineInfo      `json:"machine"`
	Config       originConfig     `json:"config"`
	Version      string           `json:"version"`
	PrefillSecs  float64          `json:"prefillSeconds"`
	PrefillPuts  int64            `json:"prefillPuts"`
	Segments     int64            `json:"segmentsPerRendition"` // in the startover window
	LiveBytes    int              `json:"livePlaylistBytes"`
	ShiftBytes   int              `json:"shiftPlaylistBytes"`
	MPDBytes     int              `json:"mpdBytes,omitempty"`
	SegmentBody  int              `json:"segmentBodyBytes"` // bytes of a segment as pushed
	IdleRSSMiB   float64          `json:"idleRssMiB"`
	FilledRSSMiB float64          `json:"filledRssMiB"`
	Scenarios    []originScenario `json:"scenarios"`

	Peer          string           `json:"peer,omitempty"`
	PeerVersion   string           `json:"peerVersion,omitempty"`
	PeerNote      string           `json:"peerNote,omitempty"` // why the peer did not run, or how it was fed
	PeerScenarios []originScenario `json:"peerScenarios,omitempty"`
}

// Scenario names of 'bench origin'.
var originScenarios = []string{"live-playlist", "master", "shift-playlist", "segment", "mpd"}

// mpdScenario requests the live MPD of a DASH endpoint ("dash"), which
// needs segments the origin can repackage: it makes the pre-fill use
// h264 media unless -media says otherwise.
const mpdScenario = "mpd"

// dashEndpoint is the DASH endpoint the origin gets for mpdScenario.
const dashEndpoint = "dash"

const (
	originChannel = "bench"
	originInput   = "a"
	originUser    = "ingest"
	originPass    = "ingest-pass"
)

// runOrigin implements 'bench origin'.
func runOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("origin", stderr)
	var cfg originConfig
	fs.IntVar(&cfg.Clients, "clients", 100, "concurrent keep-alive clients")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "duration of each scenario")
	fs.DurationVar(&cfg.Window, "window", 24*time.Hour, "startover window to pre-fill")
	fs.DurationVar(&cfg.Segment, "segment", 2*time.Second, "segment duration")
	fs.IntVar(&cfg.Renditions, "renditions", 2, "renditions")
	fs.IntVar(&cfg.SegmentBytes, "segment-bytes", 10*tsPacket, "bytes per segment (small by default: 24 h x renditions are written to disk)")
	fs.DurationVar(&cfg.ShiftSpan, "shift-span", time.Hour, "end-start of time-shifted playlist requests")
	fs.IntVar(&cfg.ShiftWindows, "shift-windows", 0, "time-shifted requests ask for one of this many fixed windows per rendition (nginx serves copies of the same ones); 0: a random window per request")
	scen := fs.String("scenarios", strings.Join(originScenarios, ","), "request mixes to run: "+strings.Join(originScenarios, ", "))
	fs.IntVar(&cfg.PutWorkers, "put-workers", 8, "concurrent PUTs while pre-filling")
	fs.StringVar(&cfg.PullpushBin, "pullpush-bin", "", "prebuilt pullpush binary (default: build it, see -source)")
	fs.StringVar(&cfg.Source, "source", "head", "build pullpush from: head (git archive HEAD) or worktree")
	fs.StringVar(&cfg.Addr, "addr", "", "load an already running origin at this loopback address (channel "+originChannel+", "+originUser+":"+originPass+")")
	fs.IntVar(&cfg.Pid, "pid", 0, "process id of the origin given with -addr (for CPU and RSS)")
	fs.StringVar(&cfg.WorkDir, "work", "", "directory for the origin's data and log (default: temp dir)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the work directory")
	fs.StringVar(&cfg.Media, "media", "", "segment bodies: null (TS null packets) or h264 (tiny real H.264, at least ~10 KB per 2 s); default h264 with the mpd scenario, else null")
	fs.StringVar(&cfg.Peer, "peer", "", "also serve the same playlists and segments as static files from this peer under the same load: nginx")
	jsonOut := fs.String("json", "", "also write the JSON report to this file")
	mdOut := fs.String("md", "", "also write the Markdown table to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, s := range strings.Split(*scen, ",") {
		s = strings.TrimSpace(s)
		ok := false
		for _, k := range originScenarios {
			ok = ok || k == s
		}
		if !ok {
			return fmt.Errorf("%w: unknown scenario %q", errUsage, s)
		}
		cfg.Scenarios = append(cfg.Scenarios, s)
	}
	if cfg.Media == "" {
		cfg.Media = mediaNull
		if slices.Contains(cfg.Scenarios, mpdScenario) {
			cfg.Media = mediaH264
		}
	}
	if cfg.Media != mediaNull && cfg.Media != mediaH264 {
		return fmt.Errorf("%w: -media must be %s or %s", errUsage, mediaNull, mediaH264)
	}
	if slices.Contains(cfg.Scenarios, mpdScenario) && cfg.Media != mediaH264 {
		return fmt.Errorf("%w: the %s scenario needs -media %s (DASH repackages the TS)", errUsage, mpdScenario, mediaH264)
	}
	if cfg.Peer != "" && cfg.Peer != peerNginx {
		return fmt.Errorf("%w: -peer must be %s", errUsage, peerNginx)
	}
	if cfg.Clients < 1 || cfg.Segment <= 0 || cfg.Window < cfg.Segment || cfg.Renditions < 1 || cfg.SegmentBytes < tsPacket {
		return fmt.Errorf("%w: bad -clients, -segment, -window, -renditions or -segment-bytes", errUsage)
	}
	res, err := benchOrigin(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	return emit(stdout, *jsonOut, *mdOut, res, func(w io.Writer) { writeOriginTable(w, res) })
}

func benchOrigin(ctx context.Context, cfg originConfig, progress io.Writer) (res originResult, err error) {
	res = originResult{Date: time.Now().UTC(), Machine: machine(), Config: cfg}
	logf := func(format string, args ...any) {
		fmt.Fprintf(progress, "[%s origin] "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	var pid int
	addr := cfg.Addr
	if addr == "" {
		work := cfg.WorkDir
		if work == "" {
			if work, err = os.MkdirTemp("", "pullpush-bench-origin-"); err != nil {
				return res, err
			}
			if !cfg.Keep {
				defer os.RemoveAll(work)
			}
		}
		bin := cfg.PullpushBin
		if bin == "" {
			if bin, err = buildPullpush(ctx, work, cfg.Source); err != nil {
				return res, err
			}
		}
		if out, err := exec.CommandContext(ctx, bin, "version").Output(); err == nil {
			res.Version = strings.TrimSpace(string(out))
		}
		if cfg.PullpushBin == "" {
			res.Version += " " + describeSource(ctx, cfg.Source)
		}
		port, err := freePort()
		if err != nil {
			return res, err
		}
		addr = fmt.Sprintf("127.0.0.1:%d", port)
		data := filepath.Join(work, "data")
		os.MkdirAll(data, 0o755)
		args := []string{"origin", "--listen", addr, "--data", data, "--channel", originChannel + "=" + originUser + ":" + originPass}
		if slices.Contains(cfg.Scenarios, mpdScenario) {
			// The first endpoint is also the endpoint-less URLs the other
			// scenarios request: the implicit TS endpoint's settings.
			args = append(args, "--endpoint", "ts", "--endpoint", dashEndpoint)
		}
		oc, err := startChild("origin", work, exec.Command(bin, args...), false, 0)
		if err != nil {
			return res, err
		}
		defer oc.stop(5 * time.Second)
		// Any HTTP answer means it is up: an empty channel's index is a 404.
		if err := waitAnswer(ctx, oc, "http://"+addr+"/out/v1/"+originChannel+"/index.m3u8", 60*time.Second); err != nil {
			return res, err
		}
		pid = oc.cmd.Process.Pid
		if s, err := readProc(pid); err == nil {
			res.IdleRSSMiB = float64(s.RSS) / mib
		}
	} else if err := requireLoopback(addr); err != nil {
		return res, err
	} else if pid = cfg.Pid; pid != 0 {
		if s, err := readProc(pid); err == nil {
			res.IdleRSSMiB = float64(s.RSS) / mib
		}
	}
	base := "http://" + addr

	// Pre-fill the startover window, then keep the live edge moving.
	logf("pre-filling %s of %s segments x %d renditions into %s", cfg.Window, cfg.Segment, cfg.Renditions, base)
	t0 := time.Now()
	pf := newPrefiller(base, cfg)
	if err := pf.fill(ctx); err != nil {
		return res, fmt.Errorf("pre-fill: %w", err)
	}
	res.PrefillSecs = round3(time.Since(t0).Seconds())
	res.PrefillPuts = pf.puts.Load()
	res.SegmentBody = len(pf.body)
	res.Segments = pf.next
	logf("pre-filled %d segments per rendition with %d PUTs in %.1f s", pf.next, res.PrefillPuts, res.PrefillSecs)
	if pid != 0 {
		if s, err := readProc(pid); err == nil {
			res.FilledRSSMiB = float64(s.RSS) / mib
		}
	}
	liveCtx, stopLive := context.WithCancel(ctx)
	liveErr := make(chan error, 1)
	go func() { liveErr <- pf.live(liveCtx) }()
	defer func() {
		stopLive()
		if lerr := <-liveErr; lerr != nil && err == nil && !errors.Is(lerr, context.Canceled) {
			err = fmt.Errorf("live pusher: %w", lerr)
		}
	}()

	tr := &http.Transport{MaxIdleConns: cfg.Clients * 2, MaxIdleConnsPerHost: cfg.Clients * 2, MaxConnsPerHost: cfg.Clients * 2,
		IdleConnTimeout: time.Minute, DisableCompression: true, ForceAttemptHTTP2: false}
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	tg, err := discoverTargets(ctx, cl, base, pf)
	if err != nil {
		return res, err
	}
	res.LiveBytes, res.ShiftBytes, res.MPDBytes = tg.liveBytes, tg.shiftBytes, tg.mpdBytes
	if cfg.ShiftWindows > 0 {
		tg.fixShiftWindows(cfg.ShiftWindows, cfg.ShiftSpan)
	}
	var pids []int
	if pid != 0 {
		pids = []int{pid}
	}

	// The peer: the same files, static, from nginx.
	var ng *nginxPeer
	var ngTargets *targets
	var ngClient *http.Client
	if cfg.Peer == peerNginx {
		ng, ngTargets, err = setupNginx(ctx, cl, tg, pf.body, cfg, logf)
		switch {
		case errors.Is(err, errNoNginx):
			res.Peer, res.PeerNote = peerNginx, err.Error()
			logf("%v", err)
		case err != nil:
			return res, fmt.Errorf("nginx peer: %w", err)
		default:
			defer ng.stop()
			if !cfg.Keep {
				defer os.RemoveAll(ng.dir)
			}
			res.Peer, res.PeerVersion = peerNginx, ng.version
			copies := fmt.Sprintf("%d time-shifted playlists per rendition", shiftCopies)
			if cfg.ShiftWindows > 0 {
				copies = fmt.Sprintf("the %d time-shifted windows per rendition pullpush was asked for", cfg.ShiftWindows)
			}
			res.PeerNote = "static copies: live playlists as of the start, " + copies + ", segments hard-linked to copies of one file"
			ntr := tr.Clone()
			ngClient = &http.Client{Transport: ntr, Timeout: cl.Timeout}
		}
	}
	for _, name := range cfg.Scenarios {
		logf("scenario %s: %d clients for %s", name, cfg.Clients, cfg.Duration)
		sc := loadScenario(ctx, cl, name, tg, cfg, pids)
		logf("  %.0f req/s, p99 %.2f ms, %d errors", sc.PerSecond, sc.Latency.P99, sc.Errors)
		res.Scenarios = append(res.Scenarios, sc)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if ngTargets != nil {
			tr.CloseIdleConnections()
			logf("scenario %s on nginx", name)
			sc := loadScenario(ctx, ngClient, name, ngTargets, cfg, ng.pids())
			logf("  %.0f req/s, p99 %.2f ms, %d errors", sc.PerSecond, sc.Latency.P99, sc.Errors)
			res.PeerScenarios = append(res.PeerScenarios, sc)
			ngClient.Transport.(*http.Transport).CloseIdleConnections()
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
	}
	return res, nil
}

// setupNginx copies the origin's files for nginx and starts it.
func setupNginx(ctx context.Context, cl *http.Client, tg *targets, body []byte, cfg originConfig, logf func(string, ...any)) (*nginxPeer, *targets, error) {
	if _, err := nginxBin(); err != nil {
		return nil, nil, err
	}
	dir, err := newNginxDir()
	if err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	ng, err := startNginx(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	nt, err := mirrorForNginx(ctx, cl, tg, body, ng.root, "http://"+ng.addr, cfg.ShiftSpan)
	if err != nil {
		ng.stop()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	logf("nginx %s on %s (pids %v) serving static copies in %s (copied in %.1f s)", ng.version, ng.addr, ng.pids(), ng.root, time.Since(t0).Seconds())
	return ng, nt, nil
}

// waitAnswer polls url until any HTTP response arrives.
func waitAnswer(ctx context.Context, c *child, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		if !c.alive() {
			return fmt.Errorf("%s exited: %v (log %s)", c.name, c.err, c.log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not answering %s after %s (log %s)", c.name, url, timeout, c.log)
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// targets are the URLs the load generator requests.
type targets struct {
	base       string
	master     string
	media      []string // live media playlist URLs
	segPrefix  []string // per rendition: URL prefix of segments ("…/channel_r0/")
	segExt     string
	firstSeq   []int64
	lastSeq    []int64
	oldest     time.Time
	liveBytes  int
	shiftBytes int
	shift      [][]string // per rendition: the time-shifted playlists to ask for; nil = a random window per request
	mpd        string     // live MPD of the DASH endpoint ("" without the mpd scenario)
	mpdBytes   int
}

// fixShiftWindows makes time-shifted requests ask for one of n fixed
// windows per rendition.
func (tg *targets) fixShiftWindows(n int, span time.Duration) {
	rnd := rand.New(rand.NewPCG(3, 4))
	tg.shift = make([][]string, len(tg.media))
	for r := range tg.media {
		for range n {
			tg.shift[r] = append(tg.shift[r], tg.shiftURL(r, rnd, span))
		}
	}
}

// discoverTargets reads the origin's playlists to learn media playlist and
// segment URLs and the sequence range of the startover window.
func discoverTargets(ctx context.Context, cl *http.Client, base string, p *prefiller) (*targets, error) {
	tg := &targets{base: base, master: base + "/out/v1/" + originChannel + "/index.m3u8", oldest: p.epoch}
	if slices.Contains(p.cfg.Scenarios, mpdScenario) {
		tg.mpd = base + "/out/v1/" + originChannel + "/" + dashEndpoint + "/index.mpd"
		mpd, err := get(ctx, cl, tg.mpd)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(mpd, []byte("<SegmentTimeline>")) {
			return nil, fmt.Errorf("%s lists no segments:\n%s", tg.mpd, mpd)
		}
		tg.mpdBytes = len(mpd)
	}
	body, err := get(ctx, cl, tg.master)
	if err != nil {
		return nil, err
	}
	dir := base + "/out/v1/" + originChannel + "/"
	for _, u := range uris(body) {
		if strings.Contains(u, "iframe") {
			continue
		}
		tg.media = append(tg.media, dir+u)
	}
	if len(tg.media) == 0 {
		return nil, fmt.Errorf("no media playlists in %s:\n%s", tg.master, body)
	}
	for _, m := range tg.media {
		live, err := get(ctx, cl, m)
		if err != nil {
			return nil, err
		}
		tg.liveBytes = len(live)
		us := uris(live)
		if len(us) == 0 {
			return nil, fmt.Errorf("no segments in %s", m)
		}
		last := us[len(us)-1]
		i := strings.LastIndexByte(last, '/')
		ext := filepath.Ext(last)
		seq, err := strconv.ParseInt(strings.TrimSuffix(last[i+1:], ext), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("segment URI %q is not <dir>/<seq><ext>; the load generator needs that shape", last)
		}
		// The oldest segment: time-shift to the start of the window.
		start := p.epoch.Add(time.Minute + p.cfg.Window/100)
		old, err := get(ctx, cl, fmt.Sprintf("%s?start=%d&end=%d", m, start.Unix(), start.Add(p.cfg.ShiftSpan).Unix()))
		if err != nil {
			return nil, err
		}
		tg.shiftBytes = len(old)
		first, ok := mediaSequence(old)
		if !ok {
			return nil, fmt.Errorf("no MEDIA-SEQUENCE in time-shifted playlist of %s", m)
		}
		tg.segPrefix = append(tg.segPrefix, dir+last[:i+1])
		tg.segExt = ext
		tg.firstSeq = append(tg.firstSeq, first)
		tg.lastSeq = append(tg.lastSeq, seq)
	}
	return tg, nil
}

func get(ctx context.Context, cl *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// uris returns the URI lines of a playlist.
func uris(pl []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(pl))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && l[0] != '#' {
			out = append(out, l)
		}
	}
	return out
}

func mediaSequence(pl []byte) (int64, bool) {
	for _, l := range strings.Split(string(pl), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "#EXT-X-MEDIA-SEQUENCE:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// url returns a request URL of scenario name.
func (tg *targets) url(name string, rnd *rand.Rand, span time.Duration) string {
	r := rnd.IntN(len(tg.media))
	switch name {
	case "master":
		return tg.master
	case mpdScenario:
		return tg.mpd
	case "shift-playlist":
		if tg.shift != nil {
			return tg.shift[r][rnd.IntN(len(tg.shift[r]))]
		}
		return tg.shiftURL(r, rnd, span)
	case "segment":
		seq := tg.firstSeq[r] + rnd.Int64N(tg.lastSeq[r]-tg.firstSeq[r]+1)
		return tg.segPrefix[r] + strconv.FormatInt(seq, 10) + tg.segExt
	}
	return tg.media[r] // live-playlist
}

// shiftURL is a time-shifted playlist request of rendition r with a random
// start inside the window.
func (tg *targets) shiftURL(r int, rnd *rand.Rand, span time.Duration) string {
	lo := tg.oldest.Add(2 * time.Minute).Unix()
	hi := time.Now().Add(-span - time.Minute).Unix()
	s := lo
	if hi > lo {
		s = lo + rnd.Int64N(hi-lo)
	}
	return tg.media[r] + "?start=" + strconv.FormatInt(s, 10) + "&end=" + strconv.FormatInt(s+int64(span/time.Second), 10)
}

// loadScenario runs cfg.Clients workers requesting scenario URLs for
// cfg.Duration and measures them.
func loadScenario(ctx context.Context, cl *http.Client, name string, tg *targets, cfg originConfig, pids []int) originScenario {
	sc := originScenario{Name: name}
	var bytesN, errs atomic.Int64
	var firstErr atomic.Value
	lats := make([][]float64, cfg.Clients)
	var wg sync.WaitGroup
	var oStart, oEnd procSample
	self := os.Getpid()
	cStart, _ := readProc(self)
	mStart, _ := readCPUTimes()
	if len(pids) > 0 {
		oStart = sumProcs(pids)
	}
	start := time.Now()
	end := start.Add(cfg.Duration)
	for i := 0; i < cfg.Clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			buf := make([]byte, 32<<10)
			for time.Now().Before(end) && ctx.Err() == nil {
				u := tg.url(name, rnd, cfg.ShiftSpan)
				t := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				resp, err := cl.Do(req)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				var n int64
				for {
					k, rerr := resp.Body.Read(buf)
					n += int64(k)
					if rerr != nil {
						break
					}
				}
				resp.Body.Close()
				lats[i] = append(lats[i], float64(time.Since(t).Microseconds())/1000)
				bytesN.Add(n)
				if resp.StatusCode != http.StatusOK {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("GET %s: %s", u, resp.Status))
				}
			}
		}(i)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	cEnd, _ := readProc(self)
	mEnd, _ := readCPUTimes()
	if len(pids) > 0 {
		oEnd = sumProcs(pids)
		sc.OriginCores = coresBetween(oStart, oEnd)
		sc.RSSMiB = round3(float64(oEnd.RSS) / mib)
	}
	sc.ClientCores = coresBetween(cStart, cEnd)
	if len(pids) > 0 {
		sc.OtherCores = round3(max(0, busyCores(mStart, mEnd, runtime.NumCPU())-sc.OriginCores-sc.ClientCores))
	}
	var all []float64
	for _, l := range lats {
		all = append(all, l...)
	}
	sc.Requests = int64(len(all))
	sc.Errors = errs.Load()
	if v, ok := firstErr.Load().(string); ok {
		sc.FirstError = v
	}
	sc.PerSecond = round3(float64(sc.Requests) / el)
	sc.MBPerSecond = round3(float64(bytesN.Load()) / el / 1e6)
	if sc.Requests > 0 {
		sc.AvgBytes = round3(float64(bytesN.Load()) / float64(sc.Requests))
	}
	sc.Latency = summarise(all)
	runtime.GC()
	return sc
}
