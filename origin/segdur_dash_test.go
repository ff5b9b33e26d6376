package origin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/pullpush/pullpush/internal/testmedia"
)

// TestSegmentDurationDASHEncrypted: joined segments of cenc and cbcs DASH
// endpoints (cbcs with a key per joined segment) decrypt with the key of
// their Period to the samples of the clear joined DASH endpoint.
func TestSegmentDurationDASHEncrypted(t *testing.T) {
	k := newKeyEnv(t, "tok")
	e := newEnv(t, func(c *Config) {
		c.KeyProvider = k.speke(t)
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "ts"},
			{ID: "dash3", Packaging: PackagingDASH, SegmentDuration: 3 * time.Second},
			{ID: "cenc", Packaging: PackagingDASH, SegmentDuration: 3 * time.Second, Encryption: enc(MethodCENC, 0)},
			{ID: "cbcs", Packaging: PackagingDASH, SegmentDuration: 3 * time.Second, Encryption: enc(MethodCBCS, 3*time.Second)},
		}
	})
	// Segment n starts at epoch+n s; an epoch on a 3 s boundary, so joined
	// segment g starts at 3g s (unix) and is key period g.
	epoch := time.Unix(e.clock.Now().Unix()/3*3+3, 0).UTC()
	e.clock.Add(epoch.Sub(e.clock.Now()))
	l := newLive(t, testmedia.TS, epoch)
	e.pushSteps(l, e.pusher("a"), 0, 8)
	q := vod(l, 0, 6)
	clearMPD, _ := e.mpd("/out/v1/live/dash3/index.mpd" + q)
	clearRep := clearMPD.Periods[0].Sets[0].Reps[0]
	for _, tc := range []struct {
		ep      string
		periods int
	}{{"cenc", 1}, {"cbcs", 2}} {
		m, body := e.mpd("/out/v1/live/" + tc.ep + "/index.mpd" + q)
		if len(m.Periods) != tc.periods {
			t.Fatalf("%s: %d periods, want %d:\n%s", tc.ep, len(m.Periods), tc.periods, body)
		}
		checked := 0
		for _, p := range m.Periods {
			for _, as := range p.Sets {
				for _, r := range as.Reps {
					if r.ID != clearRep.ID {
						continue
					}
					for _, s := range r.Template.segments(t, r.ID) {
						_, init := e.get("/out/v1/live/" + tc.ep + "/" + r.Template.Init)
						_, seg := e.get("/out/v1/live/" + tc.ep + "/" + strings.ReplaceAll(r.Template.Media, "$Number$", fmtInt(s.n)))
						period := int64(0)
						if tc.ep == "cbcs" {
							period = s.n
						}
						samples, _ := decryptCMAF(t, init, seg, k.fetchKey(t, k.keyURI(e, "live", period)))
						_, cinit := e.get("/out/v1/live/dash3/" + clearRep.Template.Init)
						_, cseg := e.get("/out/v1/live/dash3/" + strings.ReplaceAll(clearRep.Template.Media, "$Number$", fmtInt(s.n)))
						want := clearCMAF(t, cinit, cseg)
						if len(samples) != len(want) || len(want) < 50 {
							t.Fatalf("%s: joined segment %d: %d samples, clear %d", tc.ep, s.n, len(samples), len(want))
						}
						for i := range want {
							if !bytes.Equal(samples[i].Data, want[i].Data) {
								t.Fatalf("%s: joined segment %d: sample %d does not decrypt to the clear one", tc.ep, s.n, i)
							}
						}
						checked++
					}
				}
			}
		}
		if checked != 2 {
			t.Fatalf("%s: %d joined segments checked, want 2", tc.ep, checked)
		}
	}
}

// FuzzSnapshotGroups: restoring a snapshot with joined timelines (a
// shared bucket's file) never panics, whatever the numbers.
func FuzzSnapshotGroups(f *testing.F) {
	f.Add([]byte(`{"version":2,"channel":"live","order":[],"rendKeys":["v"],"rends":[{"key":"v","target":1000000000,"ext":".ts",` +
		`"segs":[{"start":0,"dur":1000000000,"seq":3},{"start":1000000000,"dur":1000000000,"seq":4},{"start":2000000000,"dur":1000000000,"seq":5,"cdisc":true,"cdiscN":1},` +
		`{"start":3000000000,"dur":1000000000,"seq":6,"sw":true}],"groups":[{"d":3000000000,"first":3,"num":7},{"d":-1,"first":0,"num":0}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSnapshot("live", data)
		if err != nil {
			return
		}
		c := &index.Index{State: &index.State{}, Params: index.Params{ID: "live"}}
		c.Restore(s)
	})
}
