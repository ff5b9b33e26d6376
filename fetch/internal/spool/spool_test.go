package spool

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testOwner stands for the fetcher's entry that owns a spooled segment.
type testOwner struct{ _ byte } // not zero-sized: owners are told apart by address

// spoolSegment downloads data into s as one segment and commits it.
func spoolSegment(t *testing.T, s *Spool[*testOwner], data []byte) (*File[*testOwner], []*testOwner) {
	t.Helper()
	w, sf := s.Create(&testOwner{})
	// iotest-style short reads: the writer must assemble chunks correctly.
	n, err := w.ReadFrom(&shortReader{r: bytes.NewReader(data)})
	if err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom = %d, %v; want %d", n, err, len(data))
	}
	return sf, s.Commit(sf, w)
}

type shortReader struct{ r io.Reader }

func (s *shortReader) Read(p []byte) (int, error) {
	if len(p) > 7000 {
		p = p[:7000]
	}
	return s.r.Read(p)
}

func readSpooled(t *testing.T, s *Spool[*testOwner], sf *File[*testOwner]) []byte {
	t.Helper()
	rc, err := s.Open(sf)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func spoolFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestSpoolKeepsSegmentsInMemoryThenSpillsToDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	budget := NewMemoryBudget(1 << 20) // memCap: 1 MiB
	s, err := New[*testOwner](dir, 64<<20, budget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var segs []*File[*testOwner]
	var want [][]byte
	for i := range 5 { // 5 x 300 KiB: three fit in memory, two go to disk
		data := randomBytes(300<<10+i, uint64(i))
		sf, ev := spoolSegment(t, s, data)
		if len(ev) != 0 {
			t.Fatalf("segment %d evicted %d entries", i, len(ev))
		}
		segs, want = append(segs, sf), append(want, data)
	}
	if got := spoolFiles(t, dir); got != 1 {
		t.Errorf("files on disk = %d, want 1 log file for the 2 segments over the 1 MiB budget", got)
	}
	for i, sf := range segs {
		if inMemory := sf.data != nil; inMemory != (i < 3) || (!inMemory && sf.log == nil) {
			t.Errorf("segment %d: in memory %v, in the log %v", i, inMemory, sf.log != nil)
		}
	}
	if used, want := budget.Used(), int64(3*((300<<10)/chunkSize+1)*chunkSize); used != want { // the chunks held, not the bytes
		t.Errorf("budget used = %d, want %d", used, want)
	}
	for i, sf := range segs {
		if got := readSpooled(t, s, sf); !bytes.Equal(got, want[i]) {
			t.Errorf("segment %d: read back %d bytes, differs from the %d written", i, len(got), len(want[i]))
		}
	}
	for _, sf := range segs {
		s.Release(sf)
	}
	if used := budget.Used(); used != 0 {
		t.Errorf("budget used after release = %d, want 0", used)
	}
	if got := spoolFiles(t, dir); got != 0 {
		t.Errorf("files left after release = %d", got)
	}
	if s.Used() != 0 {
		t.Errorf("spool used = %d after release", s.Used())
	}
}

func TestSpoolLargeSegmentGoesToDiskWhileDownloading(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	budget := NewMemoryBudget(256 << 10)
	s, err := New[*testOwner](dir, 64<<20, budget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := randomBytes(3<<20+5, 9)
	sf, _ := spoolSegment(t, s, data)
	if sf.path == "" || sf.data != nil {
		t.Fatalf("a segment 12x the memory budget stayed in memory")
	}
	if got := readSpooled(t, s, sf); !bytes.Equal(got, data) {
		t.Fatalf("large segment read back differs")
	}
	if budget.Used() != 0 {
		t.Errorf("budget used = %d by a segment on disk", budget.Used())
	}
}

func TestSpoolRefusesSegmentLargerThanSpool(t *testing.T) {
	s, err := New[*testOwner](filepath.Join(t.TempDir(), "spool"), 100<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, _ := s.Create(&testOwner{})
	_, err = w.ReadFrom(bytes.NewReader(make([]byte, 200<<10)))
	if err == nil || !strings.Contains(err.Error(), "larger than the spool") {
		t.Fatalf("err = %v, want a segment-too-large error", err)
	}
	s.Discard(w)
}

func TestSpoolEvictsOldestAndReadersKeepTheirBytes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := New[*testOwner](dir, 1<<20, NewMemoryBudget(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := randomBytes(600<<10, 1)
	sf1, _ := spoolSegment(t, s, first)
	rc, err := s.Open(sf1) // a push of the oldest segment is in progress
	if err != nil {
		t.Fatal(err)
	}
	half := make([]byte, 100<<10)
	if _, err := io.ReadFull(rc, half); err != nil {
		t.Fatal(err)
	}
	sf2, ev := spoolSegment(t, s, randomBytes(600<<10, 2))
	if len(ev) != 1 || ev[0] != sf1.owner {
		t.Fatalf("evicted %v, want the oldest segment only", ev)
	}
	// New segments reuse pooled chunks; the reader must still see its own bytes.
	for i := range 4 {
		sf, _ := spoolSegment(t, s, randomBytes(100<<10, uint64(10+i)))
		s.Release(sf)
	}
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if !bytes.Equal(append(half, rest...), first) {
		t.Fatal("reader of an evicted segment saw other bytes")
	}
	if _, err := s.Open(sf1); err == nil {
		t.Error("opening an evicted segment succeeded")
	}
	if sf2.removed {
		t.Error("the newest segment was evicted")
	}
}

// closingWriter closes the reader in the middle of a WriteTo, as an HTTP
// transport may when the server answers before the body is sent.
type closingWriter struct {
	rc  io.Closer
	buf bytes.Buffer
}

func (w *closingWriter) Write(p []byte) (int, error) {
	if w.buf.Len() == 0 {
		w.rc.Close()
	}
	return w.buf.Write(p)
}

func TestSpoolReaderClosedDuringWriteToKeepsChunks(t *testing.T) {
	s, err := New[*testOwner](filepath.Join(t.TempDir(), "spool"), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := randomBytes(300<<10, 4)
	sf, _ := spoolSegment(t, s, data)
	rc, err := s.Open(sf)
	if err != nil {
		t.Fatal(err)
	}
	s.Release(sf) // the spool no longer needs it: only the reader holds it
	w := &closingWriter{rc: rc}
	n, err := io.Copy(w, rc) // uses WriteTo
	if err != nil || n != int64(len(data)) || !bytes.Equal(w.buf.Bytes(), data) {
		t.Fatalf("WriteTo with a concurrent Close: n=%d err=%v, bytes equal=%v", n, err, bytes.Equal(w.buf.Bytes(), data))
	}
	if sf.data != nil || len(s.files) != 0 {
		t.Error("released segment still held by the spool")
	}
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func TestChunkAllocatorKeepsFewFreeChunks(t *testing.T) {
	var a chunkAllocator
	var held []*chunk
	for range 200 {
		c := a.get()
		if len(c.b) != chunkSize {
			t.Fatalf("chunk of %d bytes", len(c.b))
		}
		c.b[0], c.b[chunkSize-1] = 1, 2 // writable end to end
		held = append(held, c)
	}
	for _, c := range held {
		a.put(c)
	}
	if a.inUse != 0 || len(a.free) != minFreeChunks {
		t.Fatalf("after a burst of 200: %d in use, %d kept free; want 0 and %d", a.inUse, len(a.free), minFreeChunks)
	}
	if c := a.get(); len(c.b) != chunkSize || len(a.free) != minFreeChunks-1 {
		t.Fatal("a freed chunk was not reused")
	}
	// Chunks whose memory went back to the OS are reused, zeroed.
	var again []*chunk
	for range 200 {
		c := a.get()
		c.b[chunkSize-1] = 3
		again = append(again, c)
	}
	if len(a.cold) != 0 {
		t.Errorf("%d released chunks not reused", len(a.cold))
	}
	for _, c := range again {
		a.put(c)
	}
}

func TestSpoolLogFileLivesAsLongAsItsSegmentsAndReaders(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := New[*testOwner](dir, 512<<20, NewMemoryBudget(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Fill memory, then enough segments to roll the log file once.
	var segs []*File[*testOwner]
	var want [][]byte
	var first *logFile
	for i := 0; first == nil || !first.sealed; i++ {
		if i > 300 {
			t.Fatal("log never rolled")
		}
		data := randomBytes(500<<10, uint64(100+i))
		sf, ev := spoolSegment(t, s, data)
		if len(ev) != 0 {
			t.Fatalf("evicted %d", len(ev))
		}
		segs, want = append(segs, sf), append(want, data)
		if first == nil {
			first = sf.log
		}
	}
	if !first.sealed {
		t.Fatalf("first log file not sealed after %d segments", len(segs))
	}
	if got := spoolFiles(t, dir); got != 2 {
		t.Fatalf("%d files, want 2 log files", got)
	}
	// A reader of the first log file keeps it until it is closed.
	var held *File[*testOwner]
	for _, sf := range segs {
		if sf.log == first {
			held = sf
			break
		}
	}
	rc, err := s.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	for i, sf := range segs {
		if sf != held {
			if sf.log != nil && !bytes.Equal(readSpooled(t, s, sf), want[i]) {
				t.Fatalf("segment %d read back from the log differs", i)
			}
			s.Release(sf)
		}
	}
	s.Release(held)
	if got := spoolFiles(t, dir); got != 1 {
		t.Fatalf("%d files while a reader is open, want the first log file only", got)
	}
	b, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(b, want[slicesIndex(segs, held)]) {
		t.Fatalf("reader of a released log segment: %v", err)
	}
	rc.Close()
	if got := spoolFiles(t, dir); got != 0 {
		t.Fatalf("%d files after the last reader closed, want none", got)
	}
	if s.Used() != 0 {
		t.Errorf("used %d after releasing everything", s.Used())
	}
}

func slicesIndex(s []*File[*testOwner], x *File[*testOwner]) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}
