package harvest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/origin"
	"github.com/pullpush/pullpush/output"
)

// indexName is the asset's multivariant playlist.
const indexName = "index.m3u8"

// multivariantPath is the origin path of the window's multivariant
// playlist.
func (m *Manager) multivariantPath(req Request) string {
	p := "/out/v1/" + url.PathEscape(req.Channel) + "/"
	if req.Endpoint != "" {
		p += url.PathEscape(req.Endpoint) + "/"
	}
	q := url.Values{}
	q.Set("start", req.Start.UTC().Format(time.RFC3339Nano))
	q.Set("end", req.End.UTC().Format(time.RFC3339Nano))
	name := "index.m3u8"
	if m.cfg.ManifestFile != nil {
		if f := m.cfg.ManifestFile(req.Channel, req.Endpoint); f != "" {
			name = f
		}
	}
	return p + name + "?" + q.Encode()
}

// statusError is a non-200 answer of the origin.
type statusError struct {
	path string
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: %d %s", e.path, e.code, e.msg) }

// memWriter is the in-process ResponseWriter of get.
type memWriter struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (w *memWriter) Header() http.Header { return w.h }
func (w *memWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *memWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(p)
}

// get fetches an origin path (with its query) in process.
func (m *Manager) get(ctx context.Context, p string) ([]byte, error) {
	// In process, with no CDN secret: the origin trusts the request.
	req, err := http.NewRequestWithContext(origin.Trusted(ctx), http.MethodGet, "http://origin"+p, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", p, err)
	}
	req.RemoteAddr = "harvest"
	w := &memWriter{h: http.Header{}}
	m.cfg.Origin.ServeHTTP(w, req)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if w.code != http.StatusOK && w.code != 0 {
		msg := strings.TrimSpace(truncate(w.body.String(), 200))
		var e struct{ Error string }
		if json.Unmarshal(w.body.Bytes(), &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, &statusError{path: p, code: w.code, msg: msg}
	}
	return w.body.Bytes(), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// asset is the plan of one harvest: the files to copy (origin path by
// flat name, in order) and the rewritten playlists.
type asset struct {
	files     []assetFile // segments and init sections
	seen      map[string]bool
	playlists []assetFile // media and I-frame playlists, then the multivariant
}

type assetFile struct {
	name string // flat name in the destination
	src  string // origin path (with query) to copy, or
	data []byte // the content (playlists)
}

// addFile adds the file uri names (relative to the origin path src,
// below dir) to a, once, and returns its flat name; "" for a URI that is
// not the origin's.
func (a *asset) addFile(dir, src, uri string) (string, error) {
	fsrc, plain, err := resolve(src, uri)
	if err != nil || fsrc == "" {
		return "", err
	}
	fname, err := flatName(dir, plain)
	if err != nil {
		return "", err
	}
	if !a.seen[fname] {
		a.seen[fname] = true
		a.files = append(a.files, assetFile{name: fname, src: fsrc})
	}
	return fname, nil
}

// flatName maps an origin path below dir to one file name: the slashes of
// its relative part become underscores.
func flatName(dir, p string) (string, error) {
	rel, ok := strings.CutPrefix(p, dir)
	if !ok || rel == "" {
		return "", fmt.Errorf("%s is outside the endpoint", p)
	}
	name := strings.ReplaceAll(rel, "/", "_")
	if err := output.CheckName(name); err != nil {
		return "", err
	}
	return name, nil
}

// resolve resolves uri against the origin path base (a file path, with or
// without query) and returns the path with query and without.
func resolve(base, uri string) (withQuery, plain string, err error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", "", err
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", fmt.Errorf("URI %q: %w", uri, err)
	}
	if u.IsAbs() || u.Host != "" {
		return "", "", nil // not the origin's: kept as is
	}
	r := b.ResolveReference(u)
	return r.RequestURI(), r.Path, nil
}

// plan fetches and rewrites every playlist of the window.
func (m *Manager) plan(ctx context.Context, req Request) (*asset, error) {
	mvPath := m.multivariantPath(req)
	dir := path.Dir(strings.SplitN(mvPath, "?", 2)[0]) + "/"
	data, err := m.get(ctx, mvPath)
	if err != nil {
		return nil, err
	}
	mv, err := hls.ParseMultivariant(data)
	if err != nil {
		return nil, fmt.Errorf("multivariant playlist: %w", err)
	}
	a := &asset{seen: map[string]bool{}}
	media := func(uri *string) error {
		if *uri == "" {
			return nil
		}
		src, plain, err := resolve(mvPath, *uri)
		if err != nil || src == "" {
			return err
		}
		name, err := flatName(dir, plain)
		if err != nil {
			return err
		}
		if err := m.planMedia(ctx, a, dir, src, name); err != nil {
			return err
		}
		*uri = name
		return nil
	}
	for _, r := range mv.Renditions {
		if err := media(&r.URI); err != nil {
			return nil, err
		}
	}
	for _, v := range mv.Variants {
		if err := media(&v.URI); err != nil {
			return nil, err
		}
	}
	for _, v := range mv.IFrameVariants {
		if err := media(&v.URI); err != nil {
			return nil, err
		}
	}
	a.playlists = append(a.playlists, assetFile{name: indexName, data: mv.Encode()})
	if m.cfg.DASHManifest != nil {
		if name := m.cfg.DASHManifest(req.Channel, req.Endpoint); name != "" {
			q := mvPath[strings.IndexByte(mvPath, '?'):]
			if err := m.planDASH(ctx, a, dir, dir+name+q, name); err != nil {
				return nil, err
			}
		}
	}
	return a, nil
}

// planMedia fetches one media playlist of the window, adds its segments
// and init sections to a, and the playlist rewritten to their flat names.
func (m *Manager) planMedia(ctx context.Context, a *asset, dir, src, name string) error {
	for _, p := range a.playlists {
		if p.name == name {
			return nil
		}
	}
	data, err := m.get(ctx, src)
	if err != nil {
		return err
	}
	pl, err := hls.ParseMedia(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !pl.Endlist {
		return fmt.Errorf("%s: the window is not closed (no EXT-X-ENDLIST)", name)
	}
	if len(pl.Segments) == 0 {
		return fmt.Errorf("%s: the window has no segments", name)
	}
	file := func(uri *string) error {
		fname, err := a.addFile(dir, src, *uri)
		if err != nil {
			return err
		}
		if fname != "" {
			*uri = fname
		}
		return nil
	}
	for _, s := range pl.Segments {
		if err := file(&s.URI); err != nil {
			return err
		}
		if s.Map != nil {
			if err := file(&s.Map.URI); err != nil {
				return err
			}
		}
	}
	a.playlists = append(a.playlists, assetFile{name: name, data: pl.Encode()})
	return nil
}

// run copies the window of j to its destination.
func (m *Manager) run(ctx context.Context, j *Job) error {
	out, err := m.cfg.Outputs.Build(j.Destination.Output, j.Destination.Payload)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer out.Close()
	target := out.Targets()[0]
	a, err := m.plan(ctx, j.Request)
	if err != nil {
		return err
	}
	total := len(a.files) + len(a.playlists)
	put := func(f assetFile) error {
		data := f.data
		if f.src != "" {
			if data, err = m.get(ctx, f.src); err != nil {
				return err
			}
		}
		err := target.Put(ctx, output.File{
			Name: f.name, ContentType: contentType(f.name), Size: int64(len(data)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		})
		if err != nil {
			return fmt.Errorf("write %s to %s: %w", f.name, target.Name(), err)
		}
		m.progress(j, int64(len(data)), total)
		return nil
	}
	for _, f := range a.files {
		if err := put(f); err != nil {
			return err
		}
	}
	for _, f := range a.playlists {
		if err := put(f); err != nil {
			return err
		}
	}
	return nil
}

// contentType is the Content-Type of an asset file by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".ts":
		return "video/mp2t"
	case ".m4s", ".mp4":
		return "video/mp4"
	case ".vtt", ".webvtt":
		return "text/vtt"
	case ".aac":
		return "audio/aac"
	}
	return "application/octet-stream"
}
