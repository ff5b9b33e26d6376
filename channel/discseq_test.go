package channel

import (
	"testing"
	"time"
)

// TestDiscontinuitySequencesMatch follows the channel's video and audio
// playlists on a stepped clock through the loop, a live item and an ad
// break at whole seconds and off them, as a player does: no segment is a
// sliver of a few milliseconds (audio segments do not end where video
// segments do, so pieces cut them anywhere), every segment keeps its
// discontinuity sequence number across reloads, and the renditions agree
// on it at every discontinuity (hls.js matches audio to video by it and
// stalls where they differ).
func TestDiscontinuitySequencesMatch(t *testing.T) {
	for _, off := range []time.Duration{0, 990 * time.Millisecond, 1700 * time.Millisecond, 7*time.Second + 40*time.Millisecond, 23*time.Second + 610*time.Millisecond} {
		for _, brk := range []time.Duration{0, 500 * time.Millisecond} {
			t.Run(off.String()+"/"+brk.String(), func(t *testing.T) { testDiscontinuitySequences(t, off, brk) })
		}
	}
}

func testDiscontinuitySequences(t *testing.T, off, brk time.Duration) {
	c := newClock(liveBase.Add(10*time.Second + off))
	r := newLiveRig(t, c, withLivePoll(2*time.Millisecond))
	names := []string{"video_0.m3u8", "video_1.m3u8", "audio_0.m3u8"}
	follow := func(until time.Time) {
		t.Helper()
		for c.Now().Before(until) {
			r.step(250 * time.Millisecond)
			for _, n := range names {
				r.fetch(n)
			}
		}
	}
	follow(c.Now().Add(20 * time.Second))
	status, body := apiCall(t, "POST", r.srv.URL+"/api/v1/channels/1/switch", testToken, `{"url":"`+r.srcURL+`","duration":"10s","id":"event"}`, nil)
	if status != 201 {
		t.Fatalf("switch: %d %s", status, body)
	}
	follow(c.Now().Add(20 * time.Second))
	r.step(c.Now().Truncate(time.Second).Add(time.Second).Sub(c.Now())) // a whole second
	start := c.Now().Add(4*time.Second + brk).UTC().Format(time.RFC3339Nano)
	status, body = apiCall(t, "POST", r.srv.URL+"/api/v1/channels/1/schedule", testToken,
		`{"items":[{"id":"break1","type":"break","duration":6,"start":"`+start+`"}]}`, nil)
	if status != 201 {
		t.Fatalf("ad break: %d %s", status, body)
	}
	follow(c.Now().Add(30 * time.Second))
	for _, n := range names[1:] {
		r.checkDiscontinuities(names[0], n)
	}
	t.Logf("video runs: %s; audio runs: %s", kinds(r.runs(names[0])), kinds(r.runs(names[2])))
}
