// Package admin is the origin's control API under /api/v1/: channel and
// input status, and live-to-VOD harvest jobs, with its OpenAPI document at
// /api/docs/openapi.json built from the same route table as the mux, so
// the document cannot list a route the handler does not serve or miss one
// it does.
package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pullpush/pullpush/internal/bearer"
	"github.com/pullpush/pullpush/origin"
	"github.com/pullpush/pullpush/origin/harvest"
)

// route is one entry of the route table that drives the mux and the
// OpenAPI document.
type route struct {
	method, path, summary string
	body                  string // request body description, "" for none
	responses             map[string]string
	handler               http.HandlerFunc
}

// API serves the control API of one origin.
type API struct {
	origin  *origin.Origin
	harvest *harvest.Manager
	routes  []route
}

// New returns the API of o, with harvest jobs run by h (nil: no harvest
// routes).
func New(o *origin.Origin, h *harvest.Manager) *API {
	a := &API{origin: o, harvest: h}
	a.routes = []route{
		{method: "GET", path: "/api/v1/channels", summary: "Every channel: active input, switches, inputs with their last segment time, endpoints, renditions",
			responses: map[string]string{"200": "{\"channels\": [ChannelStatus]}"}, handler: a.listChannels},
		{method: "GET", path: "/api/v1/channels/{id}", summary: "One channel's status",
			responses: map[string]string{"200": "ChannelStatus", "404": "no such channel"}, handler: a.getChannel},
		{method: "POST", path: "/api/v1/channels/{id}/credentials", summary: "Rotate ingest credentials: the new password works at once, the old one for graceSeconds (default 300, at most 86400; -1: none)",
			body:      `{"input": "b" (only for a channel with per-input credentials), "username": optional (default: the current one), "password": at least 8 characters, "graceSeconds": optional}`,
			responses: map[string]string{"204": "rotated", "400": "bad request", "404": "no such channel"}, handler: a.rotate},
	}
	a.routes = append(a.routes, a.channelRoutes()...)
	if h != nil {
		hh := h.Handler()
		a.routes = append(a.routes,
			route{method: "POST", path: "/api/v1/harvest", summary: "Submit a live-to-VOD harvest job",
				body:      `{"channel", "endpoint", "start", "end" (ISO 8601 or epoch seconds, in the past, at most 24 h), "destination": {"output": "file"|"s3"|..., "payload": {...the output's payload}}}`,
				responses: map[string]string{"202": "the job (destination secrets redacted)", "400": "bad request", "404": "no such channel or endpoint"}, handler: hh.ServeHTTP},
			route{method: "GET", path: "/api/v1/harvest", summary: "Every harvest job, newest first",
				responses: map[string]string{"200": "{\"jobs\": [Job]}"}, handler: hh.ServeHTTP},
			route{method: "GET", path: "/api/v1/harvest/{id}", summary: "One job: state pending|running|succeeded|failed, reason, progress 0..1, files, bytes",
				responses: map[string]string{"200": "Job", "404": "no such job"}, handler: hh.ServeHTTP},
		)
	}
	return a
}

// Handler serves the routes, every one behind token (empty: none), and
// the OpenAPI document (without the token).
func (a *API) Handler(token string) http.Handler {
	api := http.NewServeMux()
	for _, r := range a.routes {
		api.HandleFunc(r.method+" "+r.path, r.handler)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", bearer.Handler(token, "pullpush origin", api))
	mux.HandleFunc("GET /api/docs/openapi.json", a.serveOpenAPI)
	return mux
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"channels": a.origin.Channels()})
}

func (a *API) getChannel(w http.ResponseWriter, r *http.Request) {
	st, ok := a.origin.Channel(r.PathValue("id"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such channel"})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// rotateRequest is the body of POST /api/v1/channels/{id}/credentials.
type rotateRequest struct {
	Input        string `json:"input"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	GraceSeconds *int   `json:"graceSeconds"`
}

func (a *API) rotate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := a.origin.Channel(id); !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such channel"})
		return
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
	dec.DisallowUnknownFields()
	var req rotateRequest
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body: " + err.Error()})
		return
	}
	grace := time.Duration(0)
	if req.GraceSeconds != nil {
		switch g := *req.GraceSeconds; {
		case g == -1:
			grace = -1
		case g < 0:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "graceSeconds must be -1 (none), 0 (the default) or positive"})
			return
		default:
			grace = time.Duration(g) * time.Second
		}
	}
	if err := a.origin.RotateCredentials(id, req.Input, req.Username, req.Password, grace); err != nil {
		code := http.StatusBadRequest
		if !errors.Is(err, origin.ErrCredentials) {
			code = http.StatusInternalServerError
		}
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// OpenAPI returns the OpenAPI 3 document of the routes.
func (a *API) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, r := range a.routes {
		op := map[string]any{"summary": r.summary, "security": []map[string][]string{{"bearer": {}}}}
		resp := map[string]any{"401": map[string]string{"description": "missing or invalid bearer token"}}
		for code, d := range r.responses {
			resp[code] = map[string]string{"description": d}
		}
		op["responses"] = resp
		if r.body != "" {
			op["requestBody"] = map[string]any{"required": true, "description": r.body,
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]string{"type": "object"}}}}
		}
		var params []map[string]any
		for _, seg := range strings.Split(r.path, "/") {
			if name, ok := strings.CutPrefix(seg, "{"); ok {
				params = append(params, map[string]any{"name": strings.TrimSuffix(name, "}"), "in": "path", "required": true,
					"schema": map[string]string{"type": "string"}})
			}
		}
		if params != nil {
			op["parameters"] = params
		}
		item, _ := paths[r.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[r.path] = item
		}
		item[strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]string{"title": "pullpush origin control API", "version": "1"},
		"paths":   paths,
		"components": map[string]any{"securitySchemes": map[string]any{
			"bearer": map[string]string{"type": "http", "scheme": "bearer"}}},
	}
}

func (a *API) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.OpenAPI())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
