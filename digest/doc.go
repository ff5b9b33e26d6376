// Package digest implements HTTP Digest access authentication (RFC 7616,
// MD5 with qop=auth) as used by MediaPackage-style WebDAV ingest: a client
// RoundTripper that answers challenges and pre-authenticates later requests,
// and a server-side Verifier with expiring nonces and replay protection.
package digest
