package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/pullpush/pullpush/origin"
)

const originUsage = `usage: pullpush origin --listen ADDR --data DIR --channel ID=USER:PASSWORD [--channel ...] [--config origin.yaml]

Runs a MediaPackage-compatible origin in the foreground until interrupted.

Ingest (WebDAV PUT/DELETE, digest auth MD5 qop=auth), two redundant inputs
per channel under any names, e.g. a and b:
  http://ADDR/in/v2/ID/a/channel     (pusher ingest URL; files go next to it)
Playback:
  http://ADDR/out/v1/ID/index.m3u8                              live
  http://ADDR/out/v1/ID/index.m3u8?start=T[&end=T]              time-shift (ISO 8601 or epoch seconds)
  http://ADDR/out/v1/ID/start/T/end/T/index.m3u8                time-shift, path form

The YAML config (--config) sets per-channel endpoint settings; --data and
--channel override / add to it:
  dataDir: /var/lib/pullpush/origin
  maxBodyBytes: 67108864
  nonceTTL: 5m
  channels:
    - id: live
      username: pusher
      password: secret
      inputs: [{name: a}, {name: b, username: other, password: secret2}]   # optional
      startoverWindow: 24h   # up to 336h (14 days)
      manifestWindow: 60s
      timeDelay: 0s          # 0 or 5s..24h, less than the startover window
      iframes: true
      pdtInterval: 0s        # 0: PROGRAM-DATE-TIME on every segment

Flags:
`

// Constant slog keys of the origin command.
const (
	originKeyAddr    = "addr"
	originKeyChannel = "channel"
	originKeyIngest  = "ingest"
	originKeyPlay    = "playback"
	originKeyData    = "data"
	originKeyError   = "error"
)

// originShutdownGrace is how long in-flight requests get on shutdown.
const originShutdownGrace = 5 * time.Second

// channelFlags collects repeated --channel ID=USER:PASSWORD values.
type channelFlags []origin.ChannelConfig

func (c *channelFlags) String() string {
	ids := make([]string, len(*c))
	for i, ch := range *c {
		ids[i] = ch.ID + "=***"
	}
	return strings.Join(ids, ",")
}

func (c *channelFlags) Set(v string) error {
	id, cred, ok := strings.Cut(v, "=")
	user, pass, ok2 := strings.Cut(cred, ":")
	if !ok || !ok2 || id == "" || user == "" || pass == "" {
		return errors.New("want ID=USER:PASSWORD")
	}
	*c = append(*c, origin.ChannelConfig{ID: id, Username: user, Password: pass})
	return nil
}

// runOrigin runs the origin server until ctx ends.
func runOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("origin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:8090", "`address` to listen on")
	data := fs.String("data", "", "`directory` for stored segments (required unless set in --config)")
	configPath := fs.String("config", "", "YAML config `file` with per-channel settings")
	var channels channelFlags
	fs.Var(&channels, "channel", "channel `ID=USER:PASSWORD` (repeatable; both inputs use these credentials)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, originUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%w: origin: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: origin: unexpected argument %q", errUsage, fs.Arg(0))
	}
	var cfg origin.Config
	if *configPath != "" {
		c, err := origin.LoadConfigFile(*configPath)
		if err != nil {
			return fmt.Errorf("%w: origin: --config: %v", errUsage, err)
		}
		cfg = c
	}
	if *data != "" {
		cfg.DataDir = *data
	}
	for _, ch := range channels {
		replaced := false
		for i := range cfg.Channels {
			if cfg.Channels[i].ID == ch.ID {
				cfg.Channels[i].Username, cfg.Channels[i].Password = ch.Username, ch.Password
				replaced = true
			}
		}
		if !replaced {
			cfg.Channels = append(cfg.Channels, ch)
		}
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("%w: origin: --data is required", errUsage)
	}
	if len(cfg.Channels) == 0 {
		return fmt.Errorf("%w: origin: at least one --channel ID=USER:PASSWORD is required", errUsage)
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("cmd", "origin")
	o, err := origin.New(cfg, origin.WithLogger(logger))
	if err != nil {
		if errors.Is(err, origin.ErrConfig) {
			return fmt.Errorf("%w: origin: %v", errUsage, err)
		}
		return fmt.Errorf("origin: %w", err)
	}
	defer o.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("origin: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           o.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Segments can be large; the body limit is enforced per request.
		ReadTimeout:    2 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	base := "http://" + originDisplayAddr(ln.Addr())
	logger.Info("origin listening", originKeyAddr, ln.Addr().String(), originKeyData, cfg.DataDir)
	for _, ch := range cfg.Channels {
		inputs := []string{"a", "b"}
		if len(ch.Inputs) > 0 {
			inputs = inputs[:0]
			for _, in := range ch.Inputs {
				inputs = append(inputs, in.Name)
			}
		}
		play := base + "/out/v1/" + ch.ID + "/index.m3u8"
		fmt.Fprintf(stdout, "channel %s\n", ch.ID)
		for _, in := range inputs {
			ingest := base + "/in/v2/" + ch.ID + "/" + in + "/channel"
			fmt.Fprintf(stdout, "  ingest %s: %s\n", in, ingest)
			logger.Info("ingest", originKeyChannel, ch.ID, originKeyIngest, ingest)
		}
		fmt.Fprintf(stdout, "  playback: %s\n", play)
		logger.Info("playback", originKeyChannel, ch.ID, originKeyPlay, play)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("origin: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), originShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown", originKeyError, err)
		srv.Close()
	}
	<-errc
	logger.Info("origin stopped")
	return nil
}

// originDisplayAddr turns a listen address into one a user can open
// (0.0.0.0 and :: become localhost).
func originDisplayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
