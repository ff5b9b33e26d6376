package api

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// docsPage renders the OpenAPI document as a self-contained page: no
// script, no external style, fonts or CDN. It is parsed on first use, so
// a process that never serves the page does not run the template parser.
var docsPage = sync.OnceValue(func() *template.Template { return template.Must(template.New("docs").Parse(docsHTML)) })

const docsHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} API</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:60rem;margin:0 auto;padding:1.5rem}
h1{margin:.2rem 0}
.op{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:1rem 0;padding:.8rem 1rem}
.op h3{margin:.2rem 0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1rem}
.m{display:inline-block;min-width:4.5rem;text-align:center;border-radius:4px;color:#fff;padding:0 .4rem;margin-right:.4rem}
.get{background:#1f6feb}.post{background:#1a7f37}.delete{background:#cf222e}.put{background:#9a6700}
.lock{font-size:.8rem;border:1px solid #9a6700;color:#9a6700;border-radius:4px;padding:0 .3rem;margin-left:.4rem}
table{border-collapse:collapse;width:100%}td,th{text-align:left;vertical-align:top;padding:.2rem .5rem;border-top:1px solid #eef0f2}th{width:3.5rem}
pre{background:#f0f2f4;padding:.6rem;border-radius:4px;overflow:auto;font-size:.85rem}
details summary{cursor:pointer}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
</style>
</head>
<body><main>
<h1>{{.Title}}</h1>
<p>Version {{.Version}} &middot; <a href="/api/docs/openapi.json">openapi.json</a> (OpenAPI {{.OpenAPI}})</p>
<p>{{.Description}}</p>
<h2>Endpoints</h2>
{{range .Ops}}<section class="op" id="{{.ID}}">
<h3><span class="m {{.MethodClass}}">{{.Method}}</span>{{.Path}}{{if .Auth}}<span class="lock" title="needs Authorization: Bearer when a token is configured">bearer token</span>{{end}}</h3>
<p><strong>{{.Summary}}</strong>{{if .Description}} {{.Description}}{{end}}</p>
{{if .Params}}<p>Path parameters: {{range .Params}}<code>{{.}}</code> {{end}}</p>{{end}}
{{if .Body}}<details><summary>Request body: <code>{{.BodyName}}</code></summary><pre>{{.Body}}</pre></details>{{end}}
<table>{{range .Responses}}<tr><th>{{.Code}}</th><td>{{.Description}}{{if .Schema}} <code>{{.Schema}}</code>{{end}}</td></tr>{{end}}</table>
</section>
{{end}}
<h2>Schemas</h2>
{{range .Schemas}}<details id="schema-{{.Name}}"><summary><code>{{.Name}}</code></summary><pre>{{.JSON}}</pre></details>
{{end}}
</main></body></html>
`

type docsOp struct {
	Tag                                                 string
	ID, Method, MethodClass, Path, Summary, Description string
	Auth                                                bool
	Params                                              []string
	BodyName, Body                                      string
	Responses                                           []docsResponse
}

type docsResponse struct{ Code, Description, Schema string }

type docsSchema struct{ Name, JSON string }

// handleDocsPage renders the same document /api/docs/openapi.json serves.
func (a *API) handleDocsPage(w http.ResponseWriter, r *http.Request) {
	// Round-trip through JSON so the page shows exactly the served document.
	raw, err := json.Marshal(a.openAPI())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot build the document")
		return
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title, Version, Description string
		} `json:"info"`
		Tags []struct {
			Name string `json:"name"`
		} `json:"tags"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		writeError(w, http.StatusInternalServerError, "cannot build the document")
		return
	}
	view := struct {
		Title, Version, Description, OpenAPI string
		Ops                                  []docsOp
		Schemas                              []docsSchema
	}{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description, OpenAPI: doc.OpenAPI}

	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	methodOrder := map[string]int{"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}
	for _, p := range paths {
		methods := make([]string, 0, len(doc.Paths[p]))
		for m := range doc.Paths[p] {
			methods = append(methods, m)
		}
		sort.Slice(methods, func(i, j int) bool { return methodOrder[methods[i]] < methodOrder[methods[j]] })
		for _, m := range methods {
			var op struct {
				OperationID string                     `json:"operationId"`
				Tags        []string                   `json:"tags"`
				Summary     string                     `json:"summary"`
				Description string                     `json:"description"`
				Security    []map[string][]string      `json:"security"`
				Parameters  []struct{ Name string }    `json:"parameters"`
				RequestBody *json.RawMessage           `json:"requestBody"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(doc.Paths[p][m], &op); err != nil {
				continue
			}
			d := docsOp{ID: op.OperationID, Method: strings.ToUpper(m), MethodClass: m, Path: p,
				Summary: op.Summary, Description: op.Description, Auth: len(op.Security) > 0}
			if len(op.Tags) > 0 {
				d.Tag = op.Tags[0]
			}
			for _, prm := range op.Parameters {
				d.Params = append(d.Params, prm.Name)
			}
			if op.RequestBody != nil {
				d.BodyName = refName(*op.RequestBody)
				if s, ok := doc.Components.Schemas[d.BodyName]; ok {
					d.Body = pretty(s)
				} else {
					d.Body = pretty(*op.RequestBody)
				}
			}
			codes := make([]string, 0, len(op.Responses))
			for c := range op.Responses {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			for _, c := range codes {
				var resp struct {
					Description string `json:"description"`
				}
				json.Unmarshal(op.Responses[c], &resp)
				d.Responses = append(d.Responses, docsResponse{Code: c, Description: resp.Description, Schema: refName(op.Responses[c])})
			}
			view.Ops = append(view.Ops, d)
		}
	}
	// Group by the document's tag order (fetcher, output, service); paths
	// and methods keep their order within a tag.
	tagRank := map[string]int{}
	for i, tg := range doc.Tags {
		tagRank[tg.Name] = i
	}
	sort.SliceStable(view.Ops, func(i, j int) bool { return tagRank[view.Ops[i].Tag] < tagRank[view.Ops[j].Tag] })
	names := make([]string, 0, len(doc.Components.Schemas))
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		view.Schemas = append(view.Schemas, docsSchema{Name: n, JSON: pretty(doc.Components.Schemas[n])})
	}
	var buf bytes.Buffer
	if err := docsPage().Execute(&buf, view); err != nil {
		writeError(w, http.StatusInternalServerError, "cannot render the page")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// refName finds the first component schema a JSON fragment refers to.
func refName(raw json.RawMessage) string {
	const prefix = `"#/components/schemas/`
	s := string(raw)
	i := strings.Index(s, prefix)
	if i < 0 {
		return ""
	}
	s = s[i+len(prefix):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return ""
}

func pretty(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}
