// Package natskv is a store.Store on NATS JetStream key-value buckets: the
// shared store of a `pullpush serve --cluster` cluster.
//
// Two buckets, named from a prefix (default "pullpush"):
//
//	<prefix>_fetchers   key = fetcher id, value = the definition (store.Fetcher JSON)
//	<prefix>_progress   key = fetcher id, value = {"owner","data"}: the fetcher's
//	                    progress document and the instance that wrote it
//
// A definition holds the output payload with its secrets (ingest passwords,
// S3 keys), as the bbolt store does: every instance needs them to start the
// fetcher. Whoever can read these buckets can read the secrets, so the NATS
// server must be access-controlled (accounts or users with permissions on
// $KV.<prefix>_*, TLS beyond loopback).
//
// Besides the store.Store contract, Store offers compare-and-set progress
// writes (ProgressRecord, SaveProgressAt) that the cluster package uses to
// fence a fetcher's progress to the instance holding its lease, and Watch
// for definition changes.
//
// Fetcher ids made of letters, digits, '-' and '_' are used as keys as they
// are; any other id is stored under "=" followed by its unpadded base64url
// encoding (Key, ID).
package natskv
