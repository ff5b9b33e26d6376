package main

import (
	"bufio"
	"bytes"
	"cmp"
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

	"github.com/pullpush/pullpush/digest"
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

// prefiller pushes a synthetic channel into the origin, MediaPackage style.
type prefiller struct {
	base  string
	cfg   originConfig
	cl    *http.Client
	body  []byte        // every segment's body (null media), or the first one's (h264)
	h264  *h264Segments // h264 media: segment bodies by sequence number
	epoch time.Time     // start of segment 0
	next  int64         // next segment index to push
	puts  atomic.Int64
}

func newPrefiller(base string, cfg originConfig) *prefiller {
	n := int64(cfg.Window / cfg.Segment)
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.PutWorkers * 2}
	// Segment 0 starts so that the last pre-filled segment ends now; 1%
	// margin keeps the oldest segments inside the window during the test.
	n -= n / 100
	p := &prefiller{
		base: base, cfg: cfg,
		cl:    &http.Client{Transport: &digest.Transport{Username: originUser, Password: originPass, Base: tr}, Timeout: 30 * time.Second},
		body:  segmentBody(cfg.SegmentBytes),
		epoch: time.Now().Add(-time.Duration(n) * cfg.Segment).Truncate(time.Millisecond),
		next:  0,
	}
	if cfg.Media == mediaH264 {
		// Segments of SegmentBytes (or the least the frames need), PTS
		// continuous from segment to segment.
		bitrate := int64(cfg.SegmentBytes) * 8 * int64(time.Second) / int64(cfg.Segment)
		p.h264 = newH264Segments(schedule{Segment: cfg.Segment, Window: 5, Bitrate: bitrate, Media: mediaH264, Renditions: cfg.Renditions})
		p.body = p.segment(0, 0)
	}
	return p
}

// segment is the body of segment k of rendition r.
func (p *prefiller) segment(r int, k int64) []byte {
	if p.h264 == nil {
		return p.body
	}
	return p.h264.segment(marker{Rendition: uint16(r), Seq: uint64(k)})
}

func (p *prefiller) ingest(name string) string {
	return p.base + "/in/v2/" + originChannel + "/" + originInput + "/" + name
}

func (p *prefiller) put(ctx context.Context, name string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.ingest(name), bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := p.cl.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s: %w", name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	p.puts.Add(1)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("PUT %s: %s", name, resp.Status)
	}
	return nil
}

func rendName(r int) string { return "r" + strconv.Itoa(r) }

func (p *prefiller) segName(r int, k int64) string {
	return "channel_" + rendName(r) + "_" + strconv.FormatInt(k, 10) + ".ts"
}

// playlist is the media playlist of rendition r listing segments [from, to).
func (p *prefiller) playlist(r int, from, to int64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n",
		int((p.cfg.Segment+time.Second-1)/time.Second), from)
	d := strconv.FormatFloat(p.cfg.Segment.Seconds(), 'f', 3, 64)
	for k := from; k < to; k++ {
		t := p.epoch.Add(time.Duration(k) * p.cfg.Segment).UTC()
		b.WriteString("#EXT-X-PROGRAM-DATE-TIME:")
		b.WriteString(t.Format("2006-01-02T15:04:05.000Z"))
		b.WriteString("\n#EXTINF:" + d + ",\n" + p.segName(r, k) + "\n")
	}
	return b.Bytes()
}

func (p *prefiller) master() []byte {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n")
	for r := 0; r < p.cfg.Renditions; r++ {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720\nchannel_%s.m3u8\n",
			1_000_000+r*1000, rendName(r))
	}
	return b.Bytes()
}

// pushBatch PUTs segments [from, to) of every rendition with PutWorkers
// workers, then each rendition's playlist listing [listFrom, to).
func (p *prefiller) pushBatch(ctx context.Context, listFrom, from, to int64) error {
	type job struct {
		r int
		k int64
	}
	jobs := make(chan job)
	errc := make(chan error, p.cfg.PutWorkers)
	var wg sync.WaitGroup
	for w := 0; w < p.cfg.PutWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := p.put(ctx, p.segName(j.r, j.k), p.segment(j.r, j.k)); err != nil {
					errc <- err
					for range jobs {
					}
					return
				}
			}
		}()
	}
	for k := from; k < to; k++ {
		for r := 0; r < p.cfg.Renditions; r++ {
			select {
			case jobs <- job{r, k}:
			case err := <-errc:
				close(jobs)
				wg.Wait()
				return err
			}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	for r := 0; r < p.cfg.Renditions; r++ {
		if err := p.put(ctx, "channel_"+rendName(r)+".m3u8", p.playlist(r, listFrom, to)); err != nil {
			return err
		}
	}
	return nil
}

// due is the number of segments that have ended by now.
func (p *prefiller) due() int64 { return int64(time.Since(p.epoch) / p.cfg.Segment) }

// fill pushes the master and every segment that has ended by now, in
// batches of 5 minutes.
func (p *prefiller) fill(ctx context.Context) error {
	if err := p.put(ctx, "channel.m3u8", p.master()); err != nil {
		return err
	}
	batch := int64(5 * time.Minute / p.cfg.Segment)
	for {
		end := min(p.next+batch, p.due())
		if end <= p.next {
			return nil
		}
		if err := p.pushBatch(ctx, p.next, p.next, end); err != nil {
			return err
		}
		p.next = end
	}
}

// live keeps pushing new segments as they end, with a 5-segment playlist,
// like a relay would.
func (p *prefiller) live(ctx context.Context) error {
	for {
		next := p.epoch.Add(time.Duration(p.next+1) * p.cfg.Segment)
		if !sleepCtx(ctx, time.Until(next)) {
			return ctx.Err()
		}
		end := p.due()
		if end <= p.next {
			continue
		}
		if err := p.pushBatch(ctx, max(0, end-5), p.next, end); err != nil {
			return err
		}
		p.next = end
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

// writeOriginTable prints the origin load results.
func writeOriginTable(w io.Writer, r originResult) {
	c := r.Config
	fmt.Fprintf(w, "### origin load (%s)\n\n", r.Version)
	fmt.Fprintf(w, "%d keep-alive clients, %s per scenario; startover window %s pre-filled (%d segments x %d renditions of %s, %d bytes each, in %.0f s); time-shift span %s, %s; %s, %d CPUs (%s); origin RSS %.0f MiB idle, %.0f MiB filled\n\n",
		c.Clients, c.Duration, c.Window, r.Segments, c.Renditions, c.Segment, cmp.Or(r.SegmentBody, c.SegmentBytes), r.PrefillSecs, c.ShiftSpan, shiftWindowsNote(c.ShiftWindows),
		r.Date.Format(time.RFC3339), r.Machine.CPUs, r.Machine.CPU, r.IdleRSSMiB, r.FilledRSSMiB)
	if c.Media == mediaH264 {
		fmt.Fprintf(w, "Segments are %s media (%d bytes); the origin has endpoints ts and %s (live MPD %d bytes).\n\n", c.Media, r.SegmentBody, dashEndpoint, r.MPDBytes)
	}
	fmt.Fprintf(w, "| scenario | GETs/s | p50 ms | p99 ms | max ms | avg bytes | MB/s | errors | origin cores | client cores | other cores |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.2f | %.1f | %.0f | %.1f | %d | %.2f | %.2f | %.2f |\n",
			s.Name, s.PerSecond, s.Latency.P50, s.Latency.P99, s.Latency.Max, s.AvgBytes, s.MBPerSecond, s.Errors, s.OriginCores, s.ClientCores, s.OtherCores)
	}
	fmt.Fprintln(w)
	for _, s := range r.Scenarios {
		if s.FirstError != "" {
			fmt.Fprintf(w, "- %s first error: %s\n", s.Name, s.FirstError)
		}
	}
	if r.Peer != "" {
		writePeerTable(w, r)
	}
}

// cpuPer1k is CPU milliseconds per 1,000 GETs.
func cpuPer1k(s originScenario) float64 {
	if s.PerSecond == 0 {
		return 0
	}
	return s.OriginCores / s.PerSecond * 1e6
}

func ratio(a, b float64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// writePeerTable prints the origin and its peer side by side, scenario by
// scenario (peer / pullpush ratios).
func writePeerTable(w io.Writer, r originResult) {
	fmt.Fprintf(w, "\n### pullpush origin vs %s (%s)\n\n", r.Peer, r.PeerVersion)
	if len(r.PeerScenarios) == 0 {
		fmt.Fprintf(w, "%s did not run: %s\n", r.Peer, r.PeerNote)
		return
	}
	fmt.Fprintf(w, "%s: %s. Each scenario ran on pullpush, then on %s, with the same clients.\n\n", r.Peer, r.PeerNote, r.Peer)
	p := r.Peer
	fmt.Fprintf(w, "| scenario | pullpush GETs/s | %s GETs/s | %s / pullpush | pullpush p50 / p99 ms | %s p50 / p99 ms | pullpush cores | %s cores | pullpush CPU ms per 1k GETs | %s CPU ms per 1k GETs | %s / pullpush CPU per GET | pullpush RSS MiB | %s RSS MiB | errors | client cores |\n",
		p, p, p, p, p, p, p)
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, a := range r.Scenarios {
		if i >= len(r.PeerScenarios) {
			break
		}
		b := r.PeerScenarios[i]
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %s | %.2f / %.2f | %.2f / %.2f | %.2f | %.2f | %.1f | %.1f | %s | %.0f | %.0f | %d / %d | %.2f / %.2f |\n",
			a.Name, a.PerSecond, b.PerSecond, ratio(b.PerSecond, a.PerSecond), a.Latency.P50, a.Latency.P99, b.Latency.P50, b.Latency.P99,
			a.OriginCores, b.OriginCores, cpuPer1k(a), cpuPer1k(b), ratio(cpuPer1k(b), cpuPer1k(a)), a.RSSMiB, b.RSSMiB, a.Errors, b.Errors, a.ClientCores, b.ClientCores)
	}
	fmt.Fprintln(w)
	for _, s := range r.PeerScenarios {
		if s.FirstError != "" {
			fmt.Fprintf(w, "- %s %s first error: %s\n", r.Peer, s.Name, s.FirstError)
		}
	}
}

// shiftWindowsNote describes the time-shifted windows asked for.
func shiftWindowsNote(n int) string {
	if n > 0 {
		return fmt.Sprintf("%d fixed windows per rendition", n)
	}
	return "a random window per request"
}
