package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/output/outputs"
)

// runPull runs one fetcher in the foreground until ctx ends or the source
// reaches ENDLIST.
func runPull(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("url", "", "source playlist URL (multivariant or media), http or https")
	outName := fs.String("output", "", "output name: mediapackage, mediapackagev2, webdav, s3, file, void")
	payload := fs.String("payload", "{}", "output payload JSON, e.g. '{\"ingestUrls\":[{\"url\":\"http://host/in/v2/1/a/channel\",\"username\":\"u\",\"password\":\"p\"}]}'")
	window := fs.Int("window", 120, "seconds of segments kept in pushed media playlists")
	concurrency := fs.Int("concurrency", fetch.DefaultConcurrency, "parallel segment downloads")
	state := fs.String("state", "", "file to keep progress in, so a restart continues without re-pushing or name collisions")
	spool := fs.Int64("spool-bytes", fetch.DefaultSpoolBytes, "bound of the on-disk spool that holds segments while an output is down")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	allowHosts := fs.String("allow-hosts", "", "comma-separated hosts the source may be fetched from (names, IPs or *.domain), redirects and segment hosts included; empty allows any")
	denyPrivate := fs.Bool("deny-private", false, "refuse source connections to loopback, private, link-local and other non-public addresses")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *src == "" || *outName == "" {
		return fmt.Errorf("%w: pull needs --url and --output", errUsage)
	}
	if err := pullpush.ValidateSourceURL(*src); err != nil {
		return fmt.Errorf("%w: --url: %v", errUsage, err)
	}
	if *window <= 0 || *concurrency <= 0 || *spool <= 0 {
		return fmt.Errorf("%w: --window, --concurrency and --spool-bytes must be positive", errUsage)
	}
	if !json.Valid([]byte(*payload)) {
		return fmt.Errorf("%w: --payload is not valid JSON", errUsage)
	}
	log, err := pullLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	opts := pullpush.Options{Logger: log, SpoolBytes: *spool, DenyPrivate: *denyPrivate}
	for _, h := range strings.Split(*allowHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			opts.AllowHosts = append(opts.AllowHosts, h)
		}
	}
	if *state != "" {
		opts.Progress = &fetch.FileProgress{Path: *state}
	}
	svc := pullpush.New(opts)
	outputs.Register(svc.Outputs())
	out, err := svc.BuildOutput(*outName, json.RawMessage(*payload))
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	id, err := svc.StartFetcher(ctx, pullpush.FetcherSpec{
		ID: "pull", Name: "pull", URL: *src, Output: out, OutputName: *outName,
		WindowSize: time.Duration(*window) * time.Second, Concurrency: *concurrency,
	})
	if errors.Is(err, pullpush.ErrInvalidSpec) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	ticker := time.NewTicker(10 * time.Second)
	defer ticker.Stop()
	done := make(chan error, 1)
	go func() { done <- svc.Wait(context.Background(), id) }()
	for {
		select {
		case err := <-done:
			st, _ := svc.Fetcher(id)
			fmt.Fprintf(stdout, "pull ended: state=%s pulled=%d pushed=%d\n", st.State, st.SegmentsPulled, st.SegmentsPushed)
			if err != nil {
				return err
			}
			if st.State == fetch.StateFailed {
				return fmt.Errorf("fetcher failed: %s", st.LastError)
			}
			return nil
		case <-ticker.C:
			st, _ := svc.Fetcher(id)
			log.Info("progress", "state", st.State, "pulled", st.SegmentsPulled, "pushed", st.SegmentsPushed, "lag_seconds", st.LagSeconds, "last_error", st.LastError)
		case <-ctx.Done():
			log.Info("stopping: letting in-flight uploads finish")
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return svc.Close(sctx)
		}
	}
}

// pullLogger returns a text slog logger at the named level.
func pullLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
