package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testutil"
)

func TestChaosBadFlags(t *testing.T) {
	dir := t.TempDir()
	badProfile := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badProfile, []byte(`{"rules": [{"fault": "status", "status": 200}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	target := "http://127.0.0.1:9"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "usage: chaos: flag provided but not defined: -bogus"},
		{[]string{"--seed", "x"}, `usage: chaos: invalid value "x" for flag -seed: parse error`},
		{[]string{"--target", target, "--profile", "dead-dest", "extra"}, `usage: chaos: unexpected argument "extra"`},
		{[]string{"--listen", "", "--target", target, "--profile", "dead-dest"}, "usage: chaos: --listen is required"},
		{[]string{"--profile", "dead-dest"}, "usage: chaos: --target is required"},
		{[]string{"--target", "ftp://user:secret@127.0.0.1/", "--profile", "dead-dest"}, `usage: chaos: --target "ftp://user:xxxxx@127.0.0.1/": want an http or https URL (e.g. http://127.0.0.1:8080)`},
		{[]string{"--target", "http://user:secret@127.0.0.1:%zz/"}, "usage: chaos: --target: not a valid URL (want e.g. http://127.0.0.1:8080)"},
		{[]string{"--target", "127.0.0.1:8080", "--profile", "dead-dest"}, "usage: chaos: --target: not a valid URL (want e.g. http://127.0.0.1:8080)"},
		{[]string{"--target", "localhost:8080", "--profile", "dead-dest"}, `usage: chaos: --target "localhost:8080": want an http or https URL (e.g. http://127.0.0.1:8080)`},
		{[]string{"--target", target}, "usage: chaos: --profile is required"},
		{[]string{"--target", target, "--profile", "outage:soon"}, `usage: chaos: --profile: profile outage: invalid duration "soon" (want e.g. 30s)`},
		{[]string{"--target", target, "--profile", badProfile}, "usage: chaos: --profile: profile " + badProfile + ": rules[0].status: must be between 400 and 599, got 200"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		err := runChaos(context.Background(), tc.args, &stdout, &stderr)
		if !errors.Is(err, errUsage) || err.Error() != tc.want {
			t.Errorf("runChaos(%q) = %v\nwant %s (wrapping errUsage)", tc.args, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") || stdout.Len() != 0 || stderr.Len() != 0 {
			t.Errorf("runChaos(%q): want a one-line error and no output, got stdout %q stderr %q", tc.args, stdout.String(), stderr.String())
		}
	}
}

func TestChaosHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"chaos", "-h"}, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("chaos -h = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"--listen ADDR", "flaky-source", "dead-dest", "outage[:DURATION]", "resets[:P]", `"fault": "status"`, "reset-sequence", "-seed"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}

// startChaos runs the command until the returned stop is called and
// returns the proxy's address.
func startChaos(t *testing.T, args []string) (addr string, stderr *testutil.LockedBuffer, stop func() error) {
	t.Helper()
	c := testutil.StartCommand(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return runChaos(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), stdout, stderr)
	})
	m := c.WaitMatch(t, &c.Stderr, regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`), 5*time.Second)
	return m[1], &c.Stderr, c.Stop
}

func TestChaosRunsProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer dest.Close()

	addr, stderr, stop := startChaos(t, []string{"--target", dest.URL, "--profile", "dead-dest", "--seed", "7"})
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	const secret = `Digest username="u", response="0123secret-digest"`
	send := func(method, path string) int {
		req, _ := http.NewRequest(method, "http://"+addr+path+"?token=secret-token", strings.NewReader("x"))
		req.Header.Set("Authorization", secret)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("PUT", "/out/seg1.ts"); code != http.StatusServiceUnavailable {
		t.Fatalf("PUT through dead-dest = %d, want 503", code)
	}
	if code := send("DELETE", "/out/seg0.ts"); code != http.StatusOK {
		t.Fatalf("DELETE = %d, want 200 from the destination", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("chaos returned %v after cancel, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "DELETE /out/seg0.ts" {
		t.Fatalf("destination saw %v", seen)
	}
	logs := stderr.String()
	for _, want := range []string{"seed=7", "profile=dead-dest", `msg="fault injected"`, "fault=status", "path=/out/seg1.ts", "status=503", "chaos proxy stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "secret") {
		t.Errorf("log leaks a secret:\n%s", logs)
	}
}

func TestChaosProfileFile(t *testing.T) {
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "segment")
	}))
	defer src.Close()
	file := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(file, []byte(`{"name": "two-404", "rules": [{"fault": "status", "status": 404, "path": "*.ts", "count": 2}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, stderr, stop := startChaos(t, []string{"--target", src.URL, "--profile", file})
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	var codes []int
	for range 3 {
		resp, err := c.Get("http://" + addr + "/live/a.ts")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if codes[0] != 404 || codes[1] != 404 || codes[2] != 200 {
		t.Fatalf("codes = %v, want [404 404 200]", codes)
	}
	if logs := stderr.String(); !strings.Contains(logs, "profile=two-404") || !regexp.MustCompile(`seed=\d+`).MatchString(logs) {
		t.Fatalf("start log lacks profile or random seed:\n%s", logs)
	}
}
