// Package mediapackage pushes to AWS Elemental MediaPackage-style HLS
// WebDAV ingest: every file is PUT, with HTTP digest authentication, next
// to the ingest URL (an ingest URL ending in /channel receives
// channel.m3u8, channel_<variant>.m3u8 and channel_<variant>_<seq>.ts).
//
// An output has one Target per ingest URL (one or two, for redundant
// inputs); the fetcher drives them independently so that one failing never
// holds back the other. Targets stream bodies, never retry and report
// every non-2xx answer as an *output.StatusError.
//
// Go callers build an output with New; the REST API uses Factory with the
// payload
//
//	{"ingestUrls": [{"url": "https://host/in/v2/abc/abc/channel", "username": "u", "password": "p"}],
//	 "timeoutMs": 5000}
//
// timeoutMs, as in Eyevinn hls-pull-push's mediapackage plugin, bounds one
// download attempt of a source segment in milliseconds; the output reports
// it to the fetcher through output.SegmentTimeouter. Absent or 0 keeps the
// fetcher's default.
package mediapackage
