package outputtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullpush/pullpush/output"
)

// Object is what a destination stored under one name.
type Object struct {
	Data         []byte
	ContentType  string // checked when the Reader is a MetadataKeeper
	CacheControl string // checked when the Reader is a MetadataKeeper
}

// Reader reads back what an output stored; target is the index of the
// target in Output.Targets(). A nil Reader (outputs that store nothing,
// such as void) skips every read-back check.
type Reader interface {
	// Get returns the object stored under name, or false when there is none.
	Get(t testing.TB, target int, name string) (Object, bool)
}

// MetadataKeeper is implemented by Readers of destinations that keep the
// content type and/or cache control of stored files.
type MetadataKeeper interface {
	KeepsMetadata() (contentType, cacheControl bool)
}

// RequestObserver is implemented by Readers of HTTP destinations that see
// each request: the suite then checks Content-Length and that bodies are
// streamed rather than buffered whole.
type RequestObserver interface {
	// RequestContentLength is the Content-Length of the request that
	// stored name (-1 for chunked).
	RequestContentLength(target int, name string) (int64, bool)
	// Received is the number of body bytes received so far by the latest
	// request storing name, including one still in flight.
	Received(target int, name string) int64
}

// Timeout bounds each step of the suite that waits for something; it is a
// hang detector, not a speed requirement.
const Timeout = 20 * time.Second

// LargeSize is the size of the generated large body.
const LargeSize = 8 << 20

// Run runs the contract suite. newOutput is called once per subtest and
// must return a fresh output (closed by the suite) and its Reader.
func Run(t *testing.T, newOutput func(t *testing.T) (output.Output, Reader)) {
	t.Run("Targets", func(t *testing.T) {
		o, _ := open(t, newOutput)
		if err := output.ValidName(o.Stem()); err != nil {
			t.Errorf("Stem() = %q: %v", o.Stem(), err)
		}
		targets := o.Targets()
		if len(targets) == 0 {
			t.Fatal("Targets() is empty")
		}
		names := make(map[string]bool)
		for i, tg := range targets {
			if tg.Name() == "" {
				t.Errorf("target %d has an empty name", i)
			}
			if names[tg.Name()] {
				t.Errorf("target name %q is not unique", tg.Name())
			}
			names[tg.Name()] = true
		}
	})

	t.Run("PutGet", func(t *testing.T) {
		o, r := open(t, newOutput)
		for i, tg := range o.Targets() {
			data := []byte(fmt.Sprintf("segment for target %d\n", i))
			mustPut(t, tg, BytesFile("channel_720p_1.ts", "video/mp2t", data))
			expect(t, r, i, "channel_720p_1.ts", data)
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		o, r := open(t, newOutput)
		for i, tg := range o.Targets() {
			mustPut(t, tg, BytesFile("channel_720p.m3u8", "application/vnd.apple.mpegurl", []byte("#EXTM3U\n# first, longer version\n")))
			second := []byte("#EXTM3U\n")
			mustPut(t, tg, BytesFile("channel_720p.m3u8", "application/vnd.apple.mpegurl", second))
			expect(t, r, i, "channel_720p.m3u8", second)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		o, r := open(t, newOutput)
		for i, tg := range o.Targets() {
			mustPut(t, tg, BytesFile("channel_720p_2.ts", "video/mp2t", []byte("x")))
			mustPut(t, tg, BytesFile("channel_720p_3.ts", "video/mp2t", []byte("y")))
			if err := tg.Delete(ctx(t), "channel_720p_2.ts"); err != nil {
				t.Fatalf("target %d: Delete: %v", i, err)
			}
			expectMissing(t, r, i, "channel_720p_2.ts")
			expect(t, r, i, "channel_720p_3.ts", []byte("y"))
		}
	})

	t.Run("DeleteMissing", func(t *testing.T) {
		o, _ := open(t, newOutput)
		for i, tg := range o.Targets() {
			if err := tg.Delete(ctx(t), "channel_720p_999.ts"); err != nil {
				t.Errorf("target %d: Delete of a missing file: %v", i, err)
			}
		}
	})

	t.Run("Metadata", func(t *testing.T) {
		o, r := open(t, newOutput)
		keepsType, keepsCache := false, false
		if mk, ok := r.(MetadataKeeper); ok {
			keepsType, keepsCache = mk.KeepsMetadata()
		}
		for i, tg := range o.Targets() {
			for _, f := range []output.File{
				BytesFile("channel_720p_4.ts", "video/mp2t", []byte("ts")),
				BytesFile("channel_720p.m3u8", "application/vnd.apple.mpegurl", []byte("#EXTM3U\n")),
				BytesFile("channel_720p_5.mp4", "video/mp4", []byte("mp4")),
			} {
				f.CacheControl = "max-age=" + fmt.Sprint(len(f.Name))
				mustPut(t, tg, f)
				if r == nil {
					continue
				}
				obj, ok := r.Get(t, i, f.Name)
				if !ok {
					t.Fatalf("target %d: %s not stored", i, f.Name)
				}
				if keepsType && obj.ContentType != f.ContentType {
					t.Errorf("target %d: %s content type = %q, want %q", i, f.Name, obj.ContentType, f.ContentType)
				}
				if keepsCache && obj.CacheControl != f.CacheControl {
					t.Errorf("target %d: %s cache control = %q, want %q", i, f.Name, obj.CacheControl, f.CacheControl)
				}
			}
		}
	})

	t.Run("EmptyFile", func(t *testing.T) {
		o, r := open(t, newOutput)
		for i, tg := range o.Targets() {
			mustPut(t, tg, BytesFile("channel_empty.m3u8", "application/vnd.apple.mpegurl", nil))
			expect(t, r, i, "channel_empty.m3u8", []byte{})
		}
	})

	t.Run("UnknownSize", func(t *testing.T) {
		o, r := open(t, newOutput)
		for i, tg := range o.Targets() {
			data := bytes.Repeat([]byte("unknown size "), 1000)
			f := BytesFile("channel_720p_6.ts", "video/mp2t", data)
			f.Size = -1
			mustPut(t, tg, f)
			expect(t, r, i, "channel_720p_6.ts", data)
		}
	})

	t.Run("LargeStreamed", func(t *testing.T) {
		o, r := open(t, newOutput)
		for i, tg := range o.Targets() {
			g := NewGenerated("channel_1080p_7.ts", LargeSize, uint64(i)+1)
			mustPut(t, tg, g.File())
			if g.Opens() == 0 {
				t.Fatalf("target %d: Open never called", i)
			}
			if r == nil {
				continue
			}
			obj, ok := r.Get(t, i, g.Name)
			if !ok {
				t.Fatalf("target %d: %s not stored", i, g.Name)
			}
			if int64(len(obj.Data)) != LargeSize || sha256.Sum256(obj.Data) != g.Sum() {
				t.Fatalf("target %d: stored %d bytes that differ from the %d generated", i, len(obj.Data), LargeSize)
			}
			if ro, ok := r.(RequestObserver); ok {
				if cl, ok := ro.RequestContentLength(i, g.Name); !ok || cl != LargeSize {
					t.Errorf("target %d: request Content-Length = %d, want %d", i, cl, LargeSize)
				}
			}
		}
	})

	t.Run("Streaming", func(t *testing.T) {
		o, r := open(t, newOutput)
		ro, ok := r.(RequestObserver)
		if !ok {
			t.Skip("reader does not observe requests")
		}
		for i, tg := range o.Targets() {
			// The body pauses after its first MiB until the destination has
			// received some of it: an output that buffered the whole body
			// before sending would never get there.
			name := "channel_1080p_8.ts"
			g := NewGenerated(name, 4<<20, 99)
			g.PauseAt = 1 << 20
			g.Resume = func(ctx context.Context) error {
				deadline := time.Now().Add(Timeout)
				for ro.Received(i, name) == 0 {
					if time.Now().After(deadline) {
						return errors.New("destination received nothing while the body was paused: body is buffered, not streamed")
					}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(5 * time.Millisecond):
					}
				}
				return nil
			}
			mustPut(t, tg, g.File())
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		o, r := open(t, newOutput)
		for i, tg := range o.Targets() {
			const n = 24
			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			same := make([][]byte, n)
			for k := 0; k < n; k++ {
				same[k] = bytes.Repeat([]byte{byte('a' + k)}, 64<<10+k)
				wg.Add(2)
				go func() {
					defer wg.Done()
					name := fmt.Sprintf("channel_720p_%d.ts", 100+k)
					errs <- tg.Put(ctx(t), BytesFile(name, "video/mp2t", []byte(name)))
				}()
				go func() {
					defer wg.Done()
					errs <- tg.Put(ctx(t), BytesFile("channel_720p.m3u8", "application/vnd.apple.mpegurl", same[k]))
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("target %d: concurrent Put: %v", i, err)
				}
			}
			for k := 0; k < n; k++ {
				name := fmt.Sprintf("channel_720p_%d.ts", 100+k)
				expect(t, r, i, name, []byte(name))
			}
			if r != nil {
				obj, ok := r.Get(t, i, "channel_720p.m3u8")
				if !ok {
					t.Fatalf("target %d: overwritten file missing", i)
				}
				found := false
				for _, s := range same {
					found = found || bytes.Equal(obj.Data, s)
				}
				if !found {
					t.Fatalf("target %d: concurrently overwritten file holds %d bytes matching no single Put", i, len(obj.Data))
				}
			}
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		o, r := open(t, newOutput)
		for i, tg := range o.Targets() {
			name := "channel_720p_9.ts"
			src := NewTrickle(1 << 30)
			defer src.Stop()
			c, cancel := context.WithCancel(ctx(t))
			done := make(chan error, 1)
			go func() { done <- tg.Put(c, src.File(name)) }()
			select {
			case <-src.Started():
			case err := <-done:
				cancel()
				t.Fatalf("target %d: Put returned before reading the body: %v", i, err)
			case <-time.After(Timeout):
				cancel()
				t.Fatalf("target %d: Put never read the body", i)
			}
			cancel()
			select {
			case err := <-done:
				if err == nil {
					t.Fatalf("target %d: cancelled Put returned nil", i)
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("target %d: cancelled Put error %q does not wrap context.Canceled", i, err)
				}
			case <-time.After(Timeout):
				t.Fatalf("target %d: Put ignored cancellation", i)
			}
			expectMissing(t, r, i, name)

			// An expired context fails without storing anything.
			expired, cancel2 := context.WithCancel(ctx(t))
			cancel2()
			if err := tg.Put(expired, BytesFile("channel_720p_10.ts", "video/mp2t", []byte("late"))); err == nil {
				t.Errorf("target %d: Put with a cancelled context returned nil", i)
			}
			expectMissing(t, r, i, "channel_720p_10.ts")
		}
	})

	t.Run("ShortBody", func(t *testing.T) {
		o, r := open(t, newOutput)
		for i, tg := range o.Targets() {
			f := BytesFile("channel_720p_11.ts", "video/mp2t", []byte("only half"))
			f.Size = 2 * int64(len("only half"))
			if err := tg.Put(ctx(t), f); err == nil {
				t.Errorf("target %d: Put of a body shorter than Size returned nil", i)
			}
			expectMissing(t, r, i, "channel_720p_11.ts")
		}
	})

	t.Run("OpenError", func(t *testing.T) {
		o, r := open(t, newOutput)
		boom := errors.New("spool file vanished")
		for i, tg := range o.Targets() {
			f := output.File{Name: "channel_720p_12.ts", ContentType: "video/mp2t", Size: 10,
				Open: func() (io.ReadCloser, error) { return nil, boom }}
			if err := tg.Put(ctx(t), f); !errors.Is(err, boom) {
				t.Errorf("target %d: Put with a failing Open = %v, want it to wrap %v", i, err, boom)
			}
			expectMissing(t, r, i, "channel_720p_12.ts")
		}
	})

	t.Run("RejectedNames", func(t *testing.T) {
		o, _ := open(t, newOutput)
		for i, tg := range o.Targets() {
			for _, name := range BadNames {
				opened := false
				f := output.File{Name: name, ContentType: "video/mp2t", Size: 1, Open: func() (io.ReadCloser, error) {
					opened = true
					return io.NopCloser(bytes.NewReader([]byte("x"))), nil
				}}
				if err := tg.Put(ctx(t), f); !errors.Is(err, output.ErrInvalidName) {
					t.Errorf("target %d: Put(%q) = %v, want ErrInvalidName", i, name, err)
				}
				if opened {
					t.Errorf("target %d: Put(%q) opened the file", i, name)
				}
				if err := tg.Delete(ctx(t), name); !errors.Is(err, output.ErrInvalidName) {
					t.Errorf("target %d: Delete(%q) = %v, want ErrInvalidName", i, name, err)
				}
			}
		}
	})
}

// BadNames are names every target must reject.
var BadNames = []string{
	"", ".", "..", "../x", "../../etc/passwd", "a/b", "/abs", `a\b`, `..\x`, ".hidden",
	"x/../y", "a..b", "a b", "a\x00b", "é.ts", "a%2fb", "a?b", "a#b", "a:b",
}

func open(t *testing.T, newOutput func(t *testing.T) (output.Output, Reader)) (output.Output, Reader) {
	t.Helper()
	o, r := newOutput(t)
	if o == nil {
		t.Fatal("newOutput returned a nil output")
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return o, r
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 2*Timeout)
	t.Cleanup(cancel)
	return c
}

func mustPut(t *testing.T, tg output.Target, f output.File) {
	t.Helper()
	if err := tg.Put(ctx(t), f); err != nil {
		t.Fatalf("%s: Put(%s): %v", tg.Name(), f.Name, err)
	}
}

func expect(t *testing.T, r Reader, target int, name string, want []byte) {
	t.Helper()
	if r == nil {
		return
	}
	obj, ok := r.Get(t, target, name)
	if !ok {
		t.Fatalf("target %d: %s not stored", target, name)
	}
	if !bytes.Equal(obj.Data, want) {
		t.Fatalf("target %d: %s = %q, want %q", target, name, clip(obj.Data), clip(want))
	}
}

func expectMissing(t *testing.T, r Reader, target int, name string) {
	t.Helper()
	if r == nil {
		return
	}
	if obj, ok := r.Get(t, target, name); ok {
		t.Fatalf("target %d: %s is stored (%d bytes), want missing", target, name, len(obj.Data))
	}
}

func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}

// BytesFile returns a File with data as its content.
func BytesFile(name, contentType string, data []byte) output.File {
	return output.File{
		Name:        name,
		ContentType: contentType,
		Size:        int64(len(data)),
		Open:        func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
}

// Generated is a file whose pseudo-random content is generated on the fly
// by every Open, so it is never held in memory whole.
type Generated struct {
	Name string
	Size int64
	Seed uint64
	// PauseAt, when > 0, makes readers call Resume once after producing
	// that many bytes; a Resume error fails the read.
	PauseAt int64
	Resume  func(ctx context.Context) error

	opens atomic.Int64
}

// NewGenerated returns a generated file.
func NewGenerated(name string, size int64, seed uint64) *Generated {
	return &Generated{Name: name, Size: size, Seed: seed}
}

// Opens returns how many times the file was opened.
func (g *Generated) Opens() int64 { return g.opens.Load() }

// File returns the output.File.
func (g *Generated) File() output.File {
	return output.File{Name: g.Name, ContentType: "video/mp2t", Size: g.Size, Open: func() (io.ReadCloser, error) {
		g.opens.Add(1)
		c, cancel := context.WithCancel(context.Background())
		return &genReader{g: g, rng: rand.NewChaCha8(seed32(g.Seed)), left: g.Size, ctx: c, cancel: cancel}, nil
	}}
}

// Sum returns the SHA-256 of the content.
func (g *Generated) Sum() [32]byte {
	h := sha256.New()
	io.Copy(h, io.LimitReader(rand.NewChaCha8(seed32(g.Seed)), g.Size))
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func seed32(s uint64) [32]byte {
	var b [32]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(s >> (8 * i))
	}
	return b
}

type genReader struct {
	g      *Generated
	rng    *rand.ChaCha8
	left   int64
	read   int64
	paused bool
	ctx    context.Context
	cancel context.CancelFunc
}

func (r *genReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if r.g.PauseAt > 0 && !r.paused && r.read >= r.g.PauseAt {
		r.paused = true
		if err := r.g.Resume(r.ctx); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	if r.g.PauseAt > 0 && !r.paused && r.read+int64(len(p)) > r.g.PauseAt {
		p = p[:r.g.PauseAt-r.read]
	}
	n, _ := r.rng.Read(p)
	r.left -= int64(n)
	r.read += int64(n)
	return n, nil
}

func (r *genReader) Close() error {
	r.cancel()
	return nil
}

// Trickle is a slow endless source: each Read returns a little data after
// a short pause, like an upstream that is still downloading.
type Trickle struct {
	size    int64
	started chan struct{}
	once    sync.Once
	stop    chan struct{}
	stopped sync.Once
}

// NewTrickle returns a trickle source announcing size bytes.
func NewTrickle(size int64) *Trickle {
	return &Trickle{size: size, started: make(chan struct{}), stop: make(chan struct{})}
}

// Started is closed after the first Read.
func (s *Trickle) Started() <-chan struct{} { return s.started }

// Stop makes pending and later Reads fail.
func (s *Trickle) Stop() { s.stopped.Do(func() { close(s.stop) }) }

// File returns a File reading from the trickle.
func (s *Trickle) File(name string) output.File {
	return output.File{Name: name, ContentType: "video/mp2t", Size: s.size, Open: func() (io.ReadCloser, error) {
		return &trickleReader{s: s}, nil
	}}
}

type trickleReader struct {
	s      *Trickle
	closed atomic.Bool
}

func (r *trickleReader) Read(p []byte) (int, error) {
	if r.closed.Load() {
		return 0, errors.New("read after close")
	}
	r.s.once.Do(func() { close(r.s.started) })
	select {
	case <-r.s.stop:
		return 0, errors.New("trickle stopped")
	case <-time.After(time.Millisecond): // the pace of a slow upstream
	}
	if len(p) > 1024 {
		p = p[:1024]
	}
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

func (r *trickleReader) Close() error {
	r.closed.Store(true)
	return nil
}
