// Package origin is a MediaPackage-compatible HLS origin: WebDAV-style
// ingest (PUT/DELETE with digest auth) on
//
//	/in/v2/{channel}/{input}/{file}
//
// from up to two redundant inputs per channel, on-disk segment storage
// indexed in memory by time, and playback on
//
//	/out/v1/{channel}/index.m3u8
//
// with a sliding manifest window, startover, time-shift (?start=&end= or
// /start/<t>/end/<t>/ path elements), time delay, ad-marker passthrough and
// I-frame-only playlists for every video rendition.
//
// # CMAF ingest
//
// Besides HLS, an input takes CMAF ingest (DASH-IF Live Media Ingest,
// interface 1; cmafingest.go): POST or PUT of a track's init segment and
// fragments on /in/v2/{channel}/{input}/Streams({track}.cmfv|cmfa|...),
// one request per segment or one long chunked request for the whole
// track, or the files of ffmpeg's dash muxer (init-stream{n}.m4s,
// chunk-stream{n}-{k}.m4s; its .mpd is ignored). Boxes are parsed as they
// arrive; each completed segment (styp, or a sync fragment after 0.95 s,
// or the end of the request) is stored and listed in a synthesized media
// playlist for the same index, PROGRAM-DATE-TIME from tfdt plus an anchor
// shared by the channel's tracks (tfdt itself when it is UTC), and the
// tracks form a synthesized multivariant (codecs from the init, audio as
// one group). The renditions are fMP4 renditions like any other: HLS "ts"
// and "cmaf" endpoints serve them as ingested (with AES-128/cbcs/cenc as
// for fMP4 HLS ingest), redundancy and switching apply. Not available on
// shared storage (501), and the DASH MPD does not list fMP4-ingest
// renditions yet.
//
// # Packaging endpoints
//
// A channel can have several packaging endpoints over its one ingest
// (ChannelConfig.Endpoints), each with its own windows and encryption:
//
//	/out/v1/{channel}/{endpoint}/index.m3u8              multivariant
//	/out/v1/{channel}/{endpoint}/{rendition}.m3u8        media playlist
//	/out/v1/{channel}/{endpoint}/{rendition}/{seq}.{ts|m4s|vtt}
//	/out/v1/{channel}/{endpoint}/{rendition}/cinit-{hash}[-k{period}].mp4
//	/out/v1/{channel}/{endpoint}/{rendition}/iframes.m3u8
//
// plus the time-shift forms (query, or start/end path elements before or
// after the endpoint). The endpoint-less URLs serve the first endpoint.
//
// Packaging "ts" serves segments as ingested. Packaging "cmaf" repackages
// TS renditions (H.264, H.265, ADTS AAC; the audio of a muxed TS becomes a
// rendition of its own, {rendition}.audio) as CMAF with mp4ff on first
// request, caching the result (Config.PackagerCacheBytes): one init segment
// per codec configuration, media segments with two fragments per GOP (the
// keyframe alone, for I-frame playlists, then the rest of the GOP) and
// tfdt taken from the TS DTS (90 kHz video; audio at its sample rate), an
// EXT-X-DISCONTINUITY where the source has one or its timestamps jump.
// Where they jump (a VOD2Live channel restarts its clock at every asset),
// CMAF timestamps continue instead, moved by one offset for every
// rendition of the channel, and the X-TIMESTAMP-MAP of WebVTT segments on
// CMAF endpoints moves with them. fMP4 renditions are served as ingested.
//
// Packaging "dash" is a CMAF endpoint that also serves an MPEG-DASH
// manifest, /out/v1/{channel}/{endpoint}/index.mpd, and its UTCTiming
// source, /out/v1/{channel}/{endpoint}/time: a Period per CMAF timeline
// epoch, SegmentTemplate + SegmentTimeline over the CMAF segments (see
// dash.go).
//
// Encryption (EndpointConfig.Encryption) is AES-128 (whole segments and
// init sections), SAMPLE-AES (TS: Apple's H.264/AAC sample encryption),
// cbcs or cenc (CMAF, mp4ff's Common Encryption). Keys come from a
// keys.Provider (Config.KeyProvider, or a static key file or SPEKE/CPIX key
// server named in Config.Keys), one per rotation period of the endpoint's
// resource; WebVTT stays clear.
//
// # Shared storage
//
// With Config.Storage (s3://bucket/prefix) several instances behind a load
// balancer serve the same channels and ingest may go to any of them. The
// instance that receives a segment writes its bytes to
// seg/{channel}/{input}/..., then every ingest request (segment, playlist,
// DELETE) becomes one immutable log object
// log/{channel}/{receive time:019d}/{input}/{file}/{writer} holding the
// receive time, the playlist text or the segment's size, keyframes and TS
// timing. No instance changes its index on ingest: each one, the writer
// included, lists the log every PollInterval and applies the entries in
// key order once they are SettleDelay old, with the index's clock set to
// each entry's receive time and retention sweeps at whole seconds, so every
// instance derives the same index. Playlists list only segments appended
// PublishDelay (SettleDelay + 2 × PollInterval) ago, so the same request at
// the same time gets the same bytes everywhere. Every SnapshotInterval the
// index is snapshotted to snap/{channel}/{time}.json (the same bytes on
// every instance; the first to find it missing writes it and deletes older
// snapshots and the log entries they cover); a starting instance loads the
// newest snapshot and replays the log after it. Segments leaving the
// startover window are deleted from the bucket; reads go through an LRU
// cache (StorageConfig.CacheBytes). Instances need the same channel
// configuration and clocks within a fraction of the settle delay (NTP).
//
// Create an Origin with New, mount Origin.Handler on any mux (paths are
// absolute), and call Close when done.
//
// # Files
//
// The package is the public API and the HTTP handlers; the channel time
// index, pure media code, the MPD writer and the bucket format are
// internal packages:
//
//	origin/internal/index   the channel time index: stored files, renditions, inputs, joined timelines, retention, snapshots
//	origin/internal/media   TS demux, keyframe scan, CMAF build, SAMPLE-AES, WebVTT, CMAF ingest box reader (fragment.go) (no HTTP)
//	origin/internal/dash    MPD model and reflection-free writer
//	origin/internal/shared  bucket object store (S3), ingest-log keys and entries, name rule
//
// Public API and HTTP:
//
//	origin.go       Origin, New, Close, the ingest handler (PUT/DELETE), Endpoints/ManifestFile
//	cmafingest.go   CMAF ingest (DASH-IF interface 1, ffmpeg dash muxer): box stream to segments, synthesized playlists
//	config.go       Config, ChannelConfig, InputConfig, ParseConfig, validation
//	endpoint.go     EndpointConfig, EncryptionConfig, KeysConfig; resolved endpoints (endpoint, encSpec)
//	epflag.go       ParseEndpointFlag (--endpoint syntax)
//	storage.go      StorageConfig, ParseStorageURL, openBucket
//	sigv4auth.go    SigV4Config, SigV4 ingest authentication
//	access.go       CDNAuthConfig, playback access rules
//	credentials.go  ingest credentials and their rotation
//	channels.go     channel set: AddChannel, UpdateChannel, ModifyChannel, RemoveChannel
//	channelstore.go persisted channel settings (bbolt locally, the bucket on shared storage)
//	status.go       ChannelStatus and friends (admin API)
//	health.go       Ready, HealthHandler
//	metrics.go      Prometheus metrics and the instrumenting handler
//	parse.go        ParseIngestPath, ParseTimeParam
//
// The channel (one per channel ID; its index is an index.Index, guarded
// by channel.mu; see origin/internal/index/doc.go for that package's files):
//
//	channel.go  channel: the serving settings around the index, log keys
//	segdur.go   output segment duration: joined views, packaging joined segments
//
// Playback:
//
//	playback.go               /out/v1 routing, time-shift, stored files, windows
//	playlist_media.go         media and I-frame-only playlists
//	playlist_multivariant.go  multivariant playlists
//	llhls.go                  Low-Latency HLS: parts, blocking reload, preload hints, delta updates
//	filter.go                 manifest filters (aws.manifestfilter)
//	admarkers.go              ad markers (SCTE-35 cues) in playlists
//	dash.go                   DASH Periods, AdaptationSets, SegmentTimeline; index.mpd and time
//	dash_events.go            SCTE-35 EventStreams
//	dash_text.go              WebVTT as CMAF text (wvtt) in DASH
//	dash_trick.go             trick-play AdaptationSets
//
// Packaging:
//
//	package.go  renditions as endpoints see them (rview), packaging jobs, build and encryption
//	crypt.go    key cache, IVs, key tags, AES-128
//	cache.go    the product cache (LRU, one build per key)
//
// Shared storage (see "Shared storage" above):
//
//	shared.go         runtime: segment cache, deleter
//	shared_ingest.go  PUT/DELETE write the object, then one log entry
//	shared_replay.go  recovery, poll loop, ticks, snapshots, pruning
package origin
