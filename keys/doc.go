// Package keys supplies content keys to pullpush's origin for HLS
// encryption (AES-128, SAMPLE-AES, CMAF cbcs and cenc).
//
// A Provider returns the key of one rotation period of one channel (the
// origin asks for period floor(segment start / rotation interval), or 0
// when rotation is off). Two providers are included:
//
//   - Static: keys listed in a YAML or JSON file (LoadStaticFile), used in
//     turn per period.
//   - SPEKE: a client of a SPEKE v1 / CPIX key server: it POSTs a CPIX
//     document naming the key ID of the period and reads back the
//     ContentKey value (and, when present, the key URI for EXT-X-KEY).
//
// Server is a small key server for tests and demos: it answers CPIX
// requests (so a SPEKE client can use it) and serves raw 16-byte keys to
// players at GET /keys/{channel}/{kid}, optionally behind a token.
//
// Key values are of type Secret, whose String, GoString, LogValue and JSON
// forms are redacted, so a key printed or logged by mistake shows no key
// material.
package keys
