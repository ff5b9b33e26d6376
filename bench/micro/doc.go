// Package micro holds Go micro-benchmarks (go test -bench) of hot paths
// measured through public APIs, complementing the benchmarks kept next to
// the code (hls/bench_test.go, digest/digest_test.go). It has no tests, so
// 'go test ./...' only compiles it.
//
//	go test -run '^$' -bench . -benchmem ./bench/micro
//	PULLPUSH_BENCH_LONG=1 go test -run '^$' -bench OriginPlaylist -benchmem ./bench/micro   # adds the 14-day window
package micro
