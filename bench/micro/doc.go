// Package micro holds Go micro-benchmarks (go test -bench) of hot paths
// measured through public APIs, complementing the benchmarks kept next to
// the code (hls/bench_test.go, digest/digest_test.go). It has no tests, so
// 'go test ./...' only compiles it.
//
//	go test -run '^$' -bench . -benchmem ./bench/micro
//	PULLPUSH_BENCH_LONG=1 go test -run '^$' -bench OriginPlaylist -benchmem -timeout 60m ./bench/micro
//
// PULLPUSH_BENCH_LONG=1 adds the 14-day startover window: 604,800 segment
// files are ingested first (about 20 minutes on a 2-core machine, a few GB of
// disk, minutes to delete afterwards), so run it only on a quiet machine.
package micro
