// Package index is the origin's time index of one channel: the files an
// input delivered (StoredFile, with reference counts), the output
// timeline of every rendition (Rendition, its segments Rec with the
// origin's sequence numbers, discontinuities and CMAF timing), the
// redundant inputs and which one is active, the joined timelines of
// endpoints with a segment duration, retention, and the whole index as a
// JSON snapshot (shared storage).
//
// An Index is the State, shared by every settings generation of a channel,
// with the Params of one generation (plain values: channel ID, clocks,
// retention, segment durations). It has no lock: the origin's channel
// lock guards every method and every field. The package knows nothing
// of HTTP or of the origin's configuration types.
//
// Files:
//
//	index.go      StoredFile, Rec, Rendition, Input, Index, State, Params; clocks
//	ingest.go     ingested playlists and segments into the timeline (IndexPlaylist, offer)
//	inputs.go     redundant inputs: which one is active, switching
//	retention.go  file references, startover trim, Sweep
//	groups.go     joined timelines (an endpoint's segment duration)
//	snapshot.go   the index as JSON (EncodeSnapshot, DecodeSnapshot, Restore)
package index
