// Package fetch relays one HLS source to one output: a Fetcher pulls the
// source's playlists and segments and pushes them, renamed and renumbered,
// to every target of the output.
//
// # Pipeline
//
// A Fetcher runs these stages; each rendition (variant, audio or subtitle
// media playlist) has its own poller and, per target, its own pusher.
//
//  1. Discover: Run loads the source URL until it parses; a multivariant
//     playlist gives one rendition per variant and media, a media playlist
//     one rendition. Names derived from the URIs are stable across runs.
//  2. Poll: each rendition reloads its media playlist following RFC 8216
//     reload rules, or near the moment the source publishes its next
//     segment (edge tracking), with backoff on errors and stall detection.
//     A Low-Latency HLS source that can block is reloaded with blocking
//     requests for its next part instead (llhls.go).
//  3. Apply and numbering: a loaded playlist is diffed against what was
//     seen. The segments after the newest one seen become entries with
//     consecutive output media sequence numbers. Source restarts (numbers
//     going back, content changing under the same numbers, jumps of more
//     than a day), renumbering CDNs and stale edges are told apart so that
//     output numbers never go back and no pushed name is reused for other
//     bytes, across fetcher restarts too.
//  4. Spool: each new entry is downloaded once, with retries while the
//     source still lists it, into the spool: memory chunks under a
//     process-wide MemoryBudget, spilling to large log files on disk. A full
//     spool evicts the oldest segments, which lagging targets then declare
//     as gaps.
//  5. Per-target push: each target pushes init segments and keys, then
//     segments strictly in order, then the media playlist that references
//     them (after the multivariant playlist), each upload retried with
//     backoff. One target failing never holds up another beyond the spool.
//     A target that takes LL-HLS parts (output.PartTarget) also gets the
//     parts of the segment in progress, each before the playlist listing
//     it and before the whole segment.
//  6. Progress: after each push the numbering and every target's position
//     are saved through the ProgressStore (group commit); a target pushes a
//     segment only once the save recording the one before it completed, so
//     a restarted fetcher resumes without re-pushing or reusing names.
//
// # Files
//
//	fetcher.go      Fetcher, New, Run, discover and setup (stage 1), status
//	config.go       Config and defaults
//	internal/naming rendition, segment and auxiliary file names; content types
//	rendition.go    per-rendition state, restore and save of progress, status
//	poll.go         playlist reload loop, edge tracking, backoff, stalls (stage 2)
//	apply.go        resolving and applying a loaded playlist: new entries,
//	                keys and init segments, PDT (stage 3)
//	internal/numbering numbering: source to output media sequence
//	                numbers, restarts, renumbering, reserved numbers (stage 3)
//	entry.go        entry (one segment), aux (init segment or key), notifier
//	pusher.go       per-target push loop, eviction and release (stage 5)
//	progress.go     persisted progress document and the saver (stage 6)
//	fileprogress.go FileProgress, a ProgressStore on the local disk
//	download.go     segment, key and init segment downloads into the spool
//	llhls.go        Low-Latency HLS: blocking reloads, parts of the segment
//	                in progress pushed to targets that take them
//	memory.go       MemoryBudget shared by the spools of a process
//	internal/spool  the spool (stage 4): memory chunks outside the Go heap
//	                (Linux) or on it, log files on disk, eviction, budget
//	sources.go      SourceTransport (alias); internal/guard: the source host
//	                guard (allowed hosts, private addresses, shared transport)
//	internal/backoff retry backoff and context-aware sleep
//	status.go       Status, Observer, ProgressStore
package fetch
