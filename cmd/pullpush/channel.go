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
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/pullpush/pullpush/channel"
	"github.com/pullpush/pullpush/internal/accesslog"
	"github.com/pullpush/pullpush/origin"
)

// runChannel serves the VOD2Live channel engine until ctx is cancelled.
func runChannel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("channel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pullpush channel [--listen ADDR] [--config channels.yaml] [--data DIR] [--api-token T] [--access-log=false]")
		fmt.Fprintln(stderr, "\nServes live HLS channels looped from VOD assets; without --config, the bundled channel 1.")
		fmt.Fprintln(stderr, "GET /health and GET /status report on the channels, GET /metrics serves Prometheus metrics")
		fmt.Fprintln(stderr, "(playlist and segment requests, asset errors, slate segments, schedule changes); one log line")
		fmt.Fprintln(stderr, "per request unless --access-log=false. With --data, the schedule API")
		fmt.Fprintln(stderr, "(/api/v1/channels/{id}/schedule: assets, ad breaks and live sources; /api/v1/channels/{id}/switch")
		fmt.Fprintln(stderr, "switches to a live HLS source now and back) keeps each channel's schedule in")
		fmt.Fprintln(stderr, "DIR/schedules/{id}.json; instances sharing DIR serve the same playlists. The token also comes")
		fmt.Fprintln(stderr, "from $"+channelTokenEnv+" or $"+channelTokenFileEnv+".")
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "localhost:8000", "address to listen on (host:port)")
	config := fs.String("config", "", "channels config file (YAML or JSON); default: the bundled channel 1")
	data := fs.String("data", "", "`directory` for the channels' schedules (the schedule API is off without it)")
	token := fs.String("api-token", "", "bearer token required on /api/v1 (prefer $"+channelTokenEnv+" or --api-token-file over the flag)")
	tokenFile := fs.String("api-token-file", "", "`file` holding the API token")
	accessLog := fs.Bool("access-log", true, "log every request (method, path, status, bytes, duration, remote); --access-log=false turns it off")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	tok, err := channelToken(*token, *tokenFile)
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	cfg := channel.DefaultConfig()
	if *config != "" {
		if cfg, err = channel.LoadConfig(*config); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	opts := []channel.Option{channel.WithLogger(logger), channel.WithContext(ctx)}
	if *data != "" {
		opts = append(opts, channel.WithScheduleDir(filepath.Join(*data, "schedules")))
	}
	eng, err := channel.New(cfg, opts...)
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	mux := http.NewServeMux()
	ops := eng.OpsHandler()
	mux.Handle("GET /health", ops)
	mux.Handle("GET /status", ops)
	mux.Handle("GET /metrics", eng.MetricsHandler())
	mux.Handle("/api/v1/", eng.ScheduleHandler(tok))
	mux.Handle("/", eng.Handler())
	handler := origin.SafePaths(mux)
	if *accessLog {
		handler = accesslog.Handler(logger, handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	base := "http://" + displayAddr(ln.Addr(), *listen)
	fmt.Fprintf(stdout, "pullpush channel: listening on %s\n", base)
	for _, ch := range eng.Channels() {
		fmt.Fprintf(stdout, "  channel %s: %s%s\n", ch.ID, base, ch.Path)
	}
	fmt.Fprintf(stdout, "  list: %s/channels   new session: %s/channels/new?assets=ID,ID\n", base, base)
	fmt.Fprintf(stdout, "  health: %s/health   status: %s/status   metrics: %s/metrics\n", base, base, base)
	if *data != "" {
		fmt.Fprintf(stdout, "  schedule: %s/api/v1/channels/ID/schedule   live switch: %s/api/v1/channels/ID/switch\n", base, base)
		if tok == "" && !isLoopback(ln.Addr()) {
			logger.Warn("the schedule API has no token and listens beyond loopback: anyone who reaches it can change the schedules; set --api-token or " + channelTokenEnv)
		}
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("channel: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("channel: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("channel: %w", err)
	}
	return nil
}

// Environment variables of the schedule API token, spelled as for
// `pullpush serve`.
const (
	channelTokenEnv     = "PULLPUSH_API_TOKEN"
	channelTokenFileEnv = "PULLPUSH_API_TOKEN_FILE"
)

// channelToken resolves the API token: the flags, else the environment; a
// token file holds it on its first line.
func channelToken(token, file string) (string, error) {
	if token == "" && file == "" {
		token, file = os.Getenv(channelTokenEnv), os.Getenv(channelTokenFileEnv)
	}
	if token != "" && file != "" {
		return "", errors.New("--api-token and --api-token-file are both set: use one")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--api-token-file: %w", err)
		}
		if token = strings.TrimRight(string(b), "\r\n"); token == "" {
			return "", fmt.Errorf("--api-token-file: %s is empty", file)
		}
	}
	if strings.IndexFunc(token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", errors.New("--api-token must not contain whitespace or control characters")
	}
	return token, nil
}

// displayAddr is the host:port to print for a listener: the requested host
// (or localhost for an unspecified one) with the actual port.
func displayAddr(addr net.Addr, requested string) string {
	host, _, err := net.SplitHostPort(requested)
	_, port, err2 := net.SplitHostPort(addr.String())
	if err != nil || err2 != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
