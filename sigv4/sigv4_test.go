package sigv4_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/sigv4"
)

var scope = sigv4.Scope{Region: "eu-north-1", Service: "mediapackagev2"}

// server verifies every request and answers 201 with the body it read,
// or 403 with the error.
func server(t *testing.T, now func() time.Time) *httptest.Server {
	t.Helper()
	v := sigv4.NewVerifier(scope, func(key string) (string, bool) {
		return "s3cret-key-0123", key == "AKIDPULLPUSH"
	}, sigv4.WithClock(now))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.Verify(r); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func put(t *testing.T, tr http.RoundTripper, url string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "video/mp2t")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// onlyReader hides bytes.Reader so http.NewRequest sets no GetBody.
type onlyReader struct{ io.Reader }

// TestSignedRequestsVerify: requests the Transport signs pass the
// Verifier, with a body that has GetBody and one that has not, with a
// query and an escaped path; anything else is refused with its reason.
func TestSignedRequestsVerify(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := server(t, clock)
	good := &sigv4.Transport{Credentials: sigv4.Credentials{AccessKeyID: "AKIDPULLPUSH", SecretAccessKey: "s3cret-key-0123"}, Scope: scope, Now: clock}
	payload := bytes.Repeat([]byte("segment "), 10000)
	for name, body := range map[string]func() io.Reader{
		"GetBody":    func() io.Reader { return bytes.NewReader(payload) },
		"no GetBody": func() io.Reader { return onlyReader{bytes.NewReader(payload)} },
	} {
		code, got := put(t, good, srv.URL+"/in/v2/news/a/channel_1.ts?x=1&a=b%20c", body())
		if code != http.StatusCreated || got != strings.TrimSpace(string(payload)) {
			t.Fatalf("%s: %d %.80s", name, code, got)
		}
	}
	if code, got := put(t, good, srv.URL+"/in/v2/news/a/channel%20x.m3u8", nil); code != http.StatusCreated {
		t.Fatalf("empty body, escaped path: %d %s", code, got)
	}

	bad := func(name string, tr http.RoundTripper, want string) {
		t.Helper()
		code, got := put(t, tr, srv.URL+"/in/v2/news/a/channel_2.ts", bytes.NewReader(payload))
		if code != http.StatusForbidden && code != http.StatusBadRequest || !strings.Contains(got, want) {
			t.Errorf("%s: %d %q, want a refusal containing %q", name, code, got, want)
		}
	}
	wrong := *good
	wrong.Credentials.SecretAccessKey = "not-the-secret"
	bad("wrong secret", &wrong, "signature does not match")
	unknown := *good
	unknown.Credentials.AccessKeyID = "AKIDOTHER"
	bad("unknown key", &unknown, "signature does not match")
	region := *good
	region.Scope.Region = "us-east-1"
	bad("other region", &region, "scope us-east-1/mediapackagev2")
	late := *good
	late.Now = func() time.Time { return now.Add(-6 * time.Minute) }
	bad("old date", &late, "from the server's clock")
	bad("unsigned", http.DefaultTransport, "not signed")
	tampered := *good
	tampered.Base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r.Body = io.NopCloser(bytes.NewReader(bytes.ToUpper(payload)))
		return http.DefaultTransport.RoundTrip(r)
	})
	bad("tampered body", &tampered, "body does not match")
	header := *good
	header.Base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r.Header.Set("Content-Type", "text/plain")
		return http.DefaultTransport.RoundTrip(r)
	})
	bad("changed signed header", &header, "signature does not match")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestParseAuthorization(t *testing.T) {
	a, err := sigv4.ParseAuthorization("AWS4-HMAC-SHA256 Credential=AKID/20261203/eu-north-1/mediapackagev2/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + strings.Repeat("0a", 32))
	if err != nil || a.AccessKeyID != "AKID" || a.Date != "20261203" || a.Region != "eu-north-1" || a.Service != "mediapackagev2" || len(a.SignedHeaders) != 3 {
		t.Fatalf("%+v %v", a, err)
	}
	for _, h := range []string{
		"", "Digest username=x", "AWS4-HMAC-SHA256 ",
		"AWS4-HMAC-SHA256 Credential=AKID/2026/r/s/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0a", 32),
		"AWS4-HMAC-SHA256 Credential=AKID/20261203/r/s/aws4_request, SignedHeaders=Host, Signature=" + strings.Repeat("0a", 32),
		"AWS4-HMAC-SHA256 Credential=AKID/20261203/r/s/aws4_request, SignedHeaders=host, Signature=xyz",
		"AWS4-HMAC-SHA256 Credential=AKID/20261203/r/s/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=AKID/20261203/r/s/aws4_request, Credential=AKID/20261203/r/s/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0a", 32),
	} {
		if _, err := sigv4.ParseAuthorization(h); err == nil {
			t.Errorf("%q parsed", h)
		} else if h == "" && !errors.Is(err, sigv4.ErrNotSigned) {
			t.Errorf("empty header: %v", err)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261203/eu-north-1/mediapackagev2/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0a", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;, Signature=")
	f.Add("AWS4-HMAC-SHA256 ,,,==")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := sigv4.ParseAuthorization(h)
		if err != nil {
			return
		}
		if a.AccessKeyID == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0 || len(a.Date) != 8 {
			t.Fatalf("accepted %q as %+v", h, a)
		}
	})
}
