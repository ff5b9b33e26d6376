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
	"time"

	"github.com/pullpush/pullpush/channel"
	"github.com/pullpush/pullpush/config"
	"github.com/pullpush/pullpush/internal/accesslog"
	"github.com/pullpush/pullpush/origin"
)

// channelUsage heads the help of `pullpush channel`.
const channelUsage = `usage: pullpush channel [--listen ADDR] [--config channels.yaml] [--data DIR] [--api-token T] [--access-log=false]

Serves live HLS channels looped from VOD assets; without --config, the bundled channel 1.
GET /health and GET /status report on the channels, GET /metrics serves Prometheus metrics
(playlist and segment requests, asset errors, slate segments, schedule changes); one log line
per request unless --access-log=false. With --data, the schedule API
(/api/v1/channels/{id}/schedule: assets, ad breaks and live sources; /api/v1/channels/{id}/switch
switches to a live HLS source now and back) keeps each channel's schedule in
DIR/schedules/{id}.json; instances sharing DIR serve the same playlists. The token also comes
from $PULLPUSH_API_TOKEN or $PULLPUSH_API_TOKEN_FILE. Precedence: defaults < config file <
PULLPUSH_* env < flags.

Flags:
`

// runChannel serves the VOD2Live channel engine until ctx is cancelled.
func runChannel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cc, err := config.LoadChannel(args, os.LookupEnv, stderr, channelUsage)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: channel: %v", errUsage, err)
	}
	cfg, tok := cc.Config, cc.APIToken
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	opts := []channel.Option{channel.WithLogger(logger), channel.WithContext(ctx)}
	if cc.Data != "" {
		opts = append(opts, channel.WithScheduleDir(filepath.Join(cc.Data, "schedules")))
	}
	eng, err := channel.New(cfg, opts...)
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	ln, err := net.Listen("tcp", cc.Listen)
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
	if cc.AccessLog {
		handler = accesslog.Handler(logger, handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	base := "http://" + displayAddr(ln.Addr(), cc.Listen)
	fmt.Fprintf(stdout, "pullpush channel: listening on %s\n", base)
	for _, ch := range eng.Channels() {
		fmt.Fprintf(stdout, "  channel %s: %s%s\n", ch.ID, base, ch.Path)
	}
	fmt.Fprintf(stdout, "  list: %s/channels   new session: %s/channels/new?assets=ID,ID\n", base, base)
	fmt.Fprintf(stdout, "  health: %s/health   status: %s/status   metrics: %s/metrics\n", base, base, base)
	if cc.Data != "" {
		fmt.Fprintf(stdout, "  schedule: %s/api/v1/channels/ID/schedule   live switch: %s/api/v1/channels/ID/switch\n", base, base)
		if tok == "" && !isLoopback(ln.Addr()) {
			logger.Warn("the schedule API has no token and listens beyond loopback: anyone who reaches it can change the schedules; set --api-token or " + config.APITokenEnv)
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
