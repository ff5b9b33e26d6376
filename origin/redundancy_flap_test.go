package origin

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
)

// The test channel's target duration (live.playlist writes
// EXT-X-TARGETDURATION:1).
const testTarget = time.Second

// timedPush is one push of a scripted live run: at offset at from the
// start, input in pushes segments from..to of rendition r, then r's media
// playlist (ending with segment to).
type timedPush struct {
	at       time.Duration
	lead     bool // pushed before the other input's pushes of the same instant
	in       string
	r        *testmedia.Rendition
	from, to int
}

// runPushes plays pushes in time order on the fake clock (the master and
// init segments go with an input's first push) and sweeps after each one;
// after each push it calls check with the push's offset.
func runPushes(t *testing.T, e *env, l *live, pushes []timedPush, check func(at time.Duration)) {
	t.Helper()
	slices.SortStableFunc(pushes, func(x, y timedPush) int {
		if x.at != y.at {
			return int(x.at - y.at)
		}
		if x.lead != y.lead {
			if x.lead {
				return -1
			}
			return 1
		}
		return 0
	})
	pushers := map[string]*pusher{}
	inited := map[string]bool{}
	var now time.Duration
	for _, p := range pushes {
		e.clock.Add(p.at - now)
		now = p.at
		pu := pushers[p.in]
		if pu == nil {
			pu = e.pusher(p.in)
			pushers[p.in] = pu
			pu.put("channel.m3u8", l.master())
		}
		if p.r.Init != nil && !inited[p.in+p.r.Name] {
			pu.put(initName(p.r), p.r.Init)
			inited[p.in+p.r.Name] = true
		}
		for n := p.from; n <= p.to; n++ {
			pu.put(segName(p.r, n), l.segData(p.r, n))
		}
		pu.put("channel_"+p.r.Name+".m3u8", l.playlist(p.r, p.to))
		e.o.Sweep()
		check(p.at)
	}
}

// checkProgramme checks that the output has segments 0..total-1 of every
// rendition exactly once, on the source's timeline, with the source's
// bytes and no DISCONTINUITY.
func checkProgramme(t *testing.T, e *env, l *live, total int) {
	t.Helper()
	for _, r := range l.set.Renditions {
		u := fmt.Sprintf("/out/v1/%s/channel_%s.m3u8?start=%d&end=%d", testChannel, r.Name, l.epoch.Unix(), l.epoch.Unix()+int64(total))
		m := e.media(u)
		if len(m.Segments) != total {
			t.Fatalf("%s: %d segments, want %d:\n%s", r.Name, len(m.Segments), total, m.Encode())
		}
		for i, s := range m.Segments {
			if s.Discontinuity {
				t.Fatalf("%s: DISCONTINUITY at %d", r.Name, i)
			}
			if want := l.epoch.Add(time.Duration(i) * time.Second); !s.ProgramDateTime.Equal(want) {
				t.Fatalf("%s: segment %d PDT %v, want %v", r.Name, i, s.ProgramDateTime, want)
			}
			code, body := e.get("/out/v1/" + testChannel + "/" + s.URI)
			if code != http.StatusOK || sha(body) != sha(l.segData(r, i)) {
				t.Fatalf("%s: segment %d: status %d, content differs from the source", r.Name, i, code)
			}
		}
	}
}

// TestRedundantInputsNoFlapping: both inputs receive the same stream, as
// from a relay with two ingest targets: it starts with a backlog of six
// segments per rendition and then one segment per target duration, and
// the inputs are staggered by up to one target duration, in opposite
// directions per rendition (a leads the video, b the audio), so the
// passive input is ahead on some rendition all the time, and at the start
// it delivers a whole backlog of a rendition the output does not have
// yet. The active input never stops: the origin must never switch
// (MediaPackage switches only when the active input stops delivering),
// also not on the sweeps between pushes.
func TestRedundantInputsNoFlapping(t *testing.T) {
	const backlog, total = 6, 20
	for _, flavour := range []string{testmedia.TS, testmedia.FMP4} {
		for _, stagger := range []time.Duration{0, testTarget / 10, testTarget / 2, testTarget} {
			t.Run(fmt.Sprintf("%s/stagger=%v", flavour, stagger), func(t *testing.T) {
				e := newEnv(t, func(c *Config) { c.Channels[0].ManifestWindow = time.Minute })
				l := newLive(t, flavour, e.clock.Now().Add(-backlog*time.Second))
				l.window = backlog
				var pushes []timedPush
				for i, r := range l.set.Renditions {
					for _, in := range []string{"a", "b"} {
						lead := (i%2 == 0) == (in == "a")
						off := time.Duration(0)
						if !lead {
							off = stagger
						}
						pushes = append(pushes, timedPush{at: off, lead: lead, in: in, r: r, from: 0, to: backlog - 1})
						for n := backlog; n < total; n++ {
							at := off + time.Duration(n-backlog+1)*testTarget
							pushes = append(pushes, timedPush{at: at, lead: lead, in: in, r: r, from: n, to: n})
						}
					}
				}
				runPushes(t, e, l, pushes, func(at time.Duration) {
					if n := e.o.InputSwitches(testChannel); n != 0 {
						t.Fatalf("at +%v: %d input switches (now on %q) although both inputs deliver", at, n, e.o.ActiveInput(testChannel))
					}
				})
				if got := e.o.ActiveInput(testChannel); got != "a" {
					t.Fatalf("active input %q, want a (the first to deliver)", got)
				}
				checkProgramme(t, e, l, total)
			})
		}
	}
}

// TestRedundantInputsOutageSwitch: input a stops after segment stopAt
// while b keeps delivering. The origin switches to b about one target
// duration after a's next segment was due (when a has delivered nothing
// for more than one and a half target durations): on b's next push, or,
// when nothing arrives at all, on the sweep.
func TestRedundantInputsOutageSwitch(t *testing.T) {
	const stopAt = 8
	for _, flavour := range []string{testmedia.TS, testmedia.FMP4} {
		t.Run(flavour+"/b keeps pushing", func(t *testing.T) {
			const total = stopAt + 6
			e := newEnv(t, nil)
			l := newLive(t, flavour, e.clock.Now())
			pa, pb := e.pusher("a"), e.pusher("b")
			for n := range total {
				e.clock.Add(testTarget)
				if n <= stopAt {
					l.push(pa, n)
				}
				l.push(pb, n)
				e.o.Sweep()
				want := "a"
				if n >= stopAt+2 {
					// a's segment stopAt+1 was due one target duration ago
					want = "b"
				}
				if got := e.o.ActiveInput(testChannel); got != want {
					t.Fatalf("step %d (a stopped after %d): active input %q, want %q", n, stopAt, got, want)
				}
			}
			if got := e.o.InputSwitches(testChannel); got != 1 {
				t.Fatalf("%d input switches, want 1", got)
			}
			checkProgramme(t, e, l, total)
		})
		t.Run(flavour+"/no further push", func(t *testing.T) {
			e := newEnv(t, nil)
			l := newLive(t, flavour, e.clock.Now())
			pa, pb := e.pusher("a"), e.pusher("b")
			for n := range stopAt + 2 {
				e.clock.Add(testTarget)
				if n <= stopAt {
					l.push(pa, n)
				}
				l.push(pb, n) // b's last push is segment stopAt+1
				e.o.Sweep()
				if got := e.o.ActiveInput(testChannel); got != "a" {
					t.Fatalf("step %d: active input %q, want a", n, got)
				}
			}
			// Nothing arrives any more; the sweep notices a's silence.
			// a's last push was one target duration ago.
			silent := testTarget
			for e.o.ActiveInput(testChannel) == "a" {
				if silent > 3*testTarget {
					t.Fatalf("still on a after %v without a segment from a", silent)
				}
				e.clock.Add(testTarget / 4)
				silent += testTarget / 4
				e.o.Sweep()
			}
			if silent <= testTarget*3/2 || silent > testTarget*7/4 {
				t.Fatalf("switched after %v without a segment from a, want just after 1.5 target durations", silent)
			}
			if got := e.o.InputSwitches(testChannel); got != 1 {
				t.Fatalf("%d input switches, want 1", got)
			}
			checkProgramme(t, e, l, stopAt+2)
		})
	}
}
