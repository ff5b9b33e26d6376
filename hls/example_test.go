package hls_test

import (
	"fmt"
	"log"

	"github.com/pullpush/pullpush/hls"
)

func Example() {
	src := []byte(`#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T11:00:00+01:00
#EXTINF:6.006,
seg100.ts
#EXT-X-CUE-OUT:30
#EXTINF:6.006,
seg101.ts
`)
	p, err := hls.Parse(src)
	if err != nil {
		log.Fatal(err)
	}
	m := p.(*hls.Media)
	for i, s := range m.Segments {
		fmt.Println(m.MediaSequence+int64(i), s.URI, s.Duration, s.Tags)
	}
	fmt.Printf("total %.3f s\n", m.Duration())

	// Drop the first segment, as a sliding window does, and write it back.
	m.Segments = m.Segments[1:]
	m.MediaSequence++
	fmt.Print(string(m.Encode()))
	// Output:
	// 100 seg100.ts 6.006 []
	// 101 seg101.ts 6.006 [#EXT-X-CUE-OUT:30]
	// total 12.012 s
	// #EXTM3U
	// #EXT-X-VERSION:3
	// #EXT-X-TARGETDURATION:6
	// #EXT-X-MEDIA-SEQUENCE:101
	// #EXT-X-CUE-OUT:30
	// #EXTINF:6.006,
	// seg101.ts
}

func ExampleParseMultivariant() {
	m, err := hls.ParseMultivariant([]byte(`#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",DEFAULT=YES,URI="en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2",AUDIO="aud"
low/index.m3u8
`))
	if err != nil {
		log.Fatal(err)
	}
	v := m.Variants[0]
	fmt.Println(v.Bandwidth, v.Codecs, v.Audio, v.URI)
	fmt.Println(m.Renditions[0].Name, m.Renditions[0].Default)
	// Output:
	// 1280000 avc1.4d401f,mp4a.40.2 aud low/index.m3u8
	// English true
}

func ExampleParseAttributes() {
	attrs, err := hls.ParseAttributes(`BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2"`)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range attrs {
		fmt.Printf("%s=%s quoted=%v\n", a.Key, a.Value, a.Quoted)
	}
	// Output:
	// BANDWIDTH=1280000 quoted=false
	// CODECS=avc1.4d401f,mp4a.40.2 quoted=true
}
