package main

import (
	"context"
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
	"time"

	"github.com/pullpush/pullpush/config"
	"github.com/pullpush/pullpush/dashboard"
	"github.com/pullpush/pullpush/internal/accesslog"
	"github.com/pullpush/pullpush/origin"
	"github.com/pullpush/pullpush/origin/admin"
	"github.com/pullpush/pullpush/origin/harvest"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
)

const originUsage = `usage: pullpush origin --listen ADDR --data DIR --channel ID=USER:PASSWORD [--channel ...] [--config origin.yaml]
       pullpush origin --listen ADDR --storage s3://BUCKET/PREFIX [--s3-endpoint URL] --channel ...

Runs a MediaPackage-compatible origin in the foreground until interrupted.

Ingest (WebDAV PUT/DELETE, digest auth MD5 qop=auth), two redundant inputs
per channel under any names, e.g. a and b:
  http://ADDR/in/v2/ID/a/channel     (pusher ingest URL; files go next to it)
Playback:
  http://ADDR/out/v1/ID/index.m3u8                              live
  http://ADDR/out/v1/ID/index.m3u8?start=T[&end=T]              time-shift (ISO 8601 or epoch seconds)
  http://ADDR/out/v1/ID/start/T/end/T/index.m3u8                time-shift, path form

Shared storage (--storage s3://BUCKET/PREFIX): segments and the index live
in the bucket instead of --data, so several origin instances behind a load
balancer serve the same channels; ingest may go to any of them. Playlists
agree on every instance once an ingest is PublishDelay old (settle delay +
2 polls, 1.5 s by default). Credentials: --s3-access-key/--s3-secret-key,
else $PULLPUSH_S3_ACCESS_KEY/$PULLPUSH_S3_SECRET_KEY, else the AWS
environment, credentials file or instance role. $PULLPUSH_STORAGE,
$PULLPUSH_S3_ENDPOINT and $PULLPUSH_S3_REGION (or $AWS_REGION) set the others.

Manifest filtering per request, as MediaPackage's: append to a
multivariant URL ?aws.manifestfilter=video_bitrate:100000-3000000;video_height:0-720;
audio_language:en,fr;subtitle_language:de;trickplay_type:none (also video_codec:h264|h265,
video_framerate, audio_codec:aacl|aach|ac-3|ec-3, audio_channels, trickplay_height); a bad
clause is a 400 naming it, a filter nothing matches a 404.

Operations: GET http://ADDR/health (200 when storage is reachable, else
503) and GET http://ADDR/metrics (Prometheus); one log line per request
unless --access-log=false. Control API (Authorization: Bearer --api-token),
documented at http://ADDR/api/docs/openapi.json:
  GET  /api/v1/channels[/ID]       inputs (active, last segment), switches, endpoints
  POST /api/v1/channels/ID/credentials  {"password":"...","graceSeconds":300}: rotate
       ingest credentials ("input":"b" on a channel with per-input ones); the
       old password works for the grace period; kept under --data as HA1 only
  POST /api/v1/harvest             live-to-VOD: {"channel":"ID","endpoint":"ts",
       "start":"2026-01-01T10:00:00Z","end":"2026-01-01T10:30:00Z",
       "destination":{"output":"file","payload":{"dir":"/srv/vod/clip1"}}}
       (or "output":"s3" with the s3 output's payload); GET /api/v1/harvest[/JOB]

Packaging endpoints (--endpoint, or endpoints: in the config) serve the same
ingest as TS or CMAF (HLS), or DASH, clear or encrypted, each at
  http://ADDR/out/v1/ID/ENDPOINT/index.m3u8
  http://ADDR/out/v1/ID/ENDPOINT/index.mpd                      DASH endpoints (same ?start=&end=)
e.g. --endpoint ts --endpoint cmaf --endpoint aes=ts:AES-128 --endpoint cbcs=cmaf:cbcs
     --endpoint dash --endpoint dash-cenc=dash:cenc
     --key-server http://127.0.0.1:8091/speke/v1.0/copyProtection   (pullpush keys)
An --endpoint may add comma-separated settings (the endpoint keys of the YAML
below; start: becomes startTimeOffset/startPrecise, streamSelection: and
encryption: give their keys directly), e.g.
     --endpoint dash=dash:cenc,manifestWindow=30s,segmentDuration=6s,timeDelay=10s,
       manifestName=main,adMarkers=daterange,minVideoBitsPerSecond=100000,
       maxVideoBitsPerSecond=3000000,streamOrder=video_bitrate_ascending,
       startTimeOffset=-6,startPrecise=true,pdtInterval=2s,iframes=false,
       repeatKey=true,keyRotationInterval=60s
  (also startoverWindow, constantIV, resourceID; keyRotationInterval overrides
  --key-rotation); an unknown setting or bad value is an error naming it.

The YAML config (--config) sets per-channel endpoint settings; --data and
--channel override / add to it:
  dataDir: /var/lib/pullpush/origin
  storage:                   # optional: shared S3 storage instead of dataDir
    url: s3://bucket/prefix
    endpoint: http://127.0.0.1:7070   # default AWS
    region: us-east-1
    accessKey: ""            # empty: $PULLPUSH_S3_ACCESS_KEY, AWS environment or role
    secretKey: ""
    settleDelay: 1s          # how late a log entry may become visible
    pollInterval: 250ms
    snapshotInterval: 1m
    cacheBytes: 268435456    # memory cache of segments read from the bucket
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
      cdnAuth:               # optional: playback needs this header with one secret (403 otherwise)
        header: X-MediaPackage-CDNIdentifier
        secrets: [at-least-16-characters]
      ingestAllow: [127.0.0.1, 10.0.0.0/8]   # optional: ingest peers allowed (403 otherwise)
      sigv4:                 # optional: take AWS SigV4-signed ingest (the mediapackagev2 output)
        accessKeyId: AKIAEXAMPLE
        secretAccessKey: at-least-16-characters
        region: eu-north-1   # service: mediapackagev2 (default)
      endpoints:             # optional; the first is also /out/v1/live/index.m3u8
        - id: ts             # TS as ingested, the channel's settings
        - id: cmaf
          packaging: cmaf    # TS repackaged as CMAF (fMP4)
          manifestWindow: 30s   # startoverWindow, timeDelay, iframes, pdtInterval too
          segmentDuration: 6s   # 0: as ingested; else round(6s / ingest target) segments joined
          manifestName: index   # the multivariant is {manifestName}.m3u8
          start: {timeOffset: -6, precise: true}   # optional EXT-X-START
          adMarkers: passthrough   # none | scte35_enhanced (CUE-OUT/-CONT/-IN + OATCLS) | daterange (SCTE35-OUT/IN)
          streamSelection:      # optional: variants by BANDWIDTH, and their order
            minVideoBitsPerSecond: 0
            maxVideoBitsPerSecond: 3000000
            streamOrder: original   # or video_bitrate_ascending, video_bitrate_descending
        - id: dash
          packaging: dash    # the CMAF segments with a live MPD: /out/v1/live/dash/index.mpd
                             # (encryption: cenc or cbcs; manifestWindow is timeShiftBufferDepth)
        - id: cbcs
          packaging: cmaf
          encryption:
            method: cbcs     # AES-128 (ts, cmaf), SAMPLE-AES (ts), cbcs, cenc (cmaf, dash)
            keyRotationInterval: 60s   # 0: one key
            constantIV: ""   # 32 hex digits; empty: per segment / per key
            keyURI: ""       # EXT-X-KEY URI template ({channel} {endpoint} {resource} {kid} {period});
                             # empty: the URI the key server returns
            repeatKey: false # EXT-X-KEY before every segment
  keys:                      # key provider of encrypted endpoints: one of
    url: http://127.0.0.1:8091/speke/v1.0/copyProtection   # SPEKE v1 / CPIX
    token: ""                # bearer token for the key server
    # file: keys.yaml        # static keys: keys: [{channel, kid, key, iv, uri}]
  packagerCacheBytes: 134217728   # memory for packaged segments

Flags:
`

// Constant slog keys of the origin command.
const (
	originKeyAddr     = "addr"
	originKeyChannel  = "channel"
	originKeyIngest   = "ingest"
	originKeyPlay     = "playback"
	originKeyData     = "data"
	originKeyError    = "err"
	originKeyEndpoint = "endpoint"
	originKeyStorage  = "storage"
)

// originShutdownGrace is how long in-flight requests get on shutdown.
const originShutdownGrace = 5 * time.Second

// runOrigin runs the origin server until ctx ends.
func runOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	oc, err := config.LoadOrigin(args, os.LookupEnv, stdout, originUsage)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: origin: %v", errUsage, err)
	}
	cfg := oc.Config

	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("cmd", "origin")
	o, err := origin.NewContext(ctx, cfg, origin.WithLogger(logger))
	if err != nil {
		if errors.Is(err, origin.ErrConfig) {
			return fmt.Errorf("%w: origin: %v", errUsage, err)
		}
		return fmt.Errorf("origin: %w", err)
	}
	defer o.Close()

	ln, err := net.Listen("tcp", oc.Listen)
	if err != nil {
		return fmt.Errorf("origin: listen: %w", err)
	}
	if oc.APIToken == "" && !isLoopback(ln.Addr()) {
		logger.Warn("the control API has no token and listens beyond loopback: anyone who reaches it can create, change and delete channels and write harvests; set --api-token or PULLPUSH_API_TOKEN")
	}
	stateFile := ""
	if cfg.DataDir != "" {
		stateFile = filepath.Join(cfg.DataDir, "harvest.json")
	}
	reg := output.NewRegistry()
	outputs.Register(reg)
	hv, err := harvest.New(harvest.Config{
		Origin: o.Handler(), Endpoints: o.Endpoints, ManifestFile: o.ManifestFile, DASHManifest: o.DASHManifest, Outputs: reg, StateFile: stateFile, Logger: logger,
		Redact: func(name string, p json.RawMessage) json.RawMessage { return outputs.Redact(name, p, reg) },
	})
	if err != nil {
		return fmt.Errorf("origin: %w", err)
	}
	defer hv.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /health", o.HealthHandler())
	mux.Handle("GET /metrics", o.MetricsHandler())
	control := admin.New(o, hv).Handler(oc.APIToken)
	mux.Handle("/api/", control)
	mux.Handle("GET "+dashboard.AssetPrefix, dashboard.Handler(dashboard.Config{}))
	mux.Handle("GET /watch/{channel}", watchPage(o, oc.APIToken == ""))
	mux.Handle("/", o.Handler())
	handler := origin.SafePaths(mux)
	if oc.AccessLog {
		handler = accesslog.Handler(logger, handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Segments can be large; the body limit is enforced per request.
		ReadTimeout:    2 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	base := "http://" + originDisplayAddr(ln.Addr())
	if cfg.Storage.Enabled() {
		logger.Info("origin listening", originKeyAddr, ln.Addr().String(), originKeyStorage, cfg.Storage.URL)
		fmt.Fprintf(stdout, "storage %s (shared; playlists agree across instances after %s)\n", cfg.Storage.URL, cfg.Storage.PublishDelay())
	} else {
		logger.Info("origin listening", originKeyAddr, ln.Addr().String(), originKeyData, cfg.DataDir)
	}
	printOriginChannels(stdout, logger, o, base)

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

// printOriginChannels prints (and logs) the ingest and playback URLs of
// every channel of o on the origin at base.
func printOriginChannels(stdout io.Writer, logger *slog.Logger, o *origin.Origin, base string) {
	if len(o.ChannelIDs()) == 0 {
		fmt.Fprintf(stdout, "no channels yet: create them with POST %s/api/v1/channels (or --channel, --config)\n", base)
	}
	for _, id := range o.ChannelIDs() {
		ch, _ := o.ChannelSettings(id)
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
		fmt.Fprintf(stdout, "  watch: %s/watch/%s\n", base, ch.ID)
		logger.Info("playback", originKeyChannel, ch.ID, originKeyPlay, play)
		for _, ep := range ch.Endpoints {
			u := base + "/out/v1/" + ch.ID + "/" + ep.ID + "/index.m3u8"
			desc := ep.Packaging
			if desc == "" {
				desc = origin.PackagingTS
			}
			if ep.Encryption != nil {
				desc += ", " + ep.Encryption.Method
			}
			fmt.Fprintf(stdout, "  playback %s (%s): %s\n", ep.ID, desc, u)
			logger.Info("playback", originKeyChannel, ch.ID, originKeyEndpoint, ep.ID, originKeyPlay, u)
		}
	}
}

// watchPage serves the dashboard for one channel at /watch/{channel}: a
// player on its first endpoint's live multivariant playlist (low-latency
// HLS when the ingest has parts) and, when the control API needs no
// token, the channel's ingest status.
func watchPage(o *origin.Origin, ingestStatus bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("channel")
		manifest := o.ManifestFile(id, "")
		if manifest == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf("unknown channel %q", id)})
			return
		}
		cfg := dashboard.Config{Title: "pullpush origin: " + id, Playback: "/out/v1/" + id + "/" + manifest}
		if ingestStatus {
			cfg.Ingest = "/api/v1/channels/" + id
		}
		dashboard.Page(cfg).ServeHTTP(w, r)
	})
}
