package webdav

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/internal/httpput"
)

// DefaultStem is the stem used when Config.Stem is empty.
const DefaultStem = "channel"

// Auth is an authentication scheme.
type Auth string

// Authentication schemes.
const (
	AuthNone   Auth = "none"
	AuthBasic  Auth = "basic"
	AuthDigest Auth = "digest"
)

// Config configures an output.
type Config struct {
	// URL is the http or https directory URL files are stored in
	// ("https://host/live/"; a missing trailing slash is added). It has no
	// user info, query or fragment.
	URL string
	// Auth is the scheme; empty means AuthNone unless Username is set, in
	// which case it must be given.
	Auth               Auth
	Username, Password string
	// DeleteExpired makes Delete send DELETE; otherwise Delete does nothing
	// and expired segments stay on the server.
	DeleteExpired bool
	// Header is added to every request. Hop-by-hop and body headers
	// (Host, Content-Length, Content-Type, Transfer-Encoding, Connection,
	// Expect...) are rejected, and so is Authorization unless Auth is none.
	Header http.Header
	// Stem is the base name of pushed files; empty means DefaultStem.
	Stem string
	// Timeout bounds each request; zero means 60 s, negative no bound
	// beyond the caller's context.
	Timeout time.Duration
	// Transport is a connection pool shared with other outputs (see
	// httpput.NewTransport and NewFactory); nil gives the output its own.
	Transport *http.Transport
}

// Output pushes to one HTTP directory.
type Output struct {
	stem         string
	transport    *http.Transport
	ownTransport bool
	target       *target
}

var _ output.Output = (*Output)(nil)

// reservedHeaders are managed by the client and cannot be configured.
var reservedHeaders = []string{
	"Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection",
	"Expect", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade",
	"Proxy-Authorization",
}

// New validates cfg and returns an output. Validation errors are
// *output.PayloadError values naming the JSON payload field.
func New(cfg Config) (*Output, error) {
	dir, err := parseDirURL("url", cfg.URL)
	if err != nil {
		return nil, err
	}
	auth := cfg.Auth
	switch auth {
	case "":
		if cfg.Username != "" || cfg.Password != "" {
			return nil, output.Invalid("auth", `required when username or password is set ("basic" or "digest")`)
		}
		auth = AuthNone
	case AuthNone:
		if cfg.Username != "" || cfg.Password != "" {
			return nil, output.Invalid("auth", `is "none" but username or password is set`)
		}
	case AuthBasic, AuthDigest:
		if cfg.Username == "" {
			return nil, output.Invalid("username", "required when auth is %s", auth)
		}
	default:
		return nil, output.Invalid("auth", `must be "none", "basic" or "digest"`)
	}
	header := make(http.Header)
	keys := make([]string, 0, len(cfg.Header))
	for k := range cfg.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := cfg.Header[k]
		field := "headers." + k
		if !validHeaderName(k) {
			return nil, output.Invalid(field, "not a valid header name")
		}
		ck := http.CanonicalHeaderKey(k)
		for _, r := range reservedHeaders {
			if ck == r {
				return nil, output.Invalid(field, "is set by the client and cannot be configured")
			}
		}
		if ck == "Authorization" && auth != AuthNone {
			return nil, output.Invalid(field, `conflicts with auth %q`, auth)
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return nil, output.Invalid(field, "value has control characters")
			}
			header.Add(ck, v)
		}
	}
	stem := cfg.Stem
	if stem == "" {
		stem = DefaultStem
	}
	if err := output.ValidName(stem); err != nil {
		return nil, output.Invalid("stem", "must be a name of [A-Za-z0-9._-] not starting with a dot")
	}
	o := &Output{stem: stem, transport: cfg.Transport, ownTransport: cfg.Transport == nil}
	if o.ownTransport {
		o.transport = httpput.NewTransport()
	}
	o.target = &target{
		name:          "webdav " + dir.String(),
		deleteExpired: cfg.DeleteExpired,
		client: httpput.New(httpput.Config{
			Dir:       dir,
			Transport: o.transport,
			Auth:      httpput.Auth(auth),
			Username:  cfg.Username,
			Password:  cfg.Password,
			Header:    header,
			Timeout:   cfg.Timeout,
		}),
	}
	return o, nil
}

// parseDirURL checks a directory URL; errors never quote it.
func parseDirURL(field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, output.Invalid(field, "required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, output.Invalid(field, "not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, output.Invalid(field, "must be http or https")
	}
	if u.User != nil {
		return nil, output.Invalid(field, "must not contain credentials; use username and password")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, output.Invalid(field, "must have a host")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, output.Invalid(field, "must not have a query or fragment")
	}
	if u.Opaque != "" {
		return nil, output.Invalid(field, "not a valid URL")
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	if p != "/" && path.Clean(p)+"/" != p {
		return nil, output.Invalid(field, "path must be clean (no //, . or .. elements)")
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: p}, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// Stem implements output.Output.
func (o *Output) Stem() string { return o.stem }

// Targets implements output.Output: a single target.
func (o *Output) Targets() []output.Target { return []output.Target{o.target} }

// Close implements output.Output; it closes the idle connections of a
// transport of its own.
func (o *Output) Close() error {
	if o.ownTransport {
		o.transport.CloseIdleConnections()
	}
	return nil
}

type target struct {
	name          string
	deleteExpired bool
	client        *httpput.Client
}

// Name implements output.Target: "webdav <dir url>".
// AcceptsParts implements output.PartTarget: the stored files are served
// as they are, so LL-HLS parts are pushed too.
func (t *target) AcceptsParts() bool { return true }

func (t *target) Name() string { return t.name }

// Put implements output.Target.
func (t *target) Put(ctx context.Context, f output.File) error { return t.client.Put(ctx, f) }

// Delete implements output.Target: DELETE when DeleteExpired is set,
// otherwise nothing (after validating name). 404 and 410 are success.
func (t *target) Delete(ctx context.Context, name string) error {
	if !t.deleteExpired {
		if err := output.CheckName(name); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
		return nil
	}
	return t.client.Delete(ctx, name)
}
