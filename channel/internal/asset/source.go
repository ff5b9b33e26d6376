package asset

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FetchTimeout bounds one http request for an asset playlist or segment.
const FetchTimeout = 30 * time.Second

// Asset URI kinds.
const (
	KindLocal = "local"
	KindEmbed = "embed"
	kindHTTP  = "http"
)

// URIKind classifies an asset URI.
func URIKind(uri string) string {
	switch {
	case strings.HasPrefix(uri, "http://"), strings.HasPrefix(uri, "https://"):
		return kindHTTP
	case strings.HasPrefix(uri, "embed:"):
		return KindEmbed
	}
	return KindLocal
}

// maxResourceSize bounds a playlist or segment read from an asset.
const maxResourceSize = 256 << 20

// Loc is where a playlist or resource lives: a path in a file system or an
// absolute http(s) URL.
type Loc struct {
	fsys fs.FS  // nil for http
	root string // how to print fsys: "/" or "embed:"
	Name string // slash path in fsys, or absolute URL
}

func (l Loc) isHTTP() bool { return l.fsys == nil }

func (l Loc) String() string { return l.root + Redact(l.Name) }

// Redact hides the password of a URL with user information.
func Redact(uri string) string {
	if !strings.Contains(uri, "@") {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	return u.Redacted()
}

// Resolve resolves a URI found in the playlist at l.
func (l Loc) Resolve(ref string) (Loc, error) {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		u, err := url.Parse(ref)
		if err != nil {
			return Loc{}, fmt.Errorf("uri %q: %w", ref, err)
		}
		return Loc{Name: u.String()}, nil
	}
	if l.isHTTP() {
		base, err := url.Parse(l.Name)
		if err != nil {
			return Loc{}, fmt.Errorf("uri %q: %w", l.Name, err)
		}
		u, err := url.Parse(ref)
		if err != nil {
			return Loc{}, fmt.Errorf("uri %q: %w", ref, err)
		}
		if u.Scheme != "" {
			return Loc{}, fmt.Errorf("uri %q: unsupported scheme %q", ref, u.Scheme)
		}
		return Loc{Name: base.ResolveReference(u).String()}, nil
	}
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.Index(ref, ":"); i > 0 && !strings.ContainsAny(ref[:i], "/.") {
		return Loc{}, fmt.Errorf("uri %q: unsupported scheme %q", ref, ref[:i])
	}
	if ref == "" {
		return Loc{}, fmt.Errorf("empty uri")
	}
	var name string
	if strings.HasPrefix(ref, "/") {
		name = path.Clean(ref)[1:]
	} else {
		name = path.Join(path.Dir(l.Name), ref)
	}
	if name == "" || !fs.ValidPath(name) {
		return Loc{}, fmt.Errorf("uri %q: outside the asset's file system", ref)
	}
	return Loc{fsys: l.fsys, root: l.root, Name: name}, nil
}

// Locate locates the playlist of an asset URI.
func Locate(uri string, embedded fs.FS) (Loc, error) {
	var fsys fs.FS
	var name, root string
	switch URIKind(uri) {
	case kindHTTP:
		u, err := url.Parse(uri)
		if err != nil {
			return Loc{}, fmt.Errorf("uri %q: %w", uri, err)
		}
		return Loc{Name: u.String()}, nil
	case KindEmbed:
		fsys, root = embedded, "embed:"
		name = path.Clean(strings.TrimPrefix(strings.TrimPrefix(uri, "embed:"), "/"))
		if !fs.ValidPath(name) {
			return Loc{}, fmt.Errorf("uri %q: invalid embedded path", uri)
		}
	default:
		p := strings.TrimPrefix(uri, "file://")
		abs, err := filepath.Abs(p)
		if err != nil {
			return Loc{}, fmt.Errorf("uri %q: %w", uri, err)
		}
		fsys, root = os.DirFS("/"), "/"
		name = strings.TrimPrefix(filepath.ToSlash(abs), "/")
		if name == "" {
			name = "."
		}
	}
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return Loc{}, fmt.Errorf("open %s: %w", uri, bareErr(err))
	}
	if st.IsDir() {
		for _, f := range []string{"master.m3u8", "index.m3u8"} {
			p := path.Join(name, f)
			if _, err := fs.Stat(fsys, p); err == nil {
				return Loc{fsys: fsys, root: root, Name: p}, nil
			}
		}
		return Loc{}, fmt.Errorf("open %s: directory has no master.m3u8 or index.m3u8", uri)
	}
	return Loc{fsys: fsys, root: root, Name: name}, nil
}

// bareErr strips the operation and path from an *fs.PathError, which the
// caller reports in its own words.
func bareErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ContentType returns the Content-Type for a resource name.
func ContentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".ts":
		return "video/mp2t"
	case ".m4s", ".mp4", ".m4v", ".cmfv":
		return "video/mp4"
	case ".m4a", ".cmfa":
		return "audio/mp4"
	case ".aac":
		return "audio/aac"
	case ".ac3":
		return "audio/ac3"
	case ".ec3":
		return "audio/eac3"
	case ".mp3":
		return "audio/mpeg"
	case ".vtt", ".webvtt":
		return "text/vtt; charset=utf-8"
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// ResourceExt is the extension used in the engine's URL for a resource: the
// resource's own (lower case, at most 8 characters) or ".bin".
func ResourceExt(name string) string {
	if i := strings.IndexAny(name, "?#"); i >= 0 {
		name = name[:i]
	}
	ext := strings.ToLower(path.Ext(name))
	if len(ext) < 2 || len(ext) > 8 {
		return ".bin"
	}
	for _, r := range ext[1:] {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return ".bin"
		}
	}
	return ext
}

// Fetcher reads playlists and resources of assets: files directly, http
// through an LRU cache with one request in flight per URL.
type Fetcher struct {
	client *http.Client
	cache  *lru

	mu       sync.Mutex
	inflight map[string]*call
}

type call struct {
	done chan struct{}
	data []byte
	err  error
}

func NewFetcher(client *http.Client, cacheSize int64) *Fetcher {
	return &Fetcher{client: client, cache: newLRU(cacheSize), inflight: map[string]*call{}}
}

// Read returns the bytes at l.
func (f *Fetcher) Read(ctx context.Context, l Loc) ([]byte, error) {
	if !l.isHTTP() {
		b, err := fs.ReadFile(l.fsys, l.Name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", l, bareErr(err))
		}
		return b, nil
	}
	if b, ok := f.cache.get(l.Name); ok {
		return b, nil
	}
	f.mu.Lock()
	c, ok := f.inflight[l.Name]
	if !ok {
		c = &call{done: make(chan struct{})}
		f.inflight[l.Name] = c
		go func() {
			// Detached from the first caller: a cancelled request must not
			// fail the others waiting on the same URL.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FetchTimeout)
			defer cancel()
			c.data, c.err = f.Get(ctx, l.Name)
			if c.err == nil {
				f.cache.put(l.Name, c.data)
			}
			f.mu.Lock()
			delete(f.inflight, l.Name)
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.data, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("get %s: %w", l, ctx.Err())
	}
}

func (f *Fetcher) Get(ctx context.Context, u string) ([]byte, error) {
	r := Redact(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", r, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", r, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("get %s: %s", r, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResourceSize+1))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", r, err)
	}
	if len(b) > maxResourceSize {
		return nil, fmt.Errorf("get %s: larger than %d bytes", r, maxResourceSize)
	}
	return b, nil
}

// lru is a byte-bounded LRU cache of http resources.
type lru struct {
	mu    sync.Mutex
	max   int64
	size  int64
	order *list.List // front: most recent; values are *entry
	items map[string]*list.Element
}

type entry struct {
	key  string
	data []byte
}

func newLRU(max int64) *lru {
	return &lru{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry).data, true
}

// put stores data unless it is larger than a quarter of the cache.
func (c *lru) put(key string, data []byte) {
	n := int64(len(data))
	if n > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.size -= int64(len(el.Value.(*entry).data))
		el.Value.(*entry).data = data
		c.size += n
		c.order.MoveToFront(el)
	} else {
		c.items[key] = c.order.PushFront(&entry{key: key, data: data})
		c.size += n
	}
	for c.size > c.max {
		el := c.order.Back()
		e := el.Value.(*entry)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.size -= int64(len(e.data))
	}
}
