package origin

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
)

// putAs PUTs a playlist to input of the test channel with user/pass and
// returns the status.
func putAs(t *testing.T, base, input, user, pass string) int {
	t.Helper()
	c := &http.Client{Transport: &digest.Transport{Username: user, Password: pass}}
	req, _ := http.NewRequest(http.MethodPut, base+"/in/v2/"+testChannel+"/"+input+"/channel.m3u8",
		strings.NewReader("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nchannel_1.m3u8\n"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRotateCredentials: the new password works at once, the old one for
// the grace period only (by the origin's clock); the rotation survives a
// restart on the same data directory, stored without the password, until
// the configuration changes the credentials itself.
func TestRotateCredentials(t *testing.T) {
	e := newEnv(t, nil)
	const newPass = "n3w-passw0rd"
	if err := e.o.RotateCredentials(testChannel, "", "", newPass, time.Minute); err != nil {
		t.Fatal(err)
	}
	if code := putAs(t, e.srv.URL, "a", testUser, newPass); code != http.StatusCreated {
		t.Fatalf("new password: %d", code)
	}
	if code := putAs(t, e.srv.URL, "b", testUser, testPass); code != http.StatusCreated {
		t.Fatalf("old password within the grace period: %d", code)
	}
	e.clock.Add(61 * time.Second)
	if code := putAs(t, e.srv.URL, "a", testUser, testPass); code != http.StatusUnauthorized {
		t.Fatalf("old password after the grace period: %d", code)
	}
	stored, err := os.ReadFile(filepath.Join(e.dir, credentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), newPass) || strings.Contains(string(stored), testPass) || !strings.Contains(string(stored), digest.HA1(testUser, realm, newPass)) {
		t.Fatalf("stored credentials:\n%s", stored)
	}

	// A restart keeps the rotation.
	e.o.Close()
	restart := func(pass string) *httptest.Server {
		o, err := New(Config{DataDir: e.dir, Now: e.clock.Now, Channels: []ChannelConfig{{
			ID: testChannel, Username: testUser, Password: pass, ManifestWindow: 5 * time.Second}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(o.Handler())
		t.Cleanup(func() { srv.Close(); o.Close() })
		return srv
	}
	srv := restart(testPass)
	if code := putAs(t, srv.URL, "a", testUser, newPass); code != http.StatusCreated {
		t.Fatalf("rotated password after a restart: %d", code)
	}
	if code := putAs(t, srv.URL, "a", testUser, testPass); code != http.StatusUnauthorized {
		t.Fatalf("old password after a restart: %d", code)
	}
	// The configuration changed the password: it wins.
	srv = restart("c0nfig-changed")
	if code := putAs(t, srv.URL, "a", testUser, "c0nfig-changed"); code != http.StatusCreated {
		t.Fatalf("configured password: %d", code)
	}
	if code := putAs(t, srv.URL, "a", testUser, newPass); code != http.StatusUnauthorized {
		t.Fatalf("stale rotation after a configuration change: %d", code)
	}
}

// TestRotatePerInputCredentials: rotating input b's credentials (with a
// new user name and no grace) leaves input a's alone.
func TestRotatePerInputCredentials(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Inputs = []InputConfig{{Name: "a"}, {Name: "b", Username: "ub", Password: "pb-secret"}}
	})
	if err := e.o.RotateCredentials(testChannel, "b", "ub2", "pb2-secret", -1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		input, user, pass string
		want              int
	}{
		{"b", "ub2", "pb2-secret", http.StatusCreated},
		{"b", "ub", "pb-secret", http.StatusUnauthorized},
		{"a", testUser, testPass, http.StatusCreated},
	} {
		if code := putAs(t, e.srv.URL, c.input, c.user, c.pass); code != c.want {
			t.Errorf("%s as %s: %d, want %d", c.input, c.user, code, c.want)
		}
	}
	for _, c := range []struct {
		channel, input, pass string
		grace                time.Duration
		want                 string
	}{
		{"nosuch", "b", "long-enough", 0, "no channel"},
		{testChannel, "", "long-enough", 0, "name the input"},
		{testChannel, "c", "long-enough", 0, `no input "c"`},
		{testChannel, "b", "short", 0, "at least 8"},
		{testChannel, "b", "long-enough\n", 0, "control"},
		{testChannel, "b", "long-enough", 48 * time.Hour, "grace"},
	} {
		err := e.o.RotateCredentials(c.channel, c.input, "", c.pass, c.grace)
		if !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c, err, c.want)
		}
	}
}
