package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/pullpush/pullpush"

	"github.com/pullpush/pullpush/api"
	"github.com/pullpush/pullpush/channel"
	"github.com/pullpush/pullpush/dashboard"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/buildinfo"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/metrics"
	"github.com/pullpush/pullpush/origin"
	"github.com/pullpush/pullpush/origin/admin"
	"github.com/pullpush/pullpush/origin/harvest"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/mediapackage"
	"github.com/pullpush/pullpush/output/outputs"
)

const demoUsage = `usage: pullpush demo [--listen ADDR] [--data DIR] [--log-level LEVEL]

Runs the whole chain on one port, with no network or cloud account:
the bundled VOD2Live channel 1 (/channels/1/master.m3u8), a fetcher that
relays it through the mediapackage output to both redundant inputs
(a and b, digest auth with generated credentials) of a MediaPackage-style
origin (/in/v2/1/{a,b}/channel), the origin's playback (/out/v1/1/index.m3u8,
with start over and time-shift), the REST API (/api/v1/fetcher, /api/docs,
/metrics, /health) and a dashboard with a player (/).

Flags:
`

// Settings of the demo.
const (
	demoDefaultListen = "127.0.0.1:8080"
	demoChannelID     = "1"    // channel engine channel and origin channel
	demoUser          = "demo" // origin ingest user; the password is random
	demoFetcherName   = "channel-1-to-origin"
	demoStartover     = 5 * time.Minute
	demoReadyTimeout  = time.Minute // how long to wait for the origin to go live before printing anyway
	demoShutdown      = 10 * time.Second
	demoReadyPoll     = 200 * time.Millisecond
)

// Paths served by the demo.
const (
	demoSourcePath   = "/channels/" + demoChannelID + "/master.m3u8"
	demoEventID      = "event" // the channel the demo offers as a live source
	demoEventPath    = "/channels/" + demoEventID + "/master.m3u8"
	demoPlaybackPath = "/out/v1/" + demoChannelID + "/index.m3u8"
	demoCMAFPath     = "/out/v1/" + demoChannelID + "/cmaf/index.m3u8"
	demoDASHPath     = "/out/v1/" + demoChannelID + "/dash/index.mpd"
	demoAESPath      = "/out/v1/" + demoChannelID + "/aes/index.m3u8"
	demoFetchersPath = "/api/v1/fetcher"
	demoIngestPath   = "/api/v1/channels/" + demoChannelID // the origin's channel status
	demoHarvestPath  = "/demo/harvest"                     // POST: harvest the last minute
	demoVODPrefix    = "/vod/"                             // harvested assets
)

// Constant slog keys of the demo.
const (
	demoKeyAddr      = "addr"
	demoKeyComponent = "component"
	demoKeyData      = "data"
	demoKeyFetcher   = "fetcher"
	demoKeyErr       = logkey.Err
	demoKeyTook      = "took"
)

// demoConfig is the parsed command line of `pullpush demo`.
type demoConfig struct {
	listen   string
	data     string // "" = a temporary directory removed on exit
	logLevel slog.Level
}

// parseDemoFlags parses the flags of `pullpush demo`.
func parseDemoFlags(args []string, stdout io.Writer) (demoConfig, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := demoConfig{}
	fs.StringVar(&cfg.listen, "listen", demoDefaultListen, "`address` (host:port) to serve everything on")
	fs.StringVar(&cfg.data, "data", "", "`directory` for the origin's segments and the relay's spool, kept on exit (default: a temporary directory removed on exit)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, demoUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: demo: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: demo: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, fmt.Errorf("%w: demo: --log-level: %v", errUsage, err)
	}
	return cfg, nil
}

// runDemo runs `pullpush demo` until ctx is cancelled (Ctrl-C), then stops
// the fetcher, shuts the server down, removes the temporary data and
// returns nil.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseDemoFlags(args, stdout)
	if err != nil {
		return err
	}
	return demo(ctx, cfg, stdout, stderr)
}

// demoApp is one running demo: what the handlers and the printed URLs need.
type demoApp struct {
	log      *slog.Logger
	base     string // URL printed for users
	internal string // URL the relay uses to reach this server

	harvest *harvest.Manager
	vodDir  string // where harvests write, served under demoVODPrefix
	now     func() time.Time

	mu         sync.Mutex
	iframePath string // the origin's I-frame playlist, once known
}

func demo(ctx context.Context, cfg demoConfig, stdout, stderr io.Writer) (err error) {
	started := time.Now()
	red := api.NewRedactor()
	log := slog.New(red.Handler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel})))

	dataDir := cfg.data
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "pullpush-demo-"); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer func() {
			if rerr := os.RemoveAll(dataDir); rerr != nil && err == nil {
				err = fmt.Errorf("demo: remove temporary data: %w", rerr)
			}
		}()
	} else if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	// The origin's ingest password never leaves this process: the demo
	// hands it to the fetcher itself, and the redactor hides it from logs.
	password := randomSecret()
	red.Add(password)

	eng, err := channel.New(demoChannels(), channel.WithLogger(log.With(demoKeyComponent, "channel")), channel.WithContext(ctx),
		channel.WithScheduleDir(filepath.Join(dataDir, "schedules")))
	if err != nil {
		return fmt.Errorf("demo: channel engine: %w", err)
	}
	// An in-process key server gives the encrypted endpoint its keys,
	// served at /keys/{channel}/{kid} on the demo's own port.
	ks, err := keys.NewServer(keys.ServerConfig{})
	if err != nil {
		return fmt.Errorf("demo: key server: %w", err)
	}
	org, err := origin.New(origin.Config{
		DataDir:     filepath.Join(dataDir, "origin"),
		KeyProvider: ks.Provider(),
		Channels: []origin.ChannelConfig{{
			ID: demoChannelID, Username: demoUser, Password: password,
			Endpoints: []origin.EndpointConfig{
				{ID: "ts"},
				{ID: "cmaf", Packaging: origin.PackagingCMAF},
				{ID: "aes", Encryption: &origin.EncryptionConfig{Method: origin.MethodAES128}},
				{ID: "dash", Packaging: origin.PackagingDASH},
			},
		}},
	}, origin.WithLogger(log.With(demoKeyComponent, "origin")))
	if err != nil {
		return fmt.Errorf("demo: origin: %w", err)
	}
	defer org.Close()

	m := metrics.New()
	reg := output.NewRegistry()
	outputs.Register(reg)
	svc := pullpush.New(pullpush.Options{
		Logger: log, Observer: m, Outputs: reg, SpoolDir: filepath.Join(dataDir, "spool"),
	})
	a := api.New(svc, api.Options{Logger: log, Metrics: m, Version: buildinfo.Get().Version, Redactor: red})

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		svc.Close(context.Background())
		return fmt.Errorf("demo: listen: %w", err)
	}
	hv, err := harvest.New(harvest.Config{
		Origin: org.Handler(), Endpoints: org.Endpoints, ManifestFile: org.ManifestFile, DASHManifest: org.DASHManifest, Outputs: reg,
		StateFile: filepath.Join(dataDir, "harvest.json"), Logger: log.With(demoKeyComponent, "harvest"),
		Redact: func(name string, p json.RawMessage) json.RawMessage { return outputs.Redact(name, p, reg) },
	})
	if err != nil {
		ln.Close()
		svc.Close(context.Background())
		return fmt.Errorf("demo: harvest: %w", err)
	}
	defer hv.Close()
	app := &demoApp{
		log:      log,
		base:     "http://" + demoDisplayAddr(ln.Addr(), cfg.listen),
		internal: "http://" + demoDialAddr(ln.Addr()),
		harvest:  hv,
		vodDir:   filepath.Join(dataDir, "vod"),
		now:      time.Now,
	}
	control := admin.New(org, hv).Handler("")
	srv := &http.Server{
		Handler: app.mux(eng.Handler(), eng.ScheduleHandler(""), org.Handler(), a.Handler(), control, ks.Handler(),
			promhttp.HandlerFor(prometheus.Gatherers{m.Registry(), org.Gatherer()}, promhttp.HandlerOpts{})),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // segment uploads
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("demo listening", demoKeyAddr, ln.Addr().String(), demoKeyData, dataDir)

	id, err := app.createFetcher(ctx, password)
	if err != nil && ctx.Err() != nil {
		err = nil // interrupted while starting
	} else if err == nil {
		// Print the URLs once they play (a player opened earlier could get
		// the origin's partial multivariant of the first second).
		took, live := app.waitLive(ctx, started)
		if ctx.Err() == nil {
			app.printURLs(stdout, time.Now(), took, live, dataDir, cfg.data == "")
		}
		select {
		case <-ctx.Done():
			log.Info("shutting down")
		case err = <-errc:
			err = fmt.Errorf("demo: serve: %w", err)
		}
	}

	// Stop the fetcher first: its last uploads go to this very server.
	sctx, cancel := context.WithTimeout(context.Background(), demoShutdown)
	defer cancel()
	if cerr := svc.Close(sctx); cerr != nil {
		log.Warn("fetcher did not finish its uploads before the shutdown deadline", demoKeyFetcher, id, demoKeyErr, cerr)
	}
	if serr := srv.Shutdown(sctx); serr != nil {
		log.Warn("requests still running at the shutdown deadline", demoKeyErr, serr)
		srv.Close()
	}
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// mux routes the one port: channel engine, origin, API and dashboard.
func (app *demoApp) mux(channels, schedule, org, apiHandler, control, keyServer, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	// The channel engine's schedule and switch API; the other
	// /api/v1/channels/ paths are the origin's.
	mux.Handle("/api/v1/channels/{id}/schedule", schedule)
	mux.Handle("/api/v1/channels/{id}/schedule/{item}", schedule)
	mux.Handle("/api/v1/channels/{id}/switch", schedule)
	// The origin's control API (channel status, harvest jobs) next to the
	// relay's: their paths do not overlap.
	mux.Handle("/api/v1/channels", control)
	mux.Handle("/api/v1/channels/", control)
	mux.Handle("/api/v1/harvest", control)
	mux.Handle("/api/v1/harvest/", control)
	mux.HandleFunc("POST "+demoHarvestPath, app.serveHarvest)
	mux.Handle("GET "+demoVODPrefix, http.StripPrefix(demoVODPrefix, http.FileServer(http.Dir(app.vodDir))))
	mux.Handle(keys.KeysPath, keyServer)
	mux.Handle("/channels", channels)
	mux.Handle("/channels/", channels)
	mux.Handle("/in/", org)
	mux.Handle("/out/", org)
	mux.Handle("/api/", apiHandler)
	mux.Handle("/health", apiHandler)
	mux.Handle("/metrics", metrics) // the relay's and the origin's
	dash := dashboard.Handler(dashboard.Config{
		Title:    "pullpush demo",
		Playback: demoPlaybackPath,
		DASH:     demoDASHPath,
		Fetchers: demoFetchersPath,
		Ingest:   demoIngestPath,
		Harvest:  demoHarvestPath,
		Links:    app.links,
	})
	mux.Handle("GET /{$}", dash)
	mux.Handle("GET "+dashboard.AssetPrefix, dash)
	return origin.SafePaths(mux)
}

// serveHarvest submits a harvest of the last minute of the TS endpoint
// into a new directory under vodDir and answers where to follow the job
// and, once it succeeded, play the asset.
func (app *demoApp) serveHarvest(w http.ResponseWriter, r *http.Request) {
	end := app.now().Add(-2 * time.Second).Truncate(time.Second) // the newest segment may still be arriving
	name := "harvest-" + end.UTC().Format("20060102T150405Z")
	payload, _ := json.Marshal(map[string]string{"dir": filepath.Join(app.vodDir, name)})
	job, err := app.harvest.Submit(r.Context(), harvest.Request{
		Channel: demoChannelID, Endpoint: "ts", Start: end.Add(-time.Minute), End: end,
		Destination: harvest.Destination{Output: "file", Payload: payload},
	})
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{
		"job": job.ID, "status": "/api/v1/harvest/" + job.ID, "play": demoVODPrefix + name + "/index.m3u8",
	})
}

// links are the URLs the dashboard lists (relative; the page shows them
// absolute).
func (app *demoApp) links(now time.Time) []dashboard.Link {
	shiftStart, shiftEnd := demoShiftExample(now)
	l := []dashboard.Link{
		{Label: "Live", URL: demoPlaybackPath, Note: "the origin's live playlist (60 s window)"},
		{Label: "Start over", URL: demoStartoverURL("", now), Note: "from 5 minutes ago (or the oldest segment)"},
		{Label: "Time-shift", URL: demoShiftURL("", shiftStart, shiftEnd), Note: "a 30 s window in the past, as VOD"},
		{Label: "CMAF", URL: demoCMAFPath, Note: "the same channel repackaged to fMP4/CMAF"},
		{Label: "DASH", URL: demoDASHPath, Note: "the same CMAF segments with an MPEG-DASH manifest"},
		{Label: "AES-128", URL: demoAESPath, Note: "the same channel encrypted, keys from the built-in key server"},
	}
	if p := app.iframes(); p != "" {
		l = append(l, dashboard.Link{Label: "I-frames", URL: p, Note: "I-frame-only playlist of the first video rendition"})
	}
	return append(l,
		dashboard.Link{Label: "Channel source", URL: demoSourcePath, Note: "VOD2Live channel 1, what the relay pulls"},
		dashboard.Link{Label: "API", URL: demoFetchersPath, Note: "fetchers (JSON)"},
		dashboard.Link{Label: "API docs", URL: "/api/docs"},
		dashboard.Link{Label: "Metrics", URL: "/metrics", Note: "Prometheus"},
	)
}

func (app *demoApp) iframes() string {
	app.mu.Lock()
	defer app.mu.Unlock()
	return app.iframePath
}

// demoShiftExample is a 30 s window that the origin holds from the first
// seconds on: the relay pushes the channel's whole 60 s window at once.
func demoShiftExample(now time.Time) (start, end time.Time) {
	start = now.Add(-50 * time.Second).Truncate(time.Second)
	return start, start.Add(30 * time.Second)
}

func demoStartoverURL(base string, now time.Time) string {
	return base + demoPlaybackPath + "?start=" + now.Add(-demoStartover).UTC().Format(time.RFC3339)
}

func demoShiftURL(base string, start, end time.Time) string {
	return base + demoPlaybackPath + "?start=" + start.UTC().Format(time.RFC3339) + "&end=" + end.UTC().Format(time.RFC3339)
}

// createFetcher starts the relay from channel 1 to both origin inputs
// through the REST API, as a user would, and returns its id.
func (app *demoApp) createFetcher(ctx context.Context, password string) (string, error) {
	payload, err := json.Marshal(mediapackage.Payload{IngestURLs: []mediapackage.IngestPayload{
		{URL: app.internal + "/in/v2/" + demoChannelID + "/a/channel", Username: demoUser, Password: password},
		{URL: app.internal + "/in/v2/" + demoChannelID + "/b/channel", Username: demoUser, Password: password},
	}})
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	body, err := json.Marshal(map[string]any{
		"name": demoFetcherName, "url": app.internal + demoSourcePath,
		"output": "mediapackage", "payload": json.RawMessage(payload),
	})
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.internal+demoFetchersPath, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("demo: create fetcher: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("demo: create fetcher: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		ID    string `json:"fetcherId"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return "", fmt.Errorf("demo: create fetcher: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("demo: create fetcher: %s: %s", resp.Status, out.Error)
	}
	return out.ID, nil
}

// printURLs writes what a user wants to open. took is how long the origin
// took to go live (live false: not yet).
func (app *demoApp) printURLs(w io.Writer, now time.Time, took time.Duration, live bool, dataDir string, temporary bool) {
	// One write, so that a reader never sees half the block.
	var buf bytes.Buffer
	defer func() { w.Write(buf.Bytes()) }()
	shiftStart, shiftEnd := demoShiftExample(now)
	b := app.base
	state := fmt.Sprintf("playing %s after start", took.Round(100*time.Millisecond))
	if !live {
		state = "the origin is not live yet: see the fetcher's lastError in the API"
	}
	fmt.Fprintf(&buf, "pullpush demo: channel engine -> relay -> origin on %s (%s)\n\n", b, state)
	row := func(label, url, note string) {
		if note != "" {
			note = "  (" + note + ")"
		}
		fmt.Fprintf(&buf, "  %-15s %s%s\n", label, url, note)
	}
	row("Dashboard", b+"/", "player and fetchers")
	row("Live", b+demoPlaybackPath, "")
	row("Start over", demoStartoverURL(b, now), "from 5 minutes ago, or the oldest segment")
	row("Time-shift", demoShiftURL(b, shiftStart, shiftEnd), "30 s in the past, as VOD")
	row("CMAF", b+demoCMAFPath, "fMP4/CMAF endpoint")
	row("AES-128", b+demoAESPath, "encrypted endpoint, keys at "+b+keys.KeysPath)
	row("DASH", b+demoDASHPath, "MPEG-DASH over the CMAF segments")
	if p := app.iframes(); p != "" {
		row("I-frames", b+p, "")
	}
	row("Channel source", b+demoSourcePath, "VOD2Live channel 1")
	row("API", b+demoFetchersPath, "docs "+b+"/api/docs, metrics "+b+"/metrics")
	row("Ingest", b+"/in/v2/"+demoChannelID+"/{a,b}/channel", "digest auth, generated credentials")
	row("Live event", b+demoEventPath, "a second channel to switch channel 1 to:")
	fmt.Fprintf(&buf, "    curl -XPOST %s/api/v1/channels/%s/switch -d '{\"url\":\"%s%s\",\"duration\":\"60s\"}'\n", b, demoChannelID, app.internal, demoEventPath)
	row("Ad break", b+"/api/v1/channels/"+demoChannelID+"/schedule", "30 s, signalled with CUE-OUT/IN and DATERANGE at the origin:")
	fmt.Fprintf(&buf, "    curl -XPOST %s/api/v1/channels/%s/schedule -d '{\"items\":[{\"type\":\"break\",\"duration\":30,\"start\":\"next\"}]}'\n", b, demoChannelID)
	where := dataDir
	if temporary {
		where += " (removed on exit)"
	}
	fmt.Fprintf(&buf, "\nData: %s. Press Ctrl-C to stop.\n", where)
}

// waitLive waits until the origin serves the channel (or ctx ends, or
// demoReadyTimeout passes) and returns the time since started.
func (app *demoApp) waitLive(ctx context.Context, started time.Time) (time.Duration, bool) {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(demoReadyTimeout)
	t := time.NewTicker(demoReadyPoll)
	defer t.Stop()
	for {
		if p, ok := app.originLive(ctx, client); ok {
			took := time.Since(started)
			app.mu.Lock()
			app.iframePath = p
			app.mu.Unlock()
			app.log.Info("origin is live", demoKeyTook, took)
			return took, true
		}
		if time.Now().After(deadline) {
			app.log.Warn("the origin is not live yet; see the fetcher's last error at " + app.base + demoFetchersPath)
			return time.Since(started), false
		}
		select {
		case <-ctx.Done():
			return time.Since(started), false
		case <-t.C:
		}
	}
}

// originLive reports whether the origin serves the live multivariant of
// the channel, its media playlists and its I-frame playlist, and returns
// the I-frame playlist path.
func (app *demoApp) originLive(ctx context.Context, client *http.Client) (iframes string, ok bool) {
	body, ok := demoGet(ctx, client, app.internal+demoSourcePath)
	if !ok {
		return "", false
	}
	src, err := hls.ParseMultivariant(body)
	if err != nil {
		return "", false
	}
	// Until the relay's multivariant arrives, the origin lists the
	// renditions it has: wait for the source's variants and renditions,
	// and the I-frame playlist of its video.
	read := func() *hls.Multivariant {
		body, ok := demoGet(ctx, client, app.internal+demoPlaybackPath)
		if !ok {
			return nil
		}
		mv, err := hls.ParseMultivariant(body)
		if err != nil || len(mv.Variants) == 0 || len(mv.Variants) != len(src.Variants) ||
			len(mv.Renditions) != len(src.Renditions) || len(mv.IFrameVariants) == 0 {
			return nil
		}
		return mv
	}
	mv := read()
	if mv == nil {
		return "", false
	}
	dir := "/out/v1/" + demoChannelID + "/"
	for _, v := range mv.Variants {
		if _, ok := demoGet(ctx, client, app.internal+dir+v.URI); !ok {
			return "", false
		}
	}
	// The I-frame playlist is built from the first video rendition whose
	// newest segment has keyframes: wait until that is the first variant,
	// so that the printed URL stays valid.
	if mv = read(); mv == nil {
		return "", false
	}
	first := strings.TrimSuffix(mv.Variants[0].URI, ".m3u8") + "/"
	if !strings.HasPrefix(mv.IFrameVariants[0].URI, first) {
		return "", false
	}
	iframes = dir + mv.IFrameVariants[0].URI
	if _, ok := demoGet(ctx, client, app.internal+iframes); !ok {
		return "", false
	}
	return iframes, true
}

// demoGet returns the body of a 200 answer to GET u.
func demoGet(ctx context.Context, client *http.Client, u string) ([]byte, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return body, err == nil && resp.StatusCode == http.StatusOK
}

// randomSecret returns 128 random bits in hex.
func randomSecret() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// demoDisplayAddr is the host:port to print: the requested host (localhost
// for an unspecified one) with the bound port.
func demoDisplayAddr(a net.Addr, requested string) string {
	host, _, err := net.SplitHostPort(requested)
	_, port, err2 := net.SplitHostPort(a.String())
	if err != nil || err2 != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// demoDialAddr is the address the relay uses to reach the server:
// the bound one, with loopback for an unspecified host.
func demoDialAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

// demoChannels is the bundled channel 1 and a second channel looping
// asset b (colour bars), which the demo offers as a live event source to
// switch channel 1 to.
func demoChannels() channel.Config {
	cfg := channel.DefaultConfig()
	event := cfg.Channels[0]
	event.ID = demoEventID
	event.Assets = nil
	for _, a := range cfg.Channels[0].Assets {
		if a.ID == "b" {
			a.ID, a.Title = "event", "Live event (colour bars, 660 Hz)"
			event.Assets = append(event.Assets, a)
		}
	}
	cfg.Channels = append(cfg.Channels, event)
	return cfg
}
