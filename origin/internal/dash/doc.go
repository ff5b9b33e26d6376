// Package dash is the origin's MPEG-DASH manifest model and writer: one
// struct per MPD element (mpd.go, including the SCTE-35 EventStream), a
// reflection-free writer that produces the bytes encoding/xml would
// (write.go), and the xs:duration / xs:dateTime helpers. Which Periods,
// AdaptationSets and segments a manifest lists is decided by the origin
// (origin/dash*.go); this package only writes them.
package dash
