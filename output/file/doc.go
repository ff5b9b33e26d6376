// Package file stores pushed files in a local directory, for example one
// served by a web server or synchronised elsewhere. Writes are atomic: the
// content goes to a hidden temporary file in the same directory, is synced
// to disk and renamed over the destination, so readers see either the old
// or the new file, never a partial one.
//
// The REST API uses Factory with the payload {"dir": "/var/www/live", "stem": "channel"}.
package file
