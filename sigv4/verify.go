package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Algorithm is the only signing algorithm verified.
const Algorithm = "AWS4-HMAC-SHA256"

// UnsignedPayload is the X-Amz-Content-Sha256 of a request whose body is
// not covered by the signature.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// DefaultSkew is how far a request's X-Amz-Date may be from the
// verifier's clock, as AWS allows.
const DefaultSkew = 5 * time.Minute

// Errors of Verify; every one means the request is refused.
var (
	// ErrNotSigned: the request has no SigV4 Authorization header.
	ErrNotSigned = errors.New("sigv4: request is not signed")
	// ErrSignature: the signature does not match the request.
	ErrSignature = errors.New("sigv4: signature does not match")
	// ErrBodyHash: the body read does not match X-Amz-Content-Sha256.
	ErrBodyHash = errors.New("sigv4: body does not match X-Amz-Content-Sha256")
)

// Lookup returns the secret of an access key.
type Lookup func(accessKeyID string) (secret string, ok bool)

// Verifier checks SigV4-signed requests for one Scope.
type Verifier struct {
	scope  Scope
	lookup Lookup
	skew   time.Duration
	now    func() time.Time
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithClock sets the verifier's clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithSkew sets how far X-Amz-Date may be from the clock (default
// DefaultSkew).
func WithSkew(d time.Duration) Option { return func(v *Verifier) { v.skew = d } }

// NewVerifier returns a Verifier of requests signed for scope with a key
// that lookup knows.
func NewVerifier(scope Scope, lookup Lookup, opts ...Option) *Verifier {
	v := &Verifier{scope: scope, lookup: lookup, skew: DefaultSkew, now: time.Now}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string // YYYYMMDD of the credential scope
	Region        string
	Service       string
	SignedHeaders []string // lower case, sorted as sent
	Signature     string   // lower-case hex
}

// IsSigned reports whether r carries a SigV4 Authorization header.
func IsSigned(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), Algorithm+" ")
}

// ParseAuthorization parses "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/
// SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX".
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(h, Algorithm+" ")
	if !ok {
		return a, ErrNotSigned
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || seen[k] {
			return a, fmt.Errorf("sigv4: malformed Authorization element %q", truncate(part))
		}
		seen[k] = true
		switch k {
		case "Credential":
			f := strings.Split(val, "/")
			if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" || len(f[1]) != 8 || f[2] == "" || f[3] == "" {
				return a, errors.New("sigv4: Credential is not KEY/YYYYMMDD/REGION/SERVICE/aws4_request")
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			if val == "" {
				return a, errors.New("sigv4: SignedHeaders is empty")
			}
			a.SignedHeaders = strings.Split(val, ";")
			for _, name := range a.SignedHeaders {
				if name == "" || name != strings.ToLower(name) {
					return a, fmt.Errorf("sigv4: signed header %q is not a lower-case name", truncate(name))
				}
			}
		case "Signature":
			if len(val) != 64 || strings.ToLower(val) != val {
				return a, errors.New("sigv4: Signature is not 64 lower-case hex digits")
			}
			if _, err := hex.DecodeString(val); err != nil {
				return a, errors.New("sigv4: Signature is not 64 lower-case hex digits")
			}
			a.Signature = val
		default:
			return a, fmt.Errorf("sigv4: unknown Authorization element %q", truncate(k))
		}
	}
	if a.AccessKeyID == "" || a.SignedHeaders == nil || a.Signature == "" {
		return a, errors.New("sigv4: Authorization needs Credential, SignedHeaders and Signature")
	}
	return a, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Verify checks r's signature and returns the access key that signed
// it. When X-Amz-Content-Sha256 is a hash, r.Body is replaced by a reader
// that fails with ErrBodyHash at its end if the body does not match, so
// the caller must read the whole body before acting on it.
func (v *Verifier) Verify(r *http.Request) (string, error) {
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if a.Region != v.scope.Region || a.Service != v.scope.Service {
		return "", fmt.Errorf("sigv4: scope %s/%s, want %s/%s", a.Region, a.Service, v.scope.Region, v.scope.Service)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get(HeaderDate))
	if err != nil {
		return "", fmt.Errorf("sigv4: %s is not YYYYMMDDTHHMMSSZ", HeaderDate)
	}
	if at.Format("20060102") != a.Date {
		return "", fmt.Errorf("sigv4: %s is not the credential's date", HeaderDate)
	}
	if d := v.now().Sub(at); d > v.skew || d < -v.skew {
		return "", fmt.Errorf("sigv4: %s is %v from the server's clock (at most %v)", HeaderDate, d.Round(time.Second), v.skew)
	}
	for _, need := range []string{"host", strings.ToLower(HeaderDate), strings.ToLower(HeaderContentSHA256)} {
		if !slices.Contains(a.SignedHeaders, need) {
			return "", fmt.Errorf("sigv4: %s is not signed", need)
		}
	}
	payload := r.Header.Get(HeaderContentSHA256)
	if payload != UnsignedPayload {
		if b, err := hex.DecodeString(payload); err != nil || len(b) != sha256.Size {
			return "", fmt.Errorf("sigv4: %s is neither a hex SHA-256 nor %s", HeaderContentSHA256, UnsignedPayload)
		}
	}
	secret, ok := v.lookup(a.AccessKeyID)
	if !ok {
		return "", ErrSignature // an unknown key is not told apart
	}
	c, err := signedCopy(r, a)
	if err != nil {
		return "", err
	}
	creds := aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, c, strings.ToLower(payload), a.Service, a.Region, at); err != nil {
		return "", fmt.Errorf("sigv4: sign: %w", err)
	}
	want, err := ParseAuthorization(c.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if !hmac.Equal([]byte(want.Signature), []byte(a.Signature)) || !slices.Equal(want.SignedHeaders, a.SignedHeaders) {
		return "", ErrSignature
	}
	if payload != UnsignedPayload && r.Body != nil {
		r.Body = &checkedBody{rc: r.Body, h: sha256.New(), want: strings.ToLower(payload)}
	}
	return a.AccessKeyID, nil
}

// signedCopy returns a request with only what a's signature covers: the
// method, path and query, and the signed headers.
func signedCopy(r *http.Request, a Authorization) (*http.Request, error) {
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	c, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("sigv4: %w", err)
	}
	c.Host = r.Host
	for _, name := range a.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			if r.ContentLength <= 0 {
				return nil, errors.New("sigv4: content-length is signed but the request has none")
			}
			c.ContentLength = r.ContentLength
		default:
			vals := r.Header.Values(name)
			if len(vals) == 0 {
				return nil, fmt.Errorf("sigv4: signed header %s is missing", name)
			}
			c.Header[http.CanonicalHeaderKey(name)] = vals
		}
	}
	return c, nil
}

// checkedBody fails its last read when the body's SHA-256 is not want.
type checkedBody struct {
	rc   io.ReadCloser
	h    hash.Hash
	want string
}

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.h.Write(p[:n])
	if errors.Is(err, io.EOF) && hex.EncodeToString(b.h.Sum(nil)) != b.want {
		return n, ErrBodyHash
	}
	return n, err
}

func (b *checkedBody) Close() error { return b.rc.Close() }
