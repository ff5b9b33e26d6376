package s3client_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pullpush/pullpush/internal/s3client"
	"github.com/pullpush/pullpush/internal/versitygw"
)

var endpointCases = []struct {
	raw, host string
	secure    bool
	err       string
}{
	{"http://127.0.0.1:9000", "127.0.0.1:9000", false, ""},
	{"https://s3.example:443/", "s3.example:443", true, ""},
	{"s3.example", "s3.example", true, ""},
	{"ftp://h", "", false, "must be http or https"},
	{"http://u:secret@h", "", false, "must not contain credentials"},
	{"http://", "", false, "must have a host"},
	{"http://h/bucket", "", false, "must be a scheme and host only, without path or query"},
	{"http://h?x=1", "", false, "must be a scheme and host only, without path or query"},
	{"http://h?", "", false, "must be a scheme and host only, without path or query"},
	{"http://h#f", "", false, "must be a scheme and host only, without path or query"},
	{"http://h\x7f", "", false, "not a valid URL"},
}

func TestParseEndpoint(t *testing.T) {
	for _, c := range endpointCases {
		host, secure, err := s3client.ParseEndpoint(c.raw)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("ParseEndpoint(%q) error %v, want %q", c.raw, err, c.err)
			}
			continue
		}
		if err != nil || host != c.host || secure != c.secure {
			t.Errorf("ParseEndpoint(%q) = %q, %v, %v; want %q, %v", c.raw, host, secure, err, c.host, c.secure)
		}
	}
}

func FuzzParseEndpoint(f *testing.F) {
	for _, c := range endpointCases {
		f.Add(c.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		host, _, err := s3client.ParseEndpoint(raw)
		if err != nil {
			for _, c := range endpointCases {
				if err.Error() == c.err {
					return // a constant message: never quotes the endpoint
				}
			}
			t.Fatalf("ParseEndpoint(%q): unexpected error %q", raw, err)
		}
		if host == "" {
			t.Fatalf("ParseEndpoint(%q) accepted an empty host", raw)
		}
		// minio checks the host further (and may quote it); no panic.
		_, _ = s3client.New(s3client.Config{Endpoint: raw})
	})
}

func TestValidRegion(t *testing.T) {
	for r, want := range map[string]bool{"": true, "eu-west-1": true, "EU": false, "us east": false} {
		if got := s3client.ValidRegion(r); got != want {
			t.Errorf("ValidRegion(%q) = %v, want %v", r, got, want)
		}
	}
}

func TestNewRefusesBadEndpoint(t *testing.T) {
	_, err := s3client.New(s3client.Config{Endpoint: "http://k:topsecret@h"})
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("New error %v: want an error without the endpoint's secret", err)
	}
}

// TestClientAgainstVersitygw writes, reads and lists an object through a
// client of New on a real S3 server, path-style with static credentials.
func TestClientAgainstVersitygw(t *testing.T) {
	g := versitygw.Start(t, "live")
	c, err := s3client.New(s3client.Config{
		Endpoint: g.Endpoint, Region: versitygw.Region,
		AccessKey: g.AccessKey, SecretKey: g.SecretKey,
		PathStyle: true, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := []byte("#EXTM3U\n")
	if _, err := c.PutObject(ctx, "live", "a/channel.m3u8", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := c.GetObject(ctx, "live", "a/channel.m3u8", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read back %q, %v; want %q", got, err, body)
	}
	var keys []string
	for o := range c.ListObjects(ctx, "live", minio.ListObjectsOptions{Prefix: "a/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	if len(keys) != 1 || keys[0] != "a/channel.m3u8" {
		t.Fatalf("listed %q", keys)
	}

	bad, err := s3client.New(s3client.Config{
		Endpoint: g.Endpoint, Region: versitygw.Region,
		AccessKey: g.AccessKey, SecretKey: "wrong", PathStyle: true, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.StatObject(ctx, "live", "a/channel.m3u8", minio.StatObjectOptions{}); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
}
