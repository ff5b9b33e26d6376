package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

func start(t *testing.T, opts Options) (*Sink, *httptest.Server) {
	t.Helper()
	s := New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// do sends one request with client and returns the status and body.
func do(t *testing.T, client *http.Client, method, url string, body []byte, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestPutGetDelete(t *testing.T) {
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	s, srv := start(t, Options{Clock: func() time.Time { return clock }})
	c := srv.Client()
	u := srv.URL + "/in/v2/ch/a/channel_1_5.ts"
	body := []byte("segment-bytes")
	steps := []struct {
		method string
		body   []byte
		want   int
	}{
		{http.MethodPut, body, http.StatusCreated},
		{http.MethodPut, append(body, '2'), http.StatusNoContent},
		{http.MethodGet, nil, http.StatusOK},
		{http.MethodDelete, nil, http.StatusNoContent},
		{http.MethodDelete, nil, http.StatusNotFound},
		{http.MethodGet, nil, http.StatusNotFound},
	}
	for i, st := range steps {
		code, hdr, got := do(t, c, st.method, u, st.body, "Content-Type", "video/MP2T")
		if code != st.want {
			t.Fatalf("step %d %s: %d, want %d", i, st.method, code, st.want)
		}
		if st.method == http.MethodGet && code == 200 {
			if !bytes.Equal(got, append(body, '2')) || hdr.Get("Content-Type") != "video/mp2t" {
				t.Errorf("GET: %q %q", got, hdr.Get("Content-Type"))
			}
		}
		if i == 1 {
			if b, ok := s.Get("/in/v2/ch/a/channel_1_5.ts"); !ok || string(b) != "segment-bytes2" {
				t.Errorf("Get: %q %v", b, ok)
			}
			if p := s.Paths(); !slices.Equal(p, []string{"/in/v2/ch/a/channel_1_5.ts"}) {
				t.Errorf("Paths %v", p)
			}
		}
	}
	if len(s.Files()) != 0 {
		t.Errorf("files left: %v", s.Paths())
	}
	reqs := s.Requests()
	if len(reqs) != len(steps) {
		t.Fatalf("%d requests recorded, want %d", len(reqs), len(steps))
	}
	for i, r := range reqs {
		if r.Method != steps[i].method || r.Status != steps[i].want || r.Path != "/in/v2/ch/a/channel_1_5.ts" || !r.Time.Equal(clock) {
			t.Errorf("request %d: %+v", i, r)
		}
		if r.Size != int64(len(steps[i].body)) || (steps[i].body != nil && r.SHA256 != hash(steps[i].body)) {
			t.Errorf("request %d: size %d sha %s", i, r.Size, r.SHA256)
		}
		if r.Arrived >= r.Completed || (i > 0 && reqs[i-1].Completed >= r.Arrived) {
			t.Errorf("request %d: ticks %d..%d", i, r.Arrived, r.Completed)
		}
	}
	if r := reqs[0]; r.ContentType != "video/MP2T" || r.User != "" || r.Injected || !r.OK() {
		t.Errorf("first request %+v", r)
	}
	if w := s.Writes(); len(w) != 3 || w[2].Method != http.MethodDelete {
		t.Errorf("writes %+v", w)
	}
}

func TestDigestAuth(t *testing.T) {
	s, srv := start(t, Options{Username: "user", Password: "secret"})
	u := srv.URL + "/in/v2/ch/a/channel.m3u8"
	code, hdr, _ := do(t, srv.Client(), http.MethodPut, u, []byte("#EXTM3U\n"))
	if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Digest ") ||
		!strings.Contains(hdr.Get("WWW-Authenticate"), `realm="`+DefaultRealm+`"`) {
		t.Fatalf("anonymous PUT: %d %q", code, hdr.Get("WWW-Authenticate"))
	}
	if _, ok := s.Get("/in/v2/ch/a/channel.m3u8"); ok {
		t.Fatal("unauthenticated PUT stored")
	}
	bad := &http.Client{Transport: &digest.Transport{Username: "user", Password: "wrong", Base: srv.Client().Transport}}
	if code, _, _ := do(t, bad, http.MethodPut, u, []byte("x")); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	good := &http.Client{Transport: &digest.Transport{Username: "user", Password: "secret", Base: srv.Client().Transport}}
	for i := range 3 { // pre-authenticated after the first challenge
		if code, _, _ := do(t, good, http.MethodPut, u, []byte(fmt.Sprint("#EXTM3U\n", i))); code/100 != 2 {
			t.Fatalf("digest PUT %d: %d", i, code)
		}
	}
	if code, _, _ := do(t, good, http.MethodDelete, srv.URL+"/in/v2/ch/a/nothing.ts", nil); code != http.StatusNotFound {
		t.Errorf("authenticated DELETE of a missing file: %d", code)
	}
	if code, _, b := do(t, srv.Client(), http.MethodGet, u, nil); code != 200 || string(b) != "#EXTM3U\n2" {
		t.Errorf("anonymous GET: %d %q", code, b)
	}
	var users []string
	for _, r := range s.Requests() {
		if r.OK() && r.Method == http.MethodPut {
			users = append(users, r.User)
		}
		if r.Status == http.StatusUnauthorized && (r.Size != 0 || r.User != "") {
			t.Errorf("401 record %+v", r)
		}
	}
	if !slices.Equal(users, []string{"user", "user", "user"}) {
		t.Errorf("users %v", users)
	}
	// The first good PUT was challenged once; the next two went straight in.
	if n := len(s.Requests()); n != 1+2+(1+3)+1+1 {
		t.Errorf("%d requests recorded", n)
	}
}

func TestAuthGET(t *testing.T) {
	_, srv := start(t, Options{Username: "u", Password: "p", Realm: "r", AuthGET: true})
	good := &http.Client{Transport: &digest.Transport{Username: "u", Password: "p", Base: srv.Client().Transport}}
	do(t, good, http.MethodPut, srv.URL+"/f.m3u8", []byte("#EXTM3U\n"))
	if code, hdr, _ := do(t, srv.Client(), http.MethodGet, srv.URL+"/f.m3u8", nil); code != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `realm="r"`) {
		t.Errorf("anonymous GET: %d", code)
	}
	if code, hdr, _ := do(t, good, http.MethodGet, srv.URL+"/f.m3u8", nil); code != 200 || hdr.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Errorf("digest GET: %d %q", code, hdr.Get("Content-Type"))
	}
}

func TestFailureInjection(t *testing.T) {
	s, srv := start(t, Options{Username: "u", Password: "p"})
	c := &http.Client{Transport: &digest.Transport{Username: "u", Password: "p", Base: srv.Client().Transport}}
	put := func(p string) int {
		code, _, _ := do(t, c, http.MethodPut, srv.URL+p, []byte("data:"+p))
		return code
	}
	s.FailNext(2, http.StatusServiceUnavailable)
	// The first PUT is challenged (401, not counted), then fails twice.
	got := []int{put("/a.ts"), put("/b.ts"), put("/c.ts")}
	if !slices.Equal(got, []int{503, 503, 201}) {
		t.Errorf("FailNext: %v", got)
	}
	if _, ok := s.Get("/a.ts"); ok {
		t.Error("failed PUT was stored")
	}
	s.FailAll(http.StatusInternalServerError)
	if a, b := put("/d.ts"), put("/e.ts"); a != 500 || b != 500 {
		t.Errorf("FailAll: %d %d", a, b)
	}
	if code, _, _ := do(t, c, http.MethodGet, srv.URL+"/c.ts", nil); code != 200 {
		t.Errorf("GET during FailAll: %d (reads are never failed)", code)
	}
	s.FailAll(0)
	s.FailWhen(func(method, p string) int {
		if method == http.MethodPut && strings.HasSuffix(p, ".m3u8") {
			return http.StatusBadGateway
		}
		return 0
	})
	if a, b := put("/x.m3u8"), put("/f.ts"); a != 502 || b != 201 {
		t.Errorf("FailWhen: %d %d", a, b)
	}
	s.FailWhen(nil)
	if code := put("/x.m3u8"); code != 201 {
		t.Errorf("after FailWhen(nil): %d", code)
	}
	var injected []string
	for _, r := range s.Requests() {
		if r.Injected {
			injected = append(injected, fmt.Sprint(r.Path, " ", r.Status))
			if r.SHA256 != hash([]byte("data:"+r.Path)) {
				t.Errorf("injected failure did not record the body: %+v", r)
			}
		}
	}
	want := []string{"/a.ts 503", "/b.ts 503", "/d.ts 500", "/e.ts 500", "/x.m3u8 502"}
	if !slices.Equal(injected, want) {
		t.Errorf("injected %v, want %v", injected, want)
	}
	if p := s.Paths(); !slices.Equal(p, []string{"/c.ts", "/f.ts", "/x.m3u8"}) {
		t.Errorf("paths %v", p)
	}
	s.Reset()
	if len(s.Requests()) != 0 || len(s.Files()) != 0 {
		t.Error("Reset kept state")
	}
}

func TestConcurrentRecording(t *testing.T) {
	s, srv := start(t, Options{})
	var wg sync.WaitGroup
	const n = 40
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/seg_%d.ts", srv.URL, i), strings.NewReader(fmt.Sprint(i)))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	reqs := s.Requests()
	if len(reqs) != n || len(s.Files()) != n {
		t.Fatalf("%d requests, %d files", len(reqs), len(s.Files()))
	}
	ticks := map[uint64]bool{}
	for i, r := range reqs {
		if i > 0 && reqs[i-1].Completed >= r.Completed {
			t.Errorf("log not in completion order at %d", i)
		}
		if ticks[r.Arrived] || ticks[r.Completed] || r.Arrived >= r.Completed {
			t.Errorf("ticks not unique/ordered: %+v", r)
		}
		ticks[r.Arrived], ticks[r.Completed] = true, true
	}
}

func TestWaitFor(t *testing.T) {
	s, srv := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.WaitForFile(ctx, "/late.m3u8")
		done <- err
	}()
	for i := range 3 {
		do(t, srv.Client(), http.MethodPut, fmt.Sprintf("%s/seg_%d.ts", srv.URL, i), []byte("x"))
	}
	do(t, srv.Client(), http.MethodPut, srv.URL+"/late.m3u8", []byte("#EXTM3U\n"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFor(ctx, func() bool { return len(s.Writes()) == 4 }); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := s.WaitFor(short, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor on timeout: %v", err)
	}
}

func TestMethodsAndLimits(t *testing.T) {
	s, srv := start(t, Options{MaxBodySize: 10})
	c := srv.Client()
	if code, _, _ := do(t, c, http.MethodPut, srv.URL+"/big.ts", bytes.Repeat([]byte("x"), 11)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %d", code)
	}
	if _, ok := s.Get("/big.ts"); ok {
		t.Error("too large body stored")
	}
	if code, _, _ := do(t, c, http.MethodPost, srv.URL+"/x", []byte("x")); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", code)
	}
	if code, hdr, _ := do(t, c, http.MethodOptions, srv.URL+"/", nil); code != 200 || hdr.Get("DAV") == "" {
		t.Errorf("OPTIONS: %d %v", code, hdr)
	}
	if code, _, _ := do(t, c, "MKCOL", srv.URL+"/dir/", nil); code != http.StatusCreated {
		t.Errorf("MKCOL: %d", code)
	}
	do(t, c, http.MethodPut, srv.URL+"/blob", []byte("x"), "Content-Type", "application/x-thing")
	if _, hdr, _ := do(t, c, http.MethodGet, srv.URL+"/blob", nil); hdr.Get("Content-Type") != "application/x-thing" {
		t.Errorf("uploaded type not served back: %q", hdr.Get("Content-Type"))
	}
	if code, hdr, _ := do(t, c, http.MethodHead, srv.URL+"/blob", nil); code != 200 || hdr.Get("Content-Length") != "1" {
		t.Errorf("HEAD: %d %v", code, hdr)
	}
	if code, _, b := do(t, c, http.MethodGet, srv.URL+"/blob", nil, "Range", "bytes=0-0"); code != http.StatusPartialContent || string(b) != "x" {
		t.Errorf("range GET: %d %q", code, b)
	}
	got := s.Requests()
	if last := got[len(got)-1]; last.Status != http.StatusPartialContent {
		t.Errorf("recorded status %d for a range GET", last.Status)
	}
}

// TestFFprobeReadsPushed pushes the TS and fMP4 test sets with digest auth
// and checks that ffprobe plays them back through the sink's GET.
func TestFFprobeReadsPushed(t *testing.T) {
	ffprobe := testutil.RequireTool(t, "ffprobe")
	s, srv := start(t, Options{Username: "u", Password: "p"})
	c := &http.Client{Transport: &digest.Transport{Username: "u", Password: "p", Base: srv.Client().Transport}}
	for _, fl := range []string{testmedia.TS, testmedia.FMP4} {
		sub, err := testmedia.Sub(fl)
		if err != nil {
			t.Fatal(err)
		}
		err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(sub, p)
			if err != nil {
				return err
			}
			if code, _, _ := do(t, c, http.MethodPut, srv.URL+"/out/"+fl+"/"+p, b); code != http.StatusCreated {
				return fmt.Errorf("PUT %s: %d", p, code)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ffprobe, "-v", "error", "-rw_timeout", "5000000", "-show_entries", "stream=codec_type,codec_name",
			"-of", "csv=p=0", srv.URL+"/out/"+fl+"/master.m3u8").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: ffprobe: %v\n%s", fl, err, out)
		}
		if !strings.Contains(string(out), "h264,video") || !strings.Contains(string(out), "aac,audio") {
			t.Errorf("%s: ffprobe found:\n%s", fl, out)
		}
	}
	if s.Requests()[0].Status != http.StatusUnauthorized {
		t.Error("first PUT was not challenged")
	}
}
