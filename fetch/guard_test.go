package fetch_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/output/void"
)

// guardSource serves a live source on 127.0.0.1; /redirect/... answers a
// redirect to the same path on "localhost" (still loopback).
func guardSource(t *testing.T) (*livesource.Source, *httptest.Server) {
	t.Helper()
	src := livesource.New(livesource.Config{Set: testmedia.MustLoad(testmedia.TS)})
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/redirect/", func(w http.ResponseWriter, r *http.Request) {
		to := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + strings.TrimPrefix(r.URL.Path, "/redirect")
		http.Redirect(w, r, to, http.StatusFound)
	})
	mux.HandleFunc("/ftp/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://127.0.0.1/master.m3u8", http.StatusFound)
	})
	mux.Handle("/", src)
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return src, srv
}

func newVoid(t *testing.T) *void.Output {
	t.Helper()
	return void.New()
}

// runRefused runs a fetcher and waits until it reports a refused source.
func runRefused(t *testing.T, cfg fetch.Config, want string) {
	t.Helper()
	cfg.SpoolDir = t.TempDir()
	f, err := fetch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testutil.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(f.Status().LastError, want)
	}, "source not refused with %q: %v", want, status{f})
	if st := f.Status(); st.State == fetch.StateRunning || len(st.Renditions) != 0 {
		t.Errorf("refused source got going: %+v", st)
	}
}

func TestDenyPrivateRefusesLoopback(t *testing.T) {
	src, srv := guardSource(t)
	// A literal private address is refused up front.
	_, err := fetch.New(fetch.Config{URL: srv.URL + livesource.MasterPath, Output: newVoid(t), DenyPrivate: true})
	if !errors.Is(err, fetch.ErrSourceNotAllowed) {
		t.Fatalf("New with a loopback source: %v, want ErrSourceNotAllowed", err)
	}
	// A name is checked on the address it resolves to, when connecting.
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + livesource.MasterPath
	runRefused(t, fetch.Config{URL: byName, Output: newVoid(t), DenyPrivate: true}, "private, loopback or reserved")
	if n := src.Requests(livesource.MasterPath); n != 0 {
		t.Errorf("source got %d requests", n)
	}
	// DenyPrivate cannot be enforced on a caller's client.
	if _, err := fetch.New(fetch.Config{URL: "http://example.com/x.m3u8", Output: newVoid(t), DenyPrivate: true, Client: http.DefaultClient}); err == nil {
		t.Error("DenyPrivate with a custom client accepted")
	}
}

func TestAllowHosts(t *testing.T) {
	src, srv := guardSource(t)
	_, err := fetch.New(fetch.Config{URL: srv.URL + livesource.MasterPath, Output: newVoid(t), AllowHosts: []string{"cdn.example.com"}})
	if !errors.Is(err, fetch.ErrSourceNotAllowed) {
		t.Fatalf("New with a source host off the list: %v, want ErrSourceNotAllowed", err)
	}
	if _, err := fetch.New(fetch.Config{URL: srv.URL, Output: newVoid(t), AllowHosts: []string{"http://x"}}); err == nil {
		t.Error("malformed allowed host accepted")
	}
	// A redirect to a host off the list is refused before connecting.
	runRefused(t, fetch.Config{URL: srv.URL + "/redirect" + livesource.MasterPath, Output: newVoid(t), AllowHosts: []string{"127.0.0.1"}},
		`host "localhost" is not in the allowed hosts`)
	// So is a redirect to another scheme, also with a caller's client.
	runRefused(t, fetch.Config{URL: srv.URL + "/ftp/", Output: newVoid(t), Client: &http.Client{}}, `scheme "ftp" is not http or https`)
	if n := src.Requests(livesource.MasterPath); n != 0 {
		t.Errorf("source got %d requests", n)
	}

	// A listed host relays.
	cfg := fetch.Config{URL: srv.URL + livesource.MasterPath, Output: newVoid(t), AllowHosts: []string{"127.0.0.1"},
		SpoolDir: t.TempDir(), PollInterval: 30 * time.Millisecond}
	f, err := fetch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testutil.Eventually(t, 10*time.Second, func() bool { return f.Status().SegmentsPushed > 0 }, "allowed source not relayed: %v", status{f})
}
