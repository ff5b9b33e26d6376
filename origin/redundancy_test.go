package origin

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// observed records what viewers saw across reloads of a media playlist.
type observed struct {
	pdtBySeq map[int64]time.Time
	lastSeq  int64
}

func (e *env) observe(t *testing.T, o *observed, u string) {
	t.Helper()
	code, body := e.get(u)
	if code == http.StatusNotFound {
		return
	}
	m, err := hls.ParseMedia(body)
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaSequence < o.lastSeq {
		t.Fatalf("MEDIA-SEQUENCE went back from %d to %d", o.lastSeq, m.MediaSequence)
	}
	o.lastSeq = m.MediaSequence
	var pdt time.Time
	for i, s := range m.Segments {
		if s.Discontinuity {
			t.Fatalf("spurious DISCONTINUITY before segment %d:\n%s", i, body)
		}
		if !s.ProgramDateTime.IsZero() {
			pdt = s.ProgramDateTime
		}
		seq := m.MediaSequence + int64(i)
		if prev, ok := o.pdtBySeq[seq]; ok && !prev.Equal(pdt) {
			t.Fatalf("sequence %d changed meaning: %v then %v", seq, prev, pdt)
		}
		o.pdtBySeq[seq] = pdt
		pdt = pdt.Add(time.Duration(s.Duration * 1e9))
	}
}

// TestRedundantInputs pushes the same stream to inputs a and b; a fails
// mid-stream in three ways. Playback must continue from b with every
// segment exactly once (by PDT and content hash), contiguous sequence
// numbers and no DISCONTINUITY.
func TestRedundantInputs(t *testing.T) {
	const failAt, total = 10, 24
	cases := []struct {
		name string
		// pushA pushes step n to input a (or not).
		pushA func(l *live, p *pusher, n int)
	}{
		{"a stops", func(l *live, p *pusher, n int) {
			if n < failAt {
				l.push(p, n)
			}
		}},
		{"a loses a segment file", func(l *live, p *pusher, n int) {
			// a's playlists keep referencing segment failAt, which never
			// arrives; a's later segments arrive but cannot be indexed.
			for _, r := range l.set.Renditions {
				if n == 0 {
					if r.Init != nil {
						p.put(initName(r), r.Init)
					}
				}
				if n != failAt {
					p.put(segName(r, n), l.segData(r, n))
				}
				p.put("channel_"+r.Name+".m3u8", l.playlist(r, n))
			}
			if n == 0 {
				p.put("channel.m3u8", l.master())
			}
		}},
		{"a skips a segment", func(l *live, p *pusher, n int) {
			la := *l
			la.skip = map[int]bool{failAt: true}
			if n != failAt {
				la.push(p, n)
			}
		}},
	}
	for _, flavour := range []string{testmedia.TS, testmedia.FMP4} {
		for _, tc := range cases {
			t.Run(flavour+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, nil)
				l := newLive(t, flavour, e.clock.Now())
				pa, pb := e.pusher("a"), e.pusher("b")
				obs := map[string]*observed{}
				for n := 0; n < total; n++ {
					e.clock.Add(time.Second)
					if n%2 == 0 { // vary arrival order between inputs
						tc.pushA(l, pa, n)
						l.push(pb, n)
					} else {
						l.push(pb, n)
						tc.pushA(l, pa, n)
					}
					for _, r := range l.set.Renditions {
						if obs[r.Name] == nil {
							obs[r.Name] = &observed{pdtBySeq: map[int64]time.Time{}}
						}
						e.observe(t, obs[r.Name], "/out/v1/live/channel_"+r.Name+".m3u8")
					}
					if n < failAt && e.o.ActiveInput(testChannel) != "a" {
						t.Fatalf("step %d: active input %q before a failed", n, e.o.ActiveInput(testChannel))
					}
				}
				if got := e.o.ActiveInput(testChannel); got != "b" {
					t.Fatalf("active input %q after a failed, want b", got)
				}
				// The whole programme as a VOD window: every segment once.
				for _, r := range l.set.Renditions {
					u := fmt.Sprintf("/out/v1/live/channel_%s.m3u8?start=%d&end=%d", r.Name, l.epoch.Unix(), l.epoch.Unix()+total)
					m := e.media(u)
					if len(m.Segments) != total {
						t.Fatalf("%s: %d segments, want %d", r.Name, len(m.Segments), total)
					}
					for i, s := range m.Segments {
						if s.Discontinuity {
							t.Fatalf("%s: DISCONTINUITY at %d", r.Name, i)
						}
						if want := l.epoch.Add(time.Duration(i) * time.Second); !s.ProgramDateTime.Equal(want) {
							t.Fatalf("%s: segment %d PDT %v, want %v", r.Name, i, s.ProgramDateTime, want)
						}
						code, body := e.get("/out/v1/live/" + s.URI)
						if code != http.StatusOK || sha(body) != sha(l.segData(r, i)) {
							t.Fatalf("%s: segment %d: status %d, content differs from the source", r.Name, i, code)
						}
						if pdt, ok := obs[r.Name].pdtBySeq[m.MediaSequence+int64(i)]; ok && !pdt.Equal(s.ProgramDateTime) {
							t.Fatalf("%s: live and VOD disagree on sequence %d", r.Name, m.MediaSequence+int64(i))
						}
					}
				}
			})
		}
	}
}
