package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// NPMFile installs the npm package spec (name@version) into a temporary
// directory and returns the content of file, a path inside the package
// (e.g. "dist/shaka-player.compiled.js"). Player libraries are installed
// at test time, never committed. Without npm or the registry the test is
// skipped, unless PULLPUSH_REQUIRE_TOOLS=1.
func NPMFile(t testing.TB, name, version, file string) []byte {
	t.Helper()
	npm := LookTool(t, "npm", "apt-get install npm")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", name+"@"+version).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("npm install %s@%s: %v\n%s", name, version, err, out)
		if os.Getenv("PULLPUSH_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, filepath.FromSlash(file)))
	if err != nil {
		t.Fatalf("npm package %s@%s: %v", name, version, err)
	}
	return b
}
