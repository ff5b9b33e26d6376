package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/api/internal/redact"

	"github.com/pullpush/pullpush/internal/buildinfo"

	"github.com/pullpush/pullpush/output/outputs"
	"github.com/pullpush/pullpush/store"
)

const validPayload = `{"ingestUrls":[{"url":"http://127.0.0.1:1/in/v2/abc/a/channel","username":"u","password":"p"}]}`

// createCases drive the error table test and seed FuzzCreateFetcherJSON.
var createCases = []struct {
	name        string
	contentType string // "" means application/json; "-" means no header
	body        string
	status      int
	err         string // exact error message; "" for success
}{
	{name: "ok", body: `{"name":"ok","url":"http://127.0.0.1:1/m.m3u8","output":"test","payload":` + validPayload + `}`, status: 201},
	{name: "ok payload as JSON string", body: `{"name":"str","url":"https://127.0.0.1:1/m.m3u8","output":"test","payload":` + redact.JSONQuote(validPayload) + `}`, status: 201},
	{name: "ok numeric strings", body: `{"name":"numstr","url":"http://127.0.0.1:1/m.m3u8","output":"void","concurrency":"8","windowSize":"60"}`, status: 201},
	{name: "ok zero means default", body: `{"name":"zero","url":"http://127.0.0.1:1/m.m3u8","output":"void","concurrency":0,"windowSize":0,"payload":null}`, status: 201},
	{name: "ok no content type", contentType: "-", body: `{"name":"noct","url":"http://127.0.0.1:1/m.m3u8","output":"void"}`, status: 201},
	{name: "ok json with charset", contentType: "application/json; charset=utf-8", body: `{"name":"charset","url":"http://127.0.0.1:1/m.m3u8","output":"void"}`, status: 201},

	{name: "empty body", body: ``, status: 400, err: "request body is empty: send a JSON object"},
	{name: "malformed JSON", body: `{"name":`, status: 400, err: "malformed JSON (unexpected end of body)"},
	{name: "syntax error", body: `{"name" "x"}`, status: 400, err: "malformed JSON at byte 9"},
	{name: "trailing comma", body: `{"name":"a", }`, status: 400, err: "malformed JSON at byte 14: trailing comma before '}' (JSON allows none)"},
	{name: "trailing comma in array", body: `{"name":"a","payload":{"ingestUrls":[{},]}}`, status: 400, err: "malformed JSON at byte 41: trailing comma before ']' (JSON allows none)"},
	{name: "not an object", body: `[1,2]`, status: 400, err: "body must be a JSON object"},
	{name: "null body", body: `null`, status: 400, err: "body must be a JSON object"},
	{name: "trailing data", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void"} {}`, status: 400, err: "unexpected data after the JSON object"},
	{name: "unknown field", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void","windowsize":5}`, status: 400,
		err: "'windowsize' is not a known field (expected name, url, output, payload, concurrency, windowSize)"},
	{name: "missing name", body: `{"url":"http://127.0.0.1/m.m3u8","output":"void"}`, status: 400, err: "'name' is required"},
	{name: "empty name", body: `{"name":"","url":"http://127.0.0.1/m.m3u8","output":"void"}`, status: 400, err: "'name' is required"},
	{name: "blank name", body: `{"name":"   ","url":"http://127.0.0.1/m.m3u8","output":"void"}`, status: 400, err: "'name' must not be blank"},
	{name: "name not string", body: `{"name":5,"url":"http://127.0.0.1/m.m3u8","output":"void"}`, status: 400, err: "'name' must be a string"},
	{name: "name control char", body: `{"name":"a\u0007b","url":"http://127.0.0.1/m.m3u8","output":"void"}`, status: 400, err: "'name' must not contain control characters"},
	{name: "name too long", body: `{"name":"` + strings.Repeat("n", MaxNameLen+1) + `","url":"http://127.0.0.1/m.m3u8","output":"void"}`, status: 400, err: "'name' is longer than 200 characters"},
	{name: "missing url", body: `{"name":"a","output":"void"}`, status: 400, err: "'url' is required"},
	{name: "url not http", body: `{"name":"a","url":"ftp://127.0.0.1/m.m3u8","output":"void"}`, status: 400, err: "'url' must be an absolute http or https URL"},
	{name: "url relative", body: `{"name":"a","url":"/live/m.m3u8","output":"void"}`, status: 400, err: "'url' must be an absolute http or https URL"},
	{name: "url no host", body: `{"name":"a","url":"http:///m.m3u8","output":"void"}`, status: 400, err: "'url' must be an absolute http or https URL"},
	{name: "url too long", body: `{"name":"a","url":"http://127.0.0.1/` + strings.Repeat("u", MaxURLLen) + `","output":"void"}`, status: 400, err: "'url' is longer than 4096 bytes"},
	{name: "missing output", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8"}`, status: 400, err: "'output' is required"},
	{name: "output not string", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":["void"]}`, status: 400, err: "'output' must be a string"},
	{name: "unknown output", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"nope"}`, status: 400, err: `unknown output "nope" (registered: test, void)`},
	{name: "payload array", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"test","payload":[1]}`, status: 400, err: "'payload' must be a JSON object"},
	{name: "payload string not JSON", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"test","payload":"ingestUrls"}`, status: 400, err: "'payload' is a string that does not hold a JSON object"},
	{name: "payload missing ingestUrls", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"test","payload":{}}`, status: 400,
		err: `invalid payload for output "test": ingestUrls: required`},
	{name: "payload absent for output that needs it", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"test"}`, status: 400,
		err: `invalid payload for output "test": ingestUrls: required`},
	{name: "payload ingest url not http", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"test","payload":{"ingestUrls":[{"url":"ftp://127.0.0.1/in/channel"}]}}`, status: 400,
		err: `invalid payload for output "test": ingestUrls[0].url: must be http or https`},
	{name: "concurrency negative", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void","concurrency":-1}`, status: 400,
		err: "'concurrency' must be an integer from 1 to 64 (0 or absent: the default)"},
	{name: "concurrency fraction", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void","concurrency":1.5}`, status: 400,
		err: "'concurrency' must be an integer from 1 to 64 (0 or absent: the default)"},
	{name: "concurrency too big", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void","concurrency":65}`, status: 400,
		err: "'concurrency' must be an integer from 1 to 64 (0 or absent: the default)"},
	{name: "concurrency not a number", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void","concurrency":"many"}`, status: 400,
		err: "'concurrency' must be an integer from 1 to 64 (0 or absent: the default)"},
	{name: "windowSize negative", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void","windowSize":-1}`, status: 400,
		err: "'windowSize' must be a number of seconds from 0 to 86400 (0 or absent: the default)"},
	{name: "windowSize too big", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void","windowSize":1e9}`, status: 400,
		err: "'windowSize' must be a number of seconds from 0 to 86400 (0 or absent: the default)"},
	{name: "windowSize object", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void","windowSize":{}}`, status: 400,
		err: "'windowSize' must be a number of seconds from 0 to 86400 (0 or absent: the default)"},
	{name: "wrong content type", contentType: "text/plain", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void"}`, status: 415,
		err: `unsupported Content-Type "text/plain": send application/json (with curl: -H 'Content-Type: application/json')`},
	{name: "form content type", contentType: "application/x-www-form-urlencoded", body: `name=a`, status: 415,
		err: `unsupported Content-Type "application/x-www-form-urlencoded": send application/json (with curl: -H 'Content-Type: application/json')`},
	{name: "body too large", body: `{"name":"a","url":"http://127.0.0.1/m.m3u8","output":"void","payload":{"x":"` + strings.Repeat("x", MaxBodyBytes) + `"}}`, status: 413,
		err: "request body larger than 1048576 bytes"},
}

func TestCreateErrors(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, tc := range createCases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			switch tc.contentType {
			case "":
			case "-":
				hdr = []string{"Content-Type", ""}
			default:
				hdr = []string{"Content-Type", tc.contentType}
			}
			r := h.do("POST", "/api/v1/fetcher", tc.body, hdr...)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tc.err == "" {
				return
			}
			if got := r.errorMsg(t); got != tc.err {
				t.Errorf("error = %q\n      want %q", got, tc.err)
			}
		})
	}
}

func TestCreateResponseAndCompat(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	body := `{"name":"compat","url":"http://127.0.0.1:1/live/master.m3u8","output":"test","concurrency":8,"windowSize":"60",` +
		`"payload":` + redact.JSONQuote(`{"ingestUrls":[{"url":"http://127.0.0.1:1/in/v2/abc/a/channel","username":"u","password":"hunter2"}]}`) + `}`
	r := h.do("POST", "/api/v1/fetcher/", body) // trailing slash, as hls-pull-push accepted
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var got map[string]any
	r.json(t, &got)
	for k, want := range map[string]any{
		"name": "compat", "url": "http://127.0.0.1:1/live/master.m3u8", "output": "test", "dest": "test",
		"concurrency": 8.0, "windowSize": 60.0,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if st := got["state"]; st != "starting" && st != "running" && st != "retrying" {
		t.Errorf("state = %v", st)
	}
	for _, k := range []string{"fetcherId", "message", "created", "requestData", "payload", "targets", "renditions", "lagSeconds", "segmentsPushed"} {
		if _, ok := got[k]; !ok {
			t.Errorf("response lacks %q: %s", k, r.body)
		}
	}
	if strings.Contains(string(r.body), "hunter2") {
		t.Fatalf("password echoed: %s", r.body)
	}
	wantPayload := `{"ingestUrls":[{"password":"***","url":"http://127.0.0.1:1/in/v2/abc/a/channel","username":"u"}]}`
	if p, _ := json.Marshal(got["payload"]); string(p) != wantPayload {
		t.Errorf("payload = %s, want %s", p, wantPayload)
	}
	if p, _ := json.Marshal(got["requestData"].(map[string]any)["payload"]); string(p) != wantPayload {
		t.Errorf("requestData.payload = %s, want %s", p, wantPayload)
	}

	id := got["fetcherId"].(string)
	// Listed, fetched by id, with status fields.
	var list []map[string]any
	h.do("GET", "/api/v1/fetcher", "").json(t, &list)
	if len(list) != 1 || list[0]["fetcherId"] != id {
		t.Fatalf("list = %v", list)
	}
	one := h.do("GET", "/api/v1/fetcher/"+id, "")
	if one.status != 200 {
		t.Fatalf("get: %d %s", one.status, one.body)
	}
	// Duplicate name: 409 naming the existing id.
	dup := h.do("POST", "/api/v1/fetcher", body)
	var e errorBody
	dup.json(t, &e)
	if dup.status != http.StatusConflict || e.FetcherID != id ||
		e.Error != `a fetcher named "compat" already exists: delete it first or choose another name` {
		t.Fatalf("duplicate: %d %s", dup.status, dup.body)
	}
	// Delete: 204, then 404 everywhere.
	if r := h.do("DELETE", "/api/v1/fetcher/"+id, ""); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		r := h.do(m, "/api/v1/fetcher/"+id, "")
		if r.status != http.StatusNotFound || r.errorMsg(t) != fmt.Sprintf("fetcher %q not found", id) {
			t.Errorf("%s after delete: %d %s", m, r.status, r.body)
		}
	}
	// The name is free again.
	h.create(body)
}

func TestTooManyFetchers(t *testing.T) {
	st := store.NewMemory()
	h := newHarness(t, harnessOpts{maxFetchers: 1, store: st})
	h.create(fetcherBody("one"))
	r := h.do("POST", "/api/v1/fetcher", fetcherBody("two"))
	if r.status != http.StatusConflict || r.errorMsg(t) != "too many fetchers: limit is 1" {
		t.Fatalf("over limit: %d %s", r.status, r.body)
	}
	// The refused fetcher left nothing behind.
	defs, _ := st.Fetchers(t.Context())
	if len(defs) != 1 {
		t.Fatalf("store holds %d definitions, want 1", len(defs))
	}
}

func TestRoutingErrors(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
		err          string
	}{
		{"PUT", "/api/v1/fetcher", 405, "GET, HEAD, POST", "method PUT not allowed on /api/v1/fetcher (allowed: GET, HEAD, POST)"},
		{"PATCH", "/api/v1/fetcher/abc", 405, "DELETE, GET, HEAD", "method PATCH not allowed on /api/v1/fetcher/abc (allowed: DELETE, GET, HEAD)"},
		{"POST", "/health", 405, "GET, HEAD", "method POST not allowed on /health (allowed: GET, HEAD)"},
		{"DELETE", "/api/v1/outputs", 405, "GET, HEAD", "method DELETE not allowed on /api/v1/outputs (allowed: GET, HEAD)"},
		{"OPTIONS", "/api/v1/fetcher", 405, "GET, HEAD, POST", "method OPTIONS not allowed on /api/v1/fetcher (allowed: GET, HEAD, POST)"},
		{"GET", "/nope", 404, "", "no such endpoint: /nope (see /api/docs)"},
		{"GET", "/api/v1/fetcher/a/b", 404, "", "no such endpoint: /api/v1/fetcher/a/b (see /api/docs)"},
		{"GET", "/api/v1/fetcher/unknown", 404, "", `fetcher "unknown" not found`},
		{"DELETE", "/api/v1/fetcher/unknown", 404, "", `fetcher "unknown" not found`},
	} {
		r := h.do(tc.method, tc.path, "")
		if r.status != tc.status || r.header.Get("Allow") != tc.allow || r.errorMsg(t) != tc.err {
			t.Errorf("%s %s: %d Allow=%q %s; want %d Allow=%q %q", tc.method, tc.path, r.status, r.header.Get("Allow"), r.body, tc.status, tc.allow, tc.err)
		}
	}
}

func TestHealthOutputsAndHeaders(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	r := h.do("GET", "/health", "")
	var health map[string]string
	if r.status != 200 || json.Unmarshal(r.body, &health) != nil || health["status"] != "ok" ||
		health["version"] != buildinfo.Get().Version || health["goVersion"] != runtime.Version() {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
	for k, v := range map[string]string{
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "Cache-Control": "no-store",
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if r := h.do("HEAD", "/health", ""); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD /health: %d %q", r.status, r.body)
	}
	var outs []outputInfo
	h.do("GET", "/api/v1/outputs", "").json(t, &outs)
	if len(outs) != 2 || outs[0].Name != "test" || outs[1].Name != "void" ||
		!strings.Contains(string(outs[0].Schema), "ingestUrls") || len(outs[0].Secrets) != 1 || outs[0].Description == "" {
		t.Fatalf("outputs = %+v", outs)
	}
}

func TestCORS(t *testing.T) {
	h := newHarness(t, harnessOpts{token: "tok-cors-0123456789", cors: "https://dash.example"})
	// Preflight needs no token.
	h.token = ""
	r := h.do("OPTIONS", "/api/v1/fetcher", "", "Access-Control-Request-Method", "POST", "Origin", "https://dash.example")
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "https://dash.example" ||
		r.header.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	// The real call still needs it.
	if r := h.do("GET", "/api/v1/fetcher", "", "Origin", "https://dash.example"); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
}

// TestCreateWithBuiltinOutputs runs the payload checks of the real outputs
// (output/outputs) through the API: the error names the field, a
// non-payload-error never becomes a 500, and secrets are redacted with
// each factory's own Secrets list.
func TestCreateWithBuiltinOutputs(t *testing.T) {
	h := newHarness(t, harnessOpts{factories: outputs.Factories()})
	src := `"url":"http://127.0.0.1:1/live/master.m3u8"`
	for _, tc := range []struct {
		name, body string
		status     int
		err        string
	}{
		{"mediapackage without ingestUrls", `{"name":"a",` + src + `,"output":"mediapackage","payload":{}}`, 400,
			`invalid payload for output "mediapackage": ingestUrls: at least one ingest URL is required`},
		{"mediapackage without payload", `{"name":"a",` + src + `,"output":"mediapackage"}`, 400,
			`invalid payload for output "mediapackage": ingestUrls: at least one ingest URL is required`},
		{"mediapackage ingest not http", `{"name":"a",` + src + `,"output":"mediapackage","payload":{"ingestUrls":[{"url":"ftp://127.0.0.1/in/channel","username":"u","password":"pw"}]}}`, 400,
			`invalid payload for output "mediapackage": ingestUrls[0].url: must be http or https`},
		{"mediapackage unknown payload field", `{"name":"a",` + src + `,"output":"mediapackage","payload":{"ingestUrls":[{"url":"http://127.0.0.1/in/channel"}],"extra":1}}`, 400,
			`invalid payload for output "mediapackage": extra: unknown field`},
		{"s3 without bucket", `{"name":"a",` + src + `,"output":"s3","payload":{}}`, 400, `invalid payload for output "s3": bucket: required`},
		{"file without dir", `{"name":"a",` + src + `,"output":"file","payload":{}}`, 400, `invalid payload for output "file": dir: required`},
		{"webdav without url", `{"name":"a",` + src + `,"output":"webdav","payload":{}}`, 400, `invalid payload for output "webdav": url: required`},
		{"mediapackage ok", `{"name":"mp",` + src + `,"output":"mediapackage","payload":{"ingestUrls":[{"url":"http://127.0.0.1:1/in/v2/x/a/channel","username":"u","password":"builtin-secret"},{"url":"http://127.0.0.1:1/in/v2/x/b/channel","username":"u","password":"builtin-secret"}]}}`, 201, ""},
		{"void ok", `{"name":"v",` + src + `,"output":"void"}`, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/api/v1/fetcher", tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.err != "" && r.errorMsg(t) != tc.err {
				t.Errorf("error = %q\n      want %q", r.errorMsg(t), tc.err)
			}
			if strings.Contains(string(r.body), "builtin-secret") {
				t.Errorf("password echoed: %s", r.body)
			}
		})
	}
	if strings.Contains(string(h.do("GET", "/api/v1/fetcher", "").body), "builtin-secret") ||
		strings.Contains(h.logs.String(), "builtin-secret") {
		t.Error("password leaked in list or log")
	}
}
