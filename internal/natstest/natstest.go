// Package natstest starts a real nats-server with JetStream on a free
// loopback port for tests.
//
// Install it with `go install github.com/nats-io/nats-server/v2@v2.15.2`
// (.ci/run does); tests skip when it is absent unless
// PULLPUSH_REQUIRE_TOOLS=1. The server is not embedded in the module, which
// keeps go.mod small.
package natstest

import (
	"fmt"
	"github.com/pullpush/pullpush/internal/testutil"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// readyTimeout bounds how long the server takes to accept connections.
const readyTimeout = 30 * time.Second

// Server is a running nats-server.
type Server struct {
	// URL is nats://127.0.0.1:PORT.
	URL string
	// Dir is the JetStream store directory.
	Dir string

	bin  string
	port int
	logs *testutil.LockedBuffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// LookTool finds an external tool on PATH or in $(go env GOPATH)/bin,
// skipping the test when it is absent unless PULLPUSH_REQUIRE_TOOLS=1.
func LookTool(t testing.TB, name string) string {
	t.Helper()
	return testutil.LookTool(t, name, "go install github.com/nats-io/nats-server/v2@v2.15.2")
}

// Start runs `nats-server -js -sd DIR -a 127.0.0.1 -p PORT` on a free
// loopback port, waits until it accepts connections and stops it at test
// cleanup (printing its log when the test failed).
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{bin: LookTool(t, "nats-server"), Dir: t.TempDir(), logs: &testutil.LockedBuffer{}}
	var lastErr string
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if s.start() {
			s.URL = "nats://127.0.0.1:" + strconv.Itoa(s.port)
			t.Cleanup(func() {
				s.Stop()
				if t.Failed() {
					t.Logf("nats-server log:\n%s", s.logs.String())
				}
			})
			return s
		}
		lastErr = s.logs.String()
	}
	t.Fatalf("nats-server did not start:\n%s", lastErr)
	return nil
}

// start launches the process on s.port and reports whether it became ready.
func (s *Server) start() bool {
	cmd := exec.Command(s.bin, "-js", "-sd", s.Dir, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port))
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(s.logs, "start: %v\n", err)
		return false
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	if testutil.WaitListening("127.0.0.1:"+strconv.Itoa(s.port), exited, readyTimeout) {
		return true
	}
	s.Stop()
	return false
}

// Stop kills the server (as kill -9 would) and waits for it to exit.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// Logs returns what the server printed so far.
func (s *Server) Logs() string { return s.logs.String() }

// Connect opens a NATS connection to the server, closed at test cleanup,
// and returns it with its JetStream context.
func (s *Server) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.URL, nats.Name(t.Name()), nats.Timeout(10*time.Second), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to nats-server: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
