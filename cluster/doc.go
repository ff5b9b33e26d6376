// Package cluster lets several `pullpush serve` instances share the
// fetchers stored in NATS JetStream (store/natskv): each fetcher runs on
// exactly one instance, fetchers are spread evenly, and when an instance
// dies the others take its fetchers over and continue the same streams.
//
// # Buckets
//
// Next to the store's <prefix>_fetchers and <prefix>_progress buckets:
//
//	<prefix>_members  key = instance id; TTL = lease TTL; renewed every TTL/3
//	<prefix>_leases   key = fetcher id, value = owning instance; TTL = lease TTL
//	<prefix>_status   key = fetcher id, value = the owner's last status; TTL = 2 × lease TTL
//
// The TTL buckets keep expiry markers (nats-server 2.11 or newer), so every
// instance's watcher learns at once when a member or a lease expired.
//
// # Leases and fencing
//
// An instance claims a fetcher with Create on its lease key (fails when
// another instance holds it) and renews it with Update at the revision it
// last wrote, every TTL/3. The lease is trusted locally until the time the
// last successful renewal was sent plus TTL minus a margin (TTL/5): the
// server cannot expire it before then, so no other instance can claim it
// before this one stopped trusting it. A renewal that fails on the revision
// (the key expired or another instance holds it) loses the lease at once.
//
// Every output of a fetcher is wrapped (Node.WrapOutput) so that an upload
// starts only while the lease is trusted and is cancelled the moment the
// trust lapses (a timer at that instant, moved by each renewal) or the
// lease is lost; a long upload under a lease that keeps being renewed runs
// to its end. Losing a lease closes that fence before anything else; the
// fetcher is then stopped. While a progress save fails (NATS unreachable),
// uploads pause until a retry stores it, so an owner cut off from NATS
// cannot run ahead of its stored progress by more than one segment. Progress is fenced too: on claim, the new owner
// rewrites the progress record at its current revision, and the owner saves
// progress only at the revision it last wrote (Node.Progress), so a former
// owner that still runs can neither push nor overwrite progress.
//
// # Balance
//
// With N definitions and M live members, an instance claims unowned
// fetchers while it runs fewer than ceil(N/M) (more when other members are
// at their MaxFetchers cap) and no live member runs fewer than it does (the
// least loaded claim first; Create arbitrates races). It hands fetchers off
// when it runs more than that target, or when it is the
// most loaded member and runs two more than the least loaded one. A
// hand-off stops the fetcher gracefully (in-flight uploads finish, progress
// is saved), then deletes the lease; the others see the delete and claim.
// Watchers on the definitions, members and leases buckets trigger this
// reconciliation, and a timer repeats it every TTL/3.
//
// # Failure and leave
//
// Killed (kill -9), an instance stops renewing: its member key and leases
// expire after at most one TTL, the expiry markers wake the others, which
// claim and resume each fetcher from its stored progress: the takeover takes
// between one and two TTLs. Leave (SIGTERM) removes the member key first,
// then hands every fetcher off.
//
// Each owner publishes its fetchers' status (state, counters, lag, last
// error, secrets redacted) every TTL/3 into the status bucket, so the REST
// API of every instance lists the whole cluster with the instance running
// each fetcher (api.Options.Cluster).
//
// The buckets hold the output payloads and their secrets: access-control
// the NATS server.
package cluster
