package origin

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/origin/internal/shared"
)

// challenge PUTs without credentials and returns the digest challenge.
func (e *env) challenge(t *testing.T, path string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, e.url(path), strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no auth: status %d, want 401", resp.StatusCode)
	}
	p, err := digest.ParseParams(resp.Header.Get("WWW-Authenticate"))
	if err != nil || p["nonce"] == "" || p["qop"] != "auth" || !strings.EqualFold(p["algorithm"], "MD5") {
		t.Fatalf("WWW-Authenticate %q: %v", resp.Header.Get("WWW-Authenticate"), err)
	}
	return p
}

// putAuth PUTs with an explicit Authorization header.
func (e *env) putAuth(t *testing.T, path, auth string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, e.url(path), strings.NewReader("#EXTM3U\n#EXT-X-TARGETDURATION:1\n"))
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestIngestAuth(t *testing.T) {
	e := newEnv(t, nil)
	const path = "/in/v2/live/a/channel_1.m3u8"
	auth := func(p map[string]string, user, pass string, nc uint32) string {
		return digest.Authorization(user, pass, http.MethodPut, path, p["realm"], p["nonce"], p["opaque"], "MD5", true, nc, "cnonce")
	}
	cases := []struct {
		name  string
		auth  func(p map[string]string) string
		want  int
		stale bool
	}{
		{"valid", func(p map[string]string) string { return auth(p, testUser, testPass, 1) }, http.StatusCreated, false},
		{"wrong password", func(p map[string]string) string { return auth(p, testUser, "guess", 1) }, http.StatusUnauthorized, false},
		{"wrong user", func(p map[string]string) string { return auth(p, "root", testPass, 1) }, http.StatusUnauthorized, false},
		{"basic auth", func(map[string]string) string { return "Basic cHVzaGVyOnA0c3MtdzByZA==" }, http.StatusUnauthorized, false},
		{"malformed", func(map[string]string) string { return `Digest username="pusher", nonce=` }, http.StatusUnauthorized, false},
		{"foreign nonce", func(p map[string]string) string {
			q := map[string]string{"realm": p["realm"], "nonce": "bm90LW91ci1ub25jZS1hdC1hbGwtbm9wZS1ub3BlLW5vcGU", "opaque": p["opaque"]}
			return auth(q, testUser, testPass, 1)
		}, http.StatusUnauthorized, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := e.challenge(t, path)
			resp := e.putAuth(t, path, tc.auth(p))
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized {
				h := resp.Header.Get("WWW-Authenticate")
				if !strings.HasPrefix(h, "Digest ") {
					t.Fatalf("401 without a digest challenge: %q", h)
				}
				if got := strings.Contains(h, "stale=true"); got != tc.stale {
					t.Fatalf("stale=%v in %q, want %v", got, h, tc.stale)
				}
			}
		})
	}

	t.Run("replayed nonce count", func(t *testing.T) {
		p := e.challenge(t, path)
		a := auth(p, testUser, testPass, 1)
		if resp := e.putAuth(t, path, a); resp.StatusCode != http.StatusCreated {
			t.Fatalf("first: %d", resp.StatusCode)
		}
		if resp := e.putAuth(t, path, a); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("replay: %d, want 401", resp.StatusCode)
		}
		if resp := e.putAuth(t, path, auth(p, testUser, testPass, 2)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("next nc: %d", resp.StatusCode)
		}
	})

	t.Run("stale nonce", func(t *testing.T) {
		p := e.challenge(t, path)
		e.clock.Add(DefaultNonceTTL + time.Second)
		resp := e.putAuth(t, path, auth(p, testUser, testPass, 1))
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "stale=true") {
			t.Fatalf("stale nonce: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		// The client transport recovers by itself with the new nonce.
		e.pusher("a").put("channel_1.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n"))
	})

	t.Run("credentials of another channel path", func(t *testing.T) {
		p := e.challenge(t, path)
		// Signed for one URI, sent to another.
		resp := e.putAuth(t, "/in/v2/live/a/channel_2.m3u8", auth(p, testUser, testPass, 1))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("uri mismatch: %d", resp.StatusCode)
		}
	})
}

func TestIngestPerInputCredentials(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Username, c.Channels[0].Password = "", ""
		c.Channels[0].Inputs = []InputConfig{{Name: "main", Username: "u1", Password: "p1"}, {Name: "backup", Username: "u2", Password: "p2"}}
	})
	put := func(input, user, pass string) int {
		c := &http.Client{Transport: &digest.Transport{Username: user, Password: pass}}
		req, _ := http.NewRequest(http.MethodPut, e.url("/in/v2/live/"+input+"/channel.m3u8"), strings.NewReader("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nchannel_1.m3u8\n"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		input, user, pass string
		want              int
	}{
		{"main", "u1", "p1", http.StatusCreated},
		{"backup", "u2", "p2", http.StatusCreated},
		{"main", "u2", "p2", http.StatusUnauthorized},
		{"other", "u1", "p1", http.StatusNotFound},
	} {
		if got := put(tc.input, tc.user, tc.pass); got != tc.want {
			t.Errorf("PUT %s as %s: %d, want %d", tc.input, tc.user, got, tc.want)
		}
	}
}

func TestIngestLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 1000 })
	c := &http.Client{Transport: &digest.Transport{Username: testUser, Password: testPass}}
	do := func(method, path string, body string) (int, string) {
		req, _ := http.NewRequest(method, e.url(path), strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPut, "/in/v2/live/a/big.ts", strings.Repeat("x", 1001), http.StatusRequestEntityTooLarge},
		{http.MethodPut, "/in/v2/live/a/notes.txt", "x", http.StatusUnsupportedMediaType},
		{http.MethodPut, "/in/v2/live/a/channel.m3u8", "not a playlist", http.StatusBadRequest},
		{http.MethodPut, "/in/v2/nope/a/channel.m3u8", "#EXTM3U", http.StatusNotFound},
		{http.MethodPut, "/in/v2/live/b/x.ts", "x", http.StatusCreated},
		{http.MethodPut, "/in/v2/live/c/x.ts", "x", http.StatusCreated},
		{http.MethodPut, "/in/v2/live/third/x.ts", "x", http.StatusConflict},
		{http.MethodDelete, "/in/v2/live/b/x.ts", "", http.StatusNoContent},
		{http.MethodGet, "/in/v2/live/b/x.ts", "", http.StatusMethodNotAllowed},
	} {
		if got, body := do(tc.method, tc.path, tc.body); got != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, got, body, tc.want)
		} else if got >= 400 && got != http.StatusMethodNotAllowed && !strings.HasPrefix(body, `{"error":`) {
			t.Errorf("%s %s: error body %q is not JSON", tc.method, tc.path, body)
		}
	}
}

// TestIngestTraversalRejected sends raw request lines (no client-side
// cleaning) with traversal attempts; none may be accepted or write outside
// the data folder.
func TestIngestTraversalRejected(t *testing.T) {
	e := newEnv(t, nil)
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	for _, target := range []string{
		"/in/v2/live/a/../../../../tmp/x.ts",
		"/in/v2/live/a/..%2F..%2Fx.ts",
		"/in/v2/live/a/%2e%2e",
		"/in/v2/live/../a/x.ts",
		"/in/v2/live/a/.hidden.ts",
		"/in/v2/live/a/a%5Cb.ts",
		"/in/v2/live/a/x/y.ts",
		"/in/v2/live/a/" + strings.Repeat("a", 129) + ".ts",
		"/in/v2/live/a%2Fb/x.ts",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx", target, addr)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode < 300 || resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(target, "/in/v2/live/a/") {
			t.Errorf("PUT %s: %d", target, resp.StatusCode)
		}
	}
	// Authenticated attempts through the client are refused too.
	p := e.pusher("a")
	req, _ := http.NewRequest(http.MethodPut, p.base+".hidden.ts", strings.NewReader("x"))
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("leading dot: %d", resp.StatusCode)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(e.dir), "*.ts"))
	if len(matches) > 0 {
		t.Fatalf("files written outside the data folder: %v", matches)
	}
}

var ingestPathCases = []struct {
	in string
	ok bool
}{
	{"/in/v2/live/a/channel.m3u8", true},
	{"/in/v2/live/b/channel_1_00042.ts", true},
	{"/in/v2/ch-1/input_2/seg.m4s", true},
	{"/in/v2/live/a/..", false},
	{"/in/v2/live/a/.", false},
	{"/in/v2/live/a/.m3u8", false},
	{"/in/v2/live/a/..%2Fx", false},
	{"/in/v2/live/a/a/b", false},
	{"/in/v2/live/a/", false},
	{"/in/v2/live//x.ts", false},
	{"/in/v2/live/a/x y.ts", false},
	{"/in/v2/live/a/x\\y.ts", false},
	{"/in/v1/live/a/x.ts", false},
	{"/out/v1/live/a/x.ts", false},
	{"/in/v2/live/a/" + strings.Repeat("x", 129), false},
}

func TestParseIngestPath(t *testing.T) {
	for _, tc := range ingestPathCases {
		p, err := ParseIngestPath(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseIngestPath(%q) = %+v, %v; want ok=%v", tc.in, p, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadPath) {
			t.Errorf("error %v does not wrap ErrBadPath", err)
		}
	}
}

// FuzzIngestPath checks that an accepted path always yields three safe
// names whose join stays inside the data folder.
func FuzzIngestPath(f *testing.F) {
	for _, tc := range ingestPathCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseIngestPath(s)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("error %v does not wrap ErrBadPath", err)
			}
			return
		}
		base := "/data"
		joined := filepath.Join(base, p.Channel, p.Input, p.File)
		if filepath.Dir(filepath.Dir(filepath.Dir(joined))) != base {
			t.Fatalf("%q escapes: %s", s, joined)
		}
		for _, n := range []string{p.Channel, p.Input, p.File} {
			if n == "" || n[0] == '.' || strings.ContainsAny(n, "/\\%\x00") || len(n) > shared.MaxNameLen {
				t.Fatalf("%q: unsafe element %q", s, n)
			}
		}
		if "/in/v2/"+p.Channel+"/"+p.Input+"/"+p.File != s {
			t.Fatalf("%q does not round trip", s)
		}
	})
}

// TestUnsafePathsRefused: ingest and playback paths with dot or empty
// segments, encoded slashes or NUL bytes are answered 400 with a JSON
// error, with valid digest credentials and without (the check runs before
// authentication), and nothing is written anywhere.
func TestUnsafePathsRefused(t *testing.T) {
	e := newEnv(t, nil)
	digestClient := e.pusher("a").client
	for _, p := range []string{
		"/in/v2/live/a/../../../../escape.ts",
		"/in/v2/live/a/%2e%2e/%2e%2e/escape.ts",
		"/in/v2/live/a/./escape.ts",
		"/in/v2/live//a/escape.ts",
		"/in/v2/live/a/..%2F..%2Fescape.ts",
		"/in/v2/live/a/..%5cescape.ts",
		"/in/v2/live/a/escape%00.ts",
		"/out/v1/live/../../escape.m3u8",
		"/out/v1/live//index.m3u8",
	} {
		method := http.MethodPut
		if strings.HasPrefix(p, "/out/") {
			method = http.MethodGet
		}
		for _, client := range []*http.Client{digestClient, http.DefaultClient} {
			req, err := http.NewRequest(method, e.srv.URL+p, strings.NewReader("#EXTM3U\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := req.URL.RequestURI(); got != p {
				t.Fatalf("the client would send %q, not %q", got, p)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var msg struct{ Error string }
			if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &msg) != nil || msg.Error == "" {
				t.Errorf("%s %s: %d %s, want 400 with a JSON error", method, p, resp.StatusCode, body)
			}
		}
	}
	filepath.WalkDir(filepath.Dir(e.dir), func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "escape") {
			t.Errorf("written: %s", path)
		}
		return nil
	})
	// A safe path still works.
	e.pusher("a").put("channel.m3u8", []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nchannel_1.m3u8\n"))
}
