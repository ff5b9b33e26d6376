package origin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/cdp"
	"github.com/pullpush/pullpush/internal/testutil"
)

// playerServer serves o's ingest and playback (through out, when set, else
// o's handler) with a player page at / and its script at scriptPath on
// loopback; it is closed at the end of the test.
func playerServer(t *testing.T, o *Origin, out http.Handler, scriptPath string, script []byte, page string) *httptest.Server {
	t.Helper()
	if out == nil {
		out = o.Handler()
	}
	mux := http.NewServeMux()
	mux.Handle("/in/", o.Handler())
	mux.Handle("/out/", out)
	mux.HandleFunc(scriptPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(script)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// openPlayer starts headless Chromium (autoplay allowed), opens a page
// that reports console errors and exceptions into the returned buffer,
// and navigates it to url. Browser and page close at the end of the test.
func openPlayer(t *testing.T, ctx context.Context, chromium, url string) (*cdp.Page, *testutil.LockedBuffer) {
	t.Helper()
	b := cdp.StartT(t, ctx, chromium, "--autoplay-policy=no-user-gesture-required")
	page := b.OpenPage(t, ctx)
	problems := &testutil.LockedBuffer{}
	go collectProblems(page, problems)
	for _, domain := range []string{"Runtime.enable", "Page.enable"} {
		if err := page.Call(ctx, domain, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := page.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	return page, problems
}

// pushLive returns a function that pushes, on p, every segment of l that
// the wall clock has completed (segment n covers epoch+n .. epoch+n+1 s).
func pushLive(l *live, p *pusher) func() {
	next := 0
	return func() {
		for time.Now().After(l.epoch.Add(time.Duration(next+1) * time.Second)) {
			l.push(p, next)
			next++
		}
	}
}
