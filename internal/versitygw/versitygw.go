// Package versitygw starts a real S3 server (versitygw with the posix
// backend) on a free loopback port for tests.
//
// Install it with `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`;
// tests skip when it is absent unless PULLPUSH_REQUIRE_TOOLS=1.
package versitygw

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pullpush/pullpush/internal/s3client"
	"github.com/pullpush/pullpush/internal/testutil"
)

// readyTimeout bounds how long the server takes to accept connections.
const readyTimeout = 30 * time.Second

// Credentials of every gateway started by Start.
const (
	AccessKey = "k"
	SecretKey = "s"
	Region    = "us-east-1"
)

// Gateway is a running versitygw.
type Gateway struct {
	Endpoint  string // http://127.0.0.1:port
	Root      string // posix root: Root/<bucket>/<key>
	AccessKey string // root credentials (AccessKey and SecretKey unless StartWithCredentials)
	SecretKey string
}

// LookTool finds an external tool on PATH or in $(go env GOPATH)/bin,
// skipping the test when it is absent unless PULLPUSH_REQUIRE_TOOLS=1.
func LookTool(t testing.TB, name string) string {
	t.Helper()
	return testutil.LookTool(t, name, "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
}

// Start runs `versitygw --port 127.0.0.1:PORT posix DIR` on a free loopback
// port, waits until it accepts connections, creates the given buckets and
// stops it at test cleanup.
func Start(t testing.TB, buckets ...string) *Gateway {
	t.Helper()
	return StartWithCredentials(t, AccessKey, SecretKey, buckets...)
}

// StartWithCredentials is Start with the given root credentials (tests
// that check a secret never shows in logs need one that is not a single
// letter).
func StartWithCredentials(t testing.TB, accessKey, secretKey string, buckets ...string) *Gateway {
	t.Helper()
	bin := LookTool(t, "versitygw")
	root := t.TempDir()
	var lastErr string
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		var logs testutil.LockedBuffer
		cmd := exec.Command(bin, "--port", addr, "posix", root)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+accessKey, "ROOT_SECRET_KEY="+secretKey)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		if testutil.WaitListening(addr, exited, readyTimeout) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("versitygw output:\n%s", logs.String())
				}
			})
			g := &Gateway{Endpoint: "http://" + addr, Root: root, AccessKey: accessKey, SecretKey: secretKey}
			c := g.Client(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, b := range buckets {
				if err := c.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: Region}); err != nil {
					t.Fatalf("make bucket %s: %v\n%s", b, err, logs.String())
				}
			}
			return g
		}
		stop()
		lastErr = logs.String()
	}
	t.Fatalf("versitygw did not start:\n%s", lastErr)
	return nil
}

// Client returns a path-style minio client for the gateway.
func (g *Gateway) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := s3client.New(s3client.Config{Endpoint: g.Endpoint, Region: Region, AccessKey: g.AccessKey, SecretKey: g.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
