// Package dashboard serves the page of `pullpush demo`: the relay's
// fetchers (state, lag, segments pushed per target, last error), refreshed
// from the REST API every 2 s; a player on the origin's live playlist
// with Live, Start over and −60 s buttons and an HLS/DASH switch; the
// origin's ingest status per input; and a button that harvests the last
// minute into a VOD asset and links it.
//
// Everything the page needs is embedded in the binary: the HTML, its
// script and style sheet, and vendored hls.js and dash.js releases (see
// vendor/README.md). The page loads nothing from another site.
package dashboard

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"path"
	"sync"
	"time"
)

// AssetPrefix is the path under which the page's script, style sheet and
// hls.js are served. A mux that mounts Handler must route both "/" and
// AssetPrefix to it.
const AssetPrefix = "/dashboard/"

// Paths of the embedded assets, as the page references them.
const (
	HLSJSPath  = AssetPrefix + "vendor/hls.min.js"
	DashJSPath = AssetPrefix + "vendor/dash.mediaplayer.min.js"
	ScriptPath = AssetPrefix + "app.js"
	StylePath  = AssetPrefix + "style.css"
)

// HLSJSVersion is the version of the vendored hls.js.
const HLSJSVersion = "1.5.20"

// DashJSVersion is the version of the vendored dash.js.
const DashJSVersion = "4.7.4"

//go:embed index.html
var pageHTML string

//go:embed app.js style.css vendor/hls.min.js vendor/hls.js-LICENSE vendor/dash.mediaplayer.min.js vendor/dashjs-LICENSE
var assets embed.FS

// page is parsed once, on first use (not at start-up in every command of
// the binary); the template has no mutable state.
var page = sync.OnceValue(func() *template.Template { return template.Must(template.New("index.html").Parse(pageHTML)) })

// Link is a URL listed on the page.
type Link struct {
	Label string
	URL   string
	// Note is a short explanation shown after the link (optional).
	Note string
}

// Config configures the page.
type Config struct {
	// Title is the page heading (default "pullpush").
	Title string
	// Playback is the URL of the origin's live multivariant playlist the
	// player opens, e.g. "/out/v1/1/index.m3u8". Start over and −60 s add
	// ?start= (epoch seconds) to it, the origin's time-shift.
	Playback string
	// DASH, when set, is the URL of the same channel's live MPD; the page
	// then offers an HLS/DASH switch and plays it with dash.js (time-shift
	// with the same ?start=).
	DASH string
	// Fetchers is the URL of the fetcher list (GET /api/v1/fetcher); empty
	// leaves the fetchers card out (an origin on its own).
	Fetchers string
	// Ingest, when set, is the URL of the origin channel's status (GET
	// /api/v1/channels/{id} of the origin's control API); the page shows
	// each input's state, last segment and the channel's switches.
	Ingest string
	// Harvest, when set, is a URL the page POSTs (no body) to harvest the
	// last minute. It answers 202 with {"status": URL of the job (GET
	// /api/v1/harvest/{id}), "play": URL of the asset's multivariant
	// playlist once the job succeeded}, or an error as {"error": ...}.
	Harvest string
	// Links returns the links to list, given the time the page is rendered
	// (time-shift examples depend on it). Optional.
	Links func(now time.Time) []Link
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// pageData is what index.html renders.
type pageData struct {
	Title, Playback, Fetchers   string
	DASH, Ingest, Harvest       string
	HLSJS, DashJS               string
	Script, Style               string
	HLSJSVersion, DashJSVersion string
	Links                       []Link
}

// contentSecurityPolicy allows only this server's scripts and styles;
// hls.js needs blob: for its transmuxing worker and the MediaSource URL.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Handler returns the handler of the page (GET / and HEAD /) and its assets
// (GET AssetPrefix+name). Other paths get 404.
func Handler(cfg Config) http.Handler {
	cfg = cfg.withDefaults()
	files := http.StripPrefix(AssetPrefix, http.FileServerFS(assets))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		servePage(w, r, cfg)
	})
	mux.HandleFunc("GET "+AssetPrefix+"{file...}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "" || path.Clean(name) != name || !isAsset(name) {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// The assets change only with the binary; a short max-age keeps
		// a rebuilt demo from showing a stale script for long.
		h.Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
	return mux
}

// Page returns a handler that renders the page for cfg at whatever path
// it is mounted on (GET and HEAD), e.g. one page per channel; the assets
// are Handler's.
func Page(cfg Config) http.Handler {
	cfg = cfg.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { servePage(w, r, cfg) })
}

func (cfg Config) withDefaults() Config {
	if cfg.Title == "" {
		cfg.Title = "pullpush"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// isAsset reports whether name is one of the embedded assets (the
// embedded index.html is served only as the rendered page).
func isAsset(name string) bool {
	switch name {
	case "app.js", "style.css", "vendor/hls.min.js", "vendor/hls.js-LICENSE",
		"vendor/dash.mediaplayer.min.js", "vendor/dashjs-LICENSE":
		return true
	}
	return false
}

func servePage(w http.ResponseWriter, r *http.Request, cfg Config) {
	d := pageData{
		Title: cfg.Title, Playback: cfg.Playback, Fetchers: cfg.Fetchers,
		DASH: cfg.DASH, Ingest: cfg.Ingest, Harvest: cfg.Harvest,
		HLSJS: HLSJSPath, DashJS: DashJSPath, Script: ScriptPath, Style: StylePath,
		HLSJSVersion: HLSJSVersion, DashJSVersion: DashJSVersion,
	}
	if cfg.Links != nil {
		d.Links = cfg.Links(cfg.Now())
	}
	var buf bytes.Buffer
	if err := page().Execute(&buf, d); err != nil {
		http.Error(w, "cannot render the dashboard", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(buf.Bytes()))
}
