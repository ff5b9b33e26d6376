// Package safepath refuses HTTP requests whose path could name something
// other than what it spells: dot segments, empty segments, encoded
// slashes or backslashes, and NUL bytes.
//
// net/http's ServeMux answers such paths with a redirect to the cleaned
// path (307 for a PUT), and a client that follows it sends its body to a
// URL it never asked for. Wrapped around the outermost handler, Handler
// answers 400 with a JSON error instead, before any authentication, so a
// request is either served for the path it names or refused.
package safepath

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Handler returns next behind the path check.
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := Check(rawPath(r)); msg != "" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rawPath is the path of the request as the client sent it, still escaped.
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || p == "*" || !strings.HasPrefix(p, "/") {
		p = r.URL.EscapedPath() // absolute-form target, or a request built in-process
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// Check returns why the escaped request path p is refused, or "" when it
// is safe.
func Check(p string) string {
	if strings.IndexByte(p, 0) >= 0 || strings.Contains(p, "%00") {
		return "path contains a NUL byte"
	}
	lower := strings.ToLower(p)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.IndexByte(p, '\\') >= 0 {
		return "path contains an encoded slash or a backslash"
	}
	if strings.Contains(p, "//") {
		return "path contains an empty segment (//)"
	}
	for _, seg := range strings.Split(lower, "/") {
		switch strings.ReplaceAll(seg, "%2e", ".") {
		case ".", "..":
			return "path contains a dot segment (. or ..)"
		}
	}
	return ""
}
