package origin

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/internal/versitygw"
)

// sharedBucket is the bucket of the shared-storage tests.
const sharedBucket = "origin"

// sharedSettings are short settle and poll intervals for tests; snapshots
// every second so that recovery reads snapshots and a pruned log.
func sharedSettings(gw *versitygw.Gateway, prefix string) StorageConfig {
	return StorageConfig{
		URL: "s3://" + sharedBucket + "/" + prefix, Endpoint: gw.Endpoint,
		AccessKey: versitygw.AccessKey, SecretKey: versitygw.SecretKey, Region: versitygw.Region,
		SettleDelay: time.Second, PollInterval: 100 * time.Millisecond, SnapshotInterval: time.Second,
	}
}

// newSharedEnv starts one origin instance on shared storage (real clock).
func newSharedEnv(t *testing.T, st StorageConfig) *env {
	t.Helper()
	o, err := New(Config{
		Storage: st,
		Channels: []ChannelConfig{{
			ID: testChannel, Username: testUser, Password: testPass,
			ManifestWindow: 5 * time.Second,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler())
	t.Cleanup(func() {
		srv.Close()
		o.Close()
	})
	return &env{t: t, o: o, srv: srv}
}

// fetch GETs a path and returns status and body without failing.
func (e *env) fetch(p string) (int, []byte) {
	resp, err := http.Get(e.url(p))
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// sameOn reports whether every env serves p with status 200 and the same
// bytes, returning them.
func sameOn(p string, envs ...*env) ([]byte, bool) {
	var first []byte
	for i, e := range envs {
		code, b := e.fetch(p)
		if code != http.StatusOK || (i > 0 && !bytes.Equal(b, first)) {
			return nil, false
		}
		first = b
	}
	return first, true
}

// converged waits until every env serves the same multivariant and media
// playlists (for each query) and the media playlists end with segment
// last; it returns the media playlists by path.
func converged(t *testing.T, l *live, last int, queries []string, envs ...*env) map[string][]byte {
	t.Helper()
	var got map[string][]byte
	var why string
	testutil.Eventually(t, 30*time.Second, func() bool {
		got = map[string][]byte{}
		for _, q := range queries {
			mvPath := "/out/v1/" + testChannel + "/index.m3u8" + q
			body, ok := sameOn(mvPath, envs...)
			if !ok {
				why = "multivariant differs or fails: " + mvPath
				return false
			}
			mv, err := hls.ParseMultivariant(body)
			if err != nil {
				why = err.Error()
				return false
			}
			uris := []string{}
			for _, v := range mv.Variants {
				uris = append(uris, v.URI)
			}
			for _, r := range mv.Renditions {
				if r.URI != "" {
					uris = append(uris, r.URI)
				}
			}
			for _, v := range mv.IFrameVariants {
				uris = append(uris, v.URI)
			}
			for _, u := range uris {
				p := "/out/v1/" + testChannel + "/" + u
				b, ok := sameOn(p, envs...)
				if !ok {
					why = "media playlist differs or fails: " + p
					return false
				}
				m, err := hls.ParseMedia(b)
				if err != nil || len(m.Segments) == 0 {
					why = "bad media playlist " + p
					return false
				}
				if !m.IFramesOnly {
					want := l.epoch.Add(time.Duration(last) * time.Second)
					if s := m.Segments[len(m.Segments)-1]; !s.ProgramDateTime.IsZero() && !s.ProgramDateTime.Equal(want) {
						why = fmt.Sprintf("%s ends at %v, want %v", p, s.ProgramDateTime, want)
						return false
					}
				}
				got[p] = b
			}
		}
		return true
	}, "instances did not converge: %s", func() string { return why }())
	return got
}

// segmentsIdentical fetches every segment the playlists list from every env
// and compares the bytes.
func segmentsIdentical(t *testing.T, playlists map[string][]byte, envs ...*env) int {
	t.Helper()
	n := 0
	for p, b := range playlists {
		m, err := hls.ParseMedia(b)
		if err != nil {
			t.Fatal(err)
		}
		dir := p[:strings.LastIndex(p, "/")+1]
		seen := map[string]bool{}
		for _, s := range m.Segments {
			uris := []string{s.URI}
			if s.Map != nil {
				uris = append(uris, s.Map.URI)
			}
			for _, u := range uris {
				if seen[u] {
					continue
				}
				seen[u] = true
				if _, ok := sameOn(dir+u, envs...); !ok {
					codes := []int{}
					for _, e := range envs {
						c, _ := e.fetch(dir + u)
						codes = append(codes, c)
					}
					t.Fatalf("segment %s%s: statuses %v or bytes differ", dir, u, codes)
				}
				n++
			}
		}
	}
	return n
}

// TestSharedStorageInstances runs two origin instances on one bucket and
// checks that they serve the same live and startover playlists and the
// same segments, whichever instance the inputs push to, and that an
// instance started later recovers the same window from the bucket
// (snapshot + ingest log).
func TestSharedStorageInstances(t *testing.T) {
	gw := versitygw.Start(t, sharedBucket)
	for _, tc := range []struct {
		name  string
		split bool // input b pushes to instance B (else everything to A)
	}{{"split-inputs", true}, {"all-to-A", false}} {
		t.Run(tc.name, func(t *testing.T) {
			st := sharedSettings(gw, tc.name)
			a, b := newSharedEnv(t, st), newSharedEnv(t, st)
			epoch := time.Now().Add(-20 * time.Second).Truncate(time.Second)
			l := newLive(t, testmedia.TS, epoch)
			pa, pb := a.pusher("a"), a.pusher("b")
			if tc.split {
				pb = b.pusher("b")
			}
			const steps = 8
			for n := 0; n < steps; n++ {
				l.push(pa, n)
				l.push(pb, n)
			}
			start := url.Values{"start": {epoch.UTC().Format(time.RFC3339)}}.Encode()
			queries := []string{"", "?" + start}
			pls := converged(t, l, steps-1, queries, a, b)
			if n := segmentsIdentical(t, pls, a, b); n == 0 {
				t.Fatal("no segments listed")
			}
			var so []byte
			for p, b := range pls {
				if strings.HasPrefix(p, "/out/v1/"+testChannel+"/channel_video_hi.m3u8?") {
					so = b
				}
			}
			m, err := hls.ParseMedia(so)
			if err != nil {
				t.Fatalf("no startover playlist: %v", err)
			}
			if len(m.Segments) != steps || !m.Segments[0].ProgramDateTime.Equal(epoch) || m.PlaylistType != hls.PlaylistTypeEvent {
				t.Fatalf("startover playlist: %d segments from %v, type %q, want %d from %v, EVENT:\n%s",
					len(m.Segments), m.Segments[0].ProgramDateTime, m.PlaylistType, steps, epoch, so)
			}
			// More live segments, then a third instance joins: it
			// recovers the whole window from the bucket.
			for n := steps; n < steps+4; n++ {
				l.push(pa, n)
				l.push(pb, n)
			}
			converged(t, l, steps+3, queries, a, b)
			c := newSharedEnv(t, st)
			pls = converged(t, l, steps+3, queries, a, b, c)
			segmentsIdentical(t, pls, a, b, c)
			// Propagation: from the last ingest response until all
			// three instances list the new segment.
			t0 := time.Now()
			l.push(pa, steps+4)
			l.push(pb, steps+4)
			converged(t, l, steps+4, queries[:1], a, b, c)
			t.Logf("propagation: %s after the last ingest response (publish delay %s)", time.Since(t0).Round(10*time.Millisecond), st.PublishDelay())
			// The three indexes are the same, byte for byte.
			testutil.Eventually(t, 10*time.Second, func() bool {
				sa, sb, sc := snapshotOf(a.o), snapshotOf(b.o), snapshotOf(c.o)
				return bytes.Equal(sa, sb) && bytes.Equal(sa, sc)
			}, "indexes of the three instances differ")
		})
	}
}

// snapshotOf encodes the index of the test channel.
func snapshotOf(o *Origin) []byte {
	ch := o.lookup(testChannel)
	ch.mu.Lock()
	defer ch.mu.Unlock()
	b, err := ch.EncodeSnapshot(0)
	if err != nil {
		panic(err)
	}
	return b
}
