package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/natstest"
	"github.com/pullpush/pullpush/internal/sink"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// TestServeCluster runs two `serve --cluster` instances on one nats-server:
// a fetcher created on one is listed by both with the instance running it;
// when that instance shuts down (SIGTERM), it hands the fetcher off and the
// other continues the stream with the next numbers, nothing pushed twice.
func TestServeCluster(t *testing.T) {
	const (
		user     = "ingest"
		password = "cluster-serve-secret"
		dir      = "/in/v2/ch/a/"
	)
	nsrv := natstest.Start(t)
	src := livesource.New(livesource.Config{Set: testmedia.MustLoad(testmedia.TS), Window: 10})
	srcSrv := httptest.NewServer(src)
	defer srcSrv.Close()
	snk := sink.New(sink.Options{Username: user, Password: password})
	ingest := httptest.NewServer(snk)
	defer ingest.Close()

	logs := &testutil.LockedBuffer{}
	common := []string{"--cluster", nsrv.URL, "--lease-ttl", "5s"}
	s1 := startServe(t, logs, append([]string{"--data", filepath.Join(t.TempDir(), "1"), "--instance-id", "one"}, common...)...)
	s2 := startServe(t, logs, append([]string{"--data", filepath.Join(t.TempDir(), "2"), "--instance-id", "two"}, common...)...)

	body := fmt.Sprintf(`{"name":"live","url":%q,"output":"mediapackage","payload":{"ingestUrls":[{"url":%q,"username":%q,"password":%q}]}}`,
		srcSrv.URL+livesource.PlaylistPath("video_hi"), ingest.URL+dir+"channel", user, password)
	code, resp := s2.call(t, "", "POST", "/api/v1/fetcher", body)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, resp)
	}
	type item struct {
		ID       string `json:"fetcherId"`
		State    string `json:"state"`
		Instance string `json:"instance"`
	}
	owner := func(s *server) item {
		_, b := s.call(t, "", "GET", "/api/v1/fetcher", "")
		var l []item
		json.Unmarshal(b, &l)
		if len(l) != 1 {
			return item{}
		}
		return l[0]
	}
	var first item
	testutil.Eventually(t, 10*time.Second, func() bool {
		first = owner(s1)
		return first.State == "running" && first.Instance != "" && owner(s2).Instance == first.Instance
	}, "both instances list the fetcher running on one of them")

	segRE := regexp.MustCompile(`^` + regexp.QuoteMeta(dir) + `channel_video-hi_(\d+)\.ts$`)
	pushed := func() []int64 {
		var out []int64
		for _, w := range snk.Writes() {
			if m := segRE.FindStringSubmatch(w.Path); m != nil && w.Method == http.MethodPut {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				out = append(out, n)
			}
		}
		return out
	}
	last := func() int64 {
		p := src.Published("video_hi")
		return int64(p[len(p)-1].MediaSequence)
	}
	upTo := func(n int64) func() bool {
		return func() bool {
			for _, s := range pushed() {
				if s >= n {
					return true
				}
			}
			return false
		}
	}
	testutil.Eventually(t, 20*time.Second, upTo(last()), "first pushes")
	src.Advance(2)
	testutil.Eventually(t, 20*time.Second, upTo(last()), "pushes on the first owner")

	// Shut the owner down: it hands the fetcher off.
	from, to := s1, s2
	if first.Instance == "two" {
		from, to = s2, s1
	}
	from.stop(t)
	testutil.Eventually(t, 10*time.Second, func() bool {
		f := owner(to)
		return f.State == "running" && f.Instance != first.Instance && f.Instance != ""
	}, "the other instance runs the fetcher")
	src.Advance(3)
	testutil.Eventually(t, 20*time.Second, upTo(last()), "pushes on the new owner")

	seen := map[int64]bool{}
	got := pushed()
	for i, n := range got {
		if seen[n] {
			t.Errorf("segment %d pushed twice", n)
		}
		seen[n] = true
		if i > 0 && n != got[i-1]+1 {
			t.Errorf("numbers not consecutive across the hand-off: %d after %d", n, got[i-1])
		}
	}
	out := logs.String()
	for _, want := range []string{"msg=\"joined cluster\"", "msg=\"leaving cluster: handing fetchers off\"", "msg=\"fetcher handed off\"", "msg=\"fetcher claimed\""} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(out, password) {
		t.Error("ingest password in the log")
	}
}
