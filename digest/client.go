package digest

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Transport is an http.RoundTripper that adds Digest authentication. After
// the first challenge from a host it pre-authenticates following requests
// with an incrementing nonce count, so a PUT body is normally sent once.
// Requests with a body must have GetBody set (http.NewRequest does this for
// bytes/strings readers) to be replayed after a challenge; otherwise the 401
// response is returned.
type Transport struct {
	Username string
	Password string
	// Base is the underlying transport; nil means http.DefaultTransport.
	Base http.RoundTripper

	mu         sync.Mutex
	challenges map[string]*challenge // by host
}

type challenge struct {
	realm, nonce, opaque, algorithm string
	qop                             bool
	nc                              uint32
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	first := req
	if auth := t.authorize(host, req); auth != "" {
		first = req.Clone(req.Context())
		first.Header.Set("Authorization", auth)
	}
	resp, err := t.base().RoundTrip(first)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	ch, ok := parseChallenge(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		return resp, nil
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil
	}
	t.mu.Lock()
	if t.challenges == nil {
		t.challenges = make(map[string]*challenge)
	}
	t.challenges[host] = ch
	t.mu.Unlock()

	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("digest: replay body: %w", err)
		}
		retry.Body = body
	}
	auth := t.authorize(host, req)
	if auth == "" {
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	retry.Header.Set("Authorization", auth)
	return t.base().RoundTrip(retry)
}

// authorize builds an Authorization header from the cached challenge for host.
func (t *Transport) authorize(host string, req *http.Request) string {
	t.mu.Lock()
	ch := t.challenges[host]
	if ch == nil {
		t.mu.Unlock()
		return ""
	}
	ch.nc++
	nc := ch.nc
	c := *ch
	t.mu.Unlock()
	uri := req.URL.RequestURI()
	return Authorization(t.Username, t.Password, req.Method, uri, c.realm, c.nonce, c.opaque, c.algorithm, c.qop, nc, newCnonce())
}

// Authorization computes a Digest Authorization header value.
func Authorization(user, pass, method, uri, realm, nonce, opaque, algorithm string, qop bool, nc uint32, cnonce string) string {
	ha1 := md5hex(user + ":" + realm + ":" + pass)
	ha2 := md5hex(method + ":" + uri)
	var b strings.Builder
	fmt.Fprintf(&b, "Digest username=%s, realm=%s, nonce=%s, uri=%s", quote(user), quote(realm), quote(nonce), quote(uri))
	if algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", algorithm)
	}
	if qop {
		ncs := fmt.Sprintf("%08x", nc)
		resp := md5hex(ha1 + ":" + nonce + ":" + ncs + ":" + cnonce + ":auth:" + ha2)
		fmt.Fprintf(&b, ", qop=auth, nc=%s, cnonce=%s, response=%s", ncs, quote(cnonce), quote(resp))
	} else {
		fmt.Fprintf(&b, ", response=%s", quote(md5hex(ha1+":"+nonce+":"+ha2)))
	}
	if opaque != "" {
		fmt.Fprintf(&b, ", opaque=%s", quote(opaque))
	}
	return b.String()
}

func parseChallenge(values []string) (*challenge, bool) {
	for _, v := range values {
		p, err := ParseParams(v)
		if err != nil {
			continue
		}
		alg := p["algorithm"]
		if alg != "" && !strings.EqualFold(alg, "MD5") {
			continue
		}
		qop := false
		if q, ok := p["qop"]; ok {
			for _, o := range strings.Split(q, ",") {
				if strings.TrimSpace(o) == "auth" {
					qop = true
				}
			}
			if !qop {
				continue
			}
		}
		if p["nonce"] == "" {
			continue
		}
		return &challenge{realm: p["realm"], nonce: p["nonce"], opaque: p["opaque"], algorithm: alg, qop: qop}, true
	}
	return nil, false
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newCnonce() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
