package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pullpush/pullpush/channel"
	"github.com/pullpush/pullpush/config"
	"github.com/pullpush/pullpush/origin"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// commandFlags returns the flag names `pullpush cmd -h` lists.
func commandFlags(t *testing.T, cmd string) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	run(context.Background(), []string{cmd, "-h"}, &out, &errOut)
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(out.String()+errOut.String(), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) == 0 {
		t.Fatalf("pullpush %s -h lists no flags:\n%s%s", cmd, out.String(), errOut.String())
	}
	return flags
}

// checkCommand fails t unless argv is a pullpush command line whose flags
// that command has.
func checkCommand(t *testing.T, where string, argv []string) {
	t.Helper()
	if len(argv) == 0 {
		t.Fatalf("%s: empty command", where)
	}
	known := commandFlags(t, argv[0])
	for _, a := range argv[1:] {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if !slices.Contains(known, name) {
				t.Errorf("%s: pullpush %s has no flag --%s", where, argv[0], name)
			}
		}
	}
}

// TestExampleConfigs loads every sample config through the loaders the
// commands use, and starts an origin and a channel engine from them.
func TestExampleConfigs(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples")
	oc, err := origin.LoadConfigFile(filepath.Join(dir, "origin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	oc.DataDir = t.TempDir()
	o, err := origin.New(oc)
	if err != nil {
		t.Fatalf("examples/origin.yaml: %v", err)
	}
	o.Close()

	cc, err := channel.LoadConfig(filepath.Join(dir, "channel.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := channel.New(cc)
	if err != nil {
		t.Fatalf("examples/channel.yaml: %v", err)
	}
	_ = eng

	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("example-token\n"), 0o600)
	sc, err := config.LoadServe([]string{"--config", filepath.Join(dir, "serve.yaml"), "--api-token-file", token, "--data", t.TempDir()},
		func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatalf("examples/serve.yaml: %v", err)
	}
	if sc.MaxFetchers != 200 || sc.APIToken != "example-token" {
		t.Fatalf("examples/serve.yaml loaded as %+v", sc)
	}
}

// TestSystemdUnits: each unit runs a real command line and carries the
// hardening the README promises.
func TestSystemdUnits(t *testing.T) {
	for _, name := range []string{"pullpush-serve.service", "pullpush-origin.service"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
				keys[k] = v
			}
		}
		for k, want := range map[string]string{"DynamicUser": "yes", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes"} {
			if keys[k] != want {
				t.Errorf("%s: %s=%q, want %q", name, k, keys[k], want)
			}
		}
		if keys["StateDirectory"] == "" {
			t.Errorf("%s: no StateDirectory", name)
		}
		argv := strings.Fields(keys["ExecStart"])
		if len(argv) < 2 || argv[0] != "/usr/local/bin/pullpush" {
			t.Fatalf("%s: ExecStart %q", name, keys["ExecStart"])
		}
		checkCommand(t, name, argv[1:])
		if d := "/var/lib/" + keys["StateDirectory"]; !strings.Contains(keys["ExecStart"], d) {
			t.Errorf("%s: ExecStart does not use its state directory %s", name, d)
		}
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		for _, name := range []string{"pullpush-serve.service", "pullpush-origin.service"} {
			if out, err := exec.Command(sa, "verify", "--man=no", filepath.Join(repoRoot(t), "examples", "systemd", name)).CombinedOutput(); err != nil &&
				!strings.Contains(string(out), "/usr/local/bin/pullpush") {
				t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
			}
		}
	}
}

// TestCompose: the compose file's services run real command lines, on the
// ports the README gives them.
func TestCompose(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
			Ports   []string `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for svc, port := range map[string]string{"channel": "8000", "serve": "8080", "origin": "8090", "keys": "8091"} {
		s, ok := doc.Services[svc]
		if !ok {
			t.Errorf("no service %s", svc)
			continue
		}
		checkCommand(t, "docker-compose.yml "+svc, s.Command)
		if !slices.Contains(s.Ports, port+":"+port) || !slices.Contains(s.Command, "0.0.0.0:"+port) {
			t.Errorf("service %s: ports %v, command %v; want %s", svc, s.Ports, s.Command, port)
		}
		if !bytes.Contains(readme, []byte("127.0.0.1:"+port)) {
			t.Errorf("README never shows port %s of %s", port, svc)
		}
	}
	if r, ok := doc.Services["relay"]; ok {
		checkCommand(t, "docker-compose.yml relay", r.Command)
	}
}

// goBuild builds ./cmd/pullpush as the Dockerfile and release script do.
func goBuild(t *testing.T, goos, goarch, out, version string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags",
		"-s -w -X github.com/pullpush/pullpush/internal/buildinfo.version="+version, "-o", out, "./cmd/pullpush")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s/%s: %v\n%s", goos, goarch, err, b)
	}
}

// TestDockerfileBuildStage runs the image's build stage as plain commands
// (no container runtime here): the binary is static, stamped with the
// build argument's version, and its default command is the demo on every
// interface; the final stage is non-root with a /data volume.
func TestDockerfileBuildStage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	df, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0 go build -trimpath", "internal/buildinfo.version=${VERSION}", "USER 65532:65532",
		`VOLUME ["/data"]`, `ENTRYPOINT ["pullpush"]`, `CMD ["demo", "--listen", "0.0.0.0:8080"]`, "EXPOSE 8080", "distroless/static"} {
		if !bytes.Contains(df, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	bin := filepath.Join(t.TempDir(), "pullpush")
	goBuild(t, runtime.GOOS, runtime.GOARCH, bin, "v0.0.0-image")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary has a program interpreter: not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary needs %v", libs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "pullpush v0.0.0-image") {
		t.Fatalf("version: %v %q", err, out)
	}
}

// TestReleaseScript builds one cross-compiled binary (linux/arm64) and the
// native one with scripts/release.sh: checksums for both, an ARM64 ELF,
// and the native binary reports the release version.
func TestReleaseScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	out := t.TempDir()
	native := runtime.GOOS + "/" + runtime.GOARCH
	cmd := exec.Command("bash", "scripts/release.sh", "v0.0.0-test", out)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "PLATFORMS=linux/arm64 "+native)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, b)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	arm := "pullpush-v0.0.0-test-linux-arm64"
	nat := "pullpush-v0.0.0-test-" + runtime.GOOS + "-" + runtime.GOARCH
	if !bytes.Contains(sums, []byte(arm)) || !bytes.Contains(sums, []byte(nat)) {
		t.Fatalf("SHA256SUMS:\n%s", sums)
	}
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		c := exec.Command(sha, "-c", "SHA256SUMS")
		c.Dir = out
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, b)
		}
	}
	f, err := elf.Open(filepath.Join(out, arm))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("%s is for %v", arm, f.Machine)
	}
	v, err := exec.Command(filepath.Join(out, nat), "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "pullpush v0.0.0-test (") {
		t.Fatalf("version: %v %q", err, v)
	}
}

// TestReadmeFlags: every --flag the README shows belongs to a pullpush
// command (or to the other tools it shows: docker, versitygw).
func TestReadmeFlags(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"version": true, // handled before the command's own flags
		"build": true, "build-arg": true, "rm": true, "tags": true, "always": true, // docker, git describe
		"port": true, // versitygw
	}
	for _, cmd := range []string{"demo", "pull", "serve", "origin", "keys", "channel", "chaos"} {
		for _, f := range commandFlags(t, cmd) {
			known[f] = true
		}
	}
	for _, m := range regexp.MustCompile("(?:^|[\\s`\\[(])--([a-z][a-z0-9-]*)").FindAllSubmatch(readme, -1) {
		if !known[string(m[1])] {
			t.Errorf("README shows --%s, which no command has", m[1])
		}
	}
}
