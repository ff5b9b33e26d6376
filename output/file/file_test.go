package file_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/file"
	"github.com/pullpush/pullpush/output/outputtest"
)

type reader struct{ dir string }

func (r reader) Get(t testing.TB, target int, name string) (outputtest.Object, bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return outputtest.Object{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return outputtest.Object{Data: data}, true
}

func newFile(t *testing.T) (*file.Output, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out", "live")
	o, err := file.New(file.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o, dir
}

// noTempFiles fails when dir holds anything but valid names.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if output.ValidName(e.Name()) != nil {
			t.Errorf("leftover file %q", e.Name())
		}
	}
}

func TestContract(t *testing.T) {
	outputtest.Run(t, func(t *testing.T) (output.Output, outputtest.Reader) {
		o, dir := newFile(t)
		t.Cleanup(func() { noTempFiles(t, dir) })
		return o, reader{dir}
	})
}

func TestNewAndName(t *testing.T) {
	o, dir := newFile(t)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("directory not created: %v", err)
	}
	if o.Dir() != dir || o.Stem() != "channel" || o.Targets()[0].Name() != "file "+dir {
		t.Errorf("Dir %q Stem %q Name %q", o.Dir(), o.Stem(), o.Targets()[0].Name())
	}
	if err := o.Targets()[0].Put(t.Context(), outputtest.BytesFile("channel.m3u8", "", []byte("#EXTM3U\n"))); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "channel.m3u8"))
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("stat: %v, mode %v", err, st.Mode())
	}
	notDir := filepath.Join(t.TempDir(), "f")
	os.WriteFile(notDir, nil, 0o644)
	if _, err := file.New(file.Config{Dir: notDir}); err == nil || err.Error() != "dir: is not a directory" {
		t.Errorf("New on a file = %v", err)
	}
}

// TestAtomicOverwrite overwrites a file with alternating complete contents
// while readers check that they only ever see one complete version.
func TestAtomicOverwrite(t *testing.T) {
	o, dir := newFile(t)
	tg := o.Targets()[0]
	const size = 512 << 10
	versions := [][]byte{bytes.Repeat([]byte("a"), size), bytes.Repeat([]byte("b"), size)}
	if err := tg.Put(t.Context(), outputtest.BytesFile("channel.m3u8", "", versions[0])); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Go(func() {
			for !stop.Load() {
				data, err := os.ReadFile(filepath.Join(dir, "channel.m3u8"))
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if !bytes.Equal(data, versions[0]) && !bytes.Equal(data, versions[1]) {
					t.Errorf("reader saw a partial file of %d bytes", len(data))
					return
				}
				reads.Add(1)
			}
		})
	}
	for i := 0; i < 30; i++ {
		if err := tg.Put(t.Context(), outputtest.BytesFile("channel.m3u8", "", versions[i%2])); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Error("readers never read")
	}
	noTempFiles(t, dir)
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("upstream connection reset")
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

func TestFailedPutKeepsOldContent(t *testing.T) {
	o, dir := newFile(t)
	tg := o.Targets()[0]
	if err := tg.Put(t.Context(), outputtest.BytesFile("channel_1.ts", "", []byte("old"))); err != nil {
		t.Fatal(err)
	}
	f := output.File{Name: "channel_1.ts", Size: 1 << 20, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(&failingReader{n: 100 << 10}), nil
	}}
	if err := tg.Put(t.Context(), f); err == nil || !strings.Contains(err.Error(), "upstream connection reset") {
		t.Fatalf("Put = %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "channel_1.ts"))
	if err != nil || string(data) != "old" {
		t.Errorf("after a failed Put: %q, %v", data, err)
	}
	// Too long a body is refused as well.
	long := outputtest.BytesFile("channel_1.ts", "", []byte("much longer"))
	long.Size = 3
	if err := tg.Put(t.Context(), long); err == nil {
		t.Error("Put of a body longer than Size succeeded")
	}
	noTempFiles(t, dir)
}

func TestTraversalRejected(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	secret := filepath.Join(root, "secret")
	os.WriteFile(secret, []byte("keep"), 0o600)
	o, err := file.New(file.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	tg := o.Targets()[0]
	for _, name := range append(outputtest.BadNames, "../secret", "..%2fsecret", `..\secret`) {
		if err := tg.Put(t.Context(), outputtest.BytesFile(name, "", []byte("pwned"))); !errors.Is(err, output.ErrInvalidName) {
			t.Errorf("Put(%q) = %v", name, err)
		}
		if err := tg.Delete(t.Context(), name); !errors.Is(err, output.ErrInvalidName) {
			t.Errorf("Delete(%q) = %v", name, err)
		}
	}
	if data, err := os.ReadFile(secret); err != nil || string(data) != "keep" {
		t.Errorf("file outside the directory changed: %q %v", data, err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 2 {
		t.Errorf("root holds %d entries, want 2", len(entries))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("output dir holds %d entries, want 0", len(entries))
	}
}

var payloadCases = []struct{ name, payload, err string }{
	{"minimal", `{"dir":"out"}`, ""},
	{"stem", `{"dir":"out","stem":"live"}`, ""},
	{"absent", ``, "dir: required"},
	{"empty dir", `{"dir":""}`, "dir: required"},
	{"unknown", `{"dir":"out","path":"x"}`, "path: unknown field"},
	{"dir type", `{"dir":1}`, "dir: must be a string"},
	{"stem", `{"dir":"out","stem":".x"}`, "stem: must be a name of [A-Za-z0-9._-] not starting with a dot"},
	{"stem slash", `{"dir":"out","stem":"a/b"}`, "stem: must be a name of [A-Za-z0-9._-] not starting with a dot"},
}

// factoryIn returns file.Factory building below root whatever dir the
// payload names, so tests and the fuzzer never write elsewhere.
func factoryIn(root string) output.Factory {
	f := file.Factory
	f.New = func(payload json.RawMessage) (output.Output, error) {
		cfg, err := file.ParsePayload(payload)
		if err != nil {
			return nil, err
		}
		if cfg.Dir != "" {
			cfg.Dir = filepath.Join(root, "d")
		}
		return file.New(cfg)
	}
	return f
}

func TestPayload(t *testing.T) {
	f := factoryIn(t.TempDir())
	for _, c := range payloadCases {
		t.Run(c.name, func(t *testing.T) {
			o, err := f.New(json.RawMessage(c.payload))
			if c.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				o.Close()
				return
			}
			if err == nil || err.Error() != c.err || !errors.Is(err, output.ErrInvalidPayload) {
				t.Errorf("error = %v, want %q wrapping ErrInvalidPayload", err, c.err)
			}
		})
	}
}

func TestSchema(t *testing.T) {
	outputtest.CheckSchema(t, file.Factory, file.Payload{})
}

func FuzzFilePayload(f *testing.F) {
	for _, c := range payloadCases {
		f.Add([]byte(c.payload))
	}
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, payload []byte) {
		outputtest.CheckPayload(t, factoryIn(root), payload)
	})
}
