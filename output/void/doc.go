// Package void is an output that stores nothing: it reads every file to
// the end and discards it, counting files and bytes. Use it for dry runs,
// to measure a fetcher on its own, or to warm a CDN (the fetcher's
// downloads pull the content through it).
//
// The REST API uses Factory with the payload {} (or none).
package void
