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
// cannot be fetched) is replaced by a short slate with the channel's ladder
// and logged once; an asset whose ladder does not match the channel's
// (different number of video renditions, missing audio or subtitle group,
// different segment format) is an error at load that names the asset.
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
package channel
