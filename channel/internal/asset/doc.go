// Package asset loads the channel engine's VOD HLS assets.
//
// An asset is a multivariant playlist with its media playlists, read from a
// local directory, an embedded file system or an http URL (Locate, Loc) and
// checked by a Loader: its renditions (Track) with their segments (Seg),
// EXT-X-KEY and EXT-X-MAP state, byte ranges, date ranges and pass-through
// tags. Resources of http assets are read through Fetcher, a small
// in-memory LRU cache that also merges concurrent requests for the same URL.
//
// Files: asset.go (the asset model and its loader), source.go (locations,
// content types, the fetcher and its cache).
package asset
