// Package media holds the origin's pure media code: no HTTP, no index, no
// I/O beyond the bytes it is given.
//
//	tsdemux.go    TS demux (astits) into elementary streams and PES packets;
//	              ProbeTS: the repackageable tracks, codec configuration and timing
//	iframe.go     keyframe ranges of TS and fMP4 segments (I-frame playlists)
//	cmaf.go       CMAF init and media segments from TS tracks (mp4ff)
//	sampleaes.go  Apple SAMPLE-AES re-mux of TS segments
//	webvtt.go     WebVTT parser (cues, X-TIMESTAMP-MAP)
//	vtt.go        X-TIMESTAMP-MAP shift of WebVTT segments
//
// Timestamps are 90 kHz MPEG-TS ticks unless a name says otherwise.
package media
