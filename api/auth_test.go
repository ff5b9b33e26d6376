package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	const token = "s3cr3t-api-token-value"
	h := newHarness(t, harnessOpts{token: token})
	id := h.create(fetcherBody("authed"))
	h.token = "" // send headers by hand from here on

	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		challenge                string
	}{
		{"no header", "GET", "/api/v1/fetcher", "", 401, `Bearer realm="pullpush"`},
		{"wrong token", "GET", "/api/v1/fetcher", "Bearer nope", 401, `Bearer realm="pullpush", error="invalid_token"`},
		{"token prefix", "GET", "/api/v1/fetcher", "Bearer " + token[:len(token)-1], 401, `Bearer realm="pullpush", error="invalid_token"`},
		{"token plus suffix", "GET", "/api/v1/fetcher", "Bearer " + token + "x", 401, `Bearer realm="pullpush", error="invalid_token"`},
		{"basic scheme", "GET", "/api/v1/fetcher", "Basic " + token, 401, `Bearer realm="pullpush", error="invalid_token"`},
		{"bare token", "GET", "/api/v1/fetcher", token, 401, `Bearer realm="pullpush", error="invalid_token"`},
		{"create without token", "POST", "/api/v1/fetcher", "", 401, `Bearer realm="pullpush"`},
		{"delete without token", "DELETE", "/api/v1/fetcher/" + id, "", 401, `Bearer realm="pullpush"`},
		{"get without token", "GET", "/api/v1/fetcher/" + id, "", 401, `Bearer realm="pullpush"`},
		{"outputs without token", "GET", "/api/v1/outputs", "", 401, `Bearer realm="pullpush"`},
		{"unknown v1 path hides existence", "GET", "/api/v1/secret-admin", "", 401, `Bearer realm="pullpush"`},
		{"double slash", "GET", "//api/v1/fetcher", "", 401, `Bearer realm="pullpush"`},
		{"dot segments", "GET", "/api/x/../v1/fetcher", "", 401, `Bearer realm="pullpush"`},
		{"right token", "GET", "/api/v1/fetcher", "Bearer " + token, 200, ""},
		{"scheme case-insensitive", "GET", "/api/v1/fetcher/" + id, "bearer " + token, 200, ""},
		{"health open", "GET", "/health", "", 200, ""},
		{"metrics open", "GET", "/metrics", "", 200, ""},
		{"docs open", "GET", "/api/docs", "", 200, ""},
		{"openapi open", "GET", "/api/docs/openapi.json", "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			body := ""
			if tc.method == "POST" {
				body = fetcherBody("x")
			}
			r := h.do(tc.method, tc.path, body, hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if tc.status == 401 && !strings.Contains(r.errorMsg(t), "bearer token") {
				t.Errorf("401 body = %s", r.body)
			}
		})
	}
	// The fetcher survived the unauthenticated DELETE.
	h.token = token
	if r := h.do("GET", "/api/v1/fetcher/"+id, ""); r.status != http.StatusOK {
		t.Fatalf("fetcher gone after unauthenticated delete: %d", r.status)
	}
	if strings.Contains(h.logs.String(), token) {
		t.Fatal("API token appears in the log")
	}
}

func TestNoTokenMeansOpen(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if r := h.do("GET", "/api/v1/fetcher", ""); r.status != 200 {
		t.Fatalf("no token configured: %d", r.status)
	}
}

func TestPprofBehindToken(t *testing.T) {
	const token = "pprof-test-token"
	h := newHarness(t, harnessOpts{token: token, pprof: true})
	h.token = ""
	if r := h.do("GET", "/debug/pprof/", ""); r.status != 401 {
		t.Fatalf("pprof without token: %d, want 401", r.status)
	}
	if r := h.do("GET", "/debug/pprof/../pprof/cmdline", ""); r.status != 401 && r.status != 404 && r.status != 301 {
		t.Fatalf("pprof by dot segments without token: %d", r.status)
	}
	r := h.do("GET", "/debug/pprof/", "", "Authorization", "Bearer "+token)
	if r.status != 200 || !strings.Contains(string(r.body), "goroutine") {
		t.Fatalf("pprof index with token: %d %.200s", r.status, r.body)
	}
	r = h.do("GET", "/debug/pprof/heap?debug=1", "", "Authorization", "Bearer "+token)
	if r.status != 200 || !strings.Contains(string(r.body), "heap profile") {
		t.Fatalf("heap profile: %d %.200s", r.status, r.body)
	}

	off := newHarness(t, harnessOpts{})
	if r := off.do("GET", "/debug/pprof/", ""); r.status != 404 {
		t.Fatalf("pprof when not enabled: %d, want 404", r.status)
	}
}
