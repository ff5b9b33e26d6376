package fetch

import "github.com/pullpush/pullpush/fetch/internal/guard"

// The source host guard (allowed hosts, private addresses, the shared
// transport) is implemented in fetch/internal/guard; these are its public
// names.

// ErrSourceNotAllowed is returned (wrapped) for a source request refused by
// Config.AllowHosts or Config.DenyPrivate, or with a scheme other than
// http and https.
var ErrSourceNotAllowed = guard.ErrSourceNotAllowed

// SourceTransport is a pool of connections to sources that many fetchers
// share (Config.Sources), so that a process with a thousand fetchers keeps
// a few dozen connections open rather than several per fetcher.
type SourceTransport = guard.SourceTransport

// NewSourceTransport returns a shared source transport with sane timeouts.
// With denyPrivate its dialer refuses loopback, private, link-local and
// other non-public addresses (see Config.DenyPrivate) and no proxy is used.
func NewSourceTransport(denyPrivate bool) *SourceTransport {
	return guard.NewSourceTransport(denyPrivate)
}
