// Package redact keeps the API's secrets out of what it returns and logs:
// payload fields marked secret by an output's schema (RedactPayload,
// SecretValues), passwords and secret query values in URLs (RedactURL,
// RedactURLsIn), and, in log lines, every registered secret value in any of
// its encodings (Redactor, a slog handler wrapper over a secret index that
// scrubs a line in time linear in its length).
//
// Files: redact.go (payloads and URLs), secretindex.go (the multi-pattern
// index of secret forms), logredact.go (Redactor and its slog handler).
package redact
