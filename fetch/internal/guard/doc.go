// Package guard decides which sources a fetcher may read: the allowed-host
// list (fetch.Config.AllowHosts), the refusal of loopback, private and
// reserved addresses at dial time (fetch.Config.DenyPrivate), and the
// source transport shared by the fetchers of a process. Package fetch
// re-exports SourceTransport, NewSourceTransport and ErrSourceNotAllowed.
package guard
