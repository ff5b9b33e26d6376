package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envOf is a lookupEnv over a map.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestLoadOriginLayers checks the precedence defaults < YAML < env < flags
// on the settings all three can set, and what the flags add.
func TestLoadOriginLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "origin.yaml")
	yaml := "dataDir: /from/yaml\nchannels:\n  - id: live\n    username: u\n    password: from-yaml-secret\n    endpoints: [{id: ts}]\n  - id: other\n    username: o\n    password: other-secret\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	o, err := LoadOrigin([]string{"--config", file}, envOf(nil), io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != DefaultOriginListen || !o.AccessLog || o.Config.DataDir != "/from/yaml" || len(o.Config.Channels) != 2 || o.APIToken != "" {
		t.Fatalf("defaults + YAML: %+v", o)
	}

	env := map[string]string{
		OriginConfigEnv: file, OriginDataEnv: "/from/env", OriginListenEnv: "127.0.0.1:9999", OriginAccessLogEnv: "false",
		APITokenEnv: "env-token", OriginKeyRotationEnv: "30s", OriginKeyServerEnv: "http://127.0.0.1:8091/speke", KeyTokenEnv: "key-token",
	}
	o, err = LoadOrigin([]string{"--endpoint", "cbcs=cmaf:cbcs"}, envOf(env), io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != "127.0.0.1:9999" || o.AccessLog || o.Config.DataDir != "/from/env" || o.APIToken != "env-token" ||
		o.Config.Keys.URL != env[OriginKeyServerEnv] || o.Config.Keys.Token != "key-token" {
		t.Fatalf("env over YAML: %+v", o)
	}
	// --endpoint goes to the channel without endpoints, with the env's rotation.
	if eps := o.Config.Channels[1].Endpoints; len(eps) != 1 || eps[0].ID != "cbcs" || eps[0].Encryption == nil || *eps[0].Encryption.KeyRotationInterval != time.Duration(30*time.Second) {
		t.Fatalf("--endpoint: %+v", o.Config.Channels[1].Endpoints)
	}
	if eps := o.Config.Channels[0].Endpoints; len(eps) != 1 || eps[0].ID != "ts" {
		t.Fatalf("the file's endpoints: %+v", eps)
	}

	o, err = LoadOrigin([]string{"--data", "/from/flag", "--listen", "127.0.0.1:1", "--access-log=true", "--api-token-file", tokenFile,
		"--channel", "live=pusher:flag-secret", "--channel", "new=n:new-secret", "--keys-file", "keys.yaml"}, envOf(env), io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != "127.0.0.1:1" || !o.AccessLog || o.Config.DataDir != "/from/flag" || o.APIToken != "file-token" ||
		o.Config.Keys.File != "keys.yaml" || o.Config.Keys.URL != "" {
		t.Fatalf("flags over env: %+v", o)
	}
	if chs := o.Config.Channels; len(chs) != 3 || chs[0].Username != "pusher" || chs[0].Password != "flag-secret" || chs[2].ID != "new" {
		t.Fatalf("--channel: %+v", chs)
	}
}

func TestLoadOriginStorage(t *testing.T) {
	env := map[string]string{StorageEnv: "s3://bucket/prefix", S3EndpointEnv: "http://127.0.0.1:7070", "AWS_REGION": "eu-north-1", S3SecretKeyEnv: "env-secret"}
	o, err := LoadOrigin([]string{"--s3-access-key", "AK"}, envOf(env), io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	st := o.Config.Storage
	if st.URL != "s3://bucket/prefix" || st.Endpoint != "http://127.0.0.1:7070" || st.Region != "eu-north-1" || st.AccessKey != "AK" || st.SecretKey != "env-secret" {
		t.Fatalf("storage: %+v", st)
	}
}

func TestLoadOriginErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("dataDir: /d\nchanels: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "--data (or --storage) is required"},
		{[]string{"--data", "/d", "extra"}, nil, `unexpected argument "extra"`},
		{[]string{"--config", bad}, nil, "line 2: chanels: unknown key"},
		{[]string{"--data", "/d", "--channel", "x"}, nil, "want ID=USER:PASSWORD"},
		{[]string{"--data", "/d", "--endpoint", "x=flv"}, nil, "flv"},
		{[]string{"--data", "/d", "--s3-endpoint", "http://127.0.0.1:1"}, nil, "--s3-* flags need --storage"},
		{[]string{"--storage", "http://bucket"}, nil, "--storage:"},
		{[]string{"--data", "/d", "--api-token-file", empty}, nil, "is empty"},
		{[]string{"--data", "/d"}, map[string]string{OriginAccessLogEnv: "maybe"}, OriginAccessLogEnv},
		{[]string{"--data", "/d"}, map[string]string{OriginKeyRotationEnv: "soon"}, OriginKeyRotationEnv},
	} {
		_, err := LoadOrigin(tc.args, envOf(tc.env), io.Discard, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %v: %v, want %q", tc.args, tc.env, err, tc.want)
		}
	}
	var help strings.Builder
	if _, err := LoadOrigin([]string{"-h"}, envOf(nil), &help, "usage: pullpush origin\n"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "usage: pullpush origin") || !strings.Contains(help.String(), "-endpoint") {
		t.Errorf("-h: %v %q", err, help.String())
	}
}
