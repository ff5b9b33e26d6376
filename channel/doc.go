// Package channel is a VOD2Live channel engine: it loops VOD HLS assets into
// live HLS channels.
//
// A channel is a list of assets (local directories, paths in an embedded
// file system, or http URLs) played in order or shuffled with a seed. Its
// live playlists are a pure function of the wall clock and the channel's
// start time (epoch): two engines with the same configuration serve
// byte-identical playlists at the same instant, so replicas need no leader.
//
// The schedule is computed on the video timeline. An asset lasts as long as
// its first video rendition; every other rendition (the other video
// renditions, demuxed audio, subtitles) gets segments that cover the same
// asset time span, with its last EXTINF adjusted to end exactly at the asset
// boundary. At any instant the audio window therefore covers the same time
// range as the video window (within one segment), and the sum of EXTINF
// durations between two instants equals the wall-clock time elapsed.
//
// For every channel the engine precomputes a cumulative-duration index of
// one loop, so building a playlist is a binary search for the playhead plus
// O(window) work, however long the channel has been running.
//
// Every asset boundary carries EXT-X-DISCONTINUITY; EXT-X-DISCONTINUITY-SEQUENCE
// increments each time one leaves the window. EXT-X-MAP is written on the
// first segment and after every discontinuity (fMP4 assets). EXT-X-KEY,
// EXT-X-BYTERANGE, EXT-X-DATERANGE and unknown tags such as CUE-OUT/CUE-IN
// are passed through (DATERANGE dates are moved onto the live timeline and
// their IDs made unique per loop). Every segment has an exact
// EXT-X-PROGRAM-DATE-TIME.
//
// An asset that cannot be loaded (unreachable, unparsable, a segment that
// cannot be read or fetched) is replaced by the slate and logged once; when
// its playlists loaded, the slate loops for the asset's duration. Assets
// may be trimmed to whole segments (AssetConfig.Offset and Out). Ladders
// may differ between assets: each channel rendition plays the asset
// rendition nearest in bandwidth. Only a different segment format or a
// missing or extra kind of group (audio, subtitles) is an error at load
// that names the asset. Engine.OpsHandler serves GET /health and GET
// /status, Engine.MetricsHandler Prometheus metrics from the engine's own
// registry.
//
// With WithScheduleDir, the configured channels have a schedule
// (Engine.ScheduleHandler, /api/v1/channels/{id}/schedule): items that play
// an asset from an exact start, interrupting the loop, each marked by an
// EXT-X-DATERANGE of CLASS "com.pullpush.schedule". The schedule lives in
// one JSON file per channel that every engine rereads when it changes, so
// engines sharing the directory still serve identical playlists. An item
// of type "break" is an ad break of a fixed duration, filled with ads
// (ChannelConfig.Ads) and the slate, and signalled on every media playlist
// with #EXT-X-CUE-OUT/#EXT-OATCLS-SCTE35, #EXT-X-CUE-OUT-CONT and
// #EXT-X-CUE-IN, and EXT-X-DATERANGE SCTE35-OUT/SCTE35-IN (see
// ScheduleItem).
//
// An item of type "live" plays a live HLS source (Engine.SwitchLive and
// Engine.SwitchBack switch to one now and back): the engine polls the
// source, maps the channel's renditions onto its ladder (video by nearest
// bandwidth, audio and subtitles by language) and lists the source's
// segments, proxied, with EXT-X-DISCONTINUITY at each transition, the
// channel's PROGRAM-DATE-TIME and media sequence continuing. When the
// source fails the slate plays until it is back. What each track played is
// kept in a placement log next to the schedule file, created once per
// segment by whichever engine places it first, so engines sharing the
// directory (and restarted ones) list the same live segments.
//
// Segments of http assets are proxied (not redirected) through a small
// in-memory cache, so a player or relay only ever talks to the engine.
//
// Channels can also be created on request (session channels, POST /channels
// or GET /channels/new?assets=a,b); they reuse the configured assets and
// expire after an idle TTL.
//
// The bundled default channel "1" (DefaultConfig) plays three generated
// 30 s test assets embedded in the binary and needs no network.
//
// # Files
//
//	engine.go        Engine, New, options, asset loading, sessions
//	config.go        Config and friends (aliases of internal/config)
//	embed.go         the embedded default channel and slates
//	schedule.go      building a channel: ladder matching, clips, loop layout
//	render.go        the multivariant playlist, resource URLs, keys, date ranges
//	timeline.go      the timeline (loop + schedule) and media playlists
//	program*.go      the schedule model, its file store, edits and ad breaks
//	schedule_api.go  the schedule HTTP API
//	live*.go         live items: the source feed, placement, its log, status,
//	                 the switch API
//	handler.go       playlist, resource and session HTTP handlers
//	status.go        status and health; metrics.go: Prometheus metrics
//	internal/asset   VOD assets: loader, locations, resource fetcher + cache
//	internal/config  configuration decoding and validation
package channel
