package fetch

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spoolSegment downloads data into s as one segment and commits it.
func spoolSegment(t *testing.T, s *spool, data []byte) (*spoolFile, []*entry) {
	t.Helper()
	w, sf := s.create(&entry{})
	// iotest-style short reads: the writer must assemble chunks correctly.
	n, err := w.ReadFrom(&shortReader{r: bytes.NewReader(data)})
	if err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom = %d, %v; want %d", n, err, len(data))
	}
	return sf, s.commit(sf, w)
}

type shortReader struct{ r io.Reader }

func (s *shortReader) Read(p []byte) (int, error) {
	if len(p) > 7000 {
		p = p[:7000]
	}
	return s.r.Read(p)
}

func readSpooled(t *testing.T, s *spool, sf *spoolFile) []byte {
	t.Helper()
	rc, err := s.open(sf)
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
	s, err := newSpool(dir, 64<<20, budget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()

	var segs []*spoolFile
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
	if used, want := budget.Used(), int64(3*((300<<10)/spoolChunk+1)*spoolChunk); used != want { // the chunks held, not the bytes
		t.Errorf("budget used = %d, want %d", used, want)
	}
	for i, sf := range segs {
		if got := readSpooled(t, s, sf); !bytes.Equal(got, want[i]) {
			t.Errorf("segment %d: read back %d bytes, differs from the %d written", i, len(got), len(want[i]))
		}
	}
	for _, sf := range segs {
		s.release(sf)
	}
	if used := budget.Used(); used != 0 {
		t.Errorf("budget used after release = %d, want 0", used)
	}
	if got := spoolFiles(t, dir); got != 0 {
		t.Errorf("files left after release = %d", got)
	}
	if s.usedBytes() != 0 {
		t.Errorf("spool used = %d after release", s.usedBytes())
	}
}

func TestSpoolLargeSegmentGoesToDiskWhileDownloading(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	budget := NewMemoryBudget(256 << 10)
	s, err := newSpool(dir, 64<<20, budget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
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
	s, err := newSpool(filepath.Join(t.TempDir(), "spool"), 100<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	w, _ := s.create(&entry{})
	_, err = w.ReadFrom(bytes.NewReader(make([]byte, 200<<10)))
	if err == nil || !strings.Contains(err.Error(), "larger than the spool") {
		t.Fatalf("err = %v, want a segment-too-large error", err)
	}
	s.discard(w)
}

func TestSpoolEvictsOldestAndReadersKeepTheirBytes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := newSpool(dir, 1<<20, NewMemoryBudget(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	first := randomBytes(600<<10, 1)
	sf1, _ := spoolSegment(t, s, first)
	rc, err := s.open(sf1) // a push of the oldest segment is in progress
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
		s.release(sf)
	}
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if !bytes.Equal(append(half, rest...), first) {
		t.Fatal("reader of an evicted segment saw other bytes")
	}
	if _, err := s.open(sf1); err == nil {
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
	s, err := newSpool(filepath.Join(t.TempDir(), "spool"), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	data := randomBytes(300<<10, 4)
	sf, _ := spoolSegment(t, s, data)
	rc, err := s.open(sf)
	if err != nil {
		t.Fatal(err)
	}
	s.release(sf) // the spool no longer needs it: only the reader holds it
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
		if len(c.b) != spoolChunk {
			t.Fatalf("chunk of %d bytes", len(c.b))
		}
		c.b[0], c.b[spoolChunk-1] = 1, 2 // writable end to end
		held = append(held, c)
	}
	for _, c := range held {
		a.put(c)
	}
	if a.inUse != 0 || len(a.free) != minFreeChunks {
		t.Fatalf("after a burst of 200: %d in use, %d kept free; want 0 and %d", a.inUse, len(a.free), minFreeChunks)
	}
	if c := a.get(); len(c.b) != spoolChunk || len(a.free) != minFreeChunks-1 {
		t.Fatal("a freed chunk was not reused")
	}
	// Chunks whose memory went back to the OS are reused, zeroed.
	var again []*chunk
	for range 200 {
		c := a.get()
		c.b[spoolChunk-1] = 3
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
	s, err := newSpool(dir, 512<<20, NewMemoryBudget(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	// Fill memory, then enough segments to roll the log file once.
	var segs []*spoolFile
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
	var held *spoolFile
	for _, sf := range segs {
		if sf.log == first {
			held = sf
			break
		}
	}
	rc, err := s.open(held)
	if err != nil {
		t.Fatal(err)
	}
	for i, sf := range segs {
		if sf != held {
			if sf.log != nil && !bytes.Equal(readSpooled(t, s, sf), want[i]) {
				t.Fatalf("segment %d read back from the log differs", i)
			}
			s.release(sf)
		}
	}
	s.release(held)
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
	if s.usedBytes() != 0 {
		t.Errorf("used %d after releasing everything", s.usedBytes())
	}
}

func slicesIndex(s []*spoolFile, x *spoolFile) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}
