package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Relay names accepted by --relay.
const (
	relayPullpush  = "pullpush"
	relayReference = "reference"
)

// runConfig is one benchmark run's load and harness settings.
type runConfig struct {
	Relay       string        `json:"relay"`
	Channels    int           `json:"channels"`
	Renditions  int           `json:"renditions"`
	Segment     time.Duration `json:"segmentNs"`
	Bitrate     int64         `json:"bitrate"`
	Window      int           `json:"window"`
	Duration    time.Duration `json:"durationNs"`
	Warmup      time.Duration `json:"warmupNs"`
	Grace       time.Duration `json:"graceNs"`
	BreakP99    time.Duration `json:"breakP99Ns"` // p99 above this counts as broken (default: one segment)
	Idle        time.Duration `json:"idleNs"`
	SinkAuth    string        `json:"sinkAuth"`
	Concurrency int           `json:"concurrency,omitempty"` // per-fetcher transfers; 0 = relay default
	Media       string        `json:"media"`                 // source segment content: null or h264 (auto: h264 when ffmpeg runs)

	RefDir      string    `json:"-"`      // npm prefix of the reference
	PullpushBin string    `json:"-"`      // prebuilt pullpush binary (optional)
	Source      string    `json:"source"` // what to build pullpush from: "head" (committed code) or "worktree"
	RelayArgs   []string  `json:"relayArgs,omitempty"`
	WorkDir     string    `json:"-"` // logs and data; a temp dir when empty
	Keep        bool      `json:"-"` // keep WorkDir
	CPUProfile  string    `json:"-"` // save a CPU profile from the relay's /debug/pprof (pullpush)
	Perf        string    `json:"-"` // record the relay with perf(1) over the window into this file
	Progress    io.Writer `json:"-"`
	builtFrom   string    // set by prebuild
}

// latencyStats summarises added latency in milliseconds.
type latencyStats struct {
	N    int     `json:"n"`
	Mean float64 `json:"meanMs"`
	P50  float64 `json:"p50Ms"`
	P90  float64 `json:"p90Ms"`
	P99  float64 `json:"p99Ms"`
	Max  float64 `json:"maxMs"`
}

// sampleOut is one per-second reading kept in the JSON report.
type sampleOut struct {
	T      float64 `json:"t"`      // seconds since fetchers were created
	CPU    float64 `json:"cpu"`    // relay CPU seconds since start
	RSSMiB float64 `json:"rssMiB"` // relay RSS
}

// runResult is the report of one run.
type runResult struct {
	Relay        string      `json:"relay"`
	RelayVersion string      `json:"relayVersion"`
	Date         time.Time   `json:"date"`
	Machine      machineInfo `json:"machine"`
	Config       runConfig   `json:"config"`
	LoadAvgStart float64     `json:"loadAvgStart"`
	LoadAvgEnd   float64     `json:"loadAvgEnd"`

	FetchersCreated int    `json:"fetchersCreated"`
	FetchersFailed  int    `json:"fetchersFailed"`
	FetcherError    string `json:"fetcherError,omitempty"`
	Died            bool   `json:"died"`
	ExitError       string `json:"exitError,omitempty"`

	CPUSeconds        float64 `json:"cpuSeconds"` // relay CPU during the measurement window
	CPUPerChannelHour float64 `json:"cpuSecPerChannelHour"`
	CoresUsed         float64 `json:"coresUsed"`  // CPU seconds per wall second
	MachinePct        float64 `json:"machinePct"` // of all cores

	IdleRSSMiB             float64 `json:"idleRssMiB"`
	IdleAnonMiB            float64 `json:"idleAnonMiB"` // RssAnon of the idle sample with the median RSS
	IdleFileMiB            float64 `json:"idleFileMiB"` // RssFile of that sample (pages of the binary)
	PeakRSSMiB             float64 `json:"peakRssMiB"`
	SteadyRSSMiB           float64 `json:"steadyRssMiB"`
	PeakRSSPerChannelMiB   float64 `json:"peakRssPerChannelMiB"`
	SteadyRSSPerChannelMiB float64 `json:"steadyRssPerChannelMiB"`

	Latency      latencyStats `json:"latency"`
	Expected     int          `json:"expected"`
	Delivered    int          `json:"delivered"`
	Lost         int          `json:"lost"`
	LossPct      float64      `json:"lossPct"`
	Extra        int          `json:"extra"` // delivered segments listed outside the window
	DupSegments  int64        `json:"duplicateSegments"`
	DupPaths     int64        `json:"duplicatePaths"`
	BytesRelayed int64        `json:"bytesRelayed"` // segment bytes completed at the sink during the window
	BytesPerCPUs float64      `json:"bytesPerCpuSecond"`

	SourceCores float64 `json:"sourceCores"` // harness load during the window
	SinkCores   float64 `json:"sinkCores"`
	OtherCores  float64 `json:"otherCores"` // everything else on the machine during the window (noise)

	RunError     string `json:"runError,omitempty"` // the run itself failed (harness or relay start-up)
	Broken       bool   `json:"broken"`
	BrokenReason string `json:"brokenReason,omitempty"`

	Sink    sinkStats   `json:"sink"`
	Source  sourceStats `json:"source"`
	Samples []sampleOut `json:"samples"`
	WorkDir string      `json:"workDir,omitempty"`
}

const mib = 1 << 20

// runRun implements 'bench run'.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	cfg, out, md := runFlags(fs)
	relay := fs.String("relay", relayPullpush, "relay under test: pullpush, reference or ffmpeg")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Relay = *relay
	if err := cfg.finish(); err != nil {
		return err
	}
	cfg.Progress = stderr
	res, err := benchRun(ctx, *cfg)
	if err != nil {
		return err
	}
	return emit(stdout, *out, *md, []runResult{res}, func(w io.Writer) { writeRunTable(w, res) })
}

// runFlags registers the load flags shared by run, compare and scale.
func runFlags(fs interface {
	IntVar(*int, string, int, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
	Func(string, string, func(string) error)
	String(string, string, string) *string
	Bool(string, bool, string) *bool
}) (cfg *runConfig, jsonOut *string, mdOut *string) {
	cfg = &runConfig{Bitrate: 1_000_000}
	fs.IntVar(&cfg.Channels, "channels", 50, "channels (fetchers)")
	fs.IntVar(&cfg.Renditions, "renditions", 4, "renditions per channel")
	fs.DurationVar(&cfg.Segment, "segment", 2*time.Second, "segment duration")
	fs.Func("bitrate", "bitrate of each rendition, bits/s (default 1M)", func(v string) error {
		b, err := parseBitrate(v)
		cfg.Bitrate = b
		return err
	})
	fs.IntVar(&cfg.Window, "window", 5, "segments in each source media playlist")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "measurement window")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "time between creating the fetchers and the start of the window (default 3 segments)")
	fs.DurationVar(&cfg.Grace, "grace", 10*time.Second, "how long after the window segments may still arrive")
	fs.DurationVar(&cfg.BreakP99, "break-p99", 0, "p99 added latency above which a run counts as broken (default: one segment duration)")
	fs.DurationVar(&cfg.Idle, "idle", 3*time.Second, "idle baseline measurement before creating fetchers")
	fs.StringVar(&cfg.SinkAuth, "sink-auth", "auto", "sink authentication: strict, lenient, none or auto (strict for pullpush, lenient for the reference)")
	fs.StringVar(&cfg.Media, "media", "auto", "source segment content: null (TS null packets), h264 (a tiny real H.264 stream) or auto (h264 when ffmpeg is among the relays, so all of them get the same load)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "per-fetcher concurrency sent to the relay (0 = relay default)")
	fs.StringVar(&cfg.RefDir, "ref-dir", defaultRefDir(), "npm prefix of the reference (bench/reference/install.sh)")
	fs.StringVar(&cfg.PullpushBin, "pullpush-bin", "", "prebuilt pullpush binary (default: build it, see -source)")
	fs.StringVar(&cfg.Source, "source", "head", "build pullpush from: head (git archive HEAD, ignores uncommitted edits) or worktree")
	fs.Func("relay-arg", "extra argument for the relay command line (repeatable)", func(v string) error {
		cfg.RelayArgs = append(cfg.RelayArgs, v)
		return nil
	})
	fs.StringVar(&cfg.WorkDir, "work", "", "directory for logs and relay data (default: a temp dir, removed unless -keep)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the work directory")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "save a CPU profile of the relay over the window (pullpush, started with --pprof)")
	fs.StringVar(&cfg.Perf, "perf", "", "record the relay with 'perf record -g' over the window into this file; a 'perf report' summary goes to FILE.txt")
	jsonOut = fs.String("json", "", "also write the JSON report to this file")
	mdOut = fs.String("md", "", "also write the Markdown table to this file")
	return cfg, jsonOut, mdOut
}

func defaultRefDir() string {
	if d := os.Getenv("PULLPUSH_BENCH_REF"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "pullpush-bench-ref")
}

// finish validates cfg and fills defaults.
func (cfg *runConfig) finish() error {
	if cfg.Relay != relayPullpush && cfg.Relay != relayReference && cfg.Relay != relayFFmpeg {
		return fmt.Errorf("%w: -relay must be pullpush, reference or ffmpeg, not %q", errUsage, cfg.Relay)
	}
	if cfg.Media == "" || cfg.Media == "auto" {
		// ffmpeg remuxes: it needs real media and drops the null packets
		// that carry the binary marker.
		cfg.Media = mediaNull
		if cfg.Relay == relayFFmpeg {
			cfg.Media = mediaH264
		}
	}
	if cfg.Media != mediaNull && cfg.Media != mediaH264 {
		return fmt.Errorf("%w: -media must be auto, %s or %s", errUsage, mediaNull, mediaH264)
	}
	if cfg.Relay == relayFFmpeg && cfg.Media != mediaH264 {
		return fmt.Errorf("%w: the ffmpeg relay needs -media %s", errUsage, mediaH264)
	}
	if cfg.Channels < 1 || cfg.Renditions < 1 || cfg.Segment <= 0 || cfg.Duration <= 0 || cfg.Window < 1 {
		return fmt.Errorf("%w: -channels, -renditions, -segment, -window and -duration must be positive", errUsage)
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 3 * cfg.Segment
	}
	if cfg.BreakP99 <= 0 {
		cfg.BreakP99 = cfg.Segment
	}
	if cfg.SinkAuth == "" || cfg.SinkAuth == "auto" {
		cfg.SinkAuth = authStrict
		if cfg.Relay == relayReference {
			cfg.SinkAuth = authLenient
		}
	}
	switch cfg.SinkAuth {
	case authStrict, authLenient, authNone:
	default:
		return fmt.Errorf("%w: -sink-auth %q", errUsage, cfg.SinkAuth)
	}
	return nil
}

func (cfg runConfig) logf(format string, args ...any) {
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "[%s %s] "+format+"\n", append([]any{time.Now().Format("15:04:05"), cfg.Relay}, args...)...)
	}
}

// Harness credentials: loopback only, never secret.
const (
	sinkUser = "bench"
	sinkPass = "bench-pass"
)

// benchRun runs one relay between a fresh source and sink and measures it.
func benchRun(ctx context.Context, cfg runConfig) (res runResult, err error) {
	res = runResult{Relay: cfg.Relay, Date: time.Now().UTC(), Config: cfg, Machine: machine(), LoadAvgStart: loadAvg()}
	work := cfg.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "pullpush-bench-"+cfg.Relay+"-"); err != nil {
			return res, fmt.Errorf("work dir: %w", err)
		}
		if !cfg.Keep {
			defer func() {
				if err == nil && !res.Died {
					os.RemoveAll(work)
				} else {
					fmt.Fprintf(cfg.Progress, "logs kept in %s\n", work)
				}
			}()
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return res, fmt.Errorf("work dir: %w", err)
	}
	if cfg.Keep {
		res.WorkDir = work
	}
	self, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("find own binary: %w", err)
	}
	relayCmd, version, err := prepareRelay(ctx, cfg, work)
	if err != nil {
		return res, err
	}
	res.RelayVersion = version

	// Sink and source, each its own process.
	sink, err := startChild("sink", work, exec.Command(self, "sink", "-listen", "127.0.0.1:0",
		"-user", sinkUser, "-pass", sinkPass, "-auth", cfg.SinkAuth), true, 30*time.Second)
	if err != nil {
		return res, err
	}
	defer sink.stop(2 * time.Second)
	sch := schedule{Epoch: time.Now().Truncate(time.Millisecond), Channels: cfg.Channels, Renditions: cfg.Renditions,
		Segment: cfg.Segment, Window: cfg.Window, Bitrate: cfg.Bitrate, Stagger: true, Media: cfg.Media}
	source, err := startChild("source", work, exec.Command(self, "source", "-listen", "127.0.0.1:0",
		"-channels", strconv.Itoa(cfg.Channels), "-renditions", strconv.Itoa(cfg.Renditions),
		"-segment", cfg.Segment.String(), "-bitrate", strconv.FormatInt(cfg.Bitrate, 10),
		"-window", strconv.Itoa(cfg.Window), "-epoch", strconv.FormatInt(sch.Epoch.UnixMilli(), 10),
		"-media", cfg.Media), true, 30*time.Second)
	if err != nil {
		return res, err
	}
	defer source.stop(2 * time.Second)

	// Relay under test: a process with the fetcher API (pullpush, the
	// reference), or the ffmpeg peer's processes, started per channel.
	procs := &relayProcs{}
	defer func() { procs.stopAll(5 * time.Second) }()
	api := ""
	if cfg.Relay != relayFFmpeg {
		port, err := freePort()
		if err != nil {
			return res, err
		}
		relay, err := relayCmd(port)
		if err != nil {
			return res, err
		}
		rl, err := startChild("relay", work, relay, false, 0)
		if err != nil {
			return res, err
		}
		procs.list = []*child{rl}
		api = fmt.Sprintf("http://127.0.0.1:%d", port)
		if err := waitHTTP(ctx, rl, api+"/api/v1/fetcher", 60*time.Second); err != nil {
			return res, err
		}
		cfg.logf("relay ready on %s (pid %d); source %s, sink %s (auth %s)", api, rl.cmd.Process.Pid, source.addr, sink.addr, cfg.SinkAuth)

		// Idle baseline.
		var idle []procSample
		for end := time.Now().Add(cfg.Idle); time.Now().Before(end) || len(idle) == 0; {
			s, err := procs.sample()
			if err != nil {
				return res, fmt.Errorf("relay died while idle: %w (log %s)", err, rl.log)
			}
			idle = append(idle, s)
			if !sleepCtx(ctx, 250*time.Millisecond) {
				return res, ctx.Err()
			}
		}
		med := medianSample(idle)
		res.IdleRSSMiB, res.IdleAnonMiB, res.IdleFileMiB = float64(med.RSS)/mib, float64(med.Anon)/mib, float64(med.File)/mib
	}

	// Fetchers (or ffmpeg processes).
	cfg.logf("creating %d fetchers", cfg.Channels)
	tCreateStart := time.Now()
	var created, failed int
	var ferr error
	if cfg.Relay == relayFFmpeg {
		// ffmpeg gives up on a 404: wait until every channel is live (the
		// phases spread over one segment duration after the epoch).
		if !sleepCtx(ctx, time.Until(sch.Epoch.Add(cfg.Segment+100*time.Millisecond))) {
			return res, ctx.Err()
		}
		tCreateStart = time.Now()
		procs, ferr = startFFmpegs(cfg, work, source.addr, sink.addr)
		created, failed = len(procs.list), cfg.Channels-len(procs.list)
	} else {
		created, failed, ferr = createFetchers(ctx, api, cfg, source.addr, sink.addr)
	}
	res.FetchersCreated, res.FetchersFailed = created, failed
	if ferr != nil {
		res.FetcherError = ferr.Error()
	}
	if created == 0 {
		return res, fmt.Errorf("no fetcher created: %v (relay logs in %s)", ferr, work)
	}
	tCreated := time.Now()
	mStart := tCreated.Add(cfg.Warmup)
	mEnd := mStart.Add(cfg.Duration)
	cfg.logf("%d fetchers created (%d failed) in %s; warm-up %s, window %s", created, failed, tCreated.Sub(tCreateStart).Round(time.Millisecond), cfg.Warmup, cfg.Duration)

	var profErr chan error
	if cfg.CPUProfile != "" && cfg.Relay == relayPullpush && api != "" {
		profErr = make(chan error, 1)
		go func() {
			if !sleepCtx(ctx, time.Until(mStart)) {
				profErr <- ctx.Err()
				return
			}
			profErr <- saveProfile(ctx, api+"/debug/pprof/profile?seconds="+strconv.Itoa(int(cfg.Duration.Seconds())), cfg.CPUProfile)
		}()
	}

	var perfDone chan error
	if cfg.Perf != "" {
		perfDone = make(chan error, 1)
		go func() {
			if !sleepCtx(ctx, time.Until(mStart)) {
				perfDone <- ctx.Err()
				return
			}
			perfDone <- perfRecord(ctx, procs.pids(), cfg.Duration, cfg.Perf)
		}()
	}

	// Sampling.
	var all []procSample
	var atStart, atEnd, srcStart, srcEnd, sinkStart, sinkEnd procSample
	var machStart, machEnd cpuTimes
	times := sampleTimes(tCreated, mStart, mEnd, time.Second)
	for _, at := range times {
		if !sleepCtx(ctx, time.Until(at)) {
			return res, ctx.Err()
		}
		s, perr := procs.sample()
		if perr != nil {
			res.Died = true
			break
		}
		all = append(all, s)
		src, _ := readProc(source.cmd.Process.Pid)
		snk, _ := readProc(sink.cmd.Process.Pid)
		if at.Equal(mStart) {
			atStart, srcStart, sinkStart = s, src, snk
			machStart, _ = readCPUTimes()
		}
		if at.Equal(mEnd) {
			atEnd, srcEnd, sinkEnd = s, src, snk
			machEnd, _ = readCPUTimes()
		}
		res.Samples = append(res.Samples, sampleOut{T: round3(s.At.Sub(tCreated).Seconds()), CPU: round3(s.CPU.Seconds()), RSSMiB: round3(float64(s.RSS) / mib)})
	}
	res.LoadAvgEnd = loadAvg()
	if res.Died {
		res.ExitError = "process gone"
		for end := time.Now().Add(time.Second); time.Now().Before(end); sleepCtx(ctx, 50*time.Millisecond) {
			if d := procs.dead(); d != nil {
				res.ExitError = fmt.Sprintf("%s: %v (log %s)", d.name, d.err, d.log)
				break
			}
		}
		cfg.logf("relay died: %s", res.ExitError)
	}

	// Let late segments arrive, stop early once everything expected is in.
	exp := expectedSegments(sch, mStart, mEnd)
	var recs []segRecord
	sinkURL := "http://" + sink.addr
	for deadline := time.Now().Add(cfg.Grace); ; {
		recs, err = fetchRecords(ctx, sinkURL)
		if err != nil {
			return res, fmt.Errorf("sink records: %w", err)
		}
		if res.Died || countDelivered(exp, recs) == len(exp) || !time.Now().Before(deadline) {
			break
		}
		sleepCtx(ctx, 2*time.Second)
	}
	if err := getJSON(ctx, sinkURL+"/stats", &res.Sink); err != nil {
		return res, fmt.Errorf("sink stats: %w", err)
	}
	if err := getJSON(ctx, "http://"+source.addr+"/stats", &res.Source); err != nil {
		return res, fmt.Errorf("source stats: %w", err)
	}
	if profErr != nil {
		if perr := <-profErr; perr != nil {
			cfg.logf("cpu profile: %v", perr)
		} else {
			cfg.logf("cpu profile written to %s", cfg.CPUProfile)
		}
	}
	if perfDone != nil {
		if perr := <-perfDone; perr != nil {
			cfg.logf("perf: %v", perr)
		} else {
			cfg.logf("perf profile written to %s (summary %s.txt)", cfg.Perf, cfg.Perf)
		}
	}
	if !res.Died && len(procs.list) == 1 {
		// The peak since start (for one process; a sum of peaks overstates).
		if hwm, err := procs.sample(); err == nil {
			all = append(all, procSample{RSS: hwm.HWM, At: hwm.At})
		}
	}

	computeResult(&res, cfg, sch, all, atStart, atEnd, mStart, mEnd, exp, recs)
	if !res.Died {
		res.SourceCores = coresBetween(srcStart, srcEnd)
		res.SinkCores = coresBetween(sinkStart, sinkEnd)
		res.OtherCores = round3(max(0, busyCores(machStart, machEnd, runtime.NumCPU())-res.CoresUsed-res.SourceCores-res.SinkCores))
	}
	cfg.logf("done: cpu %.1f s/channel-hour, steady rss %.2f MiB/channel, p99 %.0f ms, lost %d/%d",
		res.CPUPerChannelHour, res.SteadyRSSPerChannelMiB, res.Latency.P99, res.Lost, res.Expected)
	return res, nil
}

// prepareRelay builds or locates the relay and returns a constructor for its
// command line on a given port, plus its version string.
func prepareRelay(ctx context.Context, cfg runConfig, work string) (func(port int) (*exec.Cmd, error), string, error) {
	switch cfg.Relay {
	case relayPullpush:
		bin := cfg.PullpushBin
		if bin == "" {
			var err error
			if bin, err = buildPullpush(ctx, work, cfg.Source); err != nil {
				return nil, "", err
			}
		}
		ver := "pullpush"
		if out, err := exec.CommandContext(ctx, bin, "version").Output(); err == nil {
			ver = strings.TrimSpace(string(out))
		}
		switch {
		case cfg.builtFrom != "":
			ver += " " + cfg.builtFrom
		case cfg.PullpushBin == "":
			ver += " " + describeSource(ctx, cfg.Source)
		}
		data := filepath.Join(work, "data")
		return func(port int) (*exec.Cmd, error) {
			if err := os.MkdirAll(data, 0o755); err != nil {
				return nil, fmt.Errorf("relay data dir: %w", err)
			}
			// No fetcher limit (default 100) and warnings only, like the
			// reference launcher; -relay-arg flags come last and win.
			args := []string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data", data,
				"--max-fetchers", "0", "--log-level", "warn"}
			if cfg.CPUProfile != "" {
				args = append(args, "--pprof")
			}
			args = append(args, cfg.RelayArgs...)
			return exec.Command(bin, args...), nil
		}, ver, nil
	case relayFFmpeg:
		ver, err := ffmpegVersion(ctx)
		return nil, ver, err
	case relayReference:
		root, err := moduleRoot()
		if err != nil {
			return nil, "", err
		}
		launcher := filepath.Join(root, "bench", "reference", "launcher.js")
		pkg := filepath.Join(cfg.RefDir, "node_modules", "@eyevinn", "hls-pull-push", "package.json")
		b, err := os.ReadFile(pkg)
		if err != nil {
			return nil, "", fmt.Errorf("reference not installed in %s (run bench/reference/install.sh %s): %w", cfg.RefDir, cfg.RefDir, err)
		}
		var meta struct{ Version string }
		json.Unmarshal(b, &meta)
		ver := "@eyevinn/hls-pull-push " + meta.Version
		if out, err := exec.CommandContext(ctx, "node", "--version").Output(); err == nil {
			ver += " (node " + strings.TrimSpace(string(out)) + ")"
		}
		return func(port int) (*exec.Cmd, error) {
			cmd := exec.Command("node", append(cfg.RelayArgs, launcher)...)
			cmd.Env = append(os.Environ(), "HLS_PULL_PUSH_DIR="+cfg.RefDir, "PORT="+strconv.Itoa(port), "HOST=127.0.0.1")
			return cmd, nil
		}, ver, nil
	}
	return nil, "", fmt.Errorf("%w: unknown relay %q", errUsage, cfg.Relay)
}

// buildPullpush builds ./cmd/pullpush into dir from the committed HEAD (a
// git archive, so other people's uncommitted edits do not break or skew the
// benchmark) or from the working tree, with the flags of the release build.
func buildPullpush(ctx context.Context, dir, source string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pullpush")
	src := root
	switch source {
	case "", "head":
		src = filepath.Join(dir, "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
		arch := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive --format=tar HEAD | tar -x -C "$2"`, "sh", root, src)
		if out, err := arch.CombinedOutput(); err != nil {
			return "", fmt.Errorf("git archive HEAD: %w\n%s", err, out)
		}
	case "worktree":
	default:
		return "", fmt.Errorf("%w: -source must be head or worktree, not %q", errUsage, source)
	}
	// Static, as scripts/release.sh and the Dockerfile build it: a cgo
	// build maps libc and the dynamic loader, 1.4 MiB more idle RSS. The
	// symbol table stays (for --perf): -s -w change the file, not the RSS.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/pullpush")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/pullpush (%s): %w\n%s", source, err, out)
	}
	if src != root {
		os.RemoveAll(src)
	}
	return bin, nil
}

// describeSource names the code a pullpush build came from.
func describeSource(ctx context.Context, source string) string {
	rev, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	d := "@" + strings.TrimSpace(string(rev))
	if source == "worktree" {
		d += "+worktree"
	}
	return d
}

// prebuild builds pullpush once for commands that run it several times.
func prebuild(ctx context.Context, cfg *runConfig, relays ...string) (cleanup func(), err error) {
	cleanup = func() {}
	if cfg.PullpushBin != "" || !slices.Contains(relays, relayPullpush) {
		return cleanup, nil
	}
	dir, err := os.MkdirTemp("", "pullpush-bench-bin-")
	if err != nil {
		return cleanup, err
	}
	bin, err := buildPullpush(ctx, dir, cfg.Source)
	if err != nil {
		os.RemoveAll(dir)
		return cleanup, err
	}
	cfg.PullpushBin = bin
	cfg.builtFrom = describeSource(ctx, cfg.Source)
	return func() { os.RemoveAll(dir) }, nil
}
