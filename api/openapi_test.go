package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type opDoc struct {
	Security  []map[string][]string      `json:"security"`
	Responses map[string]json.RawMessage `json:"responses"`
}

func fetchDoc(t *testing.T, h *harness) openAPIDoc {
	t.Helper()
	r := h.do("GET", "/api/docs/openapi.json", "")
	if r.status != 200 {
		t.Fatalf("openapi.json: %d", r.status)
	}
	var doc openAPIDoc
	r.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") || len(doc.Paths) == 0 {
		t.Fatalf("not an OpenAPI 3.0 document: %s", r.body)
	}
	return doc
}

// docOps lists "METHOD path" for every operation, DELETE last so that the
// fetcher used for {id} lives until the end.
func docOps(doc openAPIDoc) []string {
	var ops []string
	for p, item := range doc.Paths {
		for m := range item {
			ops = append(ops, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		di, dj := strings.HasPrefix(ops[i], "DELETE"), strings.HasPrefix(ops[j], "DELETE")
		if di != dj {
			return dj
		}
		return ops[i] < ops[j]
	})
	return ops
}

// TestOpenAPIMatchesRoutes checks the document against the real handler:
// every documented operation is served (not 404/405) and answers with a
// documented status and needs the token exactly when documented; every
// method and path the server answers is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	const token = "openapi-test-token"
	h := newHarness(t, harnessOpts{token: token})
	doc := fetchDoc(t, h)
	id := h.create(fetcherBody("doc"))
	documented := map[string]bool{}

	for _, op := range docOps(doc) {
		method, path, _ := strings.Cut(op, " ")
		documented[op] = true
		var od opDoc
		if err := json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &od); err != nil {
			t.Fatal(err)
		}
		concrete := strings.ReplaceAll(path, "{id}", id)
		body := ""
		if method == "POST" {
			body = fetcherBody("doc-" + strconv.Itoa(len(documented)))
		}
		r := h.do(method, concrete, body)
		if r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed {
			t.Errorf("%s: documented but answered %d %s", op, r.status, r.body)
		}
		if _, ok := od.Responses[strconv.Itoa(r.status)]; !ok {
			t.Errorf("%s: answered %d, not among documented %v", op, r.status, keys(od.Responses))
		}
		// Security as documented.
		needsToken := len(od.Security) > 0
		saved := h.token
		h.token = ""
		r = h.do(method, concrete, body)
		h.token = saved
		if needsToken != (r.status == http.StatusUnauthorized) {
			t.Errorf("%s: documented security %v, without token answered %d", op, od.Security, r.status)
		}
		if needsToken {
			if _, ok := od.Responses["401"]; !ok {
				t.Errorf("%s: needs a token but documents no 401", op)
			}
		}
	}

	// Everything the server answers is documented: probe every method on
	// the documented paths and on nearby undocumented ones.
	id2 := h.create(fetcherBody("probe"))
	probePaths := []string{"/", "/api", "/api/", "/api/v1", "/api/v1/", "/api/v1/fetchers", "/api/v2/fetcher",
		"/api/v1/fetcher/" + id2 + "/status", "/api/docs/swagger.json", "/debug/pprof/", "/metrics/x", "/healthz"}
	for p := range doc.Paths {
		probePaths = append(probePaths, p)
	}
	for _, p := range probePaths {
		concrete := strings.ReplaceAll(p, "{id}", id2)
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			docM := m
			if m == "HEAD" {
				docM = "GET" // HEAD is served wherever GET is
			}
			if documented[docM+" "+p] {
				continue
			}
			r := h.do(m, concrete, "")
			if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s answered %d but is not in the document", m, concrete, r.status)
			}
			if r.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Errorf("%s %s: 405 without Allow", m, concrete)
			}
		}
	}
	// Every route in the table is documented, and vice versa.
	for _, rt := range h.api.routes {
		if !documented[rt.method+" "+rt.path] {
			t.Errorf("route %s %s missing from the document", rt.method, rt.path)
		}
	}
	if len(documented) != len(h.api.routes) {
		t.Errorf("document has %d operations, route table %d", len(documented), len(h.api.routes))
	}
}

// TestOpenAPISchemasMatchResponses checks that real responses only use
// documented properties and carry the required ones.
func TestOpenAPISchemasMatchResponses(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	doc := fetchDoc(t, h)
	// props returns the properties and required keys of a component
	// schema, merging allOf parts (refs or inline objects).
	var props func(raw json.RawMessage) (map[string]bool, []string)
	props = func(raw json.RawMessage) (map[string]bool, []string) {
		var s struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
			AllOf      []json.RawMessage          `json:"allOf"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("schema %s: %v", raw, err)
		}
		out := map[string]bool{}
		req := s.Required
		for k := range s.Properties {
			out[k] = true
		}
		for _, part := range s.AllOf {
			if n := refName(part); n != "" {
				part = doc.Components.Schemas[n]
			}
			p, r := props(part)
			for k := range p {
				out[k] = true
			}
			req = append(req, r...)
		}
		return out, req
	}
	check := func(what, schema string, obj map[string]any) {
		t.Helper()
		known, required := props(doc.Components.Schemas[schema])
		if len(known) == 0 {
			t.Fatalf("schema %s has no properties", schema)
		}
		for k := range obj {
			if !known[k] {
				t.Errorf("%s: property %q not in schema %s", what, k, schema)
			}
		}
		for _, k := range required {
			if _, ok := obj[k]; !ok {
				t.Errorf("%s: required property %q (schema %s) missing", what, k, schema)
			}
		}
	}
	var created map[string]any
	h.do("POST", "/api/v1/fetcher", fetcherBody("shape")).json(t, &created)
	check("create", "CreateResponse", created)
	var list []map[string]any
	h.do("GET", "/api/v1/fetcher", "").json(t, &list)
	check("list item", "Fetcher", list[0])
	var one map[string]any
	h.do("GET", "/api/v1/fetcher/"+created["fetcherId"].(string), "").json(t, &one)
	check("get", "Fetcher", one)
	var outs []map[string]any
	h.do("GET", "/api/v1/outputs", "").json(t, &outs)
	check("outputs item", "Output", outs[0])
	var health map[string]any
	h.do("GET", "/health", "").json(t, &health)
	check("health", "Health", health)
	var e map[string]any
	h.do("POST", "/api/v1/fetcher", fetcherBody("shape")).json(t, &e)
	check("duplicate error", "Error", e)
	for _, name := range []string{"Payload_test", "Payload_void"} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("registered output schema %s missing", name)
		}
	}
}

func TestDocsPageRendersDocument(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	doc := fetchDoc(t, h)
	r := h.do("GET", "/api/docs", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("docs page: %d %s", r.status, r.header.Get("Content-Type"))
	}
	page := string(r.body)
	for _, op := range docOps(doc) {
		method, path, _ := strings.Cut(op, " ")
		if !strings.Contains(page, ">"+method+"</span>"+path) {
			t.Errorf("page lacks %s", op)
		}
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("page lacks schema %s", name)
		}
	}
	// Self-contained: no scripts, no external resources.
	for _, bad := range []string{"<script", " src=", `href="http`, "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("docs CSP = %q", csp)
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
