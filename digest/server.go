package digest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors returned by Verifier.Verify. Callers answer all of them with a
// fresh challenge; ErrStale sets stale=true in it.
var (
	ErrNoCredentials  = errors.New("digest: no credentials")
	ErrBadCredentials = errors.New("digest: wrong username or password")
	ErrStale          = errors.New("digest: nonce expired")
	ErrReplay         = errors.New("digest: nonce count replayed")
)

// Lookup returns the password for user, or false when the user is unknown.
type Lookup func(user string) (password string, ok bool)

// HA1Lookup returns every HA1 (hex MD5 of "user:realm:password", see HA1)
// that user may authenticate with: more than one while a rotated password
// is still accepted. None means the user is unknown.
type HA1Lookup func(user string) []string

// HA1 returns the hex MD5 of "user:realm:password", what a server needs to
// verify digest responses without keeping the password.
func HA1(user, realm, password string) string { return md5hex(user + ":" + realm + ":" + password) }

// Verifier checks Digest Authorization headers (MD5, qop=auth). Nonces are
// self-validating (HMAC over their issue time) and expire after NonceTTL;
// each nonce-count may be used once, so captured requests cannot be replayed.
type Verifier struct {
	realm  string
	ttl    time.Duration
	lookup Lookup
	ha1s   HA1Lookup // replaces lookup when set
	key    [32]byte
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*nonceUse // by nonce
	last time.Time            // last prune
}

type nonceUse struct {
	issued time.Time
	used   map[uint32]struct{}
	maxNC  uint32
}

// maxNonceCounts bounds the replay window kept per nonce.
const maxNonceCounts = 4096

// Option configures a Verifier.
type Option func(*Verifier)

// WithHA1Lookup makes the verifier check responses against the HA1 values
// of lookup instead of the passwords of NewVerifier's Lookup (which may
// then be nil).
func WithHA1Lookup(lookup HA1Lookup) Option { return func(v *Verifier) { v.ha1s = lookup } }

// Realm returns the verifier's realm.
func (v *Verifier) Realm() string { return v.realm }

// WithClock sets the time source (tests).
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// NewVerifier returns a verifier for realm. ttl <= 0 defaults to 5 minutes.
func NewVerifier(realm string, ttl time.Duration, lookup Lookup, opts ...Option) *Verifier {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	v := &Verifier{realm: realm, ttl: ttl, lookup: lookup, now: time.Now, seen: make(map[string]*nonceUse)}
	rand.Read(v.key[:])
	for _, o := range opts {
		o(v)
	}
	return v
}

// Challenge writes a 401 response with a fresh WWW-Authenticate challenge.
func (v *Verifier) Challenge(w http.ResponseWriter, stale bool) {
	h := fmt.Sprintf("Digest realm=%s, qop=\"auth\", algorithm=MD5, nonce=%s, opaque=%s", quote(v.realm), quote(v.NewNonce()), quote("pullpush"))
	if stale {
		h += ", stale=true"
	}
	w.Header().Set("WWW-Authenticate", h)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte(`{"error":"digest authentication required"}` + "\n"))
}

// NewNonce issues a nonce bound to the current time.
func (v *Verifier) NewNonce() string {
	var b [8 + 8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(v.now().UnixNano()))
	rand.Read(b[8:16])
	m := hmac.New(sha256.New, v.key[:])
	m.Write(b[:16])
	copy(b[16:], m.Sum(nil)[:16])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (v *Verifier) nonceTime(nonce string) (time.Time, bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 32 {
		return time.Time{}, false
	}
	m := hmac.New(sha256.New, v.key[:])
	m.Write(b[:16])
	if !hmac.Equal(m.Sum(nil)[:16], b[16:]) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))), true
}

// Verify checks the request's Authorization header and returns the user.
func (v *Verifier) Verify(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoCredentials
	}
	p, err := ParseParams(h)
	if err != nil {
		return "", err
	}
	user, nonce, uri, resp := p["username"], p["nonce"], p["uri"], p["response"]
	if user == "" || nonce == "" || uri == "" || resp == "" {
		return "", fmt.Errorf("%w: missing username, nonce, uri or response", ErrMalformed)
	}
	if p["realm"] != v.realm {
		return "", ErrBadCredentials
	}
	if alg := p["algorithm"]; alg != "" && !strings.EqualFold(alg, "MD5") {
		return "", fmt.Errorf("%w: algorithm %q not supported", ErrMalformed, alg)
	}
	if p["qop"] != "auth" {
		return "", fmt.Errorf("%w: qop=auth required", ErrMalformed)
	}
	if uri != r.URL.RequestURI() && uri != r.URL.Path {
		return "", fmt.Errorf("%w: uri does not match request", ErrMalformed)
	}
	nc64, err := strconv.ParseUint(p["nc"], 16, 32)
	if err != nil || len(p["nc"]) != 8 || nc64 == 0 {
		return "", fmt.Errorf("%w: bad nc", ErrMalformed)
	}
	nc := uint32(nc64)
	cnonce := p["cnonce"]
	if cnonce == "" {
		return "", fmt.Errorf("%w: missing cnonce", ErrMalformed)
	}
	issued, ok := v.nonceTime(nonce)
	if !ok {
		return "", ErrStale
	}
	now := v.now()
	if now.Sub(issued) > v.ttl || issued.Sub(now) > time.Minute {
		return "", ErrStale
	}
	var ha1s []string
	if v.ha1s != nil {
		ha1s = v.ha1s(user)
	} else if pass, ok := v.lookup(user); ok {
		ha1s = []string{HA1(user, v.realm, pass)}
	}
	ok = len(ha1s) > 0
	if !ok {
		// Compute anyway so unknown users cost the same as wrong passwords.
		ha1s = []string{HA1(user, v.realm, "\x00unknown")}
	}
	ha2 := md5hex(r.Method + ":" + uri)
	match := 0
	for _, ha1 := range ha1s {
		want := md5hex(ha1 + ":" + nonce + ":" + p["nc"] + ":" + cnonce + ":auth:" + ha2)
		match |= subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(resp)))
	}
	if match != 1 || !ok {
		return "", ErrBadCredentials
	}
	if !v.markUsed(nonce, issued, nc, now) {
		return "", ErrReplay
	}
	return user, nil
}

// markUsed records nc for nonce and reports whether it was unused.
func (v *Verifier) markUsed(nonce string, issued time.Time, nc uint32, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Sub(v.last) > v.ttl {
		for n, u := range v.seen {
			if now.Sub(u.issued) > v.ttl {
				delete(v.seen, n)
			}
		}
		v.last = now
	}
	u := v.seen[nonce]
	if u == nil {
		u = &nonceUse{issued: issued, used: make(map[uint32]struct{})}
		v.seen[nonce] = u
	}
	if _, dup := u.used[nc]; dup {
		return false
	}
	// Keep a bounded window: counts far below the highest seen are refused.
	if u.maxNC > maxNonceCounts && nc <= u.maxNC-maxNonceCounts {
		return false
	}
	u.used[nc] = struct{}{}
	if nc > u.maxNC {
		u.maxNC = nc
	}
	if len(u.used) > 2*maxNonceCounts {
		for k := range u.used {
			if k <= u.maxNC-maxNonceCounts {
				delete(u.used, k)
			}
		}
	}
	return true
}

// Middleware wraps next so that only authenticated requests reach it.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.Verify(r); err != nil {
			v.Challenge(w, errors.Is(err, ErrStale))
			return
		}
		next.ServeHTTP(w, r)
	})
}
