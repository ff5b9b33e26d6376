package guard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrSourceNotAllowed is returned (wrapped) for a source request refused by
// Config.AllowHosts or Config.DenyPrivate, or with a scheme other than
// http and https.
var ErrSourceNotAllowed = errors.New("source not allowed")

// HostList is a validated Config.AllowHosts.
type HostList []string

func NewHostList(hosts []string) (HostList, error) {
	var out HostList
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		name, wild := strings.CutPrefix(h, "*.")
		_, ipErr := netip.ParseAddr(strings.Trim(name, "[]"))
		if !(ipErr == nil && !wild || isHostName(name)) {
			return nil, fmt.Errorf("fetch: allowed host %q: want a host name, an IP address or *.domain", h)
		}
		out = append(out, h)
	}
	return out, nil
}

func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Allows reports whether host (no port) is listed: exactly, or under a
// "*.domain" entry (which also matches the domain itself).
func (l HostList) Allows(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		host = a.Unmap().String()
	}
	for _, h := range l {
		if d, ok := strings.CutPrefix(h, "*."); ok {
			if host == d || strings.HasSuffix(host, "."+d) {
				return true
			}
			continue
		}
		if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			h = a.Unmap().String()
		}
		if host == h {
			return true
		}
	}
	return false
}

// guard is the RoundTripper every source request goes through, redirects
// included: it refuses schemes other than http and https and hosts not on
// the allowlist.
type guard struct {
	base  http.RoundTripper
	allow HostList
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.check(req.URL.Scheme, req.URL.Hostname()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return g.base.RoundTrip(req)
}

func (g *guard) check(scheme, host string) error {
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("%w: scheme %q is not http or https", ErrSourceNotAllowed, scheme)
	}
	if len(g.allow) > 0 && !g.allow.Allows(host) {
		return fmt.Errorf("%w: host %q is not in the allowed hosts", ErrSourceNotAllowed, host)
	}
	return nil
}

// SourceTransport is a pool of connections to sources that many fetchers
// share (Config.Sources), so that a process with a thousand fetchers keeps
// a few dozen connections open rather than several per fetcher.
type SourceTransport struct {
	t           *http.Transport
	denyPrivate bool
}

// NewSourceTransport returns a shared source transport with sane timeouts.
// With denyPrivate its dialer refuses loopback, private, link-local and
// other non-public addresses (see Config.DenyPrivate) and no proxy is used.
func NewSourceTransport(denyPrivate bool) *SourceTransport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	proxy := http.ProxyFromEnvironment
	if denyPrivate {
		// Checked on the resolved address at connect time, so names that
		// resolve (or re-resolve) to a private address and redirects are
		// covered. A proxy would be the only address dialled: none is used.
		dialer.Control = denyPrivateControl
		proxy = nil
	}
	return &SourceTransport{denyPrivate: denyPrivate, t: &http.Transport{
		Proxy:               proxy,
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 512,
		// Beyond this many connections to one host, requests queue for a
		// free one instead of opening more: under overload, connections
		// (two goroutines and 8 KiB of buffers each) would otherwise grow
		// with the backlog and make it worse.
		MaxConnsPerHost:       1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
	}}
}

// CloseIdleConnections closes the idle connections of the pool.
func (st *SourceTransport) CloseIdleConnections() { st.t.CloseIdleConnections() }

// NewSourceClient returns the client for source requests, wrapped in the
// guard: the caller's client, or one on the shared transport, or on a
// transport of the fetcher's own.
func NewSourceClient(c *http.Client, shared *SourceTransport, allow HostList, denyPrivate bool) (*http.Client, error) {
	if c != nil {
		if denyPrivate {
			return nil, errors.New("fetch: DenyPrivate needs the built-in client (Client must be nil)")
		}
		cc := *c
		base := cc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		cc.Transport = &guard{base: base, allow: allow}
		return &cc, nil
	}
	if shared == nil {
		shared = NewSourceTransport(denyPrivate)
	} else if denyPrivate && !shared.denyPrivate {
		return nil, errors.New("fetch: DenyPrivate needs a shared source transport made with denyPrivate")
	}
	return &http.Client{Transport: &guard{base: shared.t, allow: allow}}, nil
}

func denyPrivateControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrSourceNotAllowed, address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrSourceNotAllowed, address, err)
	}
	if !IsPublic(ip) {
		return fmt.Errorf("%w: %s is a private, loopback or reserved address", ErrSourceNotAllowed, ip)
	}
	return nil
}

// nonPublic lists special-purpose ranges (RFC 6890 and successors) beyond
// those netip.Addr classifies itself.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// IsPublic reports whether ip is a globally routable unicast address.
// IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 addresses are judged by the
// IPv4 address they embed.
func IsPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return IsPublic(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return IsPublic(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}
