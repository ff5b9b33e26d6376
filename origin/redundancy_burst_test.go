package origin

import (
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// TestRedundantInputsInitialBurst: both inputs start together and push a
// whole window at once, one rendition after the other and in a different
// order (what a relay with two ingest targets does when it starts on a
// live source), across an asset boundary. Both inputs deliver, so the
// origin must not switch inputs (it did: the passive input's audio backlog
// arrived while the output had no audio yet, and looked like an active
// input that stopped delivering). Segments an input delivers that the
// other input already delivered must not be taken for a source whose
// clock went back: every rendition stays on the source's timeline, video
// and audio aligned.
func TestRedundantInputsInitialBurst(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Channels[0].ManifestWindow = time.Minute })
	const n = 10
	epoch := e.clock.Now().Add(-n * time.Second)
	l := newLive(t, "ts", epoch)
	l.window = n
	video, audio := l.set.Rendition("video_hi"), l.set.Rendition("audio")
	if video == nil || audio == nil {
		t.Fatal("test media lacks video_hi or audio")
	}
	a, b := e.pusher("a"), e.pusher("b")
	// The source has an asset boundary (DISCONTINUITY) in the window.
	const boundary = 4
	burst := func(p *pusher, r *testmedia.Rendition) {
		for i := range n {
			p.put(segName(r, i), l.segData(r, i))
		}
		m, err := hls.ParseMedia(l.playlist(r, n-1))
		if err != nil {
			t.Fatal(err)
		}
		m.Segments[boundary].Discontinuity = true
		p.put("channel_"+r.Name+".m3u8", m.Encode())
	}
	b.put("channel.m3u8", l.master())
	a.put("channel.m3u8", l.master())
	burst(b, video) // b is active
	burst(a, audio) // the output has no audio yet, but b is not late
	burst(b, audio)
	burst(a, video) // the passive input sends the video b sent already
	if n := e.o.InputSwitches(testChannel); n != 0 {
		t.Errorf("%d input switches during the initial burst, want none (active %q)", n, e.o.ActiveInput(testChannel))
	}
	if got := e.o.ActiveInput(testChannel); got != "b" {
		t.Errorf("active input %q, want b (the first to deliver)", got)
	}

	for _, r := range []*testmedia.Rendition{video, audio} {
		m := e.media("/out/v1/" + testChannel + "/channel_" + r.Name + ".m3u8")
		if len(m.Segments) != n {
			t.Errorf("%s: %d segments, want %d:\n%s", r.Name, len(m.Segments), n, m.Encode())
			continue
		}
		first, last := m.Segments[0], m.Segments[n-1]
		if !first.ProgramDateTime.Equal(epoch) || !last.ProgramDateTime.Equal(epoch.Add((n-1)*time.Second)) {
			t.Errorf("%s: PROGRAM-DATE-TIME %v .. %v, want %v .. %v (re-timed?)", r.Name,
				first.ProgramDateTime, last.ProgramDateTime, epoch, epoch.Add((n-1)*time.Second))
		}
		for i, s := range m.Segments {
			if s.Discontinuity != (i == boundary) {
				t.Errorf("%s: segment %d: DISCONTINUITY %v, want %v", r.Name, i, s.Discontinuity, i == boundary)
			}
		}
	}
}
