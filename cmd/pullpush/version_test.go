package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/internal/buildinfo"
)

// TestVersion: `pullpush version` and --version on every command print
// the build (version, Go version), and do nothing else.
func TestVersion(t *testing.T) {
	want := buildinfo.Get().String()
	for _, args := range [][]string{{"version"}, {"--version"}, {"serve", "--version"}, {"origin", "--listen", "x", "-version"},
		{"channel", "--version"}, {"pull", "--version"}, {"demo", "--version"}, {"keys", "--version"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got := strings.TrimSpace(out.String()); got != want || !strings.Contains(got, runtime.Version()) || !strings.HasPrefix(got, "pullpush ") {
			t.Errorf("%v: %q, want %q", args, got, want)
		}
	}
}
