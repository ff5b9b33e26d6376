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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/api"
	"github.com/pullpush/pullpush/cluster"
	"github.com/pullpush/pullpush/config"
	"github.com/pullpush/pullpush/internal/buildinfo"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/metrics"
	"github.com/pullpush/pullpush/origin"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
	"github.com/pullpush/pullpush/store"
	"github.com/pullpush/pullpush/store/natskv"
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
//
// With cfg.Cluster the definitions and progress live in NATS JetStream,
// shared with the other instances (package cluster): instead of restoring
// the stored fetchers, the instance joins the cluster and claims its share;
// on shutdown it hands its fetchers off to the others before it stops.
func serve(ctx context.Context, cfg config.Serve, logw io.Writer, ready func(addr string)) error {
	red := api.NewRedactor()
	log := newLogger(logw, cfg, red)
	m := metrics.New()
	reg := output.NewRegistry()
	outputs.Register(reg)
	opts := pullpush.Options{
		Logger: log, Observer: m, Outputs: reg,
		MaxFetchers: cfg.MaxFetchers, SpoolBytes: cfg.SpoolBytes, SpoolMemoryBytes: cfg.SpoolMemory,
		SpoolDir:   filepath.Join(cfg.Data, "spool"),
		AllowHosts: cfg.AllowHostList(), DenyPrivate: cfg.DenyPrivate,
	}
	apiOpts := api.Options{
		Token: cfg.APIToken, Logger: log, Metrics: m,
		CORSOrigin: cfg.CORSOrigin, StopTimeout: cfg.ShutdownTimeout, Version: buildinfo.Get().Version, Redactor: red,
		Pprof: cfg.Pprof,
	}
	var (
		st   store.Store
		node *cluster.Node
		nc   *nats.Conn
		err  error
	)
	if cfg.Cluster != "" {
		nc, node, st, err = joinCluster(ctx, cfg, log)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		defer nc.Close()
		opts.Progress, opts.WrapOutput = node.Progress(), node.WrapOutput
		apiOpts.Cluster = node
	} else {
		b, err := store.OpenBolt(cfg.Data)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		st, opts.Progress = b, b
	}
	apiOpts.Store = st
	svc := pullpush.New(opts)
	a := api.New(svc, apiOpts)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return fmt.Errorf("serve: listen: %w", err)
	}
	restored := 0
	if node != nil {
		err = node.Start(ctx, a)
	} else {
		restored, err = a.Restore(ctx)
	}
	if err != nil {
		ln.Close()
		st.Close()
		return fmt.Errorf("serve: %w", err)
	}
	srv := &http.Server{
		Handler:           origin.SafePaths(a.Handler()),
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    serveMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	if node != nil {
		log.Info("serving", "addr", addr, "data", cfg.Data, "auth", cfg.APIToken != "",
			"cluster", cfg.Cluster, "instance", cfg.InstanceID, "members", len(node.Members()), "maxFetchers", cfg.MaxFetchers)
	} else {
		log.Info("serving", "addr", addr, "data", cfg.Data, "auth", cfg.APIToken != "",
			"fetchers", restored, "maxFetchers", cfg.MaxFetchers)
	}
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
		log.Error("http server failed", logkey.Err, serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("API requests still running at the shutdown deadline", logkey.Err, err)
		srv.Close()
	}
	if node != nil {
		// Hand every fetcher off (graceful stop, progress saved, lease
		// released) so the other instances continue the streams at once.
		if err := node.Leave(sctx); err != nil {
			log.Warn("fetchers not all handed off before the shutdown deadline", logkey.Err, err)
		}
	}
	if err := svc.Close(sctx); err != nil {
		log.Warn("fetchers did not finish their uploads before the shutdown deadline", logkey.Err, err)
	}
	if node != nil {
		node.Close()
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

// joinCluster connects to NATS and opens the shared store and this
// instance's cluster node (not started yet).
func joinCluster(ctx context.Context, cfg config.Serve, log *slog.Logger) (*nats.Conn, *cluster.Node, store.Store, error) {
	clog := log.With("instance", cfg.InstanceID)
	nopts := []nats.Option{
		nats.Name("pullpush " + cfg.InstanceID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				clog.Warn("disconnected from NATS", logkey.Err, err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { clog.Info("reconnected to NATS", "server", c.ConnectedUrlRedacted()) }),
	}
	if cfg.ClusterCredsFile != "" {
		nopts = append(nopts, nats.UserCredentials(cfg.ClusterCredsFile))
	}
	nc, err := nats.Connect(cfg.Cluster, nopts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, nil, fmt.Errorf("cluster: %w", err)
	}
	st, err := natskv.Open(ctx, js, natskv.Options{Prefix: cfg.ClusterPrefix})
	if err != nil {
		nc.Close()
		return nil, nil, nil, fmt.Errorf("cluster: %w (is JetStream enabled on the NATS server? nats-server -js)", err)
	}
	node, err := cluster.New(ctx, cluster.Config{
		JS: js, Store: st, Instance: cfg.InstanceID, LeaseTTL: cfg.LeaseTTL, Prefix: cfg.ClusterPrefix,
		MaxFetchers: cfg.MaxFetchers, HandoffTimeout: cfg.ShutdownTimeout, Logger: clog,
	})
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	return nc, node, st, nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
