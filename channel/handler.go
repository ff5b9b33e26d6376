package channel

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/channel/internal/asset"
)

// Content types of playlists.
const mpegURL = "application/vnd.apple.mpegurl"

// maxSessionBody bounds the body of POST /channels.
const maxSessionBody = 64 << 10

// Handler returns the engine's HTTP handler:
//
//	GET  /channels                           list of channels (JSON)
//	POST /channels                           create a session channel: body {"assets":["a","b"],"order":"shuffle","seed":1} -> 201 JSON
//	GET  /channels/new?assets=a,b[&order=&seed=]  the same with query parameters
//	GET  /channels/{id}/master.m3u8          multivariant playlist
//	GET  /channels/{id}/video_{n}.m3u8       live media playlists (also audio_{n}, subs_{n})
//	GET  /channels/{id}/seg/{asset}/{n}.{ext} segments, init sections and keys of the assets
//
// Another mux can mount it with mux.Handle("/channels", h) and
// mux.Handle("/channels/", h); a path prefix removed by http.StripPrefix is
// kept in the URLs the handler returns.
func (e *Engine) Handler() http.Handler { return e.handler }

func (e *Engine) newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /channels", e.serveList)
	mux.HandleFunc("POST /channels", e.serveCreate)
	mux.HandleFunc("OPTIONS /channels", serveOptions)
	mux.HandleFunc("GET /channels/new", e.serveCreate)
	mux.HandleFunc("GET /channels/{id}/{name}", e.servePlaylist)
	mux.HandleFunc("GET /channels/{id}/seg/{asset}/{file}", e.serveResource)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		mux.ServeHTTP(w, r)
	})
}

func serveOptions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// baseURL returns scheme://host plus the path prefix in front of
// "/channels" in the original request (kept when mounted under a prefix).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	p := r.URL.Path
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		p = u.Path
	}
	prefix := ""
	if i := strings.LastIndex(p, "/channels"); i > 0 {
		prefix = p[:i]
	}
	return scheme + "://" + r.Host + prefix
}

func (e *Engine) serveList(w http.ResponseWriter, r *http.Request) {
	list := e.Channels()
	base := baseURL(r)
	for i := range list {
		list[i].URL = base + list[i].Path
	}
	if list == nil {
		list = []ChannelInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": list})
}

func (e *Engine) serveCreate(w http.ResponseWriter, r *http.Request) {
	var spec SessionSpec
	q := r.URL.Query()
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSessionBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			writeError(w, http.StatusBadRequest, errors.New("session: invalid JSON body: "+err.Error()))
			return
		}
	} else {
		for _, v := range q["assets"] {
			for _, id := range strings.Split(v, ",") {
				if id = strings.TrimSpace(id); id != "" {
					spec.Assets = append(spec.Assets, id)
				}
			}
		}
		spec.Order = config.Order(q.Get("order"))
		if s := q.Get("seed"); s != "" {
			seed, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				writeError(w, http.StatusBadRequest, errors.New("session: invalid seed "+strconv.Quote(s)))
				return
			}
			spec.Seed = seed
		}
	}
	info, err := e.NewSession(spec)
	switch {
	case errors.Is(err, ErrTooManySessions):
		writeError(w, http.StatusTooManyRequests, err)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err)
		return
	}
	info.URL = baseURL(r) + info.Path
	w.Header().Set("Location", info.URL)
	writeJSON(w, http.StatusCreated, info)
}

func (e *Engine) servePlaylist(w http.ResponseWriter, r *http.Request) {
	ch := e.lookup(r.PathValue("id"))
	if ch == nil {
		http.NotFound(w, r)
		return
	}
	_ = e.refreshSchedule(ch) // logged once; the previous schedule plays
	name := r.PathValue("name")
	var body []byte
	if name == "master.m3u8" {
		body = ch.master
		w.Header().Set("Cache-Control", "max-age=60")
	} else {
		t := ch.track(name)
		if t < 0 {
			http.NotFound(w, r)
			return
		}
		now := e.now()
		m, err := ch.media(t, now)
		if errors.Is(err, errNotStarted) {
			wait := max(ch.epoch.Sub(now)+time.Duration(ch.targetDuration)*time.Second, time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
			http.Error(w, "channel "+ch.id+" starts at "+ch.epoch.UTC().Format(time.RFC3339), http.StatusServiceUnavailable)
			return
		}
		body = m.Encode()
		w.Header().Set("Cache-Control", "max-age=1")
	}
	w.Header().Set("Content-Type", mpegURL)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func (e *Engine) serveResource(w http.ResponseWriter, r *http.Request) {
	ch := e.lookup(r.PathValue("id"))
	if ch == nil {
		http.NotFound(w, r)
		return
	}
	id := r.PathValue("asset")
	file := r.PathValue("file")
	ext := path.Ext(file)
	i, err := strconv.Atoi(strings.TrimSuffix(file, ext))
	if err != nil || strconv.Itoa(i)+ext != file {
		http.NotFound(w, r)
		return
	}
	var l asset.Loc
	if strings.HasPrefix(id, liveAssetPrefix) {
		var ok bool
		if l, ok = ch.liveResource(id, i); !ok || asset.ResourceExt(l.Name) != ext {
			http.NotFound(w, r)
			return
		}
	} else {
		a := ch.assets[id]
		if a == nil {
			a = ch.tl.Load().assets[id]
		}
		if a == nil || i < 0 || i >= len(a.Res) || asset.ResourceExt(a.Res[i].Name) != ext {
			http.NotFound(w, r)
			return
		}
		l = a.Res[i]
	}
	data, err := e.fetch.Read(r.Context(), l)
	if err != nil {
		if r.Context().Err() == nil {
			e.metrics.assetErrors.WithLabelValues(id, "segment").Inc()
			e.logOnce("resource/"+id, "channel asset segment failed", logKeyChannel, ch.id, logKeyAsset, id, logKeyError, err)
		}
		http.Error(w, "segment unavailable", http.StatusBadGateway)
		return
	}
	if strings.HasPrefix(id, "_") && !strings.HasPrefix(id, liveAssetPrefix) { // the slate: configured ids start with a letter or digit
		e.metrics.slate.WithLabelValues(channelLabel(ch)).Inc()
	}
	w.Header().Set("Content-Type", asset.ContentType(l.Name))
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}
