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
// I-frame-only playlists built from the first video rendition.
//
// Create an Origin with New, mount Origin.Handler on any mux (paths are
// absolute), and call Close when done.
package origin
