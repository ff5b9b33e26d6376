package fetch_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// A VOD source (PLAYLIST-TYPE:VOD + ENDLIST) is pushed whole, keeps its
// type, and the fetcher ends.
func TestRelayVODSource(t *testing.T) {
	fsys, err := testmedia.Sub(testmedia.TS)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServerFS(fsys))
	t.Cleanup(srv.Close)
	r := &rig{t: t, dests: []*dest{newDest(t)}}
	d := r.dests[0]
	r.start(srv.URL + "/master.m3u8")
	testutil.Eventually(t, 30*time.Second, func() bool { return r.f.Status().State == fetch.StateEnded },
		"VOD relay did not end: %+v", r.f.Status())
	d.check()
	set := testmedia.MustLoad(testmedia.TS)
	for _, rend := range set.Renditions {
		m := mediaPlaylist(t, d, srcName(rend.Name))
		if !m.Endlist || len(m.Segments) != len(rend.Segments) {
			t.Errorf("%s: endlist=%v segments=%d, want all %d", rend.Name, m.Endlist, len(m.Segments), len(rend.Segments))
		}
		for i, s := range m.Segments {
			got, ok := d.sink.Get(ingestDir + s.URI)
			if !ok || sha(got) != sha(rend.Segments[i].Data) {
				t.Errorf("%s: segment %d missing or different", rend.Name, i)
			}
		}
	}
}

// An EVENT source keeps growing: the pushed playlist keeps every segment
// from the first and says PLAYLIST-TYPE:EVENT.
func TestRelayEventSource(t *testing.T) {
	set := testmedia.MustLoad(testmedia.TS)
	r := newRig(t, set, livesource.Config{Window: 2, Event: true}, 1)
	d := r.dests[0]
	r.start(r.sourceURL())
	r.drive(d, 10)
	r.stop()
	d.check()
	assertExactlyOnce(t, r.src, d)
	m := mediaPlaylist(t, d, "video-hi")
	if m.PlaylistType != hls.PlaylistTypeEvent {
		t.Errorf("playlist type %q, want EVENT", m.PlaylistType)
	}
	if m.MediaSequence != 0 || len(m.Segments) != 12 {
		t.Errorf("EVENT playlist slid: MEDIA-SEQUENCE %d with %d segments, want 0 with 12", m.MediaSequence, len(m.Segments))
	}
}

// The pushed window keeps windowSize seconds, sliding MEDIA-SEQUENCE and
// counting DISCONTINUITY-SEQUENCE as discontinuities leave it.
func TestRelayWindowSlides(t *testing.T) {
	set := testmedia.MustLoad(testmedia.TS)
	r := newRig(t, set, livesource.Config{Window: 4}, 1)
	d := r.dests[0]
	r.window = 5 * time.Second
	r.start(r.sourceURL())
	r.drive(d, 16) // positions 0..19: discontinuities at 8 and 16
	r.stop()
	m := mediaPlaylist(t, d, "video-hi")
	if len(m.Segments) != 5 || m.MediaSequence != 15 {
		t.Fatalf("window: MEDIA-SEQUENCE %d with %d segments, want 15 with 5", m.MediaSequence, len(m.Segments))
	}
	// The discontinuity before position 8 left the window; the one before 16 is listed.
	if m.DiscontinuitySequence != 1 || !m.Segments[1].Discontinuity {
		t.Errorf("DISCONTINUITY-SEQUENCE %d, discontinuity at index 1: %v", m.DiscontinuitySequence, m.Segments[1].Discontinuity)
	}
	if m.TargetDuration != 1 {
		t.Errorf("TARGETDURATION %d, want 1", m.TargetDuration)
	}
}
