// Package backoff is the fetcher's retry backoff (exponential, with
// jitter) and its context-aware sleep.
package backoff
