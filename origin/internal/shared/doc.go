// Package shared is the bucket side of the origin's shared storage
// (origin.Config.Storage): the object store (store.go: Store, and S3 on
// minio-go in s3.go), the bucket layout and the ingest-log format
// (ingestlog.go: log/, seg/ and snap/ keys, Entry, DecodeEntry), the JSON
// forms of keyframes and TS timing that entries and snapshots carry
// (logdto.go), and the rule for names that become key elements
// (names.go). Writing entries, replaying the log into the index,
// snapshots and pruning stay in the origin (shared_ingest.go,
// shared_replay.go), as they work on the channel index; the snapshot
// format is the index's (origin/internal/index, snapshot.go).
package shared
