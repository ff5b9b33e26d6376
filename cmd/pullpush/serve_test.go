package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pullpush/pullpush/config"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/store"
)

// server is one `serve` run in the test process.
type server struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startServe runs serve with args (plus --listen 127.0.0.1:0) until stop.
func startServe(t *testing.T, logs io.Writer, args ...string) *server {
	t.Helper()
	cfg, err := config.LoadServe(append([]string{"--listen", "127.0.0.1:0", "--shutdown-timeout", "5s"}, args...),
		func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { s.done <- serve(ctx, cfg, logs, func(addr string) { ready <- addr }) }()
	select {
	case s.addr = <-ready:
	case err := <-s.done:
		cancel()
		t.Fatalf("serve exited before ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve not ready after 10 s")
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the server as SIGTERM would and checks it returns nil.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve returned %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s")
	}
}

func (s *server) call(t *testing.T, token, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type listed struct {
	ID      string    `json:"fetcherId"`
	Name    string    `json:"name"`
	State   string    `json:"state"`
	Created time.Time `json:"created"`
	Payload json.RawMessage
}

// TestServeRestart: serve on a data directory, create a fetcher over HTTP,
// stop as on SIGTERM, start again on the same directory: the fetcher is
// listed again with the same id and creation time and is started. Neither
// the ingest password nor the API token reaches the log.
func TestServeRestart(t *testing.T) {
	const (
		token    = "serve-test-token-0123"
		password = "ingest-password-xyz"
	)
	dir := filepath.Join(t.TempDir(), "data")
	snk := sink.New(sink.Options{Username: "ingest", Password: password})
	ingest := httptest.NewServer(snk)
	defer ingest.Close()
	src := httptest.NewServer(http.NotFoundHandler()) // a source; the relay's behaviour is tested in fetch
	defer src.Close()

	logs := &testutil.LockedBuffer{}
	s1 := startServe(t, logs, "--data", dir, "--api-token", token)
	body := fmt.Sprintf(`{"name":"restart","url":%q,"output":"mediapackage","payload":{"ingestUrls":[{"url":%q,"username":"ingest","password":%q}]}}`,
		src.URL+"/master.m3u8", ingest.URL+"/in/v2/ch/a/channel", password)
	code, resp := s1.call(t, token, "POST", "/api/v1/fetcher", body)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, resp)
	}
	var created listed
	json.Unmarshal(resp, &created)
	if code, _ := s1.call(t, "", "GET", "/api/v1/fetcher", ""); code != http.StatusUnauthorized {
		t.Fatalf("list without token: %d", code)
	}
	s1.stop(t)

	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, store.FileName): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", path, st.Mode().Perm(), want)
		}
	}

	s2 := startServe(t, logs, "--data", dir, "--api-token", token)
	code, resp = s2.call(t, token, "GET", "/api/v1/fetcher", "")
	var list []listed
	if err := json.Unmarshal(resp, &list); code != 200 || err != nil || len(list) != 1 {
		t.Fatalf("list after restart: %d %s", code, resp)
	}
	got := list[0]
	if got.ID != created.ID || got.Name != "restart" || !got.Created.Equal(created.Created) {
		t.Fatalf("after restart %+v, before %+v", got, created)
	}
	if got.State == "failed" || got.State == "stopped" {
		t.Fatalf("restored fetcher state %s: %s", got.State, resp)
	}
	if !strings.Contains(string(got.Payload), `"password":"***"`) {
		t.Errorf("payload not redacted: %s", got.Payload)
	}
	if code, _ := s2.call(t, token, "DELETE", "/api/v1/fetcher/"+created.ID, ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	s2.stop(t)

	// Deleted stays deleted.
	s3 := startServe(t, logs, "--data", dir, "--api-token", token)
	if _, resp := s3.call(t, token, "GET", "/api/v1/fetcher", ""); strings.TrimSpace(string(resp)) != "[]" {
		t.Fatalf("deleted fetcher came back: %s", resp)
	}
	s3.stop(t)

	out := logs.String()
	for _, secret := range []string{password, token} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`msg=serving`, `fetchers=1`, `msg="shutting down"`, `msg=stopped`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

func TestServeOneProcessPerDataDir(t *testing.T) {
	dir := t.TempDir()
	startServe(t, io.Discard, "--data", dir)
	cfg, err := config.LoadServe([]string{"--data", dir, "--listen", "127.0.0.1:0"}, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = serve(t.Context(), cfg, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second serve on the same data dir: %v", err)
	}
}

func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	cfg, _ := config.LoadServe([]string{"--data", dir, "--listen", ln.Addr().String()}, func(string) (string, bool) { return "", false }, io.Discard)
	err = serve(t.Context(), cfg, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "serve: listen:") {
		t.Fatalf("busy port: %v", err)
	}
	// The store was released: the directory can be served again.
	startServe(t, io.Discard, "--data", dir)
}

func TestServeUsage(t *testing.T) {
	for _, k := range []string{"PULLPUSH_DATA", "PULLPUSH_CONFIG", "PULLPUSH_LISTEN", "PULLPUSH_API_TOKEN"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"serve"}, io.Discard, &stderr)
	if !errors.Is(err, errUsage) || err.Error() != "usage: serve: 'data' must be set (flag --data or PULLPUSH_DATA)" {
		t.Fatalf("no data: %v", err)
	}
	err = run(t.Context(), []string{"serve", "-h"}, io.Discard, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "PULLPUSH_API_TOKEN") {
		t.Fatalf("help: %v\n%s", err, stderr.String())
	}
	t.Setenv("PULLPUSH_MAX_FETCHERS", "lots")
	err = run(t.Context(), []string{"serve", "--data", t.TempDir()}, io.Discard, &stderr)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), `PULLPUSH_MAX_FETCHERS: 'maxFetchers': "lots" is not an integer`) {
		t.Fatalf("bad env: %v", err)
	}
}

// TestServeSIGTERM runs the real binary entry point in a child process
// (this test binary re-executed) and checks that SIGTERM ends it with exit
// status 0 after a graceful shutdown.
func TestServeSIGTERM(t *testing.T) {
	if os.Getenv("PULLPUSH_TEST_SERVE_CHILD") == "1" {
		i := 0
		for i < len(os.Args) && os.Args[i] != "--" {
			i++
		}
		os.Args = append([]string{"pullpush"}, os.Args[i+1:]...)
		main()
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeSIGTERM$", "--", "serve", "--data", dir, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "PULLPUSH_TEST_SERVE_CHILD=1", "PULLPUSH_API_TOKEN=child-token-abc")
	p, m := testutil.StartProcess(t, cmd, regexp.MustCompile(`msg=serving addr=(\S+)`), 20*time.Second)
	addr := m[1]
	testutil.Eventually(t, 5*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, "child /health")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("child exit: %v\n%s", err, p.Logs.String())
	}
	all := p.Logs.String()
	if !strings.Contains(all, "msg=stopped") || strings.Contains(all, "child-token-abc") {
		t.Fatalf("unexpected child log:\n%s", all)
	}
}

// TestServeRestartContinuesStream relays a live test source through
// `serve` into a recording digest ingest (mediapackage output), stops the
// server while the source keeps going, starts it again on the same data
// directory, and checks the destination stream: every segment the source
// published arrived exactly once, byte-identical, in order, with
// consecutive output numbers across the restart (no re-push, no name
// collision, no gap).
func TestServeRestartContinuesStream(t *testing.T) {
	const (
		token    = "relay-token-0123456789"
		user     = "ingest"
		password = "relay-ingest-password"
		dir      = "/in/v2/ch/a/"
	)
	src := livesource.New(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: 6})
	// The source answers 503 until the fetcher is created: the relay must
	// retry, and no status read (the create response) overlaps the
	// fetcher's discovery. TODO: drop the gate once fetch.Fetcher.setup
	// appends renditions under its lock (the race detector reports that
	// write against a concurrent Status call).
	var available atomic.Bool
	srcSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !available.Load() {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		src.ServeHTTP(w, r)
	}))
	defer srcSrv.Close()
	snk := sink.New(sink.Options{Username: user, Password: password})
	ingest := httptest.NewServer(snk)
	defer ingest.Close()

	segRE := regexp.MustCompile(`^` + regexp.QuoteMeta(dir) + `channel_([A-Za-z0-9-]+)_(\d+)\.[a-z0-9]+$`)
	type put struct {
		seq  int64
		sha  string
		path string
	}
	puts := func() map[string][]put {
		out := map[string][]put{}
		for _, w := range snk.Writes() {
			if m := segRE.FindStringSubmatch(w.Path); w.Method == http.MethodPut && m != nil {
				seq, _ := strconv.ParseInt(m[2], 10, 64)
				out[m[1]] = append(out[m[1]], put{seq: seq, sha: w.SHA256, path: w.Path})
			}
		}
		return out
	}
	pushedName := func(r string) string { return strings.ReplaceAll(r, "_", "-") }
	waitAll := func(s *server) {
		t.Helper()
		complete := func() bool {
			p := puts()
			for _, r := range src.Renditions() {
				if len(p[pushedName(r)]) < len(src.Published(r)) {
					return false
				}
			}
			return true
		}
		deadline := time.Now().Add(30 * time.Second)
		for !complete() {
			if time.Now().After(deadline) {
				_, b := s.call(t, token, "GET", "/api/v1/fetcher", "")
				t.Fatalf("destination lacks published segments after 30 s; fetchers: %s", b)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	drive := func(s *server, n int) {
		t.Helper()
		waitAll(s)
		for range n {
			src.Advance(1)
			waitAll(s)
		}
	}

	data := filepath.Join(t.TempDir(), "data")
	logs := &testutil.LockedBuffer{}
	s1 := startServe(t, logs, "--data", data, "--api-token", token)
	body := fmt.Sprintf(`{"name":"live","url":%q,"output":"mediapackage","payload":{"ingestUrls":[{"url":%q,"username":%q,"password":%q}]}}`,
		srcSrv.URL+livesource.MasterPath, ingest.URL+dir+"channel", user, password)
	if code, resp := s1.call(t, token, "POST", "/api/v1/fetcher", body); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, resp)
	}
	available.Store(true)
	drive(s1, 3)
	s1.stop(t)

	// The source moves on while the relay is down; it still lists these.
	src.Advance(2)
	s2 := startServe(t, logs, "--data", data, "--api-token", token)
	drive(s2, 3)
	_, resp := s2.call(t, token, "GET", "/api/v1/fetcher", "")
	var list []listed
	json.Unmarshal(resp, &list)
	if len(list) != 1 || list[0].State != "running" {
		t.Errorf("after restart: %s", resp)
	}
	s2.stop(t)

	got := puts()
	for _, r := range src.Renditions() {
		offered := src.Published(r)
		pushed := got[pushedName(r)]
		if len(pushed) != len(offered) {
			t.Errorf("%s: %d segments published, %d pushed", r, len(offered), len(pushed))
			continue
		}
		seen := map[string]bool{}
		for i, p := range pushed {
			if seen[p.path] {
				t.Errorf("%s: %s pushed twice", r, p.path)
			}
			seen[p.path] = true
			if p.sha != offered[i].SHA256 {
				t.Errorf("%s: pushed segment %d (%s) differs from source msn %d", r, i, p.path, offered[i].MediaSequence)
			}
			if i > 0 && p.seq != pushed[i-1].seq+1 {
				t.Errorf("%s: output numbers not consecutive across the restart: %d after %d", r, p.seq, pushed[i-1].seq)
			}
		}
	}
	if strings.Contains(logs.String(), password) {
		t.Error("ingest password in the log")
	}
}

// TestServeDenyPrivateBareFlag: `serve --deny-private` (bare, as in `pull`)
// turns the policy on: a fetcher of a loopback source is refused with the
// reason, while without the flag the same source relays.
func TestServeDenyPrivateBareFlag(t *testing.T) {
	_, url := endingSource(t) // on 127.0.0.1
	create := fmt.Sprintf(`{"name":"p","url":%q,"output":"void"}`, url)

	s := startServe(t, io.Discard, "--data", t.TempDir(), "--deny-private")
	status, body := s.call(t, "", "POST", "/api/v1/fetcher", create)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "127.0.0.1 is a private, loopback or reserved address") {
		t.Fatalf("create with --deny-private: %d %s, want 400 naming the private address", status, body)
	}
	s.stop(t)

	s = startServe(t, io.Discard, "--data", t.TempDir())
	status, body = s.call(t, "", "POST", "/api/v1/fetcher", create)
	if status != http.StatusCreated {
		t.Fatalf("create without --deny-private: %d %s", status, body)
	}
	var f struct {
		ID string `json:"fetcherId"`
	}
	json.Unmarshal(body, &f)
	var last struct {
		LastError      string `json:"lastError"`
		SegmentsPulled int64  `json:"segmentsPulled"`
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		_, b := s.call(t, "", "GET", "/api/v1/fetcher/"+f.ID, "")
		json.Unmarshal(b, &last)
		return last.SegmentsPulled > 0
	}, "fetcher without --deny-private pulled nothing: %+v", &last)
}

func TestServePprofAndSpoolMemoryFlags(t *testing.T) {
	s := startServe(t, io.Discard, "--data", t.TempDir(), "--api-token", "tok", "--pprof", "--spool-memory", "8MiB")
	if status, _ := s.call(t, "", "GET", "/debug/pprof/", ""); status != http.StatusUnauthorized {
		t.Fatalf("pprof without the token: %d, want 401", status)
	}
	status, body := s.call(t, "tok", "GET", "/debug/pprof/goroutine?debug=1", "")
	if status != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("pprof with the token: %d %.200s", status, body)
	}
	s.stop(t)

	s = startServe(t, io.Discard, "--data", t.TempDir())
	if status, _ := s.call(t, "", "GET", "/debug/pprof/", ""); status != http.StatusNotFound {
		t.Fatalf("pprof without --pprof: %d, want 404", status)
	}
}
