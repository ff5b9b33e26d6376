package origin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/internal/testmedia"
)

const (
	cdnSecret1 = "cdn-secret-0123456789"
	cdnSecret2 = "cdn-secret-abcdefghij"
)

// getWith fetches p with extra request headers.
func (e *env) getWith(p string, h map[string]string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url(p), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// TestCDNAuthorization: with a CDN authorization, playback answers 403
// with a JSON error without the header or with a wrong secret, and serves
// with either secret (rotation); ingest is unaffected; an in-process
// Trusted request passes without the header.
func TestCDNAuthorization(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].CDNAuth = &CDNAuthConfig{Secrets: []string{cdnSecret1, cdnSecret2}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	for n := range 3 {
		l.push(p, n)
	}
	const master = "/out/v1/" + testChannel + "/index.m3u8"
	for _, h := range []map[string]string{
		nil,
		{DefaultCDNAuthHeader: "wrong"},
		{DefaultCDNAuthHeader: cdnSecret1[:len(cdnSecret1)-1]},
		{"X-Other": cdnSecret1},
	} {
		code, body := e.getWith(master, h)
		var msg struct{ Error string }
		if code != http.StatusForbidden || json.Unmarshal(body, &msg) != nil || !strings.Contains(msg.Error, DefaultCDNAuthHeader) {
			t.Errorf("headers %v: %d %s, want 403 naming the header", h, code, body)
		}
		if bytes.Contains(body, []byte(cdnSecret1)) {
			t.Errorf("403 body echoes a secret: %s", body)
		}
	}
	for _, s := range []string{cdnSecret1, cdnSecret2} {
		code, body := e.getWith(master, map[string]string{DefaultCDNAuthHeader: s})
		if code != http.StatusOK || !bytes.HasPrefix(body, []byte("#EXTM3U")) {
			t.Errorf("with a valid secret: %d %s", code, body)
		}
	}
	// A media playlist and a segment need it too.
	ok := map[string]string{DefaultCDNAuthHeader: cdnSecret2}
	firstURI := func(p string) string {
		t.Helper()
		code, body := e.getWith(p, ok)
		if code != http.StatusOK {
			t.Fatalf("%s with the header: %d %s", p, code, body)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				return "/out/v1/" + testChannel + "/" + line
			}
		}
		t.Fatalf("%s lists nothing:\n%s", p, body)
		return ""
	}
	media := firstURI(master)
	seg := firstURI(media)
	if code, _ := e.getWith(media, nil); code != http.StatusForbidden {
		t.Errorf("media playlist without the header: %d", code)
	}
	if code, _ := e.getWith(seg, nil); code != http.StatusForbidden {
		t.Errorf("segment %s without the header: %d", seg, code)
	}
	if code, _ := e.getWith(seg, ok); code != http.StatusOK {
		t.Errorf("segment %s with the header: %d", seg, code)
	}
	rec := &recorder{header: http.Header{}}
	req, _ := http.NewRequestWithContext(Trusted(t.Context()), http.MethodGet, master, nil)
	e.o.Handler().ServeHTTP(rec, req)
	if rec.code != http.StatusOK {
		t.Errorf("trusted in-process request: %d", rec.code)
	}
}

// recorder is a minimal ResponseWriter.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(c int) {
	if r.code == 0 {
		r.code = c
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(p)
}

// TestIngestAllowlist: ingest from an address outside the allowlist gets
// 403 before digest auth (no challenge); from inside it is accepted.
func TestIngestAllowlist(t *testing.T) {
	put := func(e *env) (int, string) {
		c := &http.Client{Transport: &digest.Transport{Username: testUser, Password: testPass}}
		req, _ := http.NewRequest(http.MethodPut, e.url("/in/v2/"+testChannel+"/a/channel.m3u8"), strings.NewReader("#EXTM3U\n"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	denied := newEnv(t, func(c *Config) { c.Channels[0].IngestAllow = []string{"10.0.0.0/8", "::2"} })
	if code, challenge := put(denied); code != http.StatusForbidden || challenge != "" {
		t.Errorf("ingest from 127.0.0.1 outside the allowlist: %d (challenge %q), want 403 without a challenge", code, challenge)
	}
	allowed := newEnv(t, func(c *Config) { c.Channels[0].IngestAllow = []string{"10.0.0.0/8", "127.0.0.1"} })
	l := newLive(t, testmedia.TS, allowed.clock.Now())
	l.push(allowed.pusher("a"), 0) // fails the test unless every PUT gets 201
	// Playback is not restricted by the ingest allowlist.
	if code, _ := denied.get("/out/v1/" + testChannel + "/index.m3u8"); code == http.StatusForbidden {
		t.Errorf("playback refused by the ingest allowlist")
	}
}

// TestAccessConfigErrors: bad CDN authorization or allowlist settings are
// refused with the key's path.
func TestAccessConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*ChannelConfig)
		want   string
	}{
		{func(c *ChannelConfig) { c.CDNAuth = &CDNAuthConfig{} }, "channels[0].cdnAuth.secrets: must list"},
		{func(c *ChannelConfig) { c.CDNAuth = &CDNAuthConfig{Secrets: []string{"short"}} }, "channels[0].cdnAuth.secrets[0]: must be at least 16"},
		{func(c *ChannelConfig) {
			c.CDNAuth = &CDNAuthConfig{Header: "Bad Header", Secrets: []string{cdnSecret1}}
		}, "channels[0].cdnAuth.header"},
		{func(c *ChannelConfig) { c.IngestAllow = []string{"10.0.0.0/8", "not-an-ip"} }, `channels[0].ingestAllow[1]: want an address or CIDR, got "not-an-ip"`},
	} {
		cfg := Config{DataDir: t.TempDir(), Channels: []ChannelConfig{{ID: testChannel, Username: testUser, Password: testPass}}}
		tc.mutate(&cfg.Channels[0])
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), cdnSecret1) {
			t.Errorf("error echoes a secret: %v", err)
		}
	}
	// YAML spelling.
	cfg, err := ParseConfig([]byte("dataDir: /tmp/x\nchannels:\n- id: c\n  username: u\n  password: p\n  cdnAuth: {header: X-CDN, secrets: [" + cdnSecret1 + "]}\n  ingestAllow: [192.0.2.0/24]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Channels[0].CDNAuth; a == nil || a.Header != "X-CDN" || len(a.Secrets) != 1 || cfg.Channels[0].IngestAllow[0] != "192.0.2.0/24" {
		t.Errorf("parsed %+v", cfg.Channels[0])
	}
}
