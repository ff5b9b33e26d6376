package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/versitygw"
)

// endingSource serves a live channel that ends after 5 segments.
func endingSource(t *testing.T) (*livesource.Source, string) {
	src := livesource.New(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: 5, EndAfter: 5})
	srv := httptest.NewServer(src)
	t.Cleanup(srv.Close)
	return src, srv.URL + livesource.MasterPath
}

func runPullCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append([]string{"pull", "--log-level", "warn"}, args...), &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

func TestPullBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no url", []string{"--output", "void"}, "pull needs --url and --output"},
		{"no output", []string{"--url", "http://127.0.0.1:1/x.m3u8"}, "pull needs --url and --output"},
		{"ftp url", []string{"--url", "ftp://127.0.0.1/x.m3u8", "--output", "void"}, "url must be http or https"},
		{"unknown output", []string{"--url", "http://127.0.0.1:1/x.m3u8", "--output", "nope"}, `unknown output "nope"`},
		{"payload not json", []string{"--url", "http://127.0.0.1:1/x.m3u8", "--output", "void", "--payload", "{"}, "--payload is not valid JSON"},
		{"payload fails schema", []string{"--url", "http://127.0.0.1:1/x.m3u8", "--output", "mediapackage", "--payload", `{"ingestUrls":[]}`}, "ingestUrls"},
		{"ingest not http", []string{"--url", "http://127.0.0.1:1/x.m3u8", "--output", "mediapackage", "--payload", `{"ingestUrls":[{"url":"ftp://h/in/channel","username":"u","password":"hunter2"}]}`}, "ingestUrls[0].url"},
		{"bad window", []string{"--url", "http://127.0.0.1:1/x.m3u8", "--output", "void", "--window", "0"}, "must be positive"},
		{"stray arg", []string{"--url", "http://127.0.0.1:1/x.m3u8", "--output", "void", "extra"}, `unexpected argument "extra"`},
		{"bad level", []string{"--url", "http://127.0.0.1:1/x.m3u8", "--output", "void", "--log-level", "loud"}, "--log-level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runPullCmd(t, c.args...)
			if err == nil {
				t.Fatalf("no error; output %s", out)
			}
			if !errors.Is(err, errUsage) {
				t.Errorf("error %v is not a usage error", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if strings.Contains(err.Error()+out, "hunter2") {
				t.Error("password echoed")
			}
		})
	}
}

// checkPushed verifies a pushed directory listing: master, 4 media
// playlists with ENDLIST, and every referenced segment present.
func checkPushed(t *testing.T, get func(name string) ([]byte, bool)) {
	t.Helper()
	master, ok := get("channel.m3u8")
	if !ok {
		t.Fatal("no channel.m3u8")
	}
	mv, err := hls.ParseMultivariant(master)
	if err != nil {
		t.Fatal(err)
	}
	var pls []string
	for _, v := range mv.Variants {
		pls = append(pls, v.URI)
	}
	for _, r := range mv.Renditions {
		if r.URI != "" {
			pls = append(pls, r.URI)
		}
	}
	if len(pls) != 4 {
		t.Fatalf("master lists %d playlists: %v", len(pls), pls)
	}
	for _, p := range pls {
		data, ok := get(p)
		if !ok {
			t.Fatalf("missing %s", p)
		}
		m, err := hls.ParseMedia(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !m.Endlist || len(m.Segments) != 5 {
			t.Errorf("%s: endlist=%v segments=%d", p, m.Endlist, len(m.Segments))
		}
		for _, s := range m.Segments {
			if _, ok := get(s.URI); !ok {
				t.Errorf("%s references missing %s", p, s.URI)
			}
		}
	}
}

func TestPullToDirectory(t *testing.T) {
	_, url := endingSource(t)
	dir := t.TempDir()
	state := filepath.Join(t.TempDir(), "state.json")
	out, err := runPullCmd(t, "--url", url, "--output", "file", "--payload", fmt.Sprintf(`{"dir":%q}`, dir), "--state", state)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	if !strings.Contains(out, "state=ended") {
		t.Errorf("output does not report the end: %s", out)
	}
	checkPushed(t, func(name string) ([]byte, bool) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return b, err == nil
	})
	if st, err := os.Stat(state); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v", err)
	}
}

func TestPullToDigestWebDAV(t *testing.T) {
	_, url := endingSource(t)
	sk := sink.New(sink.Options{Username: "u", Password: "hunter2"})
	srv := httptest.NewServer(sk)
	defer srv.Close()
	payload := fmt.Sprintf(`{"url":%q,"auth":"digest","username":"u","password":"hunter2"}`, srv.URL+"/dav/")
	out, err := runPullCmd(t, "--url", url, "--output", "webdav", "--payload", payload)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	checkPushed(t, func(name string) ([]byte, bool) { return sk.Get("/dav/" + name) })
	if strings.Contains(out, "hunter2") {
		t.Error("password logged")
	}
}

func TestPullToMediaPackageIngest(t *testing.T) {
	_, url := endingSource(t)
	sk := sink.New(sink.Options{Username: "u", Password: "hunter2"})
	srv := httptest.NewServer(sk)
	defer srv.Close()
	payload := fmt.Sprintf(`{"ingestUrls":[{"url":%q,"username":"u","password":"hunter2"}]}`, srv.URL+"/in/v2/abc/abc/channel")
	out, err := runPullCmd(t, "--url", url, "--output", "mediapackage", "--payload", payload)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	checkPushed(t, func(name string) ([]byte, bool) { return sk.Get("/in/v2/abc/abc/" + name) })
}

func TestPullToS3(t *testing.T) {
	gw := versitygw.Start(t, "live")
	_, url := endingSource(t)
	payload := fmt.Sprintf(`{"bucket":"live","prefix":"ch1/","region":"us-east-1","endpoint":%q,"accessKeyId":%q,"secretAccessKey":%q,"pathStyle":true}`,
		gw.Endpoint, versitygw.AccessKey, versitygw.SecretKey)
	out, err := runPullCmd(t, "--url", url, "--output", "s3", "--payload", payload)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	c := gw.Client(t)
	checkPushed(t, func(name string) ([]byte, bool) {
		obj, err := c.GetObject(context.Background(), "live", "ch1/"+name, minio.GetObjectOptions{})
		if err != nil {
			return nil, false
		}
		defer obj.Close()
		var b bytes.Buffer
		if _, err := b.ReadFrom(obj); err != nil {
			return nil, false
		}
		return b.Bytes(), true
	})
	info, err := c.StatObject(context.Background(), "live", "ch1/channel.m3u8", minio.StatObjectOptions{})
	if err != nil || info.ContentType != "application/vnd.apple.mpegurl" {
		t.Errorf("playlist content type %q (%v)", info.ContentType, err)
	}
}
