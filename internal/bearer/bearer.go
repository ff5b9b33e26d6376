// Package bearer guards HTTP handlers with a static bearer token
// (Authorization: Bearer <token>), compared in constant time.
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
)

// Handler returns next behind the token; an empty token lets every
// request through. A request without the token is answered 401 with a
// JSON error and a WWW-Authenticate challenge; the token is never logged
// or echoed.
func Handler(token, realm string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		challenge := `Bearer realm="` + realm + `"`
		msg := "missing bearer token: send Authorization: Bearer <token>"
		if h != "" {
			challenge += `, error="invalid_token"`
			msg = "invalid bearer token"
		}
		w.Header().Set("WWW-Authenticate", challenge)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	})
}
