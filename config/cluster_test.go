package config

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClusterKeys(t *testing.T) {
	for key, want := range map[string][2]string{
		"cluster":          {"cluster", "PULLPUSH_CLUSTER"},
		"instanceId":       {"instance-id", "PULLPUSH_INSTANCE_ID"},
		"leaseTtl":         {"lease-ttl", "PULLPUSH_LEASE_TTL"},
		"clusterPrefix":    {"cluster-prefix", "PULLPUSH_CLUSTER_PREFIX"},
		"clusterCredsFile": {"cluster-creds-file", "PULLPUSH_CLUSTER_CREDS_FILE"},
	} {
		if Flag(key) != want[0] || Env(key) != want[1] {
			t.Errorf("%s: flag %s env %s, want %v", key, Flag(key), Env(key), want)
		}
	}
	// Without --cluster: bbolt, no instance id needed.
	c, err := LoadServe([]string{"--data", "/d"}, env(nil), io.Discard)
	if err != nil || c.Cluster != "" || c.InstanceID != "" || c.LeaseTTL != 10*time.Second || c.ClusterPrefix != "pullpush" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	// File, env and flags, with the usual precedence.
	file := writeFile(t, "data: /d\ncluster: nats://127.0.0.1:4222\ninstanceId: from-file\nleaseTtl: 20s\nclusterPrefix: pp\n")
	c, err = LoadServe([]string{"--config", file, "--instance-id", "from-flag"},
		env(map[string]string{"PULLPUSH_LEASE_TTL": "5s", "PULLPUSH_INSTANCE_ID": "from-env"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster != "nats://127.0.0.1:4222" || c.InstanceID != "from-flag" || c.LeaseTTL != 5*time.Second || c.ClusterPrefix != "pp" {
		t.Fatalf("layered: %+v", c)
	}
	// The instance id defaults to the host name.
	c, err = LoadServe([]string{"--data", "/d", "--cluster", "nats://a:4222, tls://b:4222,c:4222"}, env(nil), io.Discard)
	if err != nil || c.InstanceID != DefaultInstanceID() || c.InstanceID == "" {
		t.Fatalf("default instance id: %+v %v", c, err)
	}
	if id := DefaultInstanceID(); strings.IndexFunc(id, func(r rune) bool { return !isIDRune(r) }) >= 0 {
		t.Errorf("DefaultInstanceID() = %q has characters outside [A-Za-z0-9_-]", id)
	}
}

func TestClusterErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.creds")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cluster", "http://h:4222"}, `'cluster' URL "http://h:4222" must start with nats://, tls://, ws:// or wss://`},
		{[]string{"--cluster", "nats://user:secretpw@h:4222,http://127.0.0.1:4222"}, `'cluster' URL "http://127.0.0.1:4222" must start with nats://, tls://, ws:// or wss://`},
		{[]string{"--cluster", "nats://user:secretpw@:4222"}, `'cluster' URL "nats://user:xxxxx@:4222" has no host`},
		{[]string{"--cluster", "nats://h:4222", "--instance-id", "a.b"}, `'instanceId' must be 1 to 64 letters, digits, '-' or '_', got "a.b"`},
		{[]string{"--cluster", "nats://h:4222", "--lease-ttl", "500ms"}, "'leaseTtl' must be between 1s and 10m, got 500ms"},
		{[]string{"--cluster", "nats://h:4222", "--lease-ttl", "soon"}, `flag --lease-ttl: 'leaseTtl': "soon" is not a duration (e.g. 10s)`},
		{[]string{"--cluster", "nats://h:4222", "--cluster-prefix", "a b"}, `'clusterPrefix' must be 1 to 64 letters, digits, '-' or '_', got "a b"`},
		{[]string{"--cluster", "nats://h:4222", "--cluster-creds-file", missing}, "'clusterCredsFile': stat " + missing + ": no such file or directory"},
	} {
		_, err := LoadServe(append([]string{"--data", "/d"}, tc.args...), env(nil), io.Discard)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: error = %v\n      want %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("password in error %q", err)
		}
	}
}
