package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// LookTool finds an external tool on PATH or in $(go env GOPATH)/bin (where
// `go install` puts servers such as versitygw and nats-server). When it is
// absent the test is skipped, unless PULLPUSH_REQUIRE_TOOLS=1, in which case
// it fails; install tells the reader how to get it.
func LookTool(t testing.TB, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath = strings.TrimSpace(string(out))
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found on PATH or in $(go env GOPATH)/bin (%s)", name, install)
	if os.Getenv("PULLPUSH_REQUIRE_TOOLS") == "1" {
		t.Fatalf("required tool missing (PULLPUSH_REQUIRE_TOOLS=1): %s", msg)
	}
	t.Skip(msg)
	return ""
}

// LockedBuffer is a bytes.Buffer safe for concurrent writers, for the
// output of server subprocesses.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
