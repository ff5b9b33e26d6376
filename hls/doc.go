// Package hls parses and writes HLS playlists (RFC 8216 and the 8216bis
// draft): multivariant playlists (*Multivariant) and media playlists
// (*Media).
//
// The model has one field per tag; see types.go. Low-Latency HLS is
// modelled too: EXT-X-SERVER-CONTROL, EXT-X-PART-INF and EXT-X-SKIP are
// fields of *Media, EXT-X-PART tags belong to the Segment they precede
// (Media.Parts holds those of the segment in progress, after the last URI),
// and EXT-X-PRELOAD-HINT and EXT-X-RENDITION-REPORT are lists of *Media
// wherever they appear. A relay must pass through what it does not
// understand, so tags the model has no field for (SCTE-35 cue tags such as
// #EXT-X-CUE-OUT, vendor tags) are kept verbatim at their position: in a
// media playlist in the Tags of the segment they precede
// (Media.TrailingTags after the last segment), in a multivariant playlist in
// the Tags of the rendition or variant they precede
// (Multivariant.TrailingTags after the last one). Playlist-wide tags such as
// #EXT-X-DEFINE or #EXT-X-CONTENT-STEERING go to the playlist's Tags when
// they appear before the first segment or variant. Attributes without a
// field are kept, in order, in Extra. Comments (lines starting with '#' but
// not '#EXT') are dropped.
//
// Encode writes a canonical form: tags in a fixed order, attribute values
// quoted as the specification says, EXTINF durations with 3 to 6 decimals and
// dates in UTC with millisecond precision. The parser rounds what it reads to
// the same precision, so parse → encode → parse gives back the same model and
// encoding is a fixed point.
//
// Parsing is a single pass without regular expressions; all strings in the
// result share one copy of the input and the segments are allocated in one
// block. Inputs above 16 MiB and lines above 1 MiB are rejected. Errors are
// *ParseError values that name the line and tag:
//
//	hls: line 7: EXTINF: invalid duration "abc"
package hls
