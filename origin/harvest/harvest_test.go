package harvest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/chaintest"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/internal/versitygw"
	"github.com/pullpush/pullpush/origin"
	"github.com/pullpush/pullpush/origin/harvest"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
)

// env is a chain with a harvest Manager serving its API.
type env struct {
	state string // the Manager's state file, or ""
	chain *chaintest.Chain
	m     *harvest.Manager
	api   *httptest.Server
}

func newEnv(t *testing.T, stateFile string) *env {
	t.Helper()
	c := chaintest.Start(t, 40*time.Second, []origin.EndpointConfig{{ID: "ts"}, {ID: "cmaf", Packaging: origin.PackagingCMAF, ManifestName: "cmaf-master"}, {ID: "dash", Packaging: origin.PackagingDASH}})
	reg := output.NewRegistry()
	outputs.Register(reg)
	m, err := harvest.New(harvest.Config{
		Origin: c.Origin.Handler(), Endpoints: c.Origin.Endpoints, ManifestFile: c.Origin.ManifestFile, DASHManifest: c.Origin.DASHManifest, Outputs: reg, StateFile: stateFile,
		Redact: func(name string, p json.RawMessage) json.RawMessage { return outputs.Redact(name, p, reg) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	api := httptest.NewServer(m.Handler())
	t.Cleanup(api.Close)
	return &env{state: stateFile, chain: c, m: m, api: api}
}

// submit POSTs a job and returns the status and the decoded answer.
func (e *env) submit(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(e.api.URL+"/api/v1/harvest", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

// wait polls GET /api/v1/harvest/{id} until the job has finished.
func (e *env) wait(t *testing.T, id string) map[string]any {
	t.Helper()
	var job map[string]any
	testutil.Eventually(t, time.Minute, func() bool {
		resp, err := http.Get(e.api.URL + "/api/v1/harvest/" + id)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		job = nil
		json.NewDecoder(resp.Body).Decode(&job)
		return job["state"] == harvest.StateSucceeded || job["state"] == harvest.StateFailed
	}, "harvest job %s did not finish", id)
	return job
}

func (e *env) iso(d time.Duration) string { return e.chain.Start.Add(d).UTC().Format(time.RFC3339) }

// TestHarvestToDirectoryDecodesLikeTheWindow harvests a window across the
// channel's asset boundary from the TS and the CMAF endpoint into
// directories and has ffmpeg decode each harvested rendition from the
// files alone: the frames are those the origin serves for the window.
func TestHarvestToDirectoryDecodesLikeTheWindow(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	e := newEnv(t, "")
	renditions := []string{"channel_video-0", "channel_video-1", "channel_audio-0"}
	q := e.chain.Window(22*time.Second, 36*time.Second)
	e.chain.WaitClosed(t, "ts", renditions, q, 7, 1)
	for _, ep := range []string{"ts", "cmaf"} {
		dir := t.TempDir()
		code, job := e.submit(t, fmt.Sprintf(`{"channel":"1","endpoint":%q,"start":%q,"end":%q,"destination":{"output":"file","payload":{"dir":%q}}}`,
			ep, e.iso(22*time.Second), e.iso(36*time.Second), dir))
		if code != http.StatusAccepted {
			t.Fatalf("%s: submit: %d %v", ep, code, job)
		}
		done := e.wait(t, job["id"].(string))
		if done["state"] != harvest.StateSucceeded || done["progress"] != 1.0 {
			t.Fatalf("%s: job %v", ep, done)
		}
		mv, err := hls.ParseMultivariant(mustReadFile(t, filepath.Join(dir, "index.m3u8")))
		if err != nil {
			t.Fatal(err)
		}
		if len(mv.Variants) != 2 || strings.Contains(string(mv.Encode()), "?") {
			t.Fatalf("%s: harvested multivariant:\n%s", ep, mv.Encode())
		}
		for _, r := range renditions {
			m, err := hls.ParseMedia(mustReadFile(t, filepath.Join(dir, r+".m3u8")))
			if err != nil {
				t.Fatal(err)
			}
			served, err := e.chain.Media("/out/v1/1/" + ep + "/" + r + ".m3u8" + q)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Endlist || len(m.Segments) != len(served.Segments) {
				t.Fatalf("%s %s: %d segments, ENDLIST %v; the window has %d", ep, r, len(m.Segments), m.Endlist, len(served.Segments))
			}
			want, _ := chaintest.Decode(t, e.chain.URL+"/out/v1/1/"+ep+"/"+r+".m3u8"+q)
			got, msg := chaintest.Decode(t, filepath.Join(dir, r+".m3u8"))
			if i := chaintest.FirstDiff(got, want); i >= 0 || msg != "" {
				t.Errorf("%s %s: %d harvested frames, %d served; first differing %d; ffmpeg: %s", ep, r, len(got), len(want), i, msg)
			} else {
				t.Logf("%s %s: %d frames identical to the served window", ep, r, len(got))
			}
		}
	}
	if n := len(e.m.Jobs()); n != 2 {
		t.Fatalf("%d jobs listed", n)
	}
}

// TestHarvestDASH harvests a window of the DASH endpoint into a
// directory: the asset has a static index.mpd next to the HLS playlists,
// every file its templates name is there, and ffmpeg's DASH demuxer
// decodes it from the files alone to the frames the origin serves for
// the window.
func TestHarvestDASH(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	e := newEnv(t, "")
	q := e.chain.Window(10*time.Second, 20*time.Second)
	e.chain.WaitClosed(t, "dash", []string{"channel_video-0", "channel_video-1", "channel_audio-0"}, q, 5, 0)
	dir := t.TempDir()
	code, job := e.submit(t, fmt.Sprintf(`{"channel":"1","endpoint":"dash","start":%q,"end":%q,"destination":{"output":"file","payload":{"dir":%q}}}`,
		e.iso(10*time.Second), e.iso(20*time.Second), dir))
	if code != http.StatusAccepted {
		t.Fatalf("submit: %d %v", code, job)
	}
	if done := e.wait(t, job["id"].(string)); done["state"] != harvest.StateSucceeded {
		t.Fatalf("job %v", done)
	}
	mpd := string(mustReadFile(t, filepath.Join(dir, "index.mpd")))
	if !strings.Contains(mpd, `type="static"`) || !strings.Contains(mpd, `media="channel_video-0_$Number$.m4s"`) {
		t.Fatalf("harvested MPD:\n%s", mpd)
	}
	mustReadFile(t, filepath.Join(dir, "index.m3u8"))
	for _, stream := range []string{"0:v:0", "0:v:1", "0:a:0"} {
		want, _ := testutil.DecodeStream(t, e.chain.URL+"/out/v1/1/dash/index.mpd"+q, stream)
		got, msg := testutil.DecodeStream(t, filepath.Join(dir, "index.mpd"), stream)
		if i := chaintest.FirstDiff(got, want); i >= 0 || msg != "" {
			t.Errorf("%s: %d harvested frames, %d served; first differing %d; ffmpeg: %s", stream, len(got), len(want), i, msg)
		} else {
			t.Logf("%s: %d frames identical to the served window", stream, len(got))
		}
	}
}

// TestHarvestToS3 writes the asset to a real S3 server (versitygw) with
// the s3 output's payload; the job listing never shows the secret key.
func TestHarvestToS3(t *testing.T) {
	const secret = "harvest-secret-123"
	gw := versitygw.StartWithCredentials(t, "harvestkey", secret, "vod")
	e := newEnv(t, filepath.Join(t.TempDir(), "harvest.json"))
	q := e.chain.Window(10*time.Second, 20*time.Second)
	e.chain.WaitClosed(t, "ts", []string{"channel_video-0", "channel_audio-0"}, q, 5, 0)
	payload := fmt.Sprintf(`{"bucket":"vod","prefix":"clips/news","endpoint":%q,"region":%q,"accessKeyId":%q,"secretAccessKey":%q,"pathStyle":true}`,
		gw.Endpoint, versitygw.Region, gw.AccessKey, gw.SecretKey)
	code, job := e.submit(t, fmt.Sprintf(`{"channel":"1","endpoint":"ts","start":%q,"end":%q,"destination":{"output":"s3","payload":%s}}`,
		e.iso(10*time.Second), e.iso(20*time.Second), payload))
	if code != http.StatusAccepted {
		t.Fatalf("submit: %d %v", code, job)
	}
	done := e.wait(t, job["id"].(string))
	if done["state"] != harvest.StateSucceeded {
		t.Fatalf("job %v", done)
	}
	obj, err := gw.Client(t).GetObject(context.Background(), "vod", "clips/news/index.m3u8", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(obj)
	if err != nil || !bytes.Contains(body, []byte("channel_video-0.m3u8")) {
		t.Fatalf("index.m3u8 in the bucket: %v\n%s", err, body)
	}
	media := mustReadFile(t, filepath.Join(gw.Root, "vod", "clips/news/channel_video-0.m3u8"))
	m, err := hls.ParseMedia(media)
	if err != nil || !m.Endlist || len(m.Segments) != 5 {
		t.Fatalf("harvested media playlist: %v\n%s", err, media)
	}
	for _, s := range m.Segments {
		if _, err := os.Stat(filepath.Join(gw.Root, "vod", "clips/news", s.URI)); err != nil {
			t.Fatalf("segment %s not in the bucket: %v", s.URI, err)
		}
	}
	list, _ := json.Marshal(e.m.Jobs())
	if bytes.Contains(list, []byte(secret)) {
		t.Fatalf("the secret key is listed: %s", list)
	}
	if st := mustReadFile(t, e.state); !bytes.Contains(st, []byte(`"succeeded"`)) {
		t.Fatalf("state file: %s", st)
	}
}

// TestHarvestBadRequests: each bad request is a 4xx with a JSON error.
func TestHarvestBadRequests(t *testing.T) {
	e := newEnv(t, "")
	dir := t.TempDir()
	past, later := e.iso(2*time.Second), e.iso(8*time.Second)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	dest := fmt.Sprintf(`{"output":"file","payload":{"dir":%q}}`, dir)
	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{`, 400, "invalid JSON"},
		{fmt.Sprintf(`{"channel":"1","start":%q,"end":%q,"destination":%s,"extra":1}`, past, later, dest), 400, "unknown field"},
		{fmt.Sprintf(`{"start":%q,"end":%q,"destination":%s}`, past, later, dest), 400, "channel is required"},
		{fmt.Sprintf(`{"channel":"1","start":%q,"end":%q,"destination":%s}`, later, past, dest), 400, "end after start"},
		{fmt.Sprintf(`{"channel":"1","start":%q,"end":%q,"destination":%s}`, past, future, dest), 400, "not in the past"},
		{fmt.Sprintf(`{"channel":"1","start":"yesterday","end":%q,"destination":%s}`, later, dest), 400, "start"},
		{fmt.Sprintf(`{"channel":"1","start":%q,"end":%q,"destination":{"output":"nosuch","payload":{}}}`, past, later), 400, "unknown output"},
		{fmt.Sprintf(`{"channel":"1","start":%q,"end":%q,"destination":{"output":"file","payload":{"bad":1}}}`, past, later), 400, "bad"},
		{fmt.Sprintf(`{"channel":"9","start":%q,"end":%q,"destination":%s}`, past, later, dest), 404, `no channel "9"`},
		{fmt.Sprintf(`{"channel":"1","endpoint":"nosuch","start":%q,"end":%q,"destination":%s}`, past, later, dest), 404, `has no endpoint "nosuch"`},
	} {
		code, v := e.submit(t, c.body)
		msg, _ := v["error"].(string)
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want %d containing %q", c.body, code, msg, c.code, c.want)
		}
	}
	resp, err := http.Get(e.api.URL + "/api/v1/harvest/nosuch")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown job: %d", resp.StatusCode)
	}
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
