package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/chaintest"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/origin"
	"github.com/pullpush/pullpush/origin/admin"
	"github.com/pullpush/pullpush/origin/harvest"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
)

const token = "admin-t0ken"

func start(t *testing.T) (*chaintest.Chain, *admin.API, *httptest.Server) {
	t.Helper()
	c := chaintest.Start(t, 20*time.Second, []origin.EndpointConfig{{ID: "ts"}, {ID: "cmaf", Packaging: origin.PackagingCMAF},
		{ID: "dash", Packaging: origin.PackagingDASH}})
	reg := output.NewRegistry()
	outputs.Register(reg)
	h, err := harvest.New(harvest.Config{Origin: c.Origin.Handler(), Endpoints: c.Origin.Endpoints, Outputs: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	a := admin.New(c.Origin, h)
	srv := httptest.NewServer(a.Handler(token))
	t.Cleanup(srv.Close)
	return c, a, srv
}

func do(t *testing.T, method, url, tok, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestChannelStatus: the relayed channel shows input a active with its
// last segment time, the endpoints and renditions, and never the ingest
// password; without the token the API answers 401.
func TestChannelStatus(t *testing.T) {
	_, _, srv := start(t)
	var st origin.ChannelStatus
	testutil.Eventually(t, 30*time.Second, func() bool {
		code, b := do(t, "GET", srv.URL+"/api/v1/channels/1", token, "")
		st = origin.ChannelStatus{}
		json.Unmarshal(b, &st)
		return code == 200 && st.Active == "a" && len(st.Renditions) >= 3
	}, "channel 1 never showed input a active")
	if len(st.Inputs) != 1 || !st.Inputs[0].Active || st.Inputs[0].LastSegment.IsZero() || time.Since(st.Inputs[0].LastSegment) > time.Minute {
		t.Fatalf("inputs: %+v", st.Inputs)
	}
	if len(st.Endpoints) != 3 || st.Endpoints[1].Packaging != "cmaf" || st.Endpoints[2].Packaging != "dash" || st.Endpoints[0].ManifestWindow != 2*time.Minute {
		t.Fatalf("endpoints: %+v", st.Endpoints)
	}
	code, list := do(t, "GET", srv.URL+"/api/v1/channels", token, "")
	if code != 200 || !strings.Contains(string(list), `"id":"1"`) {
		t.Fatalf("list: %d %s", code, list)
	}
	if strings.Contains(string(list), chaintest.Password) {
		t.Fatalf("password listed: %s", list)
	}
	if code, b := do(t, "GET", srv.URL+"/api/v1/channels/9", token, ""); code != 404 || !strings.Contains(string(b), `"error"`) {
		t.Fatalf("unknown channel: %d %s", code, b)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/channels", "", ""); code != 401 {
		t.Fatalf("without token: %d", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/channels", "wrong", ""); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}

	// Credential rotation: the relay keeps pushing with the old password
	// during the grace period; bad requests are 400 with the reason.
	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{"password":"short"}`, 400, "at least 8"},
		{`{"password":"long-enough","input":"a"}`, 400, "share their credentials"},
		{`{"password":"long-enough","graceSeconds":-5}`, 400, "graceSeconds"},
		{`{"password":"long-enough","extra":1}`, 400, "unknown field"},
		{`{"password":"rotated-secret","graceSeconds":600}`, 204, ""},
	} {
		code, b := do(t, "POST", srv.URL+"/api/v1/channels/1/credentials", token, c.body)
		if code != c.code || !strings.Contains(string(b), c.want) {
			t.Errorf("rotate %s: %d %s, want %d %q", c.body, code, b, c.code, c.want)
		}
	}
	if code, _ := do(t, "POST", srv.URL+"/api/v1/channels/9/credentials", token, `{"password":"long-enough"}`); code != 404 {
		t.Errorf("rotate on an unknown channel: %d", code)
	}
}

// TestOpenAPIMatchesHandlers: every documented operation is served (with
// the token, the mux never answers 404 or 405 for it) and needs the token;
// an undocumented path under /api/v1 is 404.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	_, a, srv := start(t)
	code, b := do(t, "GET", srv.URL+"/api/docs/openapi.json", "", "")
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if code != 200 || json.Unmarshal(b, &doc) != nil || doc.OpenAPI == "" {
		t.Fatalf("openapi: %d %s", code, b)
	}
	if len(doc.Paths) != 8 {
		t.Fatalf("%d paths documented: %v", len(doc.Paths), doc.Paths)
	}
	n := 0
	for p, ops := range doc.Paths {
		for method := range ops {
			n++
			url := srv.URL + strings.ReplaceAll(strings.ReplaceAll(p, "{id}", "nosuch"), "{", "")
			if code, _ := do(t, strings.ToUpper(method), url, "", "{}"); code != 401 {
				t.Errorf("%s %s without token: %d", method, p, code)
			}
			code, body := do(t, strings.ToUpper(method), url, token, "{}")
			var e map[string]any
			if code == 405 || (code == 404 && (json.Unmarshal(body, &e) != nil || e["error"] == nil)) {
				t.Errorf("%s %s is documented but not served: %d %s", method, p, code, body)
			}
		}
	}
	if n != 13 || len(a.OpenAPI()["paths"].(map[string]any)) != 8 {
		t.Fatalf("%d operations", n)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/nosuch", token, ""); code != 404 {
		t.Fatalf("undocumented path: %d", code)
	}
}
