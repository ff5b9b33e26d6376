package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pullpush.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNames(t *testing.T) {
	for key, want := range map[string][2]string{
		"listen":          {"listen", "PULLPUSH_LISTEN"},
		"apiToken":        {"api-token", "PULLPUSH_API_TOKEN"},
		"maxFetchers":     {"max-fetchers", "PULLPUSH_MAX_FETCHERS"},
		"spoolBytes":      {"spool-bytes", "PULLPUSH_SPOOL_BYTES"},
		"shutdownTimeout": {"shutdown-timeout", "PULLPUSH_SHUTDOWN_TIMEOUT"},
		"allowHosts":      {"allow-hosts", "PULLPUSH_ALLOW_HOSTS"},
		"denyPrivate":     {"deny-private", "PULLPUSH_DENY_PRIVATE"},
		"spoolMemory":     {"spool-memory", "PULLPUSH_SPOOL_MEMORY"},
		"pprof":           {"pprof", "PULLPUSH_PPROF"},
	} {
		if Flag(key) != want[0] || Env(key) != want[1] {
			t.Errorf("%s: flag %s env %s, want %v", key, Flag(key), Env(key), want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "listen: 127.0.0.1:1001\ndata: /from/file\nmaxFetchers: 5\nspoolBytes: 64MiB\nlogLevel: debug\n")
	// Defaults only (plus required data).
	c, err := LoadServe([]string{"--data", "/d"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.MaxFetchers != 100 || c.SpoolBytes != 512<<20 || c.ShutdownTimeout != 15*time.Second || c.LogLevel != "info" {
		t.Fatalf("defaults: %+v", c)
	}
	// File over defaults.
	c, err = LoadServe([]string{"--config", file}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1001" || c.Data != "/from/file" || c.MaxFetchers != 5 || c.SpoolBytes != 64<<20 || c.LogLevel != "debug" {
		t.Fatalf("file: %+v", c)
	}
	// Env over file; file named by env.
	c, err = LoadServe(nil, env(map[string]string{
		"PULLPUSH_CONFIG": file, "PULLPUSH_LISTEN": "127.0.0.1:1002", "PULLPUSH_MAX_FETCHERS": "6",
		"PULLPUSH_API_TOKEN": "from-env", "PULLPUSH_SHUTDOWN_TIMEOUT": "3s",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1002" || c.Data != "/from/file" || c.MaxFetchers != 6 || c.APIToken != "from-env" || c.ShutdownTimeout != 3*time.Second {
		t.Fatalf("env: %+v", c)
	}
	// Flags over env.
	c, err = LoadServe([]string{"--config", file, "--listen", "127.0.0.1:1003", "--max-fetchers=7", "--api-token", "from-flag", "--cors-origin", "*"},
		env(map[string]string{"PULLPUSH_LISTEN": "127.0.0.1:1002", "PULLPUSH_MAX_FETCHERS": "6", "PULLPUSH_API_TOKEN": "from-env"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1003" || c.MaxFetchers != 7 || c.APIToken != "from-flag" || c.CORSOrigin != "*" || c.Data != "/from/file" {
		t.Fatalf("flags: %+v", c)
	}
	// Token from a file.
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte("tok-from-file\n"), 0o600)
	c, err = LoadServe([]string{"--data", "/d", "--api-token-file", tokFile}, env(nil), io.Discard)
	if err != nil || c.APIToken != "tok-from-file" {
		t.Fatalf("token file: %q %v", c.APIToken, err)
	}
}

// TestErrors pins every error message: the key is always quoted, a secret
// value never appears.
func TestErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	emptyTok := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(emptyTok, nil, 0o600)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		file string // YAML content; passed with --config
		want string
	}{
		{name: "data missing", want: "'data' must be set (flag --data or PULLPUSH_DATA)"},
		{name: "unknown key", file: "data: /d\nlistenn: :80\n", want: `config file "FILE": line 2: unknown key 'listenn'`},
		{name: "config key not in file", file: "config: other.yaml\n", want: `config file "FILE": line 1: unknown key 'config'`},
		{name: "flag-style key in file", file: "max-fetchers: 3\n", want: `config file "FILE": line 1: unknown key 'max-fetchers'`},
		{name: "duplicate key", file: "data: /a\ndata: /b\n", want: `config file "FILE": line 2: key 'data' given twice`},
		{name: "not a mapping", file: "- data\n", want: `config file "FILE": must be a YAML mapping of keys to values`},
		{name: "yaml syntax", file: "data: [\n", want: `config file "FILE": yaml: line 1: did not find expected node content`},
		{name: "nested value", file: "data:\n  a: b\n", want: `config file "FILE": line 2: 'data' must be a single value`},
		{name: "bad integer in file", file: "data: /d\nmaxFetchers: many\n", want: `config file "FILE": line 2: 'maxFetchers': "many" is not an integer`},
		{name: "bad bytes in file", file: "data: /d\nspoolBytes: 5 parsecs\n", want: `config file "FILE": line 2: 'spoolBytes': "5 parsecs" is not a byte count (e.g. 536870912 or 512MiB)`},
		{name: "bad duration in env", args: []string{"--data", "/d"}, env: map[string]string{"PULLPUSH_SHUTDOWN_TIMEOUT": "soon"},
			want: `PULLPUSH_SHUTDOWN_TIMEOUT: 'shutdownTimeout': "soon" is not a duration (e.g. 15s)`},
		{name: "bad integer flag", args: []string{"--data", "/d", "--max-fetchers", "x"}, want: `flag --max-fetchers: 'maxFetchers': "x" is not an integer`},
		{name: "negative max", args: []string{"--data", "/d", "--max-fetchers", "-1"}, want: "'maxFetchers' must not be negative, got -1"},
		{name: "spool too small", args: []string{"--data", "/d", "--spool-bytes", "1KiB"}, want: "'spoolBytes' must be at least 1048576 (1MiB), got 1024"},
		{name: "spool memory too small", args: []string{"--data", "/d", "--spool-memory", "64KiB"}, want: "'spoolMemory' must be at least 1048576 (1MiB), got 65536"},
		{name: "bad listen", args: []string{"--data", "/d", "--listen", "localhost"}, want: `'listen' must be host:port or :port, got "localhost"`},
		{name: "bad port", args: []string{"--data", "/d", "--listen", "127.0.0.1:http2"}, want: `'listen' has an invalid port "http2"`},
		{name: "zero shutdown", args: []string{"--data", "/d", "--shutdown-timeout", "0s"}, want: "'shutdownTimeout' must be positive, got 0s"},
		{name: "log level", args: []string{"--data", "/d", "--log-level", "loud"}, want: `'logLevel' must be debug, info, warn or error, got "loud"`},
		{name: "log format", args: []string{"--data", "/d", "--log-format", "xml"}, want: `'logFormat' must be text or json, got "xml"`},
		{name: "token with space", args: []string{"--data", "/d"}, env: map[string]string{"PULLPUSH_API_TOKEN": "secret value"},
			want: "'apiToken' must not contain whitespace or control characters"},
		{name: "token and token file", args: []string{"--data", "/d", "--api-token", "secretvalue", "--api-token-file", emptyTok},
			want: "'apiToken' and 'apiTokenFile' are both set: use one"},
		{name: "empty token file", args: []string{"--data", "/d", "--api-token-file", emptyTok}, want: "'apiTokenFile': " + emptyTok + " is empty"},
		{name: "cors list", args: []string{"--data", "/d", "--cors-origin", "https://a, https://b"},
			want: `'corsOrigin' must be one origin (e.g. https://dash.example.com) or *, got "https://a, https://b"`},
		{name: "missing file", args: []string{"--config", missing}, want: `config file "` + missing + `": open ` + missing + `: no such file or directory`},
		{name: "stray argument", args: []string{"--data", "/d", "extra"}, want: `unexpected argument "extra"`},
		{name: "unknown flag", args: []string{"--nope"}, want: "flag provided but not defined: -nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			want := tc.want
			if tc.file != "" {
				p := writeFile(t, tc.file)
				args = append([]string{"--config", p}, args...)
				want = strings.ReplaceAll(want, "FILE", p)
			}
			_, err := LoadServe(args, env(tc.env), io.Discard)
			if err == nil {
				t.Fatalf("no error, want %q", want)
			}
			if err.Error() != want {
				t.Errorf("error = %q\n      want %q", err, want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("secret value in error %q", err)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := LoadServe([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"--data DIR", "-api-token", "PULLPUSH_API_TOKEN", "-max-fetchers", "file key maxFetchers", "(default 127.0.0.1:8080)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1024": 1024, "1KiB": 1024, "512MiB": 512 << 20, "2 GiB": 2 << 30, "5MB": 5e6, "7B": 7} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "9999999999TiB", "MiB"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) accepted", in)
		}
	}
}

func TestSourcePolicyKeys(t *testing.T) {
	c, err := LoadServe([]string{"--data", "/d", "--allow-hosts", " cdn.example.com, *.origin.example ,", "--deny-private=true"}, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.AllowHostList(); len(got) != 2 || got[0] != "cdn.example.com" || got[1] != "*.origin.example" || !c.DenyPrivate {
		t.Errorf("allowHosts %q denyPrivate %v", got, c.DenyPrivate)
	}
	if _, err := LoadServe([]string{"--data", "/d", "--deny-private=maybe"}, func(string) (string, bool) { return "", false }, io.Discard); err == nil || !strings.Contains(err.Error(), "'denyPrivate'") {
		t.Errorf("bad boolean: %v", err)
	}
}

// TestBoolFlags: every true/false key's flag works bare, as flag.Bool does
// (and as `pullpush pull --deny-private`), and with =true/=false; a bare
// flag followed by a separate value leaves that value as an argument.
func TestBoolFlags(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	var bools []string
	for _, s := range serveSettings {
		d := DefaultServe()
		if v := s.get(&d); v == "true" || v == "false" {
			if !s.isBool {
				t.Errorf("%s holds a boolean but its flag --%s needs a value: use boolSetting", s.key, Flag(s.key))
			}
			bools = append(bools, s.key)
		}
	}
	if !slices.Contains(bools, "denyPrivate") {
		t.Fatalf("boolean keys %v lack denyPrivate", bools)
	}
	get := func(c Serve, key string) string {
		s, _ := lookupSetting(key)
		return s.get(&c)
	}
	for _, key := range bools {
		f := "--" + Flag(key)
		for _, tc := range []struct {
			args []string
			env  map[string]string
			want string
		}{
			{[]string{f, "--data", "/d"}, nil, "true"},
			{[]string{"--data", "/d", f}, nil, "true"},
			{[]string{"--data", "/d", f + "=true"}, nil, "true"},
			{[]string{"--data", "/d", f + "=false"}, map[string]string{Env(key): "true"}, "false"},
			{[]string{"--data", "/d", f + "=0"}, nil, "false"},
			{[]string{"--data", "/d"}, map[string]string{Env(key): "1"}, "true"},
		} {
			c, err := LoadServe(tc.args, env(tc.env), io.Discard)
			if err != nil || get(c, key) != tc.want {
				t.Errorf("LoadServe(%q, env %v): %s = %s, %v; want %s", tc.args, tc.env, key, get(c, key), err, tc.want)
			}
		}
		if _, err := LoadServe([]string{"--data", "/d", f, "false"}, noEnv, io.Discard); err == nil || err.Error() != `unexpected argument "false"` {
			t.Errorf("%s false: %v, want the flag package's unexpected argument", f, err)
		}
		var usage strings.Builder
		LoadServe([]string{"-h"}, noEnv, &usage)
		if !strings.Contains(usage.String(), "  "+f[1:]+"\n") {
			t.Errorf("usage does not show %s as a bare flag:\n%s", f, usage.String())
		}
	}
}
