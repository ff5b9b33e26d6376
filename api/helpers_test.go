package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/api/internal/redact"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/metrics"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/store"
)

// nopTarget accepts and forgets everything.
type nopTarget struct{ name string }

func (t nopTarget) Name() string                                 { return t.name }
func (t nopTarget) Put(ctx context.Context, f output.File) error { return nil }
func (t nopTarget) Delete(ctx context.Context, name string) error {
	return nil
}

type nopOutput struct{ targets []output.Target }

func (o nopOutput) Stem() string             { return "channel" }
func (o nopOutput) Targets() []output.Target { return o.targets }
func (o nopOutput) Close() error             { return nil }

// ingestFactory is a test stand-in shaped like the MediaPackage output:
// {"ingestUrls":[{"url","username","password"}]} with password secret.
// A username of "leak" makes it return an error quoting the password, to
// prove the API scrubs factory errors.
func ingestFactory(name string) output.Factory {
	return output.Factory{
		Name:        name,
		Description: "test output shaped like mediapackage",
		Schema: json.RawMessage(`{"type":"object","required":["ingestUrls"],"properties":{"ingestUrls":{"type":"array","minItems":1,"maxItems":2,` +
			`"items":{"type":"object","required":["url"],"properties":{"url":{"type":"string"},"username":{"type":"string"},"password":{"type":"string"}}}}}}`),
		Secrets: []string{"password"},
		New: func(payload json.RawMessage) (output.Output, error) {
			var p struct {
				IngestURLs []struct {
					URL      string `json:"url"`
					Username string `json:"username"`
					Password string `json:"password"`
				} `json:"ingestUrls"`
			}
			dec := json.NewDecoder(bytes.NewReader(payload))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				return nil, output.Invalid("payload", "must match the schema")
			}
			if len(p.IngestURLs) == 0 {
				return nil, output.Invalid("ingestUrls", "required")
			}
			var targets []output.Target
			for i, in := range p.IngestURLs {
				u, err := url.Parse(in.URL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return nil, output.Invalid(fmt.Sprintf("ingestUrls[%d].url", i), "must be http or https")
				}
				if in.Username == "leak" {
					return nil, output.Invalid(fmt.Sprintf("ingestUrls[%d]", i), "login %s:%s refused", in.Username, in.Password)
				}
				targets = append(targets, nopTarget{name: u.Host})
			}
			return nopOutput{targets: targets}, nil
		},
	}
}

func voidFactory() output.Factory {
	return output.Factory{
		Name: "void", Description: "discards everything", Schema: json.RawMessage(`{"type":"object"}`),
		New: func(json.RawMessage) (output.Output, error) {
			return nopOutput{targets: []output.Target{nopTarget{name: "void"}}}, nil
		},
	}
}

type harness struct {
	t       *testing.T
	svc     *pullpush.Service
	api     *API
	srv     *httptest.Server
	logs    *testutil.LockedBuffer
	token   string
	metrics *metrics.Metrics
	log     *slog.Logger // the logger the service and the API write to
	once    sync.Once
}

type harnessOpts struct {
	store       store.Store
	token       string
	maxFetchers int
	factories   []output.Factory
	cors        string
	cluster     Cluster
	pprof       bool
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	logs := &testutil.LockedBuffer{}
	red := redact.NewRedactor()
	log := slog.New(red.Handler(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	m := metrics.New()
	reg := output.NewRegistry()
	if o.factories == nil {
		o.factories = []output.Factory{ingestFactory("test"), voidFactory()}
	}
	for _, f := range o.factories {
		reg.Register(f)
	}
	svc := pullpush.New(pullpush.Options{
		Logger: log, Outputs: reg, Observer: m, MaxFetchers: o.maxFetchers,
		SpoolDir: t.TempDir(), Progress: o.store,
	})
	a := New(svc, Options{Store: o.store, Token: o.token, Logger: log, Metrics: m, CORSOrigin: o.cors, StopTimeout: 5 * time.Second, Redactor: red, Cluster: o.cluster, Pprof: o.pprof})
	srv := httptest.NewServer(a.Handler())
	h := &harness{t: t, svc: svc, api: a, srv: srv, logs: logs, token: o.token, metrics: m, log: log}
	t.Cleanup(h.close)
	return h
}

// close stops the server and the service, as a process exit would; it may
// be called more than once.
func (h *harness) close() {
	h.once.Do(func() {
		h.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.svc.Close(ctx); err != nil {
			h.t.Errorf("close service: %v", err)
		}
	})
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.body)
	}
}

func (r result) errorMsg(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.json(t, &e)
	return e.Error
}

// do sends a request with the harness token (if any) and returns the whole
// response.
func (h *harness) do(method, path string, body string, hdr ...string) result {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// create posts a fetcher and returns its id, failing on anything but 201.
func (h *harness) create(body string) string {
	h.t.Helper()
	r := h.do("POST", "/api/v1/fetcher", body)
	if r.status != http.StatusCreated {
		h.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var f struct {
		ID string `json:"fetcherId"`
	}
	r.json(h.t, &f)
	if f.ID == "" {
		h.t.Fatalf("create: no fetcherId in %s", r.body)
	}
	return f.ID
}

func fetcherBody(name string) string {
	return fmt.Sprintf(`{"name":%q,"url":"http://127.0.0.1:1/live/master.m3u8","output":"test",`+
		`"payload":{"ingestUrls":[{"url":"http://127.0.0.1:1/in/v2/abc/a/channel","username":"user","password":"pw-%s"}]}}`, name, name)
}
