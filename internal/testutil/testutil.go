// Package testutil holds helpers shared by tests: tool requirements,
// condition polling with deadlines, a mutex-guarded log buffer
// (LockedBuffer), a settable clock (Clock), subcommands and child processes started and awaited
// until they print their address (StartCommand, StartProcess,
// WaitListening), and ffmpeg frame decoding.
package testutil

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// RequireTool returns the path of an external tool. When the tool is absent
// the test is skipped, unless PULLPUSH_REQUIRE_TOOLS=1, in which case it fails.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("PULLPUSH_REQUIRE_TOOLS") == "1" {
		t.Fatalf("required tool %s not found (PULLPUSH_REQUIRE_TOOLS=1): %v", name, err)
	}
	t.Skipf("%s not found; skipping", name)
	return ""
}

// Eventually polls cond every 10 ms until it returns true or timeout passes,
// then fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
