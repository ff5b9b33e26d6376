package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/internal/versitygw"
)

func TestOriginCommand(t *testing.T) {
	const secret = "sup3r-s3cret"
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "origin.yaml")
	os.WriteFile(cfgPath, []byte("channels:\n  - id: news\n    username: u\n    password: "+secret+"\n    manifestWindow: 10s\n"), 0o600)
	c := testutil.StartCommand(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return runOrigin(ctx, []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
			"--channel", "live=pusher:" + secret, "--config", cfgPath, "--api-token", "ctl-t0ken"}, stdout, stderr)
	})
	stdout, stderr := &c.Stdout, &c.Stderr
	base := c.WaitMatch(t, stdout, regexp.MustCompile(`ingest a: (http://127\.0\.0\.1:\d+)/in/v2/live/a/channel`), 5*time.Second)[1]
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

	// Operations: health, metrics, one access log line per request.
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The dashboard for a channel: a player on its live playlist; no
	// ingest status card, the control API needing a token here.
	if !strings.Contains(stdout.String(), "watch: "+base+"/watch/live") {
		t.Errorf("stdout lacks the watch page:\n%s", stdout.String())
	}
	if code, body := get("/watch/live"); code != http.StatusOK || !strings.Contains(body, `data-playback="/out/v1/live/index.m3u8"`) ||
		strings.Contains(body, "data-ingest") || strings.Contains(body, `id="fetchers"`) {
		t.Errorf("GET /watch/live: %d\n%s", code, body)
	}
	if code, body := get("/watch/nope"); code != http.StatusNotFound || !strings.Contains(body, `"error"`) {
		t.Errorf("GET /watch/nope: %d %s", code, body)
	}
	if code, _ := get("/dashboard/vendor/hls.min.js"); code != http.StatusOK {
		t.Errorf("GET the dashboard's hls.js: %d", code)
	}
	if code, body := get("/health"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("/health: %d %s", code, body)
	}
	// The control API needs its token, and lists the channel without its
	// password.
	if code, _ := get("/api/v1/channels/live"); code != http.StatusUnauthorized {
		t.Fatalf("control API without token: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/channels/live", nil)
	req.Header.Set("Authorization", "Bearer ctl-t0ken")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	status, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(status), `"activeInput":"a"`) || strings.Contains(string(status), secret) {
		t.Fatalf("control API: %d %s", resp.StatusCode, status)
	}
	if code, body := get("/api/docs/openapi.json"); code != http.StatusOK || !strings.Contains(body, "/api/v1/harvest") {
		t.Fatalf("openapi: %d %s", code, body)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`pullpush_origin_ingest_requests_total{channel="live",code="201",input="a"} 2`,
		`pullpush_origin_playback_requests_total{channel="live",code="200",endpoint="default",kind="playlist"} 1`,
		`pullpush_origin_active_input{channel="live",input="a"} 1`,
		`pullpush_origin_segments_retained{channel="live",rendition="channel_1"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(metrics, "pullpush_origin_"))
		}
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return regexp.MustCompile(`msg="http request" cmd=origin method=GET path=/out/v1/live/channel_1.m3u8 status=200 bytes=\d+ duration=\S+ remote=127\.0\.0\.1:\d+`).MatchString(stderr.String())
	}, "no access log line for the playback GET:\n%s", stderr.String())

	if err := c.Stop(); err != nil {
		t.Fatalf("runOrigin: %v", err)
	}
	if strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Fatalf("password leaked into the output:\n%s\n%s", stdout.String(), stderr.String())
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestOriginCommandUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("dataDir: /tmp\nchanels: []\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--channel", "a=u:p"}, "--data (or --storage) is required"},
		{[]string{"--channel", "a=u:p", "--storage", "ftp://bucket/x"}, "--storage: want s3://bucket[/prefix]"},
		{[]string{"--channel", "a=u:p", "--storage", "s3://Not_A_Bucket"}, "not a valid bucket name"},
		{[]string{"--channel", "a=u:p", "--storage", "s3://bucket/../x"}, "prefix elements"},
		{[]string{"--data", dir, "--channel", "a=u:p", "--s3-endpoint", "http://127.0.0.1:1"}, "need --storage"},
		{[]string{"--data", dir, "--channel", "nopassword"}, "want ID=USER:PASSWORD"},
		{[]string{"--data", dir, "--channel", "a=u"}, "want ID=USER:PASSWORD"},
		{[]string{"--data", dir, "--channel", "a/b=u:p"}, "channels[0].id"},
		{[]string{"--config", bad}, "line 2: chanels: unknown key"},
		{[]string{"--data", dir, "--channel", "a=u:p", "extra"}, "unexpected argument"},
	} {
		var out, errb bytes.Buffer
		err := runOrigin(context.Background(), tc.args, &out, &errb)
		// Storage errors are one line (the YAML decoder's may not be).
		joined := strings.Join(tc.args, " ")
		multiLine := strings.Contains(err.Error(), "\n") && (strings.Contains(joined, "--storage") || strings.Contains(joined, "--s3-"))
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) || multiLine {
			t.Errorf("%v: %v, want a one-line usage error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestOriginCommandSharedStorage runs `pullpush origin --storage` on a real
// S3 server (versitygw): it starts, takes ingest and serves it, and the
// secret key shows nowhere in its output.
func TestOriginCommandSharedStorage(t *testing.T) {
	const secret = "s3-s3cret-Key-9f2"
	gw := versitygw.StartWithCredentials(t, "origin-key", secret, "media")
	t.Setenv("PULLPUSH_S3_SECRET_KEY", secret)
	c := testutil.StartCommand(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return runOrigin(ctx, []string{"--listen", "127.0.0.1:0", "--storage", "s3://media/origin",
			"--s3-endpoint", gw.Endpoint, "--s3-access-key", "origin-key", "--s3-region", "us-east-1",
			"--channel", "live=pusher:pw"}, stdout, stderr)
	})
	stdout, stderr := &c.Stdout, &c.Stderr
	base := c.WaitMatch(t, stdout, regexp.MustCompile(`ingest a: (http://127\.0\.0\.1:\d+)/in/v2/live/a/channel`), 30*time.Second)[1]
	if !strings.Contains(stdout.String(), "storage s3://media/origin") {
		t.Fatalf("stdout does not name the storage:\n%s", stdout.String())
	}
	client := &http.Client{Transport: &digest.Transport{Username: "pusher", Password: "pw"}}
	for _, f := range []struct{ name, body string }{
		{"channel_1_0.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n"},
		{"channel_1.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nchannel_1_0.vtt\n"},
	} {
		req, _ := http.NewRequest(http.MethodPut, base+"/in/v2/live/a/"+f.name, strings.NewReader(f.body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %d", f.name, resp.StatusCode)
		}
	}
	testutil.Eventually(t, 30*time.Second, func() bool {
		resp, err := http.Get(base + "/out/v1/live/channel_1.m3u8")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "the ingested playlist is not served")
	if err := c.Stop(); err != nil {
		t.Fatalf("runOrigin: %v", err)
	}
	if out := stdout.String() + stderr.String(); strings.Contains(out, secret) {
		t.Fatalf("secret key leaked into the output:\n%s", out)
	}
}
