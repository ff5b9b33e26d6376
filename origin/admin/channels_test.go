package admin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/internal/chaintest"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/output/mediapackage"
)

// relay starts a pullpush fetcher from the chain's channel into input a
// of channel id with user/pass; it stops when t ends.
func relay(t *testing.T, c *chaintest.Chain, id, user, pass string) {
	t.Helper()
	dest, err := mediapackage.New(mediapackage.Config{IngestURLs: []mediapackage.Ingest{{
		URL: c.URL + "/in/v2/" + id + "/a/channel", Username: user, Password: pass,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	svc := pullpush.New(pullpush.Options{Logger: slog.New(slog.DiscardHandler), SpoolDir: t.TempDir()})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svc.Close(ctx)
	})
	if _, err := svc.StartFetcher(context.Background(), pullpush.FetcherSpec{
		Name: "relay-" + id, URL: c.URL + "/channels/" + chaintest.ChannelID + "/master.m3u8", Output: dest,
	}); err != nil {
		t.Fatal(err)
	}
}

// lastSeq returns the media sequence of the newest segment of a playlist
// of the chain's origin, -1 when it cannot be read.
func lastSeq(c *chaintest.Chain, p string) int64 {
	m, err := c.Media(p)
	if err != nil || len(m.Segments) == 0 {
		return -1
	}
	return m.MediaSequence + int64(len(m.Segments)) - 1
}

// TestChannelLifecycle is the operator's path through the API on a running
// origin: create a channel, push into it, add a CMAF endpoint, rotate the
// ingest password while the relay keeps pushing (no gap), change a window
// without resending the password, read the settings (no secret), delete
// the endpoint and the channel.
func TestChannelLifecycle(t *testing.T) {
	c, _, srv := start(t)
	api := srv.URL + "/api/v1/channels"
	const (
		user  = "news-pusher"
		first = "first-secret"
		next  = "second-secret"
	)
	code, b := do(t, "POST", api, token, `{"id": "news", "username": "`+user+`", "password": "`+first+`",
		"manifestWindow": "30s", "endpoints": [{"id": "ts"}]}`)
	if code != http.StatusCreated || strings.Contains(string(b), first) || !strings.Contains(string(b), `"manifestWindow":"30s"`) {
		t.Fatalf("create: %d %s", code, b)
	}
	if code, b := do(t, "POST", api, token, `{"id": "news", "username": "u", "password": "p4ssw0rd"}`); code != http.StatusConflict {
		t.Fatalf("create again: %d %s", code, b)
	}
	if code, b := do(t, "POST", api, token, `{"id": "x", "username": "u", "password": "p", "endpoints": [{"id": "e", "packagin": "cmaf"}]}`); code != http.StatusBadRequest || !strings.Contains(string(b), "packagin") {
		t.Fatalf("unknown key: %d %s", code, b)
	}
	if code, b := do(t, "POST", api, token, `{"id": "x", "username": "u", "password": "p", "timeDelay": "1s"}`); code != http.StatusBadRequest || !strings.Contains(string(b), "timeDelay") {
		t.Fatalf("bad value: %d %s", code, b)
	}

	relay(t, c, "news", user, first)
	ts := "/out/v1/news/ts/channel_video-0.m3u8"
	testutil.Eventually(t, 30*time.Second, func() bool { return lastSeq(c, ts) >= 0 }, "the new channel never served the relayed segments")
	if _, err := c.Media("/out/v1/news/ts/index.m3u8"); err == nil {
		t.Fatal("multivariant parsed as a media playlist")
	}

	code, b = do(t, "POST", api+"/news/endpoints", token, `{"id": "cmaf", "packaging": "cmaf"}`)
	if code != http.StatusCreated || !strings.Contains(string(b), `"packaging":"cmaf"`) {
		t.Fatalf("add endpoint: %d %s", code, b)
	}
	cm, err := c.Media("/out/v1/news/cmaf/channel_video-0.m3u8")
	if err != nil || len(cm.Segments) == 0 || cm.Segments[0].Map == nil {
		t.Fatalf("cmaf endpoint: %v %+v", err, cm)
	}
	if _, err := c.Get("/out/v1/news/cmaf/" + cm.Segments[len(cm.Segments)-1].URI); err != nil {
		t.Fatal(err)
	}

	// Rotation while the relay pushes with the old password.
	before := lastSeq(c, ts)
	if code, b := do(t, "POST", api+"/news/credentials", token, `{"password": "`+next+`", "graceSeconds": 600}`); code != http.StatusNoContent {
		t.Fatalf("rotate: %d %s", code, b)
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return lastSeq(c, ts) >= before+2 }, "the relay stopped after the rotation")
	for pass, want := range map[string]bool{next: true, first: true, "wrong-secret": false} {
		req, _ := http.NewRequest(http.MethodDelete, c.URL+"/in/v2/news/b/nosuch.ts", nil)
		resp, err := (&http.Client{Transport: &digest.Transport{Username: user, Password: pass}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (resp.StatusCode != http.StatusUnauthorized) != want {
			t.Fatalf("ingest with %q after the rotation: %d", pass, resp.StatusCode)
		}
	}

	// A new window without the password: ingest keeps working.
	code, b = do(t, "PUT", api+"/news", token, `{"username": "`+user+`", "manifestWindow": "12s",
		"endpoints": [{"id": "ts", "manifestWindow": "12s"}, {"id": "cmaf", "packaging": "cmaf"}]}`)
	if code != http.StatusOK || !strings.Contains(string(b), `"manifestWindow":"12s"`) {
		t.Fatalf("update: %d %s", code, b)
	}
	before = lastSeq(c, ts)
	testutil.Eventually(t, 30*time.Second, func() bool { return lastSeq(c, ts) >= before+2 }, "the relay stopped after the update")
	m, err := c.Media(ts)
	if err != nil || m.Duration() > 14 {
		t.Fatalf("window after the update: %v, %.1f s", err, m.Duration())
	}
	code, b = do(t, "GET", api+"/news/settings", token, "")
	var settings map[string]any
	if code != http.StatusOK || json.Unmarshal(b, &settings) != nil || settings["id"] != "news" {
		t.Fatalf("settings: %d %s", code, b)
	}
	for _, secret := range []string{first, next} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("settings show a password: %s", b)
		}
	}
	code, b = do(t, "GET", api+"/news", token, "")
	if code != http.StatusOK || strings.Contains(string(b), first) {
		t.Fatalf("status: %d %s", code, b)
	}

	if code, b := do(t, "PUT", api+"/news/endpoints/nosuch", token, `{"packaging": "cmaf"}`); code != http.StatusNotFound {
		t.Fatalf("update a missing endpoint: %d %s", code, b)
	}
	if code, b := do(t, "DELETE", api+"/news/endpoints/cmaf", token, ""); code != http.StatusOK {
		t.Fatalf("delete endpoint: %d %s", code, b)
	}
	if _, err := c.Get("/out/v1/news/cmaf/index.m3u8"); err == nil {
		t.Fatal("deleted endpoint still served")
	}
	if code, b := do(t, "DELETE", api+"/news/endpoints/ts", token, ""); code != http.StatusBadRequest {
		t.Fatalf("delete the last endpoint: %d %s", code, b)
	}
	if code, _ := do(t, "DELETE", api+"/news", token, ""); code != http.StatusNoContent {
		t.Fatalf("delete channel: %d", code)
	}
	if _, err := c.Get(ts); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("deleted channel: %v", err)
	}
	if code, _ := do(t, "DELETE", api+"/news", token, ""); code != http.StatusNotFound {
		t.Fatalf("delete again: %d", code)
	}
}
