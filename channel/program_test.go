package channel

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/hls"
)

const testToken = "sched-token-1234"

// schedServer serves an engine's channels and schedule API on loopback.
func schedServer(t *testing.T, e *Engine) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", e.ScheduleHandler(testToken))
	mux.Handle("/", e.Handler())
	srv := httptest.NewServer(endlist(mux))
	t.Cleanup(srv.Close)
	return srv
}

// apiCall sends a schedule API request and decodes the answer into v (when
// not nil); it returns the status and the raw body.
func apiCall(t *testing.T, method, url, token, body string, v any) (int, string) {
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
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, url, ct)
	}
	if v != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// TestScheduleAPI drives the schedule of the bundled channel (a, b, c of
// 30 s, one loop 90 s) through the API of one engine while a second engine
// shares the schedule directory: both serve the same playlists at every
// instant; item starts are exact (snapped to the frame grid), carry
// EXT-X-DISCONTINUITY, EXT-X-PROGRAM-DATE-TIME and the item's
// EXT-X-DATERANGE; published segments never change when the schedule does;
// a restarted engine keeps the schedule; ffmpeg decodes across a cut.
func TestScheduleAPI(t *testing.T) {
	dir := t.TempDir()
	base := config.DefaultStart().Add(1000 * 90 * time.Second)
	c := newClock(base.Add(10 * time.Second))
	newE := func() *Engine {
		return newEngine(t, DefaultConfig(), c, nil, WithFS(EmbeddedFS()), WithScheduleDir(dir))
	}
	e1, e2 := newE(), newE()
	s1 := schedServer(t, e1)
	api := s1.URL + "/api/v1/channels/1/schedule"
	at := func(d time.Duration) string { return base.Add(d).Format(time.RFC3339Nano) }

	// Auth.
	if status, body := apiCall(t, "GET", api, "", "", nil); status != 401 || !strings.Contains(body, "missing bearer token") {
		t.Errorf("no token: %d %s", status, body)
	}
	if status, _ := apiCall(t, "GET", api, "nope", "", nil); status != 401 {
		t.Errorf("wrong token: %d", status)
	}
	var sched Schedule
	if status, body := apiCall(t, "GET", api, testToken, "", &sched); status != 200 || len(sched.Items) != 0 || sched.Now == nil || sched.Now.Asset != "a" {
		t.Fatalf("empty schedule: %d %s", status, body)
	}

	// Published segments and what both engines serve are checked at every
	// step of the clock.
	w := newWatcher(t, e1, e2)
	w.step(c, base.Add(20*time.Second))

	status, body := apiCall(t, "POST", api, testToken, `{"items":[
		{"id":"news","asset":"c","title":"News at ten"},
		{"asset":"b","start":"next","in":4.5,"out":"11s"}]}`, &sched)
	if status != 201 || len(sched.Items) != 2 {
		t.Fatalf("append: %d %s", status, body)
	}
	news, trim := sched.Items[0], sched.Items[1]
	if news.ID != "news" || !news.Start.Equal(base.Add(30*time.Second)) || !news.End.Equal(base.Add(60*time.Second)) || news.State != "upcoming" || news.Title != "News at ten" {
		t.Errorf("news: %+v", news)
	}
	// b trimmed to whole segments [4 s, 12 s).
	if trim.Asset != "b" || !trim.Start.Equal(base.Add(60*time.Second)) || trim.Duration != 8 || !trim.End.Equal(base.Add(68*time.Second)) ||
		trim.Title != "Asset B (colour bars, 660 Hz)" || trim.ID == "" {
		t.Errorf("trimmed item: %+v", trim)
	}
	w.step(c, base.Add(80*time.Second))

	// An explicit start 1.03 s into a segment of the resumed loop (b from
	// 68 s) snaps to the 15 fps frame grid: 15 frames, 1 s.
	status, body = apiCall(t, "POST", api, testToken, `{"items":[{"id":"cut","asset":"a","start":"`+at(101030*time.Millisecond)+`"}]}`, &sched)
	if status != 201 || len(sched.Items) != 3 || sched.Items[2].ID != "cut" || !sched.Items[2].Start.Equal(base.Add(101*time.Second)) {
		t.Fatalf("explicit start: %d %s", status, body)
	}
	for _, it := range sched.Items[:2] {
		if it.State != "done" {
			t.Errorf("item %s at 80 s: %s", it.ID, it.State)
		}
	}
	w.step(c, base.Add(125*time.Second))

	// The window [65 s, 125 s): the trimmed b, the loop resumed at b, cut
	// at 101 s by item "cut".
	m := playlist(t, e1, "1", "video_0.m3u8")
	var marks []string
	for i, s := range m.Segments {
		if i > 0 {
			prev := m.Segments[i-1]
			if want := prev.ProgramDateTime.Add(durationOf(prev.Duration)); !s.ProgramDateTime.Equal(want) {
				t.Errorf("segment %d: PROGRAM-DATE-TIME %s, want %s", i, s.ProgramDateTime, want)
			}
		}
		for _, dr := range s.DateRanges {
			if dr.Class == ScheduleDateRangeClass {
				marks = append(marks, dr.Encode())
				if !s.Discontinuity && i > 0 || !dr.StartDate.Equal(s.ProgramDateTime) && i > 0 {
					t.Errorf("schedule DATERANGE %s on segment %d (PDT %s, discontinuity %v)", dr.ID, i, s.ProgramDateTime, s.Discontinuity)
				}
			}
		}
		if off := s.ProgramDateTime.Sub(base); off == 100*time.Second && s.Duration != 1 {
			t.Errorf("segment cut by item \"cut\": EXTINF %v, want 1", s.Duration)
		}
	}
	want := []string{
		`#EXT-X-DATERANGE:ID="` + trim.ID + `",CLASS="com.pullpush.schedule",START-DATE="` + base.Add(60*time.Second).Format("2006-01-02T15:04:05.000Z") + `",PLANNED-DURATION=8,X-ASSET-ID="b",X-TITLE="Asset B (colour bars, 660 Hz)"`,
		`#EXT-X-DATERANGE:ID="cut",CLASS="com.pullpush.schedule",START-DATE="` + base.Add(101*time.Second).Format("2006-01-02T15:04:05.000Z") + `",PLANNED-DURATION=30,X-ASSET-ID="a",X-TITLE="Asset A (blue, 440 Hz)"`,
	}
	if strings.Join(marks, "\n") != strings.Join(want, "\n") {
		t.Errorf("schedule DATERANGEs:\n%s\nwant:\n%s", strings.Join(marks, "\n"), strings.Join(want, "\n"))
	}
	frames := ffprobeFrames(t, s1.URL+"/channels/1/master.m3u8")
	for idx, n := range frames {
		t.Logf("stream %d: %d frames", idx, n)
		if n < 800 {
			t.Errorf("stream %d: %d frames decoded across the cut", idx, n)
		}
	}

	// Errors.
	for _, tc := range []struct {
		method, url, body string
		status            int
		err               string
	}{
		{"POST", api, `{"items":[{"asset":"a","start":"` + at(100*time.Second) + `"}]}`, 400, "is not after now"},
		{"POST", api, `{"items":[{"asset":"zz"}]}`, 400, `unknown asset "zz"`},
		{"POST", api, `{"items":[{"asset":"a","in":40}]}`, 400, "in point 40s is not before the end of the asset"},
		{"POST", api, `{"items":[{"asset":"a","title":"say \"hi\""}]}`, 400, "invalid title"},
		{"POST", api, `{"items":[{"asset":"a","start":"tomorrow"}]}`, 400, `invalid start "tomorrow"`},
		{"POST", api, `{"items":[{"asset":"a","id":"cut"}]}`, 400, `duplicate item id "cut"`},
		{"POST", api, `{"items":[{"asset":"a","bogus":1}]}`, 400, `unknown field "bogus"`},
		{"POST", api, `{"items":[]}`, 400, "at least one item"},
		{"POST", api, `not json`, 400, "invalid JSON body"},
		{"GET", s1.URL + "/api/v1/channels/nope/schedule", "", 404, `unknown channel "nope"`},
		{"DELETE", api + "/nope", "", 404, `unknown schedule item "nope"`},
		{"DELETE", api + "/cut", "", 409, `"cut" started`},
		{"DELETE", api + "/news", "", 409, `"news" started`},
	} {
		status, body := apiCall(t, tc.method, tc.url, testToken, tc.body, nil)
		var e struct{ Error string }
		_ = json.Unmarshal([]byte(body), &e)
		if status != tc.status || !strings.Contains(e.Error, tc.err) {
			t.Errorf("%s %s %s: %d %s, want %d %q", tc.method, tc.url, tc.body, status, body, tc.status, tc.err)
		}
	}

	// Replace the upcoming items (none after "cut" yet: add two, then
	// replace them with one), delete it: the started ones stay.
	apiCall(t, "POST", api, testToken, `{"items":[{"id":"u1","asset":"b"},{"id":"u2","asset":"c"}]}`, &sched)
	if len(sched.Items) != 5 || !sched.Items[3].Start.Equal(base.Add(131*time.Second)) || !sched.Items[4].Start.Equal(base.Add(161*time.Second)) {
		t.Fatalf("append after cut: %+v", sched.Items)
	}
	w.step(c, base.Add(140*time.Second))
	status, body = apiCall(t, "PUT", api, testToken, `{"items":[{"id":"r1","asset":"c","start":"next"}]}`, &sched)
	if status != 200 || len(sched.Items) != 5 || sched.Items[3].ID != "u1" || sched.Items[4].ID != "r1" || !sched.Items[4].Start.Equal(base.Add(161*time.Second)) {
		t.Fatalf("replace: %d %s", status, body)
	}
	w.step(c, base.Add(150*time.Second))
	if status, body := apiCall(t, "DELETE", api+"/r1", testToken, "", &sched); status != 200 || len(sched.Items) != 4 {
		t.Fatalf("delete: %d %s", status, body)
	}
	w.step(c, base.Add(400*time.Second))

	// The file is the state: a restarted engine (and e2, which never
	// served the API) list the same schedule and serve the same playlists.
	data, err := os.ReadFile(filepath.Join(dir, "1.json"))
	if err != nil || !json.Valid(data) || !bytes.Contains(data, []byte(`"id": "cut"`)) {
		t.Fatalf("schedule file: %v\n%s", err, data)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("schedule directory: %v, want only 1.json", ents)
	}
	e3 := newE()
	for _, e := range []*Engine{e2, e3} {
		got, err := e.Schedule("1")
		if err != nil || len(got.Items) != 4 || got.Version != sched.Version {
			t.Errorf("schedule on another engine: %+v %v", got, err)
		}
	}
	w.engines = append(w.engines, e3)
	w.step(c, base.Add(420*time.Second))
}

// watcher checks, at every instant it is stepped through, that the engines
// serve byte-identical playlists of every track and that a segment, once
// listed, never changes (URI, PROGRAM-DATE-TIME, EXTINF, discontinuity
// number) and the media sequence never goes back.
type watcher struct {
	t       *testing.T
	engines []*Engine
	seen    map[string]map[int64]seen
	prev    map[string]*hls.Media
}

func newWatcher(t *testing.T, engines ...*Engine) *watcher {
	return &watcher{t: t, engines: engines, seen: map[string]map[int64]seen{}, prev: map[string]*hls.Media{}}
}

// step moves the clock to until in steps of 700 ms, checking every step.
func (w *watcher) step(c *clock, until time.Time) {
	w.t.Helper()
	for ; !c.Now().After(until); c.Add(700 * time.Millisecond) {
		ch := w.engines[0].static[0]
		for _, tr := range ch.tracks {
			var first []byte
			for i, e := range w.engines {
				b := playlist(w.t, e, ch.id, tr.name).Encode()
				if i == 0 {
					first = b
				} else if !bytes.Equal(b, first) {
					w.t.Fatalf("%s at %s: engine %d differs:\n%s\nengine 0:\n%s", tr.name, c.Now(), i, b, first)
				}
			}
			m, err := hls.ParseMedia(first)
			if err != nil {
				w.t.Fatal(err)
			}
			if w.seen[tr.name] == nil {
				w.seen[tr.name] = map[int64]seen{}
			}
			if p := w.prev[tr.name]; p != nil && m.MediaSequence < p.MediaSequence {
				w.t.Fatalf("%s at %s: MEDIA-SEQUENCE went back", tr.name, c.Now())
			}
			w.prev[tr.name] = m
			discN := m.DiscontinuitySequence
			for k, s := range m.Segments {
				if s.Discontinuity {
					discN++
				}
				seq := m.MediaSequence + int64(k)
				obs := seen{s.URI, s.ProgramDateTime, s.Duration, discN}
				if old, ok := w.seen[tr.name][seq]; ok && old != obs {
					w.t.Fatalf("%s at %s: segment %d changed: was %+v, now %+v", tr.name, c.Now(), seq, old, obs)
				}
				w.seen[tr.name][seq] = obs
			}
		}
	}
}

// BenchmarkScheduled measures a playlist of a channel whose schedule holds
// 1000 items (past and upcoming), and rebuilding the timeline from them
// (what an engine does when the file changes).
func BenchmarkScheduled(b *testing.B) {
	base := config.DefaultStart().Add(1000 * 90 * time.Second)
	c := newClock(base)
	e := newEngine(b, DefaultConfig(), c, nil, WithFS(EmbeddedFS()))
	ch := e.static[0]
	var items []ScheduleItem
	for i := range 1000 {
		items = append(items, ScheduleItem{ID: "i" + strconv.Itoa(i), Asset: []string{"a", "b", "c"}[i%3],
			Start: base.Add(time.Duration(i) * 41 * time.Second), In: Seconds(time.Duration(i%5) * time.Second)})
	}
	tl, err := e.scheduleTimeline(ch, items)
	if err != nil {
		b.Fatal(err)
	}
	ch.tl.Store(tl)
	at := base.Add(500 * 41 * time.Second)
	b.Run("media", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := ch.media(i%len(ch.tracks), at.Add(time.Duration(i%100)*time.Second)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rebuild", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.scheduleTimeline(ch, items); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestScheduleFileUnusable: a schedule file that cannot be used (bad JSON,
// an unknown asset) keeps the previous schedule playing, shows in /status
// and fails the API with 500 instead of being overwritten; a valid file
// written by someone else is picked up at the next request.
func TestScheduleFileUnusable(t *testing.T) {
	dir := t.TempDir()
	base := config.DefaultStart().Add(1000 * 90 * time.Second)
	c := newClock(base.Add(10 * time.Second))
	e := newEngine(t, DefaultConfig(), c, nil, WithFS(EmbeddedFS()), WithScheduleDir(dir))
	srv := schedServer(t, e)
	api := srv.URL + "/api/v1/channels/1/schedule"
	if status, body := apiCall(t, "POST", api, testToken, `{"items":[{"id":"x","asset":"c"}]}`, nil); status != 201 {
		t.Fatalf("append: %d %s", status, body)
	}
	path := filepath.Join(dir, "1.json")
	write := func(s string) {
		t.Helper()
		if err := writeAtomic(path, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []struct{ file, err string }{
		{`{"items": [`, "unexpected end of JSON input"},
		{`{"items": [{"id": "y", "asset": "zz", "start": "` + base.Add(40*time.Second).Format(time.RFC3339) + `"}]}`, `item "y": unknown asset "zz"`},
	} {
		write(bad.file)
		c.Set(base.Add(35 * time.Second))
		st := e.Status()[0]
		if st.Now.Item != "x" || len(st.Errors) != 1 || !strings.Contains(st.Errors[0].Error, bad.err) || !strings.Contains(st.Errors[0].Error, "the previous schedule plays") {
			t.Errorf("status with %s: now %+v, errors %+v", bad.file, st.Now, st.Errors)
		}
		if status, body := apiCall(t, "POST", api, testToken, `{"items":[{"asset":"a"}]}`, nil); status != 500 || !strings.Contains(body, "fix or remove the file") {
			t.Errorf("append over a bad file: %d %s", status, body)
		}
		if data, _ := os.ReadFile(path); string(data) != bad.file {
			t.Errorf("bad file overwritten: %s", data)
		}
	}
	write(`{"channel": "1", "items": [{"id": "z", "asset": "b", "start": "` + base.Add(50*time.Second).Format(time.RFC3339) + `"}]}`)
	c.Set(base.Add(55 * time.Second))
	if st := e.Status()[0]; st.Now.Item != "z" || st.Now.Asset != "b" || len(st.Errors) != 0 {
		t.Errorf("after a valid file: now %+v, errors %+v", st.Now, st.Errors)
	}
	m := playlist(t, e, "1", "video_0.m3u8")
	last := m.Segments[len(m.Segments)-1]
	if !strings.HasPrefix(last.URI, "seg/b/") {
		t.Errorf("live edge plays %s, want b", last.URI)
	}
}
