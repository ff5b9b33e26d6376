package hls

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// livePlaylist returns a channel-engine style live media playlist with n
// segments: PDT on every segment, a discontinuity and an ad break with
// CUE-OUT/CUE-OUT-CONT/CUE-IN every 100 segments.
func livePlaylist(n int) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:7\n#EXT-X-MEDIA-SEQUENCE:1043219\n#EXT-X-DISCONTINUITY-SEQUENCE:87\n")
	pdt := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := range n {
		switch i % 100 {
		case 0:
			b.WriteString("#EXT-X-DISCONTINUITY\n#EXT-X-CUE-OUT:30\n")
		case 1, 2, 3, 4:
			fmt.Fprintf(&b, "#EXT-X-CUE-OUT-CONT:ElapsedTime=%d.006,Duration=30\n", (i%100)*6)
		case 5:
			b.WriteString("#EXT-X-DISCONTINUITY\n#EXT-X-CUE-IN\n")
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", pdt.Format("2006-01-02T15:04:05.000Z07:00"))
		fmt.Fprintf(&b, "#EXTINF:6.006,\nhttps://cdn.example.com/channel/1/video/1080p/segment_%07d.ts\n", 1043219+i)
		pdt = pdt.Add(6006 * time.Millisecond)
	}
	return []byte(b.String())
}

func BenchmarkParseMedia(b *testing.B) {
	data := livePlaylist(1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMedia(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeMedia(b *testing.B) {
	m, err := ParseMedia(livePlaylist(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(m.Encode())))
	b.ReportAllocs()
	for b.Loop() {
		m.Encode()
	}
}

// BenchmarkAppendMedia encodes into a reused buffer, as a server that
// rewrites many playlists can.
func BenchmarkAppendMedia(b *testing.B) {
	m, err := ParseMedia(livePlaylist(1000))
	if err != nil {
		b.Fatal(err)
	}
	buf := m.Encode()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = m.Append(buf[:0])
	}
}

func BenchmarkParseMultivariant(b *testing.B) {
	for _, c := range fileCases(b) {
		if c.file != "apple_multivariant.m3u8" {
			continue
		}
		data := []byte(c.input)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(data); err != nil {
				b.Fatal(err)
			}
		}
	}
}
