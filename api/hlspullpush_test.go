package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/internal/versitygw"
	"github.com/pullpush/pullpush/output/outputs"
)

// The bodies below are hls-pull-push's documented examples, byte for byte
// as its README (and, for timeoutMs, its plugin schema) writes them. Tests
// replace only what must point at loopback: the source URL and the ingest
// host.
const (
	hppSourceURL = "https://demo.vc.eyevinn.technology/channels/eyevinn/master.m3u8"
	hppIngestOrg = "https://033c20e6acf79d8f.mediapackage.eu-north-1.amazonaws.com"
	hppIngestDir = "/in/v2/8bca7c5e42d94296896a317c72714086/8bca7c5e42d94296896a317c72714abc/"

	// hls-pull-push README, "Example MediaPackage".
	hppMediaPackageBody = `{
  "name": "eyevinn-mp",
  "url": "https://demo.vc.eyevinn.technology/channels/eyevinn/master.m3u8",
  "output": "mediapackage",
  "payload": {
    "ingestUrls": [ {
      "url": "https://033c20e6acf79d8f.mediapackage.eu-north-1.amazonaws.com/in/v2/8bca7c5e42d94296896a317c72714086/8bca7c5e42d94296896a317c72714abc/channel",
      "username": "***",
      "password": "***"
    } ]
  }
}`

	// The README's "POST JSON Template" filled in with its documented
	// defaults (concurrency 16, windowSize 120) and the mediapackage
	// plugin schema's timeoutMs example (5000).
	hppMediaPackageFullBody = `{
  "name": "eyevinn-mp-full",
  "url": "https://demo.vc.eyevinn.technology/channels/eyevinn/master.m3u8",
  "output": "mediapackage",
  "payload": {
    "ingestUrls": [ {
      "url": "https://033c20e6acf79d8f.mediapackage.eu-north-1.amazonaws.com/in/v2/8bca7c5e42d94296896a317c72714086/8bca7c5e42d94296896a317c72714abc/channel",
      "username": "***",
      "password": "***"
    } ],
    "timeoutMs": 5000
  },
  "concurrency": 16,
  "windowSize": 120
}`

	// hls-pull-push README, "Example S3", verbatim: its two trailing
	// commas make it invalid JSON, which hls-pull-push's own server
	// (fastify, JSON.parse) answers with 400 as well.
	hppS3Body = `{
  "name": "eyevinn-s3",
  "url": "https://demo.vc.eyevinn.technology/channels/eyevinn/master.m3u8",
  "output": "s3",
  "payload": {
    "bucket": "lab-live-output",
    "folder": "S3_PLUGIN_CONTENT",
  },
}`
)

// hppS3BodyFixed is hppS3Body with the two trailing commas removed and
// nothing else changed.
var hppS3BodyFixed = strings.Replace(strings.Replace(hppS3Body, `"S3_PLUGIN_CONTENT",`, `"S3_PLUGIN_CONTENT"`, 1), "  },\n}", "  }\n}", 1)

// hppLoopback returns body with the documented source URL and ingest host
// replaced by loopback ones.
func hppLoopback(body, source, ingest string) string {
	return strings.NewReplacer(hppSourceURL, source, hppIngestOrg, ingest).Replace(body)
}

// startHPPSource serves a finite live stream (6 segments per rendition,
// then ENDLIST) on loopback and returns its multivariant URL.
func startHPPSource(t *testing.T) string {
	t.Helper()
	src := httptest.NewServer(livesource.New(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: 6, EndAfter: 6}))
	t.Cleanup(src.Close)
	return src.URL + livesource.MasterPath
}

// TestHLSPullPushMediaPackageBodies posts hls-pull-push's documented
// mediapackage bodies and checks the 201 and the files pushed with digest
// authentication (the documented "***" credentials are real ones here).
func TestHLSPullPushMediaPackageBodies(t *testing.T) {
	source := startHPPSource(t)
	snk := sink.New(sink.Options{Username: "***", Password: "***"})
	ingest := httptest.NewServer(snk)
	defer ingest.Close()
	h := newHarness(t, harnessOpts{factories: outputs.Factories()})

	for _, body := range []string{hppMediaPackageBody, hppMediaPackageFullBody} {
		snk.Reset()
		r := h.do("POST", "/api/v1/fetcher", hppLoopback(body, source, ingest.URL))
		if r.status != http.StatusCreated {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
		var created struct {
			ID          string  `json:"fetcherId"`
			Concurrency int     `json:"concurrency"`
			WindowSize  float64 `json:"windowSize"`
		}
		r.json(t, &created)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		master, err := snk.WaitForFile(ctx, hppIngestDir+"channel.m3u8")
		if err == nil {
			// The source ends after 6 segments: wait for a media playlist
			// with ENDLIST.
			err = snk.WaitFor(ctx, func() bool {
				for p, b := range snk.Files() {
					if strings.HasPrefix(p, hppIngestDir+"channel_") && strings.HasSuffix(p, ".m3u8") && strings.Contains(string(b), "#EXT-X-ENDLIST") {
						return true
					}
				}
				return false
			})
		}
		cancel()
		if err != nil {
			t.Fatalf("%v; sink has %v", err, snk.Paths())
		}
		if !strings.Contains(string(master), "#EXT-X-STREAM-INF") {
			t.Errorf("channel.m3u8 is not a multivariant playlist:\n%s", master)
		}
		for _, w := range snk.Writes() {
			if w.User != "***" || !strings.HasPrefix(w.Path, hppIngestDir) {
				t.Errorf("%s %s as %q", w.Method, w.Path, w.User)
			}
		}
		if body == hppMediaPackageFullBody && (created.Concurrency != 16 || created.WindowSize != 120) {
			t.Errorf("concurrency %d, windowSize %v; want 16 and 120", created.Concurrency, created.WindowSize)
		}
		if r := h.do("DELETE", "/api/v1/fetcher/"+created.ID, ""); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
	}
}

// TestHLSPullPushS3Bodies posts hls-pull-push's documented S3 body to a
// real S3 server (versitygw) and checks the objects under folder, and
// with outputIndexFilename the multivariant playlist's object name.
//
// hls-pull-push's S3 payload has no endpoint or credentials: its server
// takes them from the AWS environment. So does ours; the test sets
// AWS_ENDPOINT_URL_S3, AWS_REGION and the AWS keys to reach the loopback
// gateway instead of AWS, and changes nothing in the payload.
func TestHLSPullPushS3Bodies(t *testing.T) {
	gw := versitygw.Start(t, "lab-live-output")
	t.Setenv("AWS_ENDPOINT_URL_S3", gw.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", versitygw.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", gw.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	source := startHPPSource(t)
	h := newHarness(t, harnessOpts{factories: outputs.Factories()})
	check := gw.Client(t)
	get := func(key string) (string, bool) {
		obj, err := check.GetObject(t.Context(), "lab-live-output", key, minio.GetObjectOptions{})
		if err != nil {
			return "", false
		}
		defer obj.Close()
		b, err := io.ReadAll(obj)
		if err != nil {
			return "", false
		}
		return string(b), true
	}

	// Verbatim: not JSON, so 400 with where and why, as hls-pull-push.
	r := h.do("POST", "/api/v1/fetcher", hppLoopback(hppS3Body, source, ""))
	if r.status != http.StatusBadRequest || !strings.Contains(r.errorMsg(t), "trailing comma") {
		t.Fatalf("verbatim README S3 body: %d %s, want 400 naming the trailing comma", r.status, r.body)
	}
	t.Logf("verbatim README S3 body: %s", r.body)

	for _, c := range []struct{ name, body, index string }{
		{"README without its trailing commas", hppS3BodyFixed, "channel.m3u8"},
		{"with outputIndexFilename and timeoutMs", strings.Replace(hppS3BodyFixed, `"S3_PLUGIN_CONTENT"`,
			`"S3_PLUGIN_CONTENT/indexed", "outputIndexFilename": "index.m3u8", "timeoutMs": 5000`, 1), "index.m3u8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", "/api/v1/fetcher", hppLoopback(c.body, source, ""))
			if r.status != http.StatusCreated {
				t.Fatalf("POST: %d %s", r.status, r.body)
			}
			var created struct {
				ID string `json:"fetcherId"`
			}
			r.json(t, &created)
			folder := "S3_PLUGIN_CONTENT/"
			if c.index != "channel.m3u8" {
				folder = "S3_PLUGIN_CONTENT/indexed/"
			}
			var master string
			testutil.Eventually(t, 60*time.Second, func() bool {
				var ok bool
				master, ok = get(folder + c.index)
				return ok
			}, "no multivariant playlist at %s%s", folder, c.index)
			if !strings.Contains(master, "#EXT-X-STREAM-INF") {
				t.Fatalf("%s%s is not a multivariant playlist:\n%s", folder, c.index, master)
			}
			// Every media playlist it references lands next to it.
			for _, line := range strings.Split(master, "\n") {
				if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				testutil.Eventually(t, 60*time.Second, func() bool {
					_, ok := get(folder + line)
					return ok
				}, "media playlist %s%s missing", folder, line)
			}
			if c.index != "channel.m3u8" {
				if _, ok := get(folder + "channel.m3u8"); ok {
					t.Errorf("multivariant playlist also stored as %schannel.m3u8", folder)
				}
			}
			if r := h.do("DELETE", "/api/v1/fetcher/"+created.ID, ""); r.status != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", r.status, r.body)
			}
		})
	}
}

// TestHLSPullPushUnknownKeys checks that keys hls-pull-push does not
// document are still refused, with a JSON error naming the key.
func TestHLSPullPushUnknownKeys(t *testing.T) {
	h := newHarness(t, harnessOpts{factories: outputs.Factories()})
	for _, c := range []struct{ name, body, err string }{
		{"top level", strings.Replace(hppMediaPackageBody, `"output"`, `"windowsize": 60, "output"`, 1),
			"'windowsize' is not a known field (expected name, url, output, payload, concurrency, windowSize)"},
		{"mediapackage payload", strings.Replace(hppMediaPackageBody, `"ingestUrls"`, `"timeout": 5000, "ingestUrls"`, 1),
			`invalid payload for output "mediapackage": timeout: unknown field`},
		{"mediapackage ingest", strings.Replace(hppMediaPackageBody, `"username"`, `"user": "x", "username"`, 1),
			`invalid payload for output "mediapackage": ingestUrls[0].user: unknown field`},
		{"s3 payload", strings.Replace(hppS3BodyFixed, `"bucket"`, `"folderName": "x", "bucket"`, 1),
			`invalid payload for output "s3": folderName: unknown field`},
		{"s3 folder and prefix differ", strings.Replace(hppS3BodyFixed, `"bucket"`, `"prefix": "other", "bucket"`, 1),
			`invalid payload for output "s3": folder: differs from prefix: both name the key prefix (folder is hls-pull-push's name for it); give one of them`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", "/api/v1/fetcher", c.body)
			if r.status != http.StatusBadRequest || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("%d %s (%s), want a 400 JSON error", r.status, r.body, r.header.Get("Content-Type"))
			}
			if got := r.errorMsg(t); got != c.err {
				t.Errorf("error = %q, want %q", got, c.err)
			}
		})
	}
}

// TestHLSPullPushKeysInOpenAPI checks that the served OpenAPI document
// describes the hls-pull-push payload keys of the built-in outputs.
func TestHLSPullPushKeysInOpenAPI(t *testing.T) {
	h := newHarness(t, harnessOpts{factories: outputs.Factories()})
	doc := fetchDoc(t, h)
	for name, keys := range map[string][]string{
		"Payload_mediapackage": {"ingestUrls", "timeoutMs"},
		"Payload_s3":           {"bucket", "folder", "outputIndexFilename", "timeoutMs"},
	} {
		var s struct {
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(doc.Components.Schemas[name], &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, k := range keys {
			if _, ok := s.Properties[k]; !ok {
				t.Errorf("%s has no property %q", name, k)
			}
		}
		if s.Properties["timeoutMs"].Type != "number" {
			t.Errorf("%s.timeoutMs type %q, want number", name, s.Properties["timeoutMs"].Type)
		}
	}
}
