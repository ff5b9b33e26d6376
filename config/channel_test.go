package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadChannel(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "channels.yaml")
	if err := os.WriteFile(cfgFile, []byte("channels:\n  - id: news\n    assets: [{id: a, uri: a/master.m3u8}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadChannel(nil, envOf(nil), io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultChannelListen || !c.AccessLog || c.Data != "" || c.APIToken != "" || len(c.Config.Channels) != 1 || c.Config.Channels[0].ID != "1" {
		t.Fatalf("defaults: %+v", c)
	}
	env := map[string]string{ChannelListenEnv: "127.0.0.1:1", ChannelConfigEnv: cfgFile, ChannelDataEnv: dir, ChannelAccessLogEnv: "0", APITokenEnv: "env-token"}
	c, err = LoadChannel(nil, envOf(env), io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1" || c.AccessLog || c.Data != dir || c.APIToken != "env-token" || c.Config.Channels[0].ID != "news" {
		t.Fatalf("env: %+v", c)
	}
	c, err = LoadChannel([]string{"--listen", "127.0.0.1:2", "--access-log", "--data", "/d", "--api-token", "flag-token"}, envOf(env), io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:2" || !c.AccessLog || c.Data != "/d" || c.APIToken != "flag-token" {
		t.Fatalf("flags over env: %+v", c)
	}
}

func TestAPIToken(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, crlf, empty := file("good", "tok-1\nignored\n"), file("crlf", "tok-2\r\n"), file("empty", "\n")
	for _, tc := range []struct {
		token, file string
		env         map[string]string
		want, err   string
	}{
		{want: ""},
		{token: "t", want: "t"},
		{file: good, want: "tok-1"},
		{file: crlf, want: "tok-2"},
		{env: map[string]string{APITokenEnv: "e"}, want: "e"},
		{env: map[string]string{APITokenFileEnv: good}, want: "tok-1"},
		{token: "t", env: map[string]string{APITokenEnv: "e"}, want: "t"},
		{token: "t", file: good, err: "both set"},
		{file: empty, err: "is empty"},
		{file: filepath.Join(dir, "missing"), err: "--api-token-file"},
		{token: "has space-secret", err: "must not contain whitespace"},
	} {
		got, err := APIToken(tc.token, tc.file, envOf(tc.env))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "secret") {
				t.Errorf("%+v: %v, want an error with %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q %v, want %q", tc, got, err, tc.want)
		}
	}
}

func TestLoadChannelErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
		{[]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, nil, "missing.yaml"},
		{nil, map[string]string{ChannelAccessLogEnv: "perhaps"}, ChannelAccessLogEnv},
		{[]string{"--bogus"}, nil, "bogus"},
	} {
		if _, err := LoadChannel(tc.args, envOf(tc.env), io.Discard, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %v: %v, want %q", tc.args, tc.env, err, tc.want)
		}
	}
	var help strings.Builder
	if _, err := LoadChannel([]string{"-h"}, envOf(nil), &help, "usage: pullpush channel\n"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "-access-log") {
		t.Errorf("-h: %v %q", err, help.String())
	}
}
