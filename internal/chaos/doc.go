// Package chaos is a fault-injection HTTP reverse proxy for reliability
// tests of the relay. Put it between the relay and its source (GET of
// playlists and segments) or between the relay and its destination (PUT and
// DELETE of a WebDAV ingest) and let rules break some of the requests:
//
//	p := chaos.New(target, chaos.WithSeed(42))
//	defer p.Close()
//	err := p.SetRules([]chaos.Rule{
//		{Fault: chaos.FaultStatus, Status: 503, Methods: []string{"PUT"}, Count: 3},
//		{Fault: chaos.FaultTruncate, Path: "*.ts", Percent: 50, Probability: 0.1},
//	})
//	srv := httptest.NewServer(p)
//
// The same proxy runs from the command line as
// `pullpush chaos --listen ADDR --target URL --profile NAME|FILE [--seed N]`.
//
// # Faults
//
//   - status: answer Status (default 503) without contacting the target.
//   - delay: wait Delay, then forward.
//   - hang (alias timeout): never answer; the request is held until the
//     client gives up, the proxy closes or Delay (if set) passes, then the
//     connection is dropped.
//   - reset: close the client connection with a TCP RST.
//   - truncate: forward, announce the full Content-Length, send only Bytes
//     bytes (or Percent % of the body; by default none) and drop the
//     connection, so the client reads an unexpected EOF.
//   - stale: answer a playlist GET with the body the proxy last returned for
//     that path (the rule matches only once there is one).
//   - reset-sequence: rewrite a media playlist as after a source restart:
//     EXT-X-MEDIA-SEQUENCE restarts at Sequence (default 0) and counts on
//     relative to the source while the rule keeps firing.
//   - skip: drop the first Segments (default 1) segments of a media
//     playlist and raise EXT-X-MEDIA-SEQUENCE (and
//     EXT-X-DISCONTINUITY-SEQUENCE) to match: a sequence jump.
//
// Playlists are rewritten with a plain line scanner; everything but the
// touched lines is passed through verbatim. A rewrite rule that meets a body
// it cannot rewrite (a segment, a multivariant playlist) passes it through.
//
// # Selecting requests
//
// A rule matches a request by method (Methods; empty: all) and path (Path, a
// path.Match glob matched against the last path element when it has no "/",
// else against the whole path; or Regexp). Among the rules that match, in
// order, a rule fires
//   - always (Probability 0 or 1), or with Probability p: the probabilistic
//     rules matching one request share one draw from a PCG source seeded by
//     WithSeed, the first taking [0,p1), the next [p1,p1+p2) and so on;
//   - at most Count times (0: unlimited);
//   - only in the window [After, After+For) measured from New or SetRules
//     (For 0: no end).
//
// The first rule that fires decides; when none does the request is
// forwarded unchanged. Enable and Disable switch injection on and off.
// Given the same seed, rules and order of requests, the proxy injects the
// same faults. Stats counts injected faults per kind and Events keeps a log
// of recent requests (method, path, rule, fault, status; never headers or
// query strings).
//
// # Profiles
//
// A profile is a list of rules. Built-ins (see BuiltinUsage) are named on
// the command line, optionally with a parameter, and combine with "+":
//
//	flaky-source          GETs: 10% answered 503, 5% truncated at 50%, 5% delayed 2s
//	dead-dest             every PUT answered 503
//	outage[:DURATION]     every request answered 503 for DURATION (default 30s), then healthy
//	resets[:P]            a share P (default 0.1) of all requests get a TCP reset
//	slow[:DURATION]       every request delayed by DURATION (default 2s)
//	hangs[:P]             a share P (default 0.1) of all requests never answered
//
// A profile file is a JSON object, decoded strictly (unknown keys are
// errors):
//
//	{
//	  "name": "source-trouble",
//	  "rules": [
//	    {"fault": "status", "status": 503, "methods": ["GET"], "path": "*.ts", "probability": 0.1},
//	    {"fault": "delay", "delay": "2s", "regexp": "^/live/", "count": 5},
//	    {"fault": "stale", "path": "*.m3u8", "after": "10s", "for": "6s"},
//	    {"fault": "skip", "segments": 3, "path": "*.m3u8", "count": 1},
//	    {"fault": "truncate", "bytes": 1000}
//	  ]
//	}
//
// Rule keys: "name", "fault" (required: status, delay, hang, timeout, reset,
// truncate, stale, reset-sequence, skip), "methods", "path", "regexp",
// "probability" (0 < p <= 1), "count" (>= 1), "after" and "for" (Go duration
// strings), and the parameters of the fault: "status" (400..599) for status;
// "delay" for delay (required) and hang; "bytes" or "percent" (0 <= p < 100)
// for truncate; "segments" (>= 1) for skip; "sequence" for reset-sequence.
// A parameter given for another fault is an error. Errors name the key:
// `rules[1].probability: must be greater than 0 and at most 1, got 2`.
package chaos
