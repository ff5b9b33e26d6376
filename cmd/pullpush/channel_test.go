package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testutil"
)

// startChannel runs `pullpush channel` until the test ends and returns the
// printed URL of channel id.
func startChannel(t *testing.T, id string, args ...string) (url string, stop func() error) {
	t.Helper()
	url, stop, _ = startChannelLog(t, id, args...)
	return url, stop
}

// startChannelLog is startChannel that also returns what the command
// logs.
func startChannelLog(t *testing.T, id string, args ...string) (url string, stop func() error, log *testutil.LockedBuffer) {
	t.Helper()
	c := testutil.StartCommand(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return runChannel(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), stdout, stderr)
	})
	re := regexp.MustCompile(`channel ` + regexp.QuoteMeta(id) + `: (http://127\.0\.0\.1:\d+/channels/` + regexp.QuoteMeta(id) + `/master\.m3u8)`)
	return c.WaitMatch(t, &c.Stdout, re, 10*time.Second)[1], c.Stop, &c.Stderr
}

func getChannelURL(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestChannelCommandDefault(t *testing.T) {
	url, stop := startChannel(t, "1")
	status, ctype, body := getChannelURL(t, url)
	if status != http.StatusOK || ctype != "application/vnd.apple.mpegurl" || !strings.Contains(body, "video_1.m3u8") {
		t.Fatalf("master: %d %s\n%s", status, ctype, body)
	}
	status, _, body = getChannelURL(t, strings.Replace(url, "master.m3u8", "video_0.m3u8", 1))
	if status != http.StatusOK || !strings.Contains(body, "#EXT-X-PROGRAM-DATE-TIME:") {
		t.Fatalf("media playlist: %d\n%s", status, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := http.Get(url); err == nil {
		t.Errorf("server still answers after shutdown")
	}
}

func TestChannelCommandConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "channels.yaml")
	yaml := "channels:\n  - id: news\n    window: 30s\n    assets: [embed:b, embed:c]\n  - id: movies\n    order: shuffle\n    seed: 7\n    assets: [embed:a, embed:c]\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	url, _ := startChannel(t, "movies", "--config", cfg)
	if status, _, body := getChannelURL(t, strings.Replace(url, "movies", "news", 1)); status != http.StatusOK {
		t.Errorf("news: %d %s", status, body)
	}
	if status, _, _ := getChannelURL(t, strings.Replace(url, "movies", "1", 1)); status != http.StatusNotFound {
		t.Errorf("channel 1 served with a config that does not define it: %d", status)
	}
}

func TestChannelCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("channels:\n  - id: a\n    asets: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--bogus"}, true, "flag provided but not defined: -bogus"},
		{[]string{"extra"}, true, `unexpected argument "extra"`},
		{[]string{"--config", bad}, true, bad + `: config: channels[0]: unknown key "asets" (line 3)`},
		{[]string{"--config", filepath.Join(dir, "none.yaml")}, true, "no such file or directory"},
		{[]string{"--listen", "127.0.0.1:-1"}, false, "invalid port"},
		{[]string{"--api-token", "a b"}, true, "--api-token must not contain whitespace"},
		{[]string{"--api-token", "a", "--api-token-file", bad}, true, "--api-token and --api-token-file are both set"},
		{[]string{"--api-token-file", filepath.Join(dir, "none")}, true, "--api-token-file: open"},
	} {
		var stderr testutil.LockedBuffer
		err := runChannel(context.Background(), tc.args, io.Discard, &stderr)
		if err == nil || errors.Is(err, errUsage) != tc.usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v (usage %v), want %q", tc.args, err, errors.Is(err, errUsage), tc.want)
		}
	}
	var stderr testutil.LockedBuffer
	if err := runChannel(context.Background(), []string{"-h"}, io.Discard, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "--config") {
		t.Errorf("-h: %v\n%s", err, stderr.String())
	}
}

func TestChannelDispatch(t *testing.T) {
	err := run(context.Background(), []string{"channel", "--nope"}, io.Discard, io.Discard)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-nope") {
		t.Errorf("run channel --nope: %v", err)
	}
}

// TestChannelCommandHealthStatus: /health and /status on the channel
// listener; an asset whose segment is missing makes /health 503 and shows
// in /status while the slate plays.
func TestChannelCommandHealthStatus(t *testing.T) {
	url, _ := startChannel(t, "1")
	base := strings.TrimSuffix(url, "/channels/1/master.m3u8")
	status, ctype, body := getChannelURL(t, base+"/health")
	if status != http.StatusOK || ctype != "application/json" || !strings.Contains(body, `"status": "ok"`) || !strings.Contains(body, `"goVersion"`) {
		t.Errorf("health: %d %s %s", status, ctype, body)
	}
	status, _, body = getChannelURL(t, base+"/status")
	var st struct {
		Channels []struct {
			ID      string `json:"id"`
			Started bool   `json:"started"`
			Now     struct {
				Asset string `json:"asset"`
			} `json:"now"`
			Next struct {
				Asset string `json:"asset"`
			} `json:"next"`
			LastSequence int64 `json:"lastSequence"`
		} `json:"channels"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || status != http.StatusOK || len(st.Channels) != 1 {
		t.Fatalf("status: %d %v\n%s", status, err, body)
	}
	if ch := st.Channels[0]; ch.ID != "1" || !ch.Started || !strings.Contains("abc", ch.Now.Asset) || ch.Next.Asset == ch.Now.Asset || ch.LastSequence <= 0 {
		t.Errorf("status: %+v", ch)
	}

	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "b"), os.DirFS("../../channel/assets/b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "b", "aud", "3.ts")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "channels.yaml")
	if err := os.WriteFile(cfg, []byte("channels:\n  - id: x\n    assets: [embed:a, b]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url, _ = startChannel(t, "x", "--config", cfg)
	base = strings.TrimSuffix(url, "/channels/x/master.m3u8")
	status, _, body = getChannelURL(t, base+"/health")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"degraded"`) || !strings.Contains(body, "aud/3.ts") {
		t.Errorf("health with a broken asset: %d %s", status, body)
	}
	status, _, body = getChannelURL(t, base+"/status")
	if status != http.StatusOK || !strings.Contains(body, `"asset": "x-1"`) || !strings.Contains(body, "aud/3.ts") {
		t.Errorf("status with a broken asset: %d %s", status, body)
	}
}

// TestChannelCommandSchedule: with --data and the token from
// PULLPUSH_API_TOKEN, the schedule API needs the token, keeps the schedule
// in DIR/schedules/{id}.json across a restart, and a second instance
// sharing DIR lists the same schedule.
func TestChannelCommandSchedule(t *testing.T) {
	t.Setenv("PULLPUSH_API_TOKEN", "chan-secret")
	data := t.TempDir()
	url, stop := startChannel(t, "1", "--data", data)
	api := strings.TrimSuffix(url, "/channels/1/master.m3u8") + "/api/v1/channels/1/schedule"
	do := func(method, url, token, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := do("GET", api, "", ""); status != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
		t.Errorf("without token: %d %s", status, body)
	}
	status, body := do("POST", api, "chan-secret", `{"items":[{"id":"show","asset":"b","title":"The show","in":2,"out":10}]}`)
	if status != http.StatusCreated || !strings.Contains(body, `"id": "show"`) || !strings.Contains(body, `"duration": 8`) {
		t.Fatalf("append: %d %s", status, body)
	}
	if status, body := do("GET", strings.Replace(api, "/1/", "/nope/", 1), "chan-secret", ""); status != http.StatusNotFound {
		t.Errorf("unknown channel: %d %s", status, body)
	}
	if _, err := os.Stat(filepath.Join(data, "schedules", "1.json")); err != nil {
		t.Errorf("schedule file: %v", err)
	}
	// A second instance on the same directory sees the schedule.
	url2, _ := startChannel(t, "1", "--data", data)
	api2 := strings.TrimSuffix(url2, "/channels/1/master.m3u8") + "/api/v1/channels/1/schedule"
	if status, body := do("GET", api2, "chan-secret", ""); status != http.StatusOK || !strings.Contains(body, `"id": "show"`) {
		t.Errorf("second instance: %d %s", status, body)
	}
	// And a restart keeps it.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	url, _ = startChannel(t, "1", "--data", data)
	api = strings.TrimSuffix(url, "/channels/1/master.m3u8") + "/api/v1/channels/1/schedule"
	if status, body := do("GET", api, "chan-secret", ""); status != http.StatusOK || !strings.Contains(body, `"title": "The show"`) {
		t.Errorf("after restart: %d %s", status, body)
	}
	// Without --data the API answers 404 with why.
	url, _ = startChannel(t, "1")
	api = strings.TrimSuffix(url, "/channels/1/master.m3u8") + "/api/v1/channels/1/schedule"
	if status, body := do("GET", api, "chan-secret", ""); status != http.StatusNotFound || !strings.Contains(body, "--data") {
		t.Errorf("without --data: %d %s", status, body)
	}
}

// TestChannelCommandMetricsAccessLog: GET /metrics on the channel listener
// counts playlist requests by channel, kind and status, with the Go
// runtime; every request is logged (method, path, status) unless
// --access-log=false.
func TestChannelCommandMetricsAccessLog(t *testing.T) {
	url, _, log := startChannelLog(t, "1")
	base := strings.TrimSuffix(url, "/channels/1/master.m3u8")
	for _, p := range []string{"/channels/1/master.m3u8", "/channels/1/master.m3u8", "/channels/1/video_0.m3u8", "/channels/1/nope.m3u8"} {
		getChannelURL(t, base+p)
	}
	status, ctype, body := getChannelURL(t, base+"/metrics")
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("metrics: %d %s", status, ctype)
	}
	for _, want := range []string{
		`pullpush_channel_playlist_requests_total{channel="1",code="200",kind="multivariant"} 2`,
		`pullpush_channel_playlist_requests_total{channel="1",code="200",kind="media"} 1`,
		`pullpush_channel_playlist_requests_total{channel="1",code="404",kind="media"} 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return strings.Contains(log.String(), `msg="http request" method=GET path=/channels/1/video_0.m3u8 status=200`) &&
			strings.Contains(log.String(), "path=/metrics status=200")
	}, "access log:\n%s", log.String())

	url, _, log = startChannelLog(t, "1", "--access-log=false")
	getChannelURL(t, url)
	if strings.Contains(log.String(), "http request") {
		t.Errorf("--access-log=false logged requests:\n%s", log.String())
	}
}
