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
	"strings"
	"time"

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

// Environment variables of the origin's shared storage.
const (
	storageEnv     = "PULLPUSH_STORAGE"
	s3EndpointEnv  = "PULLPUSH_S3_ENDPOINT"
	s3RegionEnv    = "PULLPUSH_S3_REGION"
	s3AccessKeyEnv = "PULLPUSH_S3_ACCESS_KEY"
	s3SecretKeyEnv = "PULLPUSH_S3_SECRET_KEY"
	s3TokenEnv     = "PULLPUSH_S3_SESSION_TOKEN"
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

// keyTokenEnv names the environment variable holding the key server token.
const keyTokenEnv = "PULLPUSH_KEY_TOKEN"

// endpointFlags collects repeated --endpoint values (origin.ParseEndpointFlag).
type endpointFlags []origin.EndpointConfig

func (e *endpointFlags) String() string {
	ids := make([]string, len(*e))
	for i, ep := range *e {
		ids[i] = ep.ID
	}
	return strings.Join(ids, ",")
}

func (e *endpointFlags) Set(v string) error {
	ep, err := origin.ParseEndpointFlag(v)
	if err != nil {
		return err
	}
	*e = append(*e, ep)
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
	var endpoints endpointFlags
	fs.Var(&endpoints, "endpoint", "packaging endpoint `ID[=PACKAGING[:METHOD]][,SETTING=VALUE...]` of every channel without endpoints in --config (repeatable), e.g. ts, cmaf, dash, aes=ts:AES-128, cbcs=cmaf:cbcs, dash-cenc=dash:cenc,segmentDuration=6s; settings: "+strings.Join(origin.EndpointFlagKeys(), ", "))
	keyServer := fs.String("key-server", "", "SPEKE/CPIX key server `URL` for encrypted endpoints (pullpush keys)")
	keyToken := fs.String("key-token", "", "bearer `token` for the key server (default $"+keyTokenEnv+")")
	keysFile := fs.String("keys-file", "", "static key `file` for encrypted endpoints")
	keyURI := fs.String("key-uri", "", "EXT-X-KEY URI `template` of --endpoint endpoints ({channel} {endpoint} {resource} {kid} {period}; default: the key server's)")
	keyRotation := fs.Duration("key-rotation", origin.DefaultKeyRotationInterval, "key rotation `interval` of --endpoint endpoints (0: one key)")
	storage := fs.String("storage", "", "shared storage `URL` s3://BUCKET[/PREFIX] instead of --data (default $"+storageEnv+")")
	s3Endpoint := fs.String("s3-endpoint", "", "S3 endpoint `URL` of --storage, e.g. http://127.0.0.1:7070 (default AWS; $"+s3EndpointEnv+")")
	s3Region := fs.String("s3-region", "", "S3 `region` of --storage (default $"+s3RegionEnv+", $AWS_REGION, us-east-1)")
	s3AccessKey := fs.String("s3-access-key", "", "S3 access `key` of --storage (default $"+s3AccessKeyEnv+", else the AWS environment or role)")
	apiToken := fs.String("api-token", "", "bearer `token` of the control API under /api/v1/ (default $PULLPUSH_API_TOKEN; prefer --api-token-file)")
	apiTokenFile := fs.String("api-token-file", "", "`file` holding the control API token")
	accessLog := fs.Bool("access-log", true, "log every request (method, path, status, bytes, duration, remote); --access-log=false turns it off")
	s3SecretKey := fs.String("s3-secret-key", "", "S3 secret `key` of --storage (default $"+s3SecretKeyEnv+"; prefer the environment)")
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
	for i := range cfg.Channels {
		if len(cfg.Channels[i].Endpoints) > 0 {
			continue
		}
		for _, ep := range endpoints {
			if ep.Encryption != nil {
				e := *ep.Encryption
				if e.KeyURI == "" {
					e.KeyURI = *keyURI
				}
				if e.KeyRotationInterval == nil {
					e.KeyRotationInterval = origin.Duration(*keyRotation)
				}
				ep.Encryption = &e
			}
			cfg.Channels[i].Endpoints = append(cfg.Channels[i].Endpoints, ep)
		}
	}
	if *keyServer != "" {
		cfg.Keys.URL, cfg.Keys.File = *keyServer, ""
	}
	if *keysFile != "" {
		cfg.Keys.File, cfg.Keys.URL = *keysFile, ""
	}
	if *keyToken != "" {
		cfg.Keys.Token = *keyToken
	} else if tok := os.Getenv(keyTokenEnv); tok != "" && cfg.Keys.URL != "" && cfg.Keys.Token == "" {
		cfg.Keys.Token = tok
	}
	if err := applyStorageSettings(&cfg.Storage, *storage, *s3Endpoint, *s3Region, *s3AccessKey, *s3SecretKey); err != nil {
		return fmt.Errorf("%w: origin: %v", errUsage, err)
	}
	if cfg.DataDir == "" && !cfg.Storage.Enabled() {
		return fmt.Errorf("%w: origin: --data (or --storage) is required", errUsage)
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("cmd", "origin")
	o, err := origin.NewContext(ctx, cfg, origin.WithLogger(logger))
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
	if *apiToken == "" && *apiTokenFile != "" {
		b, err := os.ReadFile(*apiTokenFile)
		if err != nil {
			return fmt.Errorf("%w: origin: --api-token-file: %v", errUsage, err)
		}
		if *apiToken = strings.TrimSpace(string(b)); *apiToken == "" {
			return fmt.Errorf("%w: origin: --api-token-file %s is empty", errUsage, *apiTokenFile)
		}
	}
	if *apiToken == "" {
		*apiToken = os.Getenv("PULLPUSH_API_TOKEN")
	}
	if *apiToken == "" && !isLoopback(ln.Addr()) {
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
	control := admin.New(o, hv).Handler(*apiToken)
	mux.Handle("/api/", control)
	mux.Handle("/", o.Handler())
	handler := origin.SafePaths(mux)
	if *accessLog {
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

// applyStorageSettings layers the shared storage settings: flags, then
// PULLPUSH_* environment variables, then the config file, then the AWS
// environment (region, endpoint; credentials are found by the S3 client).
// It checks the URL so that a bad --storage is a one-line usage error.
func applyStorageSettings(st *origin.StorageConfig, url, endpoint, region, access, secret string) error {
	pick := func(dst *string, flag, env string, fallbacks ...string) {
		switch {
		case flag != "":
			*dst = flag
		case os.Getenv(env) != "":
			*dst = os.Getenv(env)
		case *dst == "":
			for _, f := range fallbacks {
				if v := os.Getenv(f); v != "" {
					*dst = v
					return
				}
			}
		}
	}
	pick(&st.URL, url, storageEnv)
	if st.URL == "" {
		if endpoint != "" || access != "" || secret != "" {
			return errors.New("--s3-* flags need --storage s3://BUCKET[/PREFIX]")
		}
		return nil
	}
	if _, _, err := origin.ParseStorageURL(st.URL); err != nil {
		return fmt.Errorf("--storage: %v", err)
	}
	pick(&st.Endpoint, endpoint, s3EndpointEnv, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	pick(&st.Region, region, s3RegionEnv, "AWS_REGION", "AWS_DEFAULT_REGION")
	pick(&st.AccessKey, access, s3AccessKeyEnv)
	pick(&st.SecretKey, secret, s3SecretKeyEnv)
	pick(&st.SessionToken, "", s3TokenEnv)
	return nil
}
