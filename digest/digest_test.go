package digest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testutil"
)

const (
	testRealm = "test"
	testUser  = "alice"
	testPass  = "s3cret"
)

func newTestVerifier(clock *testutil.Clock) *Verifier {
	return NewVerifier(testRealm, time.Minute, func(u string) (string, bool) {
		return testPass, u == testUser
	}, WithClock(clock.Now))
}

func putReq(uri, auth string) *http.Request {
	r := httptest.NewRequest(http.MethodPut, uri, strings.NewReader("x"))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

func TestVerifyTable(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	v := newTestVerifier(clock)
	const uri = "/in/v2/ch/a/channel.m3u8"
	good := func(nc uint32) string {
		return Authorization(testUser, testPass, http.MethodPut, uri, testRealm, v.NewNonce(), "pullpush", "MD5", true, nc, "cn")
	}
	cases := []struct {
		name string
		auth func() string
		uri  string
		want error // nil = accepted
	}{
		{"valid", func() string { return good(1) }, uri, nil},
		{"no auth", func() string { return "" }, uri, ErrNoCredentials},
		{"basic scheme", func() string { return "Basic YWxpY2U6czNjcmV0" }, uri, ErrMalformed},
		{"wrong password", func() string {
			return Authorization(testUser, "nope", http.MethodPut, uri, testRealm, v.NewNonce(), "", "MD5", true, 1, "cn")
		}, uri, ErrBadCredentials},
		{"unknown user", func() string {
			return Authorization("mallory", testPass, http.MethodPut, uri, testRealm, v.NewNonce(), "", "MD5", true, 1, "cn")
		}, uri, ErrBadCredentials},
		{"wrong realm", func() string {
			return Authorization(testUser, testPass, http.MethodPut, uri, "other", v.NewNonce(), "", "MD5", true, 1, "cn")
		}, uri, ErrBadCredentials},
		{"wrong method", func() string {
			return Authorization(testUser, testPass, http.MethodGet, uri, testRealm, v.NewNonce(), "", "MD5", true, 1, "cn")
		}, uri, ErrBadCredentials},
		{"uri mismatch", func() string { return good(1) }, "/in/v2/ch/a/other.ts", ErrMalformed},
		{"forged nonce", func() string {
			return Authorization(testUser, testPass, http.MethodPut, uri, testRealm, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "MD5", true, 1, "cn")
		}, uri, ErrStale},
		{"no qop", func() string {
			return Authorization(testUser, testPass, http.MethodPut, uri, testRealm, v.NewNonce(), "", "MD5", false, 1, "cn")
		}, uri, ErrMalformed},
		{"sha-256 algorithm", func() string {
			return Authorization(testUser, testPass, http.MethodPut, uri, testRealm, v.NewNonce(), "", "SHA-256", true, 1, "cn")
		}, uri, ErrMalformed},
		{"nc zero", func() string { return good(0) }, uri, ErrMalformed},
		{"missing response", func() string {
			return `Digest username="alice", realm="test", nonce="x", uri="` + uri + `", qop=auth, nc=00000001, cnonce="c"`
		}, uri, ErrMalformed},
		{"unterminated quote", func() string { return `Digest username="alice, realm="test` }, uri, ErrMalformed},
		{"duplicate param", func() string { return `Digest username="a", username="b"` }, uri, ErrMalformed},
		{"param without value", func() string { return `Digest username` }, uri, ErrMalformed},
		{"oversized header", func() string { return "Digest username=\"" + strings.Repeat("a", 5000) + "\"" }, uri, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user, err := v.Verify(putReq(tc.uri, tc.auth()))
			if tc.want == nil {
				if err != nil || user != testUser {
					t.Fatalf("Verify = %q, %v; want %q, nil", user, err, testUser)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v; want %v", err, tc.want)
			}
		})
	}
}

func TestStaleNonce(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	v := newTestVerifier(clock)
	const uri = "/x"
	nonce := v.NewNonce()
	auth := func(nc uint32) string {
		return Authorization(testUser, testPass, http.MethodPut, uri, testRealm, nonce, "", "", true, nc, "cn")
	}
	if _, err := v.Verify(putReq(uri, auth(1))); err != nil {
		t.Fatalf("fresh nonce: %v", err)
	}
	clock.Add(59 * time.Second)
	if _, err := v.Verify(putReq(uri, auth(2))); err != nil {
		t.Fatalf("nonce within TTL: %v", err)
	}
	clock.Add(2 * time.Second)
	if _, err := v.Verify(putReq(uri, auth(3))); !errors.Is(err, ErrStale) {
		t.Fatalf("expired nonce: err = %v, want ErrStale", err)
	}
	// The middleware answers a stale nonce with stale=true.
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, putReq(uri, auth(4)))
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "stale=true") {
		t.Fatalf("stale: got %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestReplayedNonceCount(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	v := newTestVerifier(clock)
	const uri = "/x"
	nonce := v.NewNonce()
	a1 := Authorization(testUser, testPass, http.MethodPut, uri, testRealm, nonce, "", "", true, 1, "cn")
	if _, err := v.Verify(putReq(uri, a1)); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := v.Verify(putReq(uri, a1)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed nc: err = %v, want ErrReplay", err)
	}
	// Out-of-order counts within the window are fine (concurrent uploads).
	a3 := Authorization(testUser, testPass, http.MethodPut, uri, testRealm, nonce, "", "", true, 3, "cn")
	a2 := Authorization(testUser, testPass, http.MethodPut, uri, testRealm, nonce, "", "", true, 2, "cn")
	if _, err := v.Verify(putReq(uri, a3)); err != nil {
		t.Fatalf("nc 3: %v", err)
	}
	if _, err := v.Verify(putReq(uri, a2)); err != nil {
		t.Fatalf("nc 2 after 3: %v", err)
	}
	// Counts far below the highest seen are refused.
	far := Authorization(testUser, testPass, http.MethodPut, uri, testRealm, nonce, "", "", true, maxNonceCounts+10, "cn")
	if _, err := v.Verify(putReq(uri, far)); err != nil {
		t.Fatalf("high nc: %v", err)
	}
	low := Authorization(testUser, testPass, http.MethodPut, uri, testRealm, nonce, "", "", true, 5, "cn")
	if _, err := v.Verify(putReq(uri, low)); !errors.Is(err, ErrReplay) {
		t.Fatalf("nc below window: err = %v, want ErrReplay", err)
	}
}

// TestTransportAgainstMiddleware runs the client Transport against the
// server Verifier over loopback HTTP: challenge, retry with body, then
// pre-authenticated requests with increasing nc.
func TestTransportAgainstMiddleware(t *testing.T) {
	v := NewVerifier(testRealm, time.Minute, func(u string) (string, bool) { return testPass, u == testUser })
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})))
	defer srv.Close()

	client := &http.Client{Transport: &Transport{Username: testUser, Password: testPass}}
	for i, body := range []string{"one", "two", "three"} {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/in/v2/c/a/f"+string(rune('0'+i)), strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %d: status %d", i, resp.StatusCode)
		}
	}
	if got := strings.Join(bodies, ","); got != "one,two,three" {
		t.Fatalf("bodies = %q", got)
	}

	bad := &http.Client{Transport: &Transport{Username: testUser, Password: "wrong"}}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/x", strings.NewReader("x"))
	resp, err := bad.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("wrong password: status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// paramCases seed FuzzParseParams and check ParseParams.
var paramCases = []struct {
	in   string
	want map[string]string // nil = error
}{
	{`Digest realm="r", nonce="n", qop="auth"`, map[string]string{"realm": "r", "nonce": "n", "qop": "auth"}},
	{`digest Realm=r,NONCE=n`, map[string]string{"realm": "r", "nonce": "n"}},
	{`Digest username="a\"b", uri="/x,y"`, map[string]string{"username": `a"b`, "uri": "/x,y"}},
	{`Digest  a="1" ,, b=2 `, map[string]string{"a": "1", "b": "2"}},
	{`Digest`, map[string]string{}},
	{`Basic abc`, nil},
	{`Digest a="unterminated`, nil},
	{`Digest a=1, a=2`, nil},
	{`Digest =x`, nil},
	{`Digest novalue`, nil},
	{`Digest a b=c`, nil},
}

func TestParseParams(t *testing.T) {
	for _, tc := range paramCases {
		got, err := ParseParams(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("ParseParams(%q) = %v, want error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseParams(%q): %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("ParseParams(%q) = %v, want %v", tc.in, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("ParseParams(%q)[%s] = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

// FuzzParseParams checks that ParseParams never panics, that errors wrap
// ErrMalformed, and that quoting a parsed value round-trips.
func FuzzParseParams(f *testing.F) {
	for _, tc := range paramCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseParams(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(s) > 1000 {
			return // re-quoting could exceed the header limit
		}
		for k, v := range p {
			if k == "" || strings.ContainsAny(k, " \t\"") {
				t.Fatalf("bad key %q", k)
			}
			q, err := ParseParams("Digest " + k + "=" + quote(v))
			if err != nil || q[k] != v {
				t.Fatalf("round trip of %s=%q: %v %q", k, v, err, q[k])
			}
		}
	})
}

func BenchmarkDigestVerify(b *testing.B) {
	v := NewVerifier(testRealm, time.Hour, func(u string) (string, bool) { return testPass, u == testUser })
	const uri = "/in/v2/ch/a/channel_1_123.ts"
	nonce := v.NewNonce()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		auth := Authorization(testUser, testPass, http.MethodPut, uri, testRealm, nonce, "", "", true, uint32(i+1), "cn")
		if _, err := v.Verify(putReq(uri, auth)); err != nil {
			b.Fatal(err)
		}
	}
}
