package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestOriginCommand(t *testing.T) {
	const secret = "sup3r-s3cret"
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "origin.yaml")
	os.WriteFile(cfgPath, []byte("channels:\n  - id: news\n    username: u\n    password: "+secret+"\n    manifestWindow: 10s\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runOrigin(ctx, []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
			"--channel", "live=pusher:" + secret, "--config", cfgPath}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`ingest a: (http://127\.0\.0\.1:\d+)/in/v2/live/a/channel`)
	var base string
	testutil.Eventually(t, 5*time.Second, func() bool {
		m := re.FindStringSubmatch(stdout.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, "no ingest URL printed: %s", stdout.String())
	for _, want := range []string{base + "/out/v1/live/index.m3u8", base + "/in/v2/news/b/channel", base + "/out/v1/news/index.m3u8"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("stdout lacks %s:\n%s", want, stdout.String())
		}
	}

	client := &http.Client{Transport: &digest.Transport{Username: "pusher", Password: secret}}
	put := func(name, body string) {
		req, _ := http.NewRequest(http.MethodPut, base+"/in/v2/live/a/"+name, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %d", name, resp.StatusCode)
		}
	}
	put("channel_1_0.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n")
	put("channel_1.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nchannel_1_0.vtt\n")
	resp, err := http.Get(base + "/out/v1/live/channel_1.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("playback: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runOrigin: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runOrigin did not stop on cancel")
	}
	if strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Fatalf("password leaked into the output:\n%s\n%s", stdout.String(), stderr.String())
	}
}

func TestOriginCommandUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("dataDir: /tmp\nchanels: []\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--channel", "a=u:p"}, "--data is required"},
		{[]string{"--data", dir}, "at least one --channel"},
		{[]string{"--data", dir, "--channel", "nopassword"}, "want ID=USER:PASSWORD"},
		{[]string{"--data", dir, "--channel", "a=u"}, "want ID=USER:PASSWORD"},
		{[]string{"--data", dir, "--channel", "a/b=u:p"}, "channels[0].id"},
		{[]string{"--config", bad}, "field chanels not found"},
		{[]string{"--data", dir, "--channel", "a=u:p", "extra"}, "unexpected argument"},
	} {
		var out, errb bytes.Buffer
		err := runOrigin(context.Background(), tc.args, &out, &errb)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want usage error containing %q", tc.args, err, tc.want)
		}
	}
}
