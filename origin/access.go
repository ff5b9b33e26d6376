package origin

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// DefaultCDNAuthHeader is the request header MediaPackage's CDN
// authorization checks, and the default of CDNAuthConfig.Header.
const DefaultCDNAuthHeader = "X-MediaPackage-CDNIdentifier"

// CDNAuthConfig is a channel's CDN authorization (as MediaPackage's): every
// playback request must carry Header with one of Secrets, so that only the
// CDN, which adds the header, can reach the origin. Several secrets allow
// a rotation without a gap: add the new one, switch the CDN, drop the old.
type CDNAuthConfig struct {
	// Header is the request header (default X-MediaPackage-CDNIdentifier).
	Header string `yaml:"header"`
	// Secrets are the accepted values, each at least 16 characters.
	Secrets []string `yaml:"secrets"`
}

// minCDNSecretLen is the shortest accepted CDN authorization secret.
const minCDNSecretLen = 16

// access is what a channel's requests must satisfy beyond digest auth:
// the CDN authorization of playback and the address allowlist of ingest.
type access struct {
	cdnHeader  string
	cdnSecrets [][]byte
	ingestNets []netip.Prefix // nil: any address
}

// newAccess builds the checks of a validated channel config.
func newAccess(c ChannelConfig) *access {
	a := &access{}
	if c.CDNAuth != nil && len(c.CDNAuth.Secrets) > 0 {
		a.cdnHeader = c.CDNAuth.Header
		if a.cdnHeader == "" {
			a.cdnHeader = DefaultCDNAuthHeader
		}
		for _, s := range c.CDNAuth.Secrets {
			a.cdnSecrets = append(a.cdnSecrets, []byte(s))
		}
	}
	for _, s := range c.IngestAllow {
		if p, err := parsePrefix(s); err == nil {
			a.ingestNets = append(a.ingestNets, p)
		}
	}
	return a
}

// parsePrefix parses a CIDR ("10.0.0.0/8", "::1/128") or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// validateAccess checks the CDN authorization and ingest allowlist of a
// channel config; k is the channel's key path.
func validateAccess(k string, c ChannelConfig) error {
	if a := c.CDNAuth; a != nil {
		if a.Header != "" && !validHeaderName(a.Header) {
			return cfgErr(k+".cdnAuth.header", "not a valid header name: %q", a.Header)
		}
		if len(a.Secrets) == 0 {
			return cfgErr(k+".cdnAuth.secrets", "must list at least one secret")
		}
		for i, s := range a.Secrets {
			if len(s) < minCDNSecretLen {
				return cfgErr(fmt.Sprintf("%s.cdnAuth.secrets[%d]", k, i), "must be at least %d characters", minCDNSecretLen)
			}
		}
	}
	for i, s := range c.IngestAllow {
		if _, err := parsePrefix(s); err != nil {
			return cfgErr(fmt.Sprintf("%s.ingestAllow[%d]", k, i), "want an address or CIDR, got %q", s)
		}
	}
	return nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c >= 0x80 || !(c == '-' || c == '_' || c == '.' || c == '!' || c == '#' || c == '$' || c == '%' ||
			c == '&' || c == '\'' || c == '*' || c == '+' || c == '^' || c == '`' || c == '|' || c == '~' ||
			('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
			return false
		}
	}
	return true
}

// playback reports whether r passes the CDN authorization (or the request
// comes from this process, see Trusted).
func (a *access) playback(r *http.Request) bool {
	if a == nil || len(a.cdnSecrets) == 0 || isTrusted(r.Context()) {
		return true
	}
	got := []byte(r.Header.Get(a.cdnHeader))
	ok := 0
	for _, s := range a.cdnSecrets {
		ok |= subtle.ConstantTimeCompare(got, s)
	}
	return ok == 1
}

// ingest reports whether r comes from an allowed address. The address is
// the connection's peer: X-Forwarded-For is not trusted.
func (a *access) ingest(r *http.Request) bool {
	if a == nil || len(a.ingestNets) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range a.ingestNets {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// trustedKey marks a context of an in-process request.
type trustedKey struct{}

// Trusted returns a context whose requests to the origin's handler skip
// the CDN authorization: for in-process readers such as harvest jobs,
// which hold no CDN secret. A request from the network cannot set it.
func Trusted(ctx context.Context) context.Context {
	return context.WithValue(ctx, trustedKey{}, true)
}

func isTrusted(ctx context.Context) bool {
	v, _ := ctx.Value(trustedKey{}).(bool)
	return v
}
