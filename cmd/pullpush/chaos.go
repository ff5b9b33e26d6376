package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/pullpush/pullpush/internal/chaos"
	"github.com/pullpush/pullpush/internal/logkey"
)

const chaosUsage = `usage: pullpush chaos --listen ADDR --target URL --profile NAME|FILE [--seed N]

Runs a fault-injection reverse proxy in the foreground until interrupted.
Requests to ADDR are forwarded to URL and the profile's rules break some of
them. Put it between the relay and its source (--target: the source origin)
or between the relay and its destination (--target: the ingest). Every
injected fault is logged (method, path, rule, fault, status; never headers or
query strings).

Built-in profiles:
` + chaos.BuiltinUsage + `

Profile files (NAME ending in .json or containing "/"):
  {"name": "source-trouble", "rules": [
    {"fault": "status", "status": 503, "methods": ["GET"], "path": "*.ts", "probability": 0.1},
    {"fault": "delay", "delay": "2s", "regexp": "^/live/", "count": 5},
    {"fault": "stale", "path": "*.m3u8", "after": "10s", "for": "6s"},
    {"fault": "skip", "segments": 3, "path": "*.m3u8", "count": 1}]}

  fault      status | delay | hang (alias timeout) | reset | truncate | stale | reset-sequence | skip
  select     methods; path (glob: without "/" it matches the last path element) or regexp;
             probability (0 < p <= 1, drawn from the --seed source); count (first N firings);
             after / for (window, Go durations, counted from start)
  params     status (400-599, for status), delay (for delay, hang), bytes or percent
             (for truncate), segments (for skip), sequence (for reset-sequence)
  Rules are tried in order; the first that fires wins. Unknown keys are errors.

Flags:
`

// Constant slog keys of the chaos command.
const (
	chaosKeyAddr     = "addr"
	chaosKeyTarget   = "target"
	chaosKeyProfile  = "profile"
	chaosKeyRules    = "rules"
	chaosKeySeed     = "seed"
	chaosKeySeq      = "seq"
	chaosKeyMethod   = "method"
	chaosKeyPath     = "path"
	chaosKeyRule     = "rule"
	chaosKeyFault    = "fault"
	chaosKeyStatus   = "status"
	chaosKeyDuration = "duration"
	chaosKeyDetail   = "detail"
	chaosKeyRequests = "requests"
	chaosKeyFwd      = "forwarded"
	chaosKeyFaults   = "faults"
	chaosKeyError    = logkey.Err
)

// chaosShutdownGrace is how long in-flight requests get on shutdown; hung
// requests are then dropped.
const chaosShutdownGrace = 3 * time.Second

// runChaos runs the fault-injection proxy in the foreground until ctx ends.
func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned as one line; -h prints to stdout
	listen := fs.String("listen", "127.0.0.1:8089", "`address` to listen on")
	targetFlag := fs.String("target", "", "`URL` to forward requests to (http or https; required)")
	profileFlag := fs.String("profile", "", "built-in profile `NAME`[:PARAM][+NAME...] or a JSON FILE (required)")
	seedFlag := fs.Uint64("seed", 0, "`seed` of the random source (default: random, logged at start)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, chaosUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%w: chaos: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: chaos: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *listen == "" {
		return fmt.Errorf("%w: chaos: --listen is required", errUsage)
	}
	if *targetFlag == "" {
		return fmt.Errorf("%w: chaos: --target is required", errUsage)
	}
	target, err := url.Parse(*targetFlag)
	if err != nil { // the error would repeat the URL, which may hold credentials
		return fmt.Errorf("%w: chaos: --target: not a valid URL (want e.g. http://127.0.0.1:8080)", errUsage)
	}
	if (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return fmt.Errorf("%w: chaos: --target %q: want an http or https URL (e.g. http://127.0.0.1:8080)", errUsage, target.Redacted())
	}
	if *profileFlag == "" {
		return fmt.Errorf("%w: chaos: --profile is required", errUsage)
	}
	profile, err := chaos.LoadProfile(*profileFlag)
	if err != nil {
		return fmt.Errorf("%w: chaos: --profile: %v", errUsage, err)
	}
	seed := *seedFlag
	seedSet := false
	fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })
	if !seedSet {
		seed = rand.Uint64()
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("cmd", "chaos")
	p := chaos.New(target, chaos.WithSeed(seed), chaos.WithEventHook(func(ev chaos.Event) {
		if ev.Fault == "" {
			return
		}
		logger.LogAttrs(context.Background(), slog.LevelInfo, "fault injected",
			slog.Int64(chaosKeySeq, ev.Seq),
			slog.String(chaosKeyMethod, ev.Method),
			slog.String(chaosKeyPath, ev.Path),
			slog.String(chaosKeyRule, ev.Rule),
			slog.String(chaosKeyFault, string(ev.Fault)),
			slog.Int(chaosKeyStatus, ev.Status),
			slog.Duration(chaosKeyDuration, ev.Duration),
			slog.String(chaosKeyDetail, ev.Detail))
	}))
	defer p.Close()
	if err := p.SetRules(profile.Rules); err != nil {
		return fmt.Errorf("%w: chaos: --profile: %v", errUsage, err)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("chaos: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("chaos proxy listening",
		chaosKeyAddr, ln.Addr().String(),
		chaosKeyTarget, target.Redacted(),
		chaosKeyProfile, profile.Name,
		chaosKeyRules, len(profile.Rules),
		chaosKeySeed, seed)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("chaos: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), chaosShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("chaos proxy: dropping requests still in flight", chaosKeyError, err)
		_ = srv.Close()
	}
	_ = p.Close()
	<-served
	st := p.Stats()
	logger.Info("chaos proxy stopped",
		chaosKeyRequests, st.Requests,
		chaosKeyFwd, st.Forwarded,
		chaosKeyFaults, fmt.Sprint(st.Faults))
	return nil
}
