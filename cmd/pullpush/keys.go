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
	"time"

	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin"
)

const keysUsage = `usage: pullpush keys [--listen ADDR] [--token T] [--secret-file F] [--keys-file F] [--public-url URL]

Runs a small content key server for tests and demos in the foreground until
interrupted:
  POST http://ADDR/speke/v1.0/copyProtection   SPEKE v1 / CPIX key requests
                                                (origin config keys.url)
  GET  http://ADDR/keys/{channel}/{kid}         the raw 16-byte key, for players
                                                (EXT-X-KEY URI)
With a token (--token or PULLPUSH_KEYS_TOKEN), every request needs it as
"Authorization: Bearer T" or ?token=T. Keys are random and kept in memory,
unless --secret-file derives them from a secret (stable across restarts);
--keys-file serves static keys (the origin's keys.file format) too. Key
values and the token are never printed or logged.

Flags:
`

// Constant slog keys of the keys command.
const (
	keysKeyAddr  = "addr"
	keysKeyError = logkey.Err
)

// keysTokenEnv names the environment variable holding the key server token.
const keysTokenEnv = "PULLPUSH_KEYS_TOKEN"

// minSecretLen is the shortest accepted --secret-file content.
const minSecretLen = 16

// runKeys runs the key server until ctx ends.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:8091", "`address` to listen on")
	token := fs.String("token", "", "`token` required on every request (default $"+keysTokenEnv+")")
	secretFile := fs.String("secret-file", "", "`file` whose content (at least 16 bytes) derives the keys")
	keysFile := fs.String("keys-file", "", "static key `file` (YAML: keys: [{channel, kid, key, iv, uri}])")
	publicURL := fs.String("public-url", "", "base `URL` of key URIs in CPIX answers (default: http://<request host>)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, keysUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%w: keys: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: keys: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cfg := keys.ServerConfig{Token: *token, PublicURL: *publicURL}
	if cfg.Token == "" {
		cfg.Token = os.Getenv(keysTokenEnv)
	}
	if *secretFile != "" {
		secret, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("%w: keys: --secret-file: %v", errUsage, err)
		}
		if len(secret) < minSecretLen {
			return fmt.Errorf("%w: keys: --secret-file: want at least %d bytes", errUsage, minSecretLen)
		}
		cfg.Secret = secret
	}
	if *keysFile != "" {
		st, err := keys.LoadStaticFile(*keysFile)
		if err != nil {
			return fmt.Errorf("%w: keys: --keys-file: %v", errUsage, err)
		}
		cfg.Static = st
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("cmd", "keys")
	cfg.Logger = logger
	srv, err := keys.NewServer(cfg)
	if err != nil {
		return fmt.Errorf("%w: keys: %v", errUsage, err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("keys: listen: %w", err)
	}
	hs := &http.Server{
		Handler:           origin.SafePaths(srv.Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	base := "http://" + originDisplayAddr(ln.Addr())
	logger.Info("key server listening", keysKeyAddr, ln.Addr().String())
	fmt.Fprintf(stdout, "key server %s\n", base)
	fmt.Fprintf(stdout, "  SPEKE/CPIX: %s%s\n", base, keys.SPEKEPath)
	fmt.Fprintf(stdout, "  keys:       %s%s{channel}/{kid}\n", base, keys.KeysPath)
	if cfg.Token != "" {
		fmt.Fprintln(stdout, "  token:      required (Authorization: Bearer or ?token=)")
	} else {
		fmt.Fprintln(stdout, "  token:      none (anyone can fetch keys)")
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("keys: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), originShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		logger.Warn("shutdown", keysKeyError, err)
		hs.Close()
	}
	<-errc
	logger.Info("key server stopped")
	return nil
}
