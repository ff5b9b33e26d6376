// Package davtest is a recording HTTP PUT/DELETE server for the tests of
// the HTTP outputs. It listens on loopback only, stores complete bodies in
// memory, counts body bytes of requests in flight (to prove streaming) and
// can require basic or digest authentication.
package davtest
