package mediapackage_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/internal/davtest"
	"github.com/pullpush/pullpush/output/mediapackage"
	"github.com/pullpush/pullpush/output/outputtest"
)

const (
	user     = "ingest-user"
	password = "Sup3r-s3cret-PASSWORD"
)

var creds = &davtest.Credentials{Username: user, Password: password}

func newMP(t *testing.T, ingests ...mediapackage.Ingest) *mediapackage.Output {
	t.Helper()
	o, err := mediapackage.New(mediapackage.Config{IngestURLs: ingests})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func put(ctx context.Context, tg output.Target, name, data string) error {
	return tg.Put(ctx, outputtest.BytesFile(name, "video/mp2t", []byte(data)))
}

func TestContract(t *testing.T) {
	outputtest.Run(t, func(t *testing.T) (output.Output, outputtest.Reader) {
		a := davtest.New(t, davtest.Options{Digest: creds})
		b := davtest.New(t, davtest.Options{Digest: creds})
		o, err := mediapackage.New(mediapackage.Config{IngestURLs: []mediapackage.Ingest{
			{URL: a.URL + "/in/v2/abc/a/channel", Username: user, Password: password},
			{URL: b.URL + "/in/v2/abc/b/channel", Username: user, Password: password},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return o, davtest.Reader{Servers: []*davtest.Server{a, b}, Dirs: []string{"/in/v2/abc/a/", "/in/v2/abc/b/"}}
	})
}

func TestFilesLandNextToIngestURL(t *testing.T) {
	s := davtest.New(t, davtest.Options{Digest: creds})
	o := newMP(t, mediapackage.Ingest{URL: s.URL + "/in/v2/abc/abc/channel", Username: user, Password: password})
	if o.Stem() != "channel" {
		t.Errorf("Stem() = %q", o.Stem())
	}
	tg := o.Targets()[0]
	if want := "ingest[0] " + s.URL + "/in/v2/abc/abc/channel"; tg.Name() != want {
		t.Errorf("Name() = %q, want %q", tg.Name(), want)
	}
	ctx := t.Context()
	files := map[string]string{
		"channel_720p_1234.ts": "segment",
		"channel_720p.m3u8":    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n",
		"channel.m3u8":         "#EXTM3U\n",
	}
	for _, name := range []string{"channel_720p_1234.ts", "channel_720p.m3u8", "channel.m3u8"} {
		if err := put(ctx, tg, name, files[name]); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		got, ok := s.Get("/in/v2/abc/abc/" + name)
		if !ok || string(got.Data) != data {
			t.Errorf("%s: stored %q (%v), want %q", name, got.Data, ok, data)
		}
		if got.ContentLength != int64(len(data)) {
			t.Errorf("%s: Content-Length %d, want %d", name, got.ContentLength, len(data))
		}
		if got.Header.Get("Authorization") == "" || !strings.HasPrefix(got.Header.Get("Authorization"), "Digest ") {
			t.Errorf("%s: not digest-authenticated: %q", name, got.Header.Get("Authorization"))
		}
	}
	if len(s.Paths()) != len(files) {
		t.Errorf("stored paths %v", s.Paths())
	}
	if err := tg.Delete(ctx, "channel_720p_1234.ts"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("/in/v2/abc/abc/channel_720p_1234.ts"); ok {
		t.Error("segment not deleted")
	}
}

func TestDigestPreauthenticates(t *testing.T) {
	var mu sync.Mutex
	var unauthorized int
	s := davtest.New(t, davtest.Options{Digest: creds})
	// Count challenges by wrapping the server's handler.
	h := s.Config.Handler
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized {
			mu.Lock()
			unauthorized++
			mu.Unlock()
		}
	})
	o := newMP(t, mediapackage.Ingest{URL: s.URL + "/in/v2/abc/abc/channel", Username: user, Password: password})
	g := outputtest.NewGenerated("channel_720p_1.ts", 1<<20, 1)
	if err := o.Targets()[0].Put(t.Context(), g.File()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := put(t.Context(), o.Targets()[0], "channel_720p.m3u8", "#EXTM3U\n"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if unauthorized != 1 {
		t.Errorf("%d challenges for 11 PUTs, want 1", unauthorized)
	}
	// The challenged first attempt used Expect: 100-continue, so the body
	// was opened twice but only the second copy was read.
	if g.Opens() != 2 {
		t.Errorf("first PUT opened the file %d times, want 2", g.Opens())
	}
	reqs := s.Requests()
	if len(reqs) == 0 || reqs[len(reqs)-1].Header.Get("Expect") != "" {
		t.Errorf("authenticated requests still send Expect: 100-continue")
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func TestWrongPassword(t *testing.T) {
	s := davtest.New(t, davtest.Options{Digest: creds})
	wrong := "Wr0ng-" + password
	o := newMP(t, mediapackage.Ingest{URL: s.URL + "/in/v2/abc/abc/channel", Username: user, Password: wrong})
	err := put(t.Context(), o.Targets()[0], "channel_720p_1.ts", "x")
	if err == nil {
		t.Fatal("Put with a wrong password succeeded")
	}
	if !strings.Contains(err.Error(), "401") {
		t.Errorf("error %q does not mention 401", err)
	}
	var se *output.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Errorf("error %v is not a 401 *output.StatusError", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), password) {
		t.Errorf("error %q leaks the password", err)
	}
	if len(s.Paths()) != 0 {
		t.Errorf("stored %v", s.Paths())
	}
}

func TestOneIngestFailing(t *testing.T) {
	good := davtest.New(t, davtest.Options{Digest: creds})
	bad := davtest.New(t, davtest.Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "ingest is down for maintenance", http.StatusInternalServerError)
	})})
	o := newMP(t,
		mediapackage.Ingest{URL: good.URL + "/in/v2/abc/a/channel", Username: user, Password: password},
		mediapackage.Ingest{URL: bad.URL + "/in/v2/abc/b/channel", Username: user, Password: password},
	)
	targets := o.Targets()
	if len(targets) != 2 {
		t.Fatalf("%d targets", len(targets))
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Go(func() { errs[i] = put(t.Context(), tg, "channel_720p_1.ts", "segment") })
	}
	wg.Wait()
	if errs[0] != nil {
		t.Errorf("healthy ingest: %v", errs[0])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "500") || !strings.Contains(errs[1].Error(), "ingest is down") {
		t.Errorf("failing ingest error = %v, want a 500 with a body excerpt", errs[1])
	}
	if _, ok := good.Get("/in/v2/abc/a/channel_720p_1.ts"); !ok {
		t.Error("healthy ingest did not store the segment")
	}
	if err := targets[1].Delete(t.Context(), "channel_720p_0.ts"); err == nil {
		t.Error("Delete on the failing ingest succeeded")
	}
}

func TestSlowServerTimeout(t *testing.T) {
	release := make(chan struct{})
	s := davtest.New(t, davtest.Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})})
	t.Cleanup(func() { close(release) })

	t.Run("context", func(t *testing.T) {
		o := newMP(t, mediapackage.Ingest{URL: s.URL + "/in/v2/abc/abc/channel"})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := put(ctx, o.Targets()[0], "channel_720p_1.ts", "x")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Put = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("config", func(t *testing.T) {
		o, err := mediapackage.New(mediapackage.Config{
			IngestURLs: []mediapackage.Ingest{{URL: s.URL + "/in/v2/abc/abc/channel"}},
			Timeout:    100 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		err = put(t.Context(), o.Targets()[0], "channel_720p_1.ts", "x")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Put = %v, want context.DeadlineExceeded", err)
		}
		if err := o.Targets()[0].Delete(t.Context(), "channel_720p_1.ts"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Delete = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestNoSecretsInErrorsOrNames(t *testing.T) {
	echo := davtest.New(t, davtest.Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A hostile or buggy server echoing the request headers back.
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("you sent " + r.Header.Get("Authorization") + " and the password " + password))
	})})
	auth := davtest.New(t, davtest.Options{Digest: &davtest.Credentials{Username: user, Password: "other"}})
	var errs []string
	var names []string
	for _, url := range []string{echo.URL, auth.URL, "http://127.0.0.1:1"} {
		o := newMP(t, mediapackage.Ingest{URL: url + "/in/v2/abc/abc/channel", Username: user, Password: password})
		tg := o.Targets()[0]
		names = append(names, tg.Name())
		if err := put(t.Context(), tg, "channel_720p_1.ts", "x"); err != nil {
			errs = append(errs, err.Error())
		}
		if err := tg.Delete(t.Context(), "channel_720p_0.ts"); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, bad := range []string{
		`{"ingestUrls":[{"url":"http://user:` + password + `@127.0.0.1/in/channel"}]}`,
		`{"ingestUrls":[{"url":"http://127.0.0.1/in/channel?token=` + password + `"}]}`,
		`{"ingestUrls":[{"url":"ftp://` + password + `/channel"}]}`,
		`{"ingestUrls":[{"url":"http://127.0.0.1/in/channel","password":"` + password + `"}]}`,
		`{"ingestUrls":[{"url":"%zz` + password + `"}]}`,
		`{"ingestUrls":[{"url":"http://127.0.0.1/in/channel","password":` + password + `}]}`,
	} {
		_, err := mediapackage.Factory.New(json.RawMessage(bad))
		if err == nil {
			t.Errorf("payload %s accepted", bad)
			continue
		}
		errs = append(errs, err.Error())
	}
	if len(errs) < 8 {
		t.Fatalf("expected errors, got %q", errs)
	}
	for _, s := range append(errs, names...) {
		if strings.Contains(s, password) {
			t.Errorf("%q leaks the password", s)
		}
	}
}

func TestPayload(t *testing.T) {
	for _, c := range payloadCases {
		t.Run(c.name, func(t *testing.T) {
			o, err := mediapackage.Factory.New(json.RawMessage(c.payload))
			if c.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got := o.Stem(); got != c.stem {
					t.Errorf("Stem() = %q, want %q", got, c.stem)
				}
				o.Close()
				return
			}
			if err == nil {
				o.Close()
				t.Fatalf("accepted, want %q", c.err)
			}
			if err.Error() != c.err {
				t.Errorf("error = %q, want %q", err, c.err)
			}
			if !errors.Is(err, output.ErrInvalidPayload) {
				t.Errorf("error does not wrap ErrInvalidPayload")
			}
		})
	}
}

var payloadCases = []struct {
	name, payload, err, stem string
}{
	{"one", `{"ingestUrls":[{"url":"https://example.com/in/v2/abc/abc/channel","username":"u","password":"p"}]}`, "", "channel"},
	{"two", `{"ingestUrls":[{"url":"https://a.example.com/in/v2/abc/a/channel","username":"u","password":"p"},{"url":"http://b.example.com:8080/in/v2/abc/b/channel","username":"u","password":"p"}]}`, "", "channel"},
	{"no auth", `{"ingestUrls":[{"url":"http://127.0.0.1:8080/in/v2/1/a/live"}]}`, "", "live"},
	{"absent", ``, "ingestUrls: at least one ingest URL is required", ""},
	{"empty object", `{}`, "ingestUrls: at least one ingest URL is required", ""},
	{"empty list", `{"ingestUrls":[]}`, "ingestUrls: at least one ingest URL is required", ""},
	{"three", `{"ingestUrls":[{"url":"http://h/a/channel"},{"url":"http://h/b/channel"},{"url":"http://h/c/channel"}]}`, "ingestUrls: at most 2 ingest URLs are allowed", ""},
	{"not an object", `[]`, "payload: must be a JSON object", ""},
	{"malformed", `{"ingestUrls":[`, "payload: malformed JSON (unexpected end)", ""},
	{"unknown top", `{"ingestUrls":[{"url":"http://h/a/channel"}],"extra":1}`, "extra: unknown field", ""},
	{"unknown nested", `{"ingestUrls":[{"url":"http://h/a/channel","user":"u"}]}`, "ingestUrls[0].user: unknown field", ""},
	{"wrong case", `{"IngestURLs":[{"url":"http://h/a/channel"}]}`, "IngestURLs: unknown field", ""},
	{"url type", `{"ingestUrls":[{"url":42}]}`, "ingestUrls[0].url: must be a string", ""},
	{"list type", `{"ingestUrls":{"url":"http://h/a/channel"}}`, "ingestUrls: must be an array", ""},
	{"missing url", `{"ingestUrls":[{"username":"u"}]}`, "ingestUrls[0].url: required", ""},
	{"null element", `{"ingestUrls":[null]}`, "ingestUrls[0].url: required", ""},
	{"scheme", `{"ingestUrls":[{"url":"http://h/a/channel"},{"url":"ftp://h/b/channel"}]}`, "ingestUrls[1].url: must be http or https", ""},
	{"relative", `{"ingestUrls":[{"url":"/in/channel"}]}`, "ingestUrls[0].url: must be http or https", ""},
	{"unparsable", `{"ingestUrls":[{"url":"http://h/%zz"}]}`, "ingestUrls[0].url: not a valid URL", ""},
	{"no host", `{"ingestUrls":[{"url":"http:///in/channel"}]}`, "ingestUrls[0].url: must have a host", ""},
	{"credentials in url", `{"ingestUrls":[{"url":"http://u:p@h/in/channel"}]}`, "ingestUrls[0].url: must not contain credentials; use username and password", ""},
	{"query", `{"ingestUrls":[{"url":"http://h/in/channel?x=1"}]}`, "ingestUrls[0].url: must not have a query or fragment", ""},
	{"fragment", `{"ingestUrls":[{"url":"http://h/in/channel#x"}]}`, "ingestUrls[0].url: must not have a query or fragment", ""},
	{"no path", `{"ingestUrls":[{"url":"http://h"}]}`, "ingestUrls[0].url: must end in a path element such as /channel", ""},
	{"trailing slash", `{"ingestUrls":[{"url":"http://h/in/v2/abc/abc/"}]}`, "ingestUrls[0].url: must end in a path element such as /channel", ""},
	{"bad stem", `{"ingestUrls":[{"url":"http://h/in/ch%20an"}]}`, "ingestUrls[0].url: last path element must be a name of [A-Za-z0-9._-] not starting with a dot", ""},
	{"dot stem", `{"ingestUrls":[{"url":"http://h/in/.."}]}`, "ingestUrls[0].url: last path element must be a name of [A-Za-z0-9._-] not starting with a dot", ""},
	{"unclean path", `{"ingestUrls":[{"url":"http://h/in/../x/channel"}]}`, "ingestUrls[0].url: path must be clean (no //, . or .. elements)", ""},
	{"different stems", `{"ingestUrls":[{"url":"http://h/a/channel"},{"url":"http://h/b/live"}]}`, `ingestUrls[1].url: last path element "live" differs from "channel" of ingestUrls[0]`, ""},
	{"same directory", `{"ingestUrls":[{"url":"http://h/a/channel"},{"url":"http://h/a/channel"}]}`, "ingestUrls[1].url: same directory as ingestUrls[0]", ""},
	{"password without user", `{"ingestUrls":[{"url":"http://h/a/channel","password":"p"}]}`, "ingestUrls[0].username: required when password is set", ""},
	// hls-pull-push's README example, verbatim.
	{"hls-pull-push README", `{
    "ingestUrls": [ {
      "url": "https://033c20e6acf79d8f.mediapackage.eu-north-1.amazonaws.com/in/v2/8bca7c5e42d94296896a317c72714086/8bca7c5e42d94296896a317c72714abc/channel",
      "username": "***",
      "password": "***"
    } ]
  }`, "", "channel"},
	{"timeoutMs", `{"ingestUrls":[{"url":"http://h/a/channel","username":"u","password":"p"}],"timeoutMs":5000}`, "", "channel"},
	{"timeoutMs zero", `{"ingestUrls":[{"url":"http://h/a/channel"}],"timeoutMs":0}`, "", "channel"},
	{"timeoutMs null", `{"ingestUrls":[{"url":"http://h/a/channel"}],"timeoutMs":null}`, "", "channel"},
	{"timeoutMs negative", `{"ingestUrls":[{"url":"http://h/a/channel"}],"timeoutMs":-5}`, "timeoutMs: must be a number of milliseconds from 0 to 3600000 (0 or absent: the default)", ""},
	{"timeoutMs too large", `{"ingestUrls":[{"url":"http://h/a/channel"}],"timeoutMs":1e12}`, "timeoutMs: must be a number of milliseconds from 0 to 3600000 (0 or absent: the default)", ""},
	{"timeoutMs type", `{"ingestUrls":[{"url":"http://h/a/channel"}],"timeoutMs":"5000"}`, "timeoutMs: must be a number", ""},
	{"timeout misspelt", `{"ingestUrls":[{"url":"http://h/a/channel"}],"timeout":5000}`, "timeout: unknown field", ""},
}

// TestTimeoutMs checks that timeoutMs reaches the fetcher through
// output.SegmentTimeouter, in milliseconds as hls-pull-push reads it.
func TestTimeoutMs(t *testing.T) {
	for _, c := range []struct {
		payload string
		want    time.Duration
	}{
		{`{"ingestUrls":[{"url":"http://h/a/channel"}],"timeoutMs":5000}`, 5 * time.Second},
		{`{"ingestUrls":[{"url":"http://h/a/channel"}],"timeoutMs":250.5}`, 250500 * time.Microsecond},
		{`{"ingestUrls":[{"url":"http://h/a/channel"}],"timeoutMs":0}`, 0},
		{`{"ingestUrls":[{"url":"http://h/a/channel"}]}`, 0},
	} {
		o, err := mediapackage.Factory.New(json.RawMessage(c.payload))
		if err != nil {
			t.Fatal(err)
		}
		if got := output.SegmentTimeout(o); got != c.want {
			t.Errorf("%s: SegmentTimeout = %v, want %v", c.payload, got, c.want)
		}
		o.Close()
	}
}

func TestSchema(t *testing.T) {
	outputtest.CheckSchema(t, mediapackage.Factory, mediapackage.Payload{})
}

func TestRedact(t *testing.T) {
	got := string(mediapackage.Factory.Redact(json.RawMessage(`{"ingestUrls":[{"url":"http://h/a/channel","username":"u","password":"` + password + `"}]}`)))
	want := `{"ingestUrls":[{"password":"***","url":"http://h/a/channel","username":"u"}]}`
	if got != want {
		t.Errorf("Redact = %s, want %s", got, want)
	}
}

func FuzzMediaPackagePayload(f *testing.F) {
	for _, c := range payloadCases {
		f.Add([]byte(c.payload))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		outputtest.CheckPayload(t, mediapackage.Factory, payload)
	})
}
