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

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/api"
	"github.com/pullpush/pullpush/config"
	"github.com/pullpush/pullpush/metrics"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
	"github.com/pullpush/pullpush/store"
)

// HTTP server limits of `pullpush serve`.
const (
	serveReadHeaderTimeout = 10 * time.Second
	serveReadTimeout       = 30 * time.Second // bodies are at most 1 MiB
	serveWriteTimeout      = 60 * time.Second
	serveIdleTimeout       = 120 * time.Second
	serveMaxHeaderBytes    = 64 << 10
)

// runServe runs the REST API and the fetchers until ctx is cancelled
// (SIGTERM or SIGINT), then shuts down gracefully and returns nil.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := config.LoadServe(args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: serve: %v", errUsage, err)
	}
	return serve(ctx, cfg, stderr, nil)
}

// newLogger returns the slog logger configured by cfg, writing to w
// through red so that no line shows a secret.
func newLogger(w io.Writer, cfg config.Serve, red *api.Redactor) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(red.Handler(h))
}

// serve runs until ctx ends. ready, when not nil, is called with the bound
// address once the API accepts connections and the stored fetchers have
// been started again.
//
// Shutdown: stop accepting and finish in-flight API requests, stop every
// fetcher's polling and let in-flight uploads finish (both within
// cfg.ShutdownTimeout), then close the store, which holds the progress the
// fetchers saved, and return nil.
func serve(ctx context.Context, cfg config.Serve, logw io.Writer, ready func(addr string)) error {
	red := api.NewRedactor()
	log := newLogger(logw, cfg, red)
	st, err := store.OpenBolt(cfg.Data)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	m := metrics.New()
	reg := output.NewRegistry()
	outputs.Register(reg)
	svc := pullpush.New(pullpush.Options{
		Logger: log, Progress: st, Observer: m, Outputs: reg,
		MaxFetchers: cfg.MaxFetchers, SpoolBytes: cfg.SpoolBytes,
		SpoolDir: filepath.Join(cfg.Data, "spool"),
	})
	a := api.New(svc, api.Options{
		Store: st, Token: cfg.APIToken, Logger: log, Metrics: m,
		CORSOrigin: cfg.CORSOrigin, StopTimeout: cfg.ShutdownTimeout, Version: version, Redactor: red,
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return fmt.Errorf("serve: listen: %w", err)
	}
	restored, err := a.Restore(ctx)
	if err != nil {
		ln.Close()
		st.Close()
		return fmt.Errorf("serve: %w", err)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    serveMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	log.Info("serving", "addr", addr, "data", cfg.Data, "auth", cfg.APIToken != "",
		"fetchers", restored, "maxFetchers", cfg.MaxFetchers)
	if cfg.APIToken == "" && !isLoopback(ln.Addr()) {
		log.Warn("the API has no token and listens beyond loopback: anyone who reaches it can create fetchers; set --api-token or PULLPUSH_API_TOKEN")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(addr)
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case serveErr = <-errc:
		log.Error("http server failed", "err", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("API requests still running at the shutdown deadline", "err", err)
		srv.Close()
	}
	if err := svc.Close(sctx); err != nil {
		log.Warn("fetchers did not finish their uploads before the shutdown deadline", "err", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	log.Info("stopped")
	return nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
