// Package store persists fetcher definitions and their progress so that
// `pullpush serve` resumes every fetcher after a restart, with the same id,
// continuing the same stream.
//
// A definition includes the output payload, which holds secrets (ingest
// passwords, S3 keys): it is needed to start the fetcher again, so backends
// keep it readable by the owner only. The REST API never returns it
// unredacted.
//
// Store is a small interface so that a cluster backend (for example a NATS
// key-value bucket) can replace the embedded bbolt database. Bolt is the
// default backend; Memory serves tests and processes that need no
// persistence.
package store
