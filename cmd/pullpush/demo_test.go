package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/cdp"
	"github.com/pullpush/pullpush/internal/testutil"
)

// demoRun is one `pullpush demo` running in the test process.
type demoRun struct {
	base           string // http://127.0.0.1:PORT
	started        time.Time
	stdout, stderr *testutil.LockedBuffer
	cmd            *testutil.Command
	stopped        bool
}

var demoBaseRe = regexp.MustCompile(`channel engine -> relay -> origin on (http://\S+) \(playing `)

// startDemo runs `pullpush demo --listen 127.0.0.1:0` through run, as main
// does, and learns the bound address from its first line of output, which
// it prints once the channel plays at the origin.
func startDemo(t *testing.T) *demoRun {
	t.Helper()
	started := time.Now()
	c := testutil.StartCommand(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--log-level", "warn"}, stdout, stderr)
	})
	d := &demoRun{started: started, stdout: &c.Stdout, stderr: &c.Stderr, cmd: c}
	d.base = c.WaitMatch(t, &c.Stdout, demoBaseRe, 30*time.Second)[1]
	t.Cleanup(func() {
		if !d.stopped {
			d.stop(t)
		}
	})
	return d
}

// stop cancels the demo (Ctrl-C) and requires a clean exit.
func (d *demoRun) stop(t *testing.T) {
	t.Helper()
	d.stopped = true
	if err := d.cmd.StopWithin(20 * time.Second); err != nil {
		t.Errorf("demo returned %v after cancel\nstderr:\n%s", err, d.stderr)
	}
}

var demoClient = &http.Client{Timeout: 10 * time.Second}

// demoGetURL fetches u and returns status, body and headers (status 0 on a
// transport error).
func demoGetURL(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := demoClient.Get(u)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error(), nil
	}
	return resp.StatusCode, string(b), resp.Header
}

// demoOriginEdges returns the end (PROGRAM-DATE-TIME plus duration of the
// last segment) of the origin's first video and first audio live playlists.
func demoOriginEdges(base string) (video, audio time.Time, err error) {
	get := func(u string) ([]byte, error) {
		resp, err := demoClient.Get(u)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		return b, err
	}
	edge := func(uri string) (time.Time, error) {
		b, err := get(base + "/out/v1/1/" + uri)
		if err != nil {
			return time.Time{}, err
		}
		m, err := hls.ParseMedia(b)
		if err != nil {
			return time.Time{}, err
		}
		var end time.Time
		for _, s := range m.Segments {
			if !s.ProgramDateTime.IsZero() {
				end = s.ProgramDateTime
			}
			end = end.Add(time.Duration(s.Duration * float64(time.Second)))
		}
		return end, nil
	}
	b, err := get(base + "/out/v1/1/index.m3u8")
	if err != nil {
		return video, audio, err
	}
	mv, err := hls.ParseMultivariant(b)
	if err != nil {
		return video, audio, err
	}
	var audioURI string
	for _, r := range mv.Renditions {
		if r.Type == hls.MediaTypeAudio && r.URI != "" {
			audioURI = r.URI
			break
		}
	}
	if len(mv.Variants) == 0 || audioURI == "" {
		return video, audio, fmt.Errorf("multivariant without video variant or audio rendition:\n%s", b)
	}
	if video, err = edge(mv.Variants[0].URI); err != nil {
		return video, audio, err
	}
	audio, err = edge(audioURI)
	return video, audio, err
}

// demoEdgesText describes the origin's video and audio live edges for a
// failure message.
func demoEdgesText(base string) string {
	v, a, err := demoOriginEdges(base)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("video ends %s, audio ends %s (audio %+.1f s)", v.Format(time.RFC3339Nano), a.Format(time.RFC3339Nano), a.Sub(v).Seconds())
}

// demoFetcher is the part of GET /api/v1/fetcher the tests check.
type demoFetcher struct {
	ID             string          `json:"fetcherId"`
	Name           string          `json:"name"`
	State          string          `json:"state"`
	SegmentsPushed int64           `json:"segmentsPushed"`
	LastError      string          `json:"lastError"`
	Payload        json.RawMessage `json:"payload"`
	Targets        []struct {
		Name           string `json:"name"`
		SegmentsPushed int64  `json:"segmentsPushed"`
	} `json:"targets"`
}

// TestDemo runs the whole chain and checks every part a user opens: the
// channel, the origin's live, start-over, time-shift and I-frame
// playlists (decoded by ffprobe), the API's fetcher, the dashboard; then a
// clean stop that removes the temporary data.
func TestDemo(t *testing.T) {
	t.Parallel()
	ffprobe := testutil.RequireTool(t, "ffprobe")
	d := startDemo(t)
	out := d.stdout.String()
	for _, want := range []string{"Dashboard", "Live", "Start over", "Time-shift", "I-frames", "Channel source", "API", "Ingest"} {
		if !regexp.MustCompile(`(?m)^  ` + want + ` `).MatchString(out) {
			t.Errorf("demo output has no %q line:\n%s", want, out)
		}
	}

	// A dot segment is refused on the demo's one listener, not redirected
	// by its mux to another path.
	if code, body, _ := demoGetURL(t, d.base+"/out/v1/1/../../api/v1/fetcher"); code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
		t.Errorf("GET with a dot segment: %d %s, want 400 with a JSON error", code, body)
	}

	// The channel source.
	testutil.Eventually(t, 20*time.Second, func() bool {
		code, body, _ := demoGetURL(t, d.base+"/channels/1/master.m3u8")
		return code == http.StatusOK && strings.Contains(body, "#EXT-X-STREAM-INF")
	}, "channel 1 master playlist not served")

	// The origin goes live: multivariant and its first media playlist.
	testutil.Eventually(t, 30*time.Second, func() bool {
		code, body, _ := demoGetURL(t, d.base+"/out/v1/1/index.m3u8")
		if code != http.StatusOK {
			return false
		}
		// Until the relay's multivariant arrives, the origin lists the
		// renditions it has.
		m, err := hls.ParseMultivariant([]byte(body))
		if err != nil || len(m.Variants) != 2 || len(m.Renditions) != 2 || len(m.IFrameVariants) == 0 {
			return false
		}
		code, body, _ = demoGetURL(t, d.base+"/out/v1/1/"+m.Variants[0].URI)
		if code != http.StatusOK || !strings.Contains(body, "#EXTINF") {
			return false
		}
		return true
	}, "the origin did not go live\nstderr:\n%s", d.stderr)
	t.Logf("origin live %s after start", time.Since(d.started).Round(time.Millisecond))

	// Video and demuxed audio at the origin end at the same time: a player
	// stalls when they do not.
	testutil.Eventually(t, 10*time.Second, func() bool {
		v, a, err := demoOriginEdges(d.base)
		return err == nil && v.Sub(a).Abs() <= 4*time.Second
	}, "video and audio live playlists at the origin out of step: %s", demoEdgesText(d.base))

	// ffprobe decodes the live playlist: video and demuxed audio.
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	probe, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-show_entries", "stream=codec_type,codec_name",
		"-of", "csv=p=0", d.base+"/out/v1/1/index.m3u8").CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe live playlist: %v\n%s", err, probe)
	}
	if s := string(probe); !strings.Contains(s, "h264,video") || !strings.Contains(s, "aac,audio") {
		t.Errorf("ffprobe found no h264 video and aac audio in the live playlist:\n%s", s)
	}

	// The DASH endpoint printed serves a live MPD.
	if m := regexp.MustCompile(`(?m)^  DASH\s+(http://\S+)`).FindStringSubmatch(out); m == nil {
		t.Errorf("no DASH URL in the output:\n%s", out)
	} else {
		testutil.Eventually(t, 20*time.Second, func() bool {
			code, body, _ := demoGetURL(t, m[1])
			return code == http.StatusOK && strings.Contains(body, `type="dynamic"`) && strings.Contains(body, "<SegmentTimeline>")
		}, "the demo's DASH endpoint %s serves no live MPD", m[1])
	}

	// The CMAF and AES-128 endpoints printed decode (the AES key comes from
	// the built-in key server on the same port).
	for _, c := range []struct{ name, re, want string }{
		{"CMAF", `(?m)^  CMAF\s+(http://\S+)`, "#EXT-X-MAP"},
		{"AES-128", `(?m)^  AES-128\s+(http://\S+)`, "METHOD=AES-128"},
	} {
		m := regexp.MustCompile(c.re).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no %s URL in the output:\n%s", c.name, out)
			continue
		}
		_, body, _ := demoGetURL(t, m[1])
		mv, err := hls.ParseMultivariant([]byte(body))
		if err != nil || len(mv.Variants) == 0 {
			t.Errorf("%s %s: not a multivariant playlist: %v\n%s", c.name, m[1], err, body)
			continue
		}
		variant := strings.TrimSuffix(m[1], "index.m3u8") + mv.Variants[0].URI
		_, media, _ := demoGetURL(t, variant)
		if !strings.Contains(media, c.want) {
			t.Errorf("%s media playlist has no %s:\n%s", c.name, c.want, media)
		}
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		dec, err := exec.CommandContext(dctx, testutil.RequireTool(t, "ffmpeg"), "-nostdin", "-v", "error", "-allowed_extensions", "ALL",
			"-i", variant, "-t", "4", "-f", "framemd5", "-").CombinedOutput()
		dcancel()
		if frames := strings.Count(string(dec), "\n0,"); err != nil || frames < 30 {
			t.Errorf("ffmpeg decoded %d frames of the %s endpoint: %v\n%.2000s", frames, c.name, err, dec)
		}
	}

	// The I-frame and time-shift URLs printed.
	for _, c := range []struct {
		name, re, want string
	}{
		{"I-frames", `(?m)^  I-frames\s+(http://\S+/iframes\.m3u8)$`, "#EXT-X-I-FRAMES-ONLY"},
		{"Start over", `(?m)^  Start over\s+(\S+)`, "#EXT-X-PLAYLIST-TYPE:EVENT"},
		{"Time-shift", `(?m)^  Time-shift\s+(\S+)`, "#EXT-X-ENDLIST"},
	} {
		m := regexp.MustCompile(c.re).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no %s URL in the output:\n%s", c.name, out)
			continue
		}
		code, body, _ := demoGetURL(t, m[1])
		if code != http.StatusOK {
			t.Errorf("%s %s: %d %s", c.name, m[1], code, body)
			continue
		}
		if !strings.Contains(body, c.want) {
			// A multivariant: look at its first variant.
			if mvs, err := hls.ParseMultivariant([]byte(body)); err == nil && len(mvs.Variants) > 0 {
				_, body, _ = demoGetURL(t, d.base+"/out/v1/1/"+mvs.Variants[0].URI)
			}
		}
		if !strings.Contains(body, c.want) {
			t.Errorf("%s %s has no %s:\n%s", c.name, m[1], c.want, body)
		}
	}

	// The API lists the fetcher running, both targets pushed, the
	// password redacted.
	var f demoFetcher
	testutil.Eventually(t, 20*time.Second, func() bool {
		code, body, _ := demoGetURL(t, d.base+"/api/v1/fetcher")
		var list []demoFetcher
		if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list) != 1 {
			return false
		}
		f = list[0]
		return f.State == "running" && f.SegmentsPushed > 0 && len(f.Targets) == 2 &&
			f.Targets[0].SegmentsPushed > 0 && f.Targets[1].SegmentsPushed > 0
	}, "fetcher not running with segments pushed to both inputs: %+v", &f)
	if f.Name != demoFetcherName || f.LastError != "" {
		t.Errorf("fetcher = %+v", f)
	}
	var payload struct {
		IngestURLs []struct{ URL, Username, Password string } `json:"ingestUrls"`
	}
	if err := json.Unmarshal(f.Payload, &payload); err != nil || len(payload.IngestURLs) != 2 {
		t.Fatalf("payload %s: %v", f.Payload, err)
	}
	for _, in := range payload.IngestURLs {
		if in.Password != "***" {
			t.Errorf("API shows an ingest password: %s", f.Payload)
		}
	}
	if !strings.HasSuffix(payload.IngestURLs[0].URL, "/in/v2/1/a/channel") || !strings.HasSuffix(payload.IngestURLs[1].URL, "/in/v2/1/b/channel") {
		t.Errorf("ingest URLs %+v, want inputs a and b of channel 1", payload.IngestURLs)
	}

	// Dashboard, hls.js and the rest of the API.
	for _, c := range []struct {
		path, ctype, want string
	}{
		{"/", "text/html", "/dashboard/vendor/hls.min.js"},
		{"/dashboard/vendor/hls.min.js", "javascript", "Hls"},
		{"/dashboard/app.js", "javascript", "btn-back"},
		{"/dashboard/style.css", "text/css", "video"},
		{"/health", "application/json", `"ok"`},
		{"/api/docs", "text/html", "fetcher"},
		{"/metrics", "text/plain", "pullpush_segments_pulled_total"},           // the relay's
		{"/metrics", "text/plain", `pullpush_origin_active_input{channel="1"`}, // the origin's
	} {
		code, body, h := demoGetURL(t, d.base+c.path)
		if code != http.StatusOK || !strings.Contains(h.Get("Content-Type"), c.ctype) || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %q, want 200 %s containing %q", c.path, code, h.Get("Content-Type"), c.ctype, c.want)
		}
	}

	// The generated ingest password (128 bits in hex) is never printed.
	if m := regexp.MustCompile(`\b[0-9a-f]{32}\b`).FindString(d.stdout.String() + d.stderr.String()); m != "" {
		t.Errorf("demo output contains a 128-bit hex token %q (the ingest password?)", m)
	}

	// Ctrl-C: clean exit, temporary data removed.
	m := regexp.MustCompile(`(?m)^Data: (\S+) \(removed on exit\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no data directory in the output:\n%s", out)
	}
	if _, err := os.Stat(m[1]); err != nil {
		t.Fatalf("data directory: %v", err)
	}
	d.stop(t)
	if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory %s still there after exit: %v", m[1], err)
	}
}

func TestDemoFlags(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"demo", "-h"}, &out, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("demo -h: %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "usage: pullpush demo") || !strings.Contains(out.String(), "-listen") {
		t.Errorf("demo -h printed:\n%s", out.String())
	}
	for _, args := range [][]string{
		{"--bogus"},
		{"extra"},
		{"--log-level", "loud"},
	} {
		err := run(context.Background(), append([]string{"demo"}, args...), io.Discard, io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("demo %v: %v, want a usage error", args, err)
		}
	}
	// A port in use fails at once with the address in the error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := t.TempDir()
	err = run(context.Background(), []string{"demo", "--listen", ln.Addr().String(), "--data", data}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("demo on a port in use: %v", err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Errorf("--data directory removed: %v", err)
	}
}

// TestDemoBrowser opens the dashboard in headless Chromium: the video
// plays, −60 s and Start over move it into the past and it keeps playing,
// Live returns to the live edge; a screenshot is saved (to
// $PULLPUSH_SCREENSHOT_DIR when set).
func TestDemoBrowser(t *testing.T) {
	t.Parallel()
	chromium := testutil.RequireTool(t, "chromium")
	d := startDemo(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	page := cdp.StartT(t, ctx, chromium, "--window-size=1280,1200").OpenPage(t, ctx)
	var problems testutil.LockedBuffer // uncaught exceptions and console errors
	go collectPageProblems(page, &problems)
	for _, domain := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if err := page.Call(ctx, domain, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := page.Navigate(ctx, d.base+"/"); err != nil {
		t.Fatal(err)
	}

	type playerState struct {
		Time   float64 `json:"time"`
		Paused bool    `json:"paused"`
		Mode   string  `json:"mode"`
		State  string  `json:"state"`
		Behind float64 `json:"behind"` // seconds behind real time, from PROGRAM-DATE-TIME; -1 unknown
		Status string  `json:"status"`
		Rows   int     `json:"rows"`
		Table  string  `json:"table"`
		Format string  `json:"format"`
		Ingest string  `json:"ingest"`
		Harv   string  `json:"harvest"`
		VOD    string  `json:"vod"`
	}
	const stateJS = `(() => {
		const v = document.getElementById('video'), p = document.getElementById('player');
		if (!v || !p || document.readyState !== 'complete') return null;
		return {time: v.currentTime, paused: v.paused, mode: p.dataset.mode, state: p.dataset.state,
			behind: p.dataset.behind === undefined ? -1 : Number(p.dataset.behind),
			status: document.getElementById('player-status').textContent,
			rows: document.querySelectorAll('#fetchers tbody tr td.num').length,
			table: document.querySelector('#fetchers tbody').innerText, format: p.dataset.format,
			ingest: document.querySelector('#ingest tbody').innerText,
			harvest: document.getElementById('harvest-status').innerText,
			vod: (document.querySelector('#harvest-status a') || {}).href || ''};
	})()`
	var st playerState
	read := func() playerState {
		var s playerState
		if err := page.Evaluate(ctx, stateJS, &s); err != nil {
			t.Fatalf("%v\npage problems:\n%s", err, &problems)
		}
		return s
	}
	// waitPlaying waits until the player is in mode and has played more
	// than 2 s past from (its position when the mode was entered).
	format := "hls"
	waitPlaying := func(mode string, from float64) playerState {
		t.Helper()
		testutil.Eventually(t, 30*time.Second, func() bool {
			st = read()
			return st.Mode == mode && st.Format == format && !st.Paused && st.State == "playing" && st.Time > from+2
		}, "video (%s) not playing in mode %s past %.1f s: %+v\norigin: %s\npage problems:\n%s\ndemo stderr:\n%s",
			format, mode, from, &st, stringer(func() string { return demoEdgesText(d.base) }), &problems, d.stderr)
		return st
	}

	st = waitPlaying("live", 0)
	t.Logf("dashboard playing live %s after demo start: %+v", time.Since(d.started).Round(time.Millisecond), st)
	if st.Behind < 0 || st.Behind > 30 {
		t.Errorf("live playback is %.1f s behind real time, want 0-30 s", st.Behind)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		st = read()
		return st.Rows == 1 && strings.Contains(st.Table, demoFetcherName) && strings.Contains(st.Table, "running")
	}, "fetchers table does not show the running fetcher: %q", &st.Table)

	click := func(id string) {
		t.Helper()
		if err := page.Evaluate(ctx, `document.getElementById('`+id+`').click()`, nil); err != nil {
			t.Fatal(err)
		}
	}
	liveBehind := st.Behind
	click("btn-back")
	st = waitPlaying("shift", 0)
	t.Logf("after −60 s: %+v", st)
	if st.Behind < liveBehind+50 {
		t.Errorf("after −60 s the player is %.1f s behind real time; live was %.1f s", st.Behind, liveBehind)
	}

	click("btn-startover")
	st = waitPlaying("startover", 0)
	t.Logf("after Start over: %+v", st)
	if st.Behind < 55 {
		t.Errorf("Start over plays %.1f s behind real time, want the oldest segments (about a minute or more)", st.Behind)
	}

	click("btn-live")
	st = waitPlaying("live", 0)
	if st.Behind > 30 {
		t.Errorf("back to live the player is %.1f s behind real time", st.Behind)
	}

	// The origin card shows both redundant inputs, one active, with
	// recent segments.
	testutil.Eventually(t, 10*time.Second, func() bool {
		st = read()
		return strings.Count(st.Ingest, " ago") == 2 && strings.Contains(st.Ingest, "\tactive\t") && strings.Contains(st.Ingest, "\tstandby\t")
	}, "origin ingest table does not show inputs a and b, one active: %q", &st.Ingest)

	// The same channel as DASH with dash.js: live, then start over.
	format = "dash"
	click("btn-dash")
	st = waitPlaying("live", 0)
	t.Logf("DASH live: %+v", st)
	if st.Behind < 0 || st.Behind > 30 {
		t.Errorf("DASH live playback is %.1f s behind real time, want 0-30 s", st.Behind)
	}
	click("btn-startover")
	st = waitPlaying("startover", 0)
	t.Logf("DASH start over: %+v", st)
	if st.Behind < 30 {
		t.Errorf("DASH start over plays %.1f s behind real time, want the oldest segments", st.Behind)
	}
	format = "hls"
	click("btn-hls")
	st = waitPlaying("startover", 0)
	click("btn-live")
	st = waitPlaying("live", 0)

	// Harvest the last minute: the page links the VOD asset, which ffmpeg
	// plays to the end.
	click("btn-harvest")
	testutil.Eventually(t, time.Minute, func() bool {
		st = read()
		return st.VOD != "" || strings.Contains(st.Harv, "failed")
	}, "no harvest link: %q", &st.Harv)
	if st.VOD == "" {
		t.Fatalf("harvest: %s", st.Harv)
	}
	frames, stderr := testutil.DecodeFrames(t, st.VOD)
	t.Logf("harvested asset %s: %s, %d frames", st.VOD, st.Harv, len(frames))
	if len(frames) < 100 {
		t.Errorf("harvested asset decodes to %d frames, want most of a minute\n%s", len(frames), stderr)
	}

	png, err := page.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("PULLPUSH_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "demo-dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
	if p := problems.String(); p != "" {
		t.Errorf("page problems:\n%s", p)
	}
}

// stringer formats as the string f returns when printed.
type stringer func() string

func (f stringer) String() string { return f() }

// collectPageProblems records uncaught exceptions and console errors
// (including Content-Security-Policy violations) until the page closes.
func collectPageProblems(page *cdp.Page, problems io.Writer) {
	for ev := range page.Events() {
		switch ev.Method {
		case "Runtime.exceptionThrown":
			fmt.Fprintf(problems, "exception: %s\n", ev.Params)
		case "Runtime.consoleAPICalled":
			var c struct {
				Type string `json:"type"`
				Args []struct {
					Value       any    `json:"value"`
					Description string `json:"description"`
				} `json:"args"`
			}
			if json.Unmarshal(ev.Params, &c) == nil && (c.Type == "error" || c.Type == "assert") {
				fmt.Fprintf(problems, "console.%s: %+v\n", c.Type, c.Args)
			}
		case "Log.entryAdded":
			var l struct {
				Entry struct {
					Level, Source, Text, URL string
				} `json:"entry"`
			}
			// Network errors (a 404 while the origin starts) are not problems
			// of the page: hls.js retries them.
			if json.Unmarshal(ev.Params, &l) == nil && l.Entry.Level == "error" && l.Entry.Source != "network" {
				fmt.Fprintf(problems, "log %s: %s %s\n", l.Entry.Source, l.Entry.Text, l.Entry.URL)
			}
		}
	}
}

// TestDemoLiveEventAndBreak runs the two schedule commands the demo
// prints (with shorter durations): channel 1 switches to the demo's live
// event channel and back, then plays an ad break, and the origin's live
// playlist shows the switch's guide DATERANGE with its discontinuities
// and the break's CUE-OUT, CUE-OUT-CONT and SCTE35-OUT.
func TestDemoLiveEventAndBreak(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	out := d.stdout.String()
	curl := regexp.MustCompile(`(?m)^    curl -XPOST (\S+) -d '([^']*)'$`).FindAllStringSubmatch(out, -1)
	if len(curl) != 2 || !strings.HasSuffix(curl[0][1], "/api/v1/channels/1/switch") || !strings.HasSuffix(curl[1][1], "/api/v1/channels/1/schedule") {
		t.Fatalf("the demo prints no switch and ad-break commands:\n%s", out)
	}
	post := func(u, body string, want int) {
		t.Helper()
		resp, err := demoClient.Post(u, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s %s: %d %s", u, body, resp.StatusCode, b)
		}
	}
	post(curl[0][1], strings.Replace(curl[0][2], `"60s"`, `"6s"`, 1), http.StatusCreated)
	post(curl[1][1], strings.Replace(curl[1][2], `"duration":30`, `"duration":4`, 1), http.StatusCreated)
	var last strings.Builder // the latest playlist, for the failure message
	testutil.Eventually(t, 60*time.Second, func() bool {
		_, body, _ := demoGetURL(t, d.base+"/out/v1/1/channel_video-0.m3u8")
		last.Reset()
		last.WriteString(body)
		return strings.Contains(body, `X-TYPE="live"`) && strings.Contains(body, "#EXT-X-CUE-OUT:4.000") &&
			strings.Contains(body, "#EXT-X-CUE-OUT-CONT:") && strings.Contains(body, "SCTE35-OUT=0x")
	}, "the origin's playlist shows no live event and ad break:\n%s", &last)
	body := last.String()
	if n := strings.Count(body, "#EXT-X-DISCONTINUITY\n"); n < 2 {
		t.Errorf("%d discontinuities around the live event and the break:\n%s", n, body)
	}
}
