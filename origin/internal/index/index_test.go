package index

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
)

// testIndex returns an empty index of channel "live" on clock *now that
// keeps retain of segments, and its input "a" with files under a
// temporary folder.
func testIndex(t *testing.T, now *time.Time, retain time.Duration) (*Index, *Input) {
	t.Helper()
	ix := &Index{State: NewState(), Params: Params{
		ID: "live", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return *now }, Retain: retain,
	}}
	in := &Input{Name: "a", Dir: t.TempDir(), Files: map[string]*StoredFile{}, Rends: map[string]*InRend{}}
	ix.Inputs[in.Name], ix.Order = in, append(ix.Order, in.Name)
	return ix, in
}

// ingest stores segments first..last of rendition "v" (2 s each, from
// t0) as files of in and indexes the playlist listing them.
func ingest(t *testing.T, ix *Index, in *Input, t0 time.Time, first, last int, recv time.Time) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", t0.Add(time.Duration(first)*2*time.Second).UTC().Format(time.RFC3339Nano))
	for i := first; i <= last; i++ {
		name := fmt.Sprintf("seg%d.ts", i)
		p := filepath.Join(in.Dir, name)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		ix.StoreFile(in, name, &StoredFile{Path: p, Size: int64(len(name)), Recv: recv})
		fmt.Fprintf(&b, "#EXTINF:2.0,\n%s\n", name)
	}
	m, err := hls.ParseMedia([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	ix.IndexPlaylist(in, "v", m, recv)
}

// TestIndexTimelineSnapshotRetention: segments of one input make the
// output timeline; a snapshot restores an index that encodes the same
// bytes; retention trims the timeline and, once the name table lets go,
// deletes the files.
func TestIndexTimelineSnapshotRetention(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Second)
	ix, in := testIndex(t, &now, 20*time.Second)
	ingest(t, ix, in, t0, 0, 4, now)

	r := ix.Rends["v"]
	if ix.Active != "a" || r == nil || len(r.Segs) != 5 {
		t.Fatalf("active %q, rendition %v: want input a active and 5 segments", ix.Active, r)
	}
	for i, s := range r.Segs {
		if want := t0.Add(time.Duration(i) * 2 * time.Second).UnixNano(); s.Start != want || s.Dur != int64(2*time.Second) {
			t.Errorf("segment %d: start %d dur %d, want start %d dur 2s", i, s.Start, s.Dur, want)
		}
		if s.Seq != r.Segs[0].Seq+int64(i) {
			t.Errorf("segment %d: seq %d, want %d", i, s.Seq, r.Segs[0].Seq+int64(i))
		}
	}
	if got, want := r.Segs[0].Seq, t0.Unix(); got != want {
		t.Errorf("first seq %d, want %d (start in seconds)", got, want)
	}

	data, err := ix.EncodeSnapshot(7)
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeSnapshot("live", data, 2)
	if err != nil {
		t.Fatal(err)
	}
	ix2 := &Index{State: &State{}, Params: ix.Params}
	if err := ix2.Restore(s); err != nil {
		t.Fatal(err)
	}
	data2, err := ix2.EncodeSnapshot(7)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, data2) {
		t.Errorf("restored index encodes differently:\n%s\n%s", data, data2)
	}
	if _, err := DecodeSnapshot("other", data, 2); err == nil {
		t.Error("snapshot of channel live decoded as channel other")
	}
	if _, err := DecodeSnapshot("live", []byte(`{"version":`), 2); err == nil {
		t.Error("truncated snapshot decoded")
	}

	// Past the startover window: the timeline empties, the files stay
	// while the input's name table holds them.
	now = now.Add(30 * time.Second)
	ix.Sweep()
	if n := len(ix.Rends["v"].Segs); n != 0 {
		t.Errorf("%d segments after the startover window, want 0", n)
	}
	p := filepath.Join(in.Dir, "seg0.ts")
	if _, err := os.Stat(p); err != nil {
		t.Errorf("file gone while the name table holds it: %v", err)
	}
	now = now.Add(fileGrace + time.Second)
	ix.Sweep()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("file kept after the name table let go: %v", err)
	}
	if len(in.Files) != 0 {
		t.Errorf("name table has %d files, want 0", len(in.Files))
	}
}

// TestIndexWaitsForMissingSegment: a playlist naming a file not yet
// received is indexed up to it and completed when the file arrives.
func TestIndexWaitsForMissingSegment(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Second)
	ix, in := testIndex(t, &now, time.Minute)
	ingest(t, ix, in, t0, 0, 1, now)
	m, err := hls.ParseMedia([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n" +
		"#EXT-X-PROGRAM-DATE-TIME:" + t0.Format(time.RFC3339) + "\n" +
		"#EXTINF:2.0,\nseg0.ts\n#EXTINF:2.0,\nseg1.ts\n#EXTINF:2.0,\nseg2.ts\n"))
	if err != nil {
		t.Fatal(err)
	}
	ix.IndexPlaylist(in, "v", m, now)
	if n := len(ix.Rends["v"].Segs); n != 2 {
		t.Fatalf("%d segments before seg2 arrived, want 2", n)
	}
	p := filepath.Join(in.Dir, "seg2.ts")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ix.StoreFile(in, "seg2.ts", &StoredFile{Path: p, Size: 1, Recv: now})
	if n := len(ix.Rends["v"].Segs); n != 3 {
		t.Errorf("%d segments after seg2 arrived, want 3", n)
	}
}
