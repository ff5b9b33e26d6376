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
	"time"

	"github.com/pullpush/pullpush/channel"
	"github.com/pullpush/pullpush/origin"
)

// runChannel serves the VOD2Live channel engine until ctx is cancelled.
func runChannel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("channel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pullpush channel [--listen ADDR] [--config channels.yaml]")
		fmt.Fprintln(stderr, "\nServes live HLS channels looped from VOD assets; without --config, the bundled channel 1.")
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "localhost:8000", "address to listen on (host:port)")
	config := fs.String("config", "", "channels config file (YAML or JSON); default: the bundled channel 1")
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
	cfg := channel.DefaultConfig()
	if *config != "" {
		var err error
		if cfg, err = channel.LoadConfig(*config); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	eng, err := channel.New(cfg, channel.WithLogger(logger), channel.WithContext(ctx))
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
	mux.Handle("/", eng.Handler())
	srv := &http.Server{
		Handler:           origin.SafePaths(mux),
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
	fmt.Fprintf(stdout, "  health: %s/health   status: %s/status\n", base, base)

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
