package httpput

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/sigv4"
)

// DefaultTimeout bounds one request (headers, body and response) when the
// configuration gives none.
const DefaultTimeout = 60 * time.Second

// maxExcerpt is the longest response body excerpt kept in errors.
const maxExcerpt = 200

// NewTransport returns an http.Transport for outputs: pooled keep-alive
// connections (up to 512 idle per host, so that the concurrent uploads of
// a thousand fetchers sharing it do not dial again after every burst), bounded dial and TLS handshake times, and HTTP/2
// when the server offers it.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: newBufferedDialer(&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 512,
		// Beyond this many connections to one host, requests queue for a
		// free one instead of opening more: under overload, connections
		// (two goroutines and 8 KiB of buffers each) would otherwise grow
		// with the backlog and make it worse.
		MaxConnsPerHost:       1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Auth selects the authentication scheme.
type Auth string

// Authentication schemes.
const (
	AuthNone   Auth = "none"
	AuthBasic  Auth = "basic"
	AuthDigest Auth = "digest"
	// AuthSigV4 signs every request with AWS Signature Version 4
	// (Config.SigV4), as MediaPackage v2's ingest takes them.
	AuthSigV4 Auth = "sigv4"
)

// Config configures a Client.
type Config struct {
	// Dir is the directory URL; files are stored at Dir + name. Its path
	// must end in "/"; it has no user info, query or fragment.
	Dir *url.URL
	// Transport is the shared base transport (one per output).
	Transport http.RoundTripper
	// Auth, Username and Password set authentication.
	Auth               Auth
	Username, Password string
	// SigV4 holds the access key, secret and scope of AuthSigV4.
	SigV4 SigV4
	// Header is added to every request (may be nil).
	Header http.Header
	// Timeout bounds each request; 0 means DefaultTimeout, negative none.
	Timeout time.Duration
}

// SigV4 is the signing configuration of AuthSigV4.
type SigV4 struct {
	Credentials sigv4.Credentials
	Scope       sigv4.Scope
	// Now is the signing clock; nil is time.Now.
	Now func() time.Time
}

// Client puts and deletes files below one directory URL. It is safe for
// concurrent use and does not retry.
type Client struct {
	dir      url.URL
	client   *http.Client
	auth     Auth
	user     string
	password string
	header   http.Header
	timeout  time.Duration
	// authed turns off "Expect: 100-continue" once digest authentication
	// has succeeded; before that it keeps a large body from being sent
	// only to be answered by the 401 challenge.
	authed atomic.Bool
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	rt := cfg.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c := &Client{
		dir:      *cfg.Dir,
		auth:     cfg.Auth,
		user:     cfg.Username,
		password: cfg.Password,
		header:   cfg.Header.Clone(),
		timeout:  cfg.Timeout,
	}
	if c.auth == "" {
		c.auth = AuthNone
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	switch c.auth {
	case AuthDigest:
		rt = &digest.Transport{Username: cfg.Username, Password: cfg.Password, Base: rt}
	case AuthSigV4:
		rt = &sigv4.Transport{Credentials: cfg.SigV4.Credentials, Scope: cfg.SigV4.Scope, Base: rt, Now: cfg.SigV4.Now}
		c.password = cfg.SigV4.Credentials.SecretAccessKey // masked in error excerpts
	}
	c.client = &http.Client{
		Transport: rt,
		// Redirects are not followed: a PUT that is redirected did not
		// store anything, so report it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// URL returns the URL of name (which must be valid).
func (c *Client) URL(name string) string {
	u := c.dir
	u.Path += name
	u.RawPath = ""
	return u.String()
}

// Put streams f to Dir + f.Name.
func (c *Client) Put(ctx context.Context, f output.File) error {
	if err := output.CheckName(f.Name); err != nil {
		return err
	}
	if f.Open == nil {
		return fmt.Errorf("put %s: file has no Open function", f.Name)
	}
	target := c.URL(f.Name)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()

	var body io.ReadCloser = http.NoBody
	if f.Size != 0 {
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("put %s: open: %w", f.Name, err)
		}
		body = rc
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, body)
	if err != nil {
		body.Close()
		return fmt.Errorf("PUT %s: %w", target, err)
	}
	switch {
	case f.Size > 0:
		req.ContentLength = f.Size
	case f.Size == 0:
		req.ContentLength = 0
	default:
		req.ContentLength = -1 // chunked
	}
	if f.Size != 0 {
		req.GetBody = f.Open // the digest transport replays the body after a challenge
		if c.auth == AuthDigest && !c.authed.Load() {
			req.Header.Set("Expect", "100-continue")
		}
	}
	if f.ContentType != "" {
		req.Header.Set("Content-Type", f.ContentType)
	}
	return c.do(req, target, false)
}

// Delete sends DELETE for Dir + name. A missing file (404, 410) is not an
// error.
func (c *Client) Delete(ctx context.Context, name string) error {
	if err := output.CheckName(name); err != nil {
		return err
	}
	target := c.URL(name)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, target, nil)
	if err != nil {
		return fmt.Errorf("DELETE %s: %w", target, err)
	}
	return c.do(req, target, true)
}

// CloseIdleConnections closes idle connections of the underlying transport.
func (c *Client) CloseIdleConnections() { c.client.CloseIdleConnections() }

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout > 0 {
		return context.WithTimeout(ctx, c.timeout)
	}
	return context.WithCancel(ctx)
}

func (c *Client) do(req *http.Request, target string, isDelete bool) error {
	for k, vs := range c.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.auth == AuthBasic {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL
		}
		return fmt.Errorf("%s %s: %w", req.Method, target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if c.auth == AuthDigest {
			c.authed.Store(true)
		}
		// Drain a little so the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if isDelete && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone) {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	buf, _ := io.ReadAll(io.LimitReader(resp.Body, 4*maxExcerpt))
	return &output.StatusError{
		Op:         req.Method,
		URL:        target,
		StatusCode: resp.StatusCode,
		Status:     resp.Status,
		Body:       Excerpt(buf, c.password),
	}
}

// Excerpt returns a short single-line printable excerpt of a response body
// with every occurrence of secret (when at least 4 bytes) masked.
func Excerpt(body []byte, secret string) string {
	s := strings.ToValidUTF8(string(body), "?")
	if len(secret) >= 4 {
		s = strings.ReplaceAll(s, secret, output.Redacted)
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxExcerpt {
		r := []rune(s)
		s = string(r[:maxExcerpt]) + "..."
	}
	return s
}
