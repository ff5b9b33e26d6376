package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPage(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var gotNow time.Time
	h := Handler(Config{
		Title:    "demo <1>",
		Playback: "/out/v1/1/index.m3u8",
		Fetchers: "/api/v1/fetcher",
		Now:      func() time.Time { return now },
		Links: func(n time.Time) []Link {
			gotNow = n
			return []Link{
				{Label: "Start over", URL: "/out/v1/1/index.m3u8?start=2026-01-02T02:59:05Z&x=<y>", Note: "from 5 min ago"},
				{Label: "Bad", URL: "javascript:alert(1)"},
			}
		},
	})
	resp, body := serve(t, h, http.MethodGet, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	if !gotNow.Equal(now) {
		t.Errorf("Links got %v, want the clock's %v", gotNow, now)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "script-src 'self'",
	} {
		if got := resp.Header.Get(k); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, want := range []string{
		`<title>demo &lt;1&gt;</title>`,
		`data-playback="/out/v1/1/index.m3u8"`,
		`data-fetchers="/api/v1/fetcher"`,
		`<script src="/dashboard/vendor/hls.min.js">`,
		`<script src="/dashboard/app.js">`,
		`href="/dashboard/style.css"`,
		`id="btn-live"`, `id="btn-startover"`, `id="btn-back"`, `id="video"`, `id="fetchers"`,
		`href="/out/v1/1/index.m3u8?start=2026-01-02T02:59:05Z&amp;x=%3cy%3e"`,
		`<small>from 5 min ago</small>`,
		`href="#ZgotmplZ"`, // html/template refuses the javascript: URL
		"hls.js " + HLSJSVersion,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "onclick=") {
		t.Error("page has inline script, which the CSP forbids")
	}
	if resp, body := serve(t, h, http.MethodHead, "/"); resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD /: %d %q", resp.StatusCode, body)
	}
}

func TestPageDefaults(t *testing.T) {
	_, body := serve(t, Handler(Config{Playback: "/p.m3u8"}), http.MethodGet, "/")
	if !strings.Contains(body, "<title>pullpush</title>") || strings.Contains(body, "<dl") {
		t.Errorf("default page:\n%s", body)
	}
	// Without DASH, ingest and harvest URLs the page has none of their
	// controls and loads no dash.js.
	for _, no := range []string{"data-dash", "btn-dash", "dash.mediaplayer", "data-ingest", `id="ingest"`, "btn-harvest"} {
		if strings.Contains(body, no) {
			t.Errorf("default page has %q", no)
		}
	}
}

// TestPageWithoutFetchers: Page renders the page at any path; without a
// fetcher list URL it has no fetchers card and the script polls nothing.
func TestPageWithoutFetchers(t *testing.T) {
	_, body := serve(t, Page(Config{Title: "origin", Playback: "/out/v1/7/index.m3u8", Ingest: "/api/v1/channels/7"}), http.MethodGet, "/watch/7")
	for _, want := range []string{`data-playback="/out/v1/7/index.m3u8"`, `data-ingest="/api/v1/channels/7"`, "<title>origin</title>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, no := range []string{"data-fetchers", `id="fetchers"`} {
		if strings.Contains(body, no) {
			t.Errorf("page without fetchers has %q", no)
		}
	}
}

// TestPageDASHIngestHarvest: with a DASH URL the page has the HLS/DASH
// switch and loads the vendored dash.js; with the ingest status and
// harvest URLs it has the origin card and the harvest button.
func TestPageDASHIngestHarvest(t *testing.T) {
	_, body := serve(t, Handler(Config{
		Playback: "/out/v1/1/index.m3u8", DASH: "/out/v1/1/dash/index.mpd",
		Ingest: "/api/v1/channels/1", Harvest: "/demo/harvest",
	}), http.MethodGet, "/")
	for _, want := range []string{
		`data-dash="/out/v1/1/dash/index.mpd"`, `data-ingest="/api/v1/channels/1"`, `data-harvest="/demo/harvest"`,
		`id="btn-hls"`, `id="btn-dash"`, `data-format-button="dash"`,
		`<script src="/dashboard/vendor/dash.mediaplayer.min.js">`, "dash.js " + DashJSVersion,
		`id="ingest"`, `id="btn-harvest"`, `id="harvest-status"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestAssets(t *testing.T) {
	h := Handler(Config{})
	for _, c := range []struct {
		path, ctype, contains string
	}{
		{HLSJSPath, "javascript", "Hls"},
		{ScriptPath, "javascript", "btn-back"},
		{StylePath, "text/css", "video"},
		{AssetPrefix + "vendor/hls.js-LICENSE", "text/plain", "Apache License"},
		{DashJSPath, "javascript", "dashjs"},
		{AssetPrefix + "vendor/dashjs-LICENSE", "text/plain", "BSD License"},
	} {
		resp, body := serve(t, h, http.MethodGet, c.path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(body, c.contains) {
			t.Errorf("GET %s: %d %q, %d bytes", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") == "" {
			t.Errorf("GET %s: headers %v", c.path, resp.Header)
		}
	}
	for _, p := range []string{
		"/x", "/index.html", AssetPrefix, AssetPrefix + "index.html", AssetPrefix + "vendor/", AssetPrefix + "dashboard.go",
	} {
		if resp, _ := serve(t, h, http.MethodGet, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	// Dot segments are redirected to the clean path by the mux, never served.
	for _, p := range []string{AssetPrefix + "../dashboard.go", AssetPrefix + "vendor/../app.js"} {
		if resp, _ := serve(t, h, http.MethodGet, p); resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s: 200", p)
		}
	}
	if resp, _ := serve(t, h, http.MethodPost, "/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", resp.StatusCode)
	}
}

// TestVendoredHLSJS checks that the embedded hls.js is the published
// release the README names (dist/hls.min.js of hls.js 1.5.20).
func TestVendoredHLSJS(t *testing.T) {
	b, err := os.ReadFile("vendor/hls.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	const want = "d016c1230496ee59f3f5b01c16cce4cc01b5a1d3d357adec200c908b131ebe49"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("vendor/hls.min.js sha256 %s, want %s (hls.js %s); update vendor/README.md, HLSJSVersion and this test together", got, want, HLSJSVersion)
	}
	readme, err := os.ReadFile("vendor/README.md")
	if err != nil || !strings.Contains(string(readme), "hls.js "+HLSJSVersion) {
		t.Errorf("vendor/README.md does not name hls.js %s: %v", HLSJSVersion, err)
	}
}

// TestVendoredDashJS checks that the embedded dash.js is the published
// release the README names (dist/dash.mediaplayer.min.js of dashjs 4.7.4).
func TestVendoredDashJS(t *testing.T) {
	b, err := os.ReadFile("vendor/dash.mediaplayer.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	const want = "66dff6f83ec1e22418f3fa17a2b2b9b21b7b3ffc290fd17a6a6595678c35ed9b"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("vendor/dash.mediaplayer.min.js sha256 %s, want %s (dashjs %s); update vendor/README.md, DashJSVersion and this test together", got, want, DashJSVersion)
	}
	readme, err := os.ReadFile("vendor/README.md")
	if err != nil || !strings.Contains(string(readme), "dashjs "+DashJSVersion) {
		t.Errorf("vendor/README.md does not name dashjs %s: %v", DashJSVersion, err)
	}
}
