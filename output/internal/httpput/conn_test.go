package httpput

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pullpush/pullpush/output"
)

// TestBufferedConnSendsBodiesIntact uploads bodies of many sizes, from
// memory and from files (the sendfile path), through NewTransport's pooled
// copy buffers, several at once, and checks every byte arrives.
func TestBufferedConnSendsBodiesIntact(t *testing.T) {
	var mu sync.Mutex
	got := map[string][32]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		mu.Lock()
		got[r.URL.Path] = sha256.Sum256(b)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	dir, _ := url.Parse(srv.URL + "/d/")
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	c := New(Config{Dir: dir, Transport: tr})

	rng := rand.New(rand.NewPCG(7, 7))
	want := map[string][32]byte{}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i, size := range []int{1, 100, copyBufferSize - 1, copyBufferSize, copyBufferSize + 1, 100_000, 1 << 20} {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		path := filepath.Join(t.TempDir(), "seg")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, fromFile := range []bool{false, true} {
			name := "m"
			if fromFile {
				name = "f"
			}
			name += string(rune('a'+i)) + ".ts"
			want["/d/"+name] = sha256.Sum256(data)
			open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
			if fromFile {
				open = func() (io.ReadCloser, error) { return os.Open(path) }
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- c.Put(context.Background(), output.File{Name: name, Size: int64(size), Open: open})
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, sum := range want {
		if got[name] != sum {
			t.Errorf("%s arrived different", name)
		}
	}
}
