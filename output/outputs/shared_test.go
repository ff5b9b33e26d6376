package outputs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
)

// TestOutputsShareConnections builds many HTTP outputs from one registry
// and checks that their uploads reuse a few connections instead of opening
// some per output, which is what makes a thousand fetchers cheap.
func TestOutputsShareConnections(t *testing.T) {
	var conns, puts atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		puts.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	reg := output.NewRegistry()
	outputs.Register(reg)
	const n = 20
	for i := range n {
		for _, kind := range []struct{ name, payload string }{
			{"mediapackage", fmt.Sprintf(`{"ingestUrls":[{"url":%q}]}`, srv.URL+fmt.Sprintf("/in/v2/ch%d/a/channel", i))},
			{"webdav", fmt.Sprintf(`{"url":%q}`, srv.URL+fmt.Sprintf("/dav/ch%d/", i))},
		} {
			out, err := reg.Build(kind.name, json.RawMessage(kind.payload))
			if err != nil {
				t.Fatal(err)
			}
			body := []byte("segment bytes")
			err = out.Targets()[0].Put(context.Background(), output.File{Name: "channel_0.ts", Size: int64(len(body)),
				Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }})
			if err != nil {
				t.Fatal(err)
			}
			out.Close() // must not close the connections the others share
		}
	}
	if puts.Load() != 2*n {
		t.Fatalf("%d PUTs, want %d", puts.Load(), 2*n)
	}
	if c := conns.Load(); c > 2 {
		t.Errorf("%d outputs opened %d connections, want them to share one", 2*n, c)
	}
}
