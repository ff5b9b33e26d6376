// Package accesslog logs one structured line per HTTP request: method,
// path, status, response bytes, duration and remote address.
package accesslog

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pullpush/pullpush/internal/httprec"
)

// Log keys.
const (
	keyMethod   = "method"
	keyPath     = "path"
	keyQuery    = "query"
	keyStatus   = "status"
	keyBytes    = "bytes"
	keyIn       = "bytes_in"
	keyDuration = "duration"
	keyRemote   = "remote"
)

// Handler returns next logging every request to log at level Info when it
// has been answered. Query parameters that may carry a secret (token, key,
// password, secret, signature) are logged as REDACTED; headers are never
// logged.
func Handler(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := httprec.Wrap(w, r)
		next.ServeHTTP(rec, r)
		attrs := []slog.Attr{
			slog.String(keyMethod, r.Method),
			slog.String(keyPath, r.URL.Path),
		}
		if q := redact(r.URL.RawQuery); q != "" {
			attrs = append(attrs, slog.String(keyQuery, q))
		}
		attrs = append(attrs,
			slog.Int(keyStatus, rec.Status()),
			slog.Int64(keyBytes, rec.Bytes()),
		)
		if n := rec.RequestBytes(); n > 0 {
			attrs = append(attrs, slog.Int64(keyIn, n))
		}
		attrs = append(attrs,
			slog.Duration(keyDuration, time.Since(start)),
			slog.String(keyRemote, r.RemoteAddr),
		)
		log.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
	})
}

// redact returns the raw query with the values of secret-looking
// parameters replaced.
func redact(raw string) string {
	if raw == "" {
		return ""
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return "(unparsable)"
	}
	for k, vs := range vals {
		lk := strings.ToLower(k)
		for _, s := range []string{"token", "key", "pass", "secret", "sig", "auth", "credential"} {
			if strings.Contains(lk, s) {
				for i := range vs {
					vs[i] = "REDACTED"
				}
				break
			}
		}
	}
	return vals.Encode()
}
