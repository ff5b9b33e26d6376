package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// operation documents one route.
type operation struct {
	tag         string
	summary     string
	description string
	pathParams  []string // names of {params} in the path, all documented as string ids
	requestBody string   // component schema name of the JSON body, or ""
	responses   []response
}

type response struct {
	code        int
	description string
	schema      any    // JSON schema, a ref() or nil for no body
	contentType string // default application/json
}

// ref points to a component schema.
func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func errResp(code int, description string) response {
	return response{code: code, description: description, schema: ref("Error")}
}

// routeTable lists every route: it drives the mux and the OpenAPI document,
// and the tests check the two agree with what is actually served.
func (a *API) routeTable() []route {
	unauthorized := errResp(http.StatusUnauthorized, "A token is configured and the request has no valid `Authorization: Bearer <token>` header (with `WWW-Authenticate: Bearer`).")
	return []route{
		{method: http.MethodPost, path: "/api/v1/fetcher", auth: true, handler: a.handleCreate, op: operation{
			tag: "fetcher", summary: "Create a fetcher and start pulling and pushing",
			description: "Validates the request and the output payload, stores the definition (so it survives a restart) and starts the fetcher. " +
				"The payload may also be sent as a string holding JSON, as some hls-pull-push clients do. Secrets in the payload are never echoed: they come back as \"***\". " +
				"The payload keys hls-pull-push's plugins document are accepted with the same meaning: `timeoutMs` (mediapackage and s3: bound in ms on one download attempt of a source segment), " +
				"`folder` (s3: the key prefix) and `outputIndexFilename` (s3: object name of the multivariant playlist); see each Payload_<output> schema.",
			requestBody: "CreateRequest",
			responses: []response{
				{code: http.StatusCreated, description: "Created; the fetcher with its status.", schema: ref("CreateResponse")},
				errResp(http.StatusBadRequest, "Malformed JSON, unknown field, missing name/url/output, source URL not http/https, unknown output, payload failing the output's schema, or invalid concurrency/windowSize."),
				unauthorized,
				errResp(http.StatusConflict, "A fetcher with this name exists (its id is in `fetcherId`), or the configured limit of fetchers is reached."),
				errResp(http.StatusRequestEntityTooLarge, "Body larger than 1 MiB."),
				errResp(http.StatusUnsupportedMediaType, "Content-Type present and not application/json."),
				errResp(http.StatusServiceUnavailable, "The server is shutting down."),
			},
		}},
		{method: http.MethodGet, path: "/api/v1/fetcher", auth: true, handler: a.handleList, op: operation{
			tag: "fetcher", summary: "List fetchers with their status",
			description: "Every fetcher, oldest first, including those that ended or failed. A stored fetcher that could not be started again after a restart is listed with state \"failed\".",
			responses: []response{
				{code: http.StatusOK, description: "The fetchers.", schema: map[string]any{"type": "array", "items": ref("Fetcher")}},
				unauthorized,
			},
		}},
		{method: http.MethodGet, path: "/api/v1/fetcher/{id}", auth: true, handler: a.handleGet, op: operation{
			tag: "fetcher", summary: "One fetcher with its status", pathParams: []string{"id"},
			responses: []response{
				{code: http.StatusOK, description: "The fetcher.", schema: ref("Fetcher")},
				unauthorized,
				errResp(http.StatusNotFound, "No fetcher has this id."),
			},
		}},
		{method: http.MethodDelete, path: "/api/v1/fetcher/{id}", auth: true, handler: a.handleDelete, op: operation{
			tag: "fetcher", summary: "Stop a fetcher and forget it", pathParams: []string{"id"},
			description: "Stops polling, lets in-flight uploads finish (bounded), removes the stored definition and progress and the fetcher's metric series.",
			responses: []response{
				{code: http.StatusNoContent, description: "Deleted."},
				unauthorized,
				errResp(http.StatusNotFound, "No fetcher has this id."),
			},
		}},
		{method: http.MethodGet, path: "/api/v1/outputs", auth: true, handler: a.handleOutputs, op: operation{
			tag: "output", summary: "Registered outputs and their payload schemas",
			responses: []response{
				{code: http.StatusOK, description: "The outputs, by name.", schema: map[string]any{"type": "array", "items": ref("Output")}},
				unauthorized,
			},
		}},
		{method: http.MethodGet, path: "/health", handler: a.handleHealth, op: operation{
			tag: "service", summary: "Liveness", description: "Never needs the token.",
			responses: []response{{code: http.StatusOK, description: "The server is up.", schema: ref("Health")}},
		}},
		{method: http.MethodGet, path: "/metrics", handler: a.metrics.Handler().ServeHTTP, op: operation{
			tag: "service", summary: "Prometheus metrics",
			description: "Per fetcher and rendition or target: segments pulled, pushed, missed and dropped, push failures, bytes, playlist reloads, upload latency, lag; fetchers by state; Go and process metrics. Never needs the token.",
			responses:   []response{{code: http.StatusOK, description: "Prometheus text exposition.", schema: map[string]any{"type": "string"}, contentType: "text/plain"}},
		}},
		{method: http.MethodGet, path: "/api/docs", handler: a.handleDocsPage, op: operation{
			tag: "service", summary: "This documentation as a web page",
			responses: []response{{code: http.StatusOK, description: "HTML page.", schema: map[string]any{"type": "string"}, contentType: "text/html"}},
		}},
		{method: http.MethodGet, path: "/api/docs/openapi.json", handler: a.handleOpenAPI, op: operation{
			tag: "service", summary: "This OpenAPI 3 document",
			responses: []response{{code: http.StatusOK, description: "OpenAPI 3.0 document.", schema: map[string]any{"type": "object"}}},
		}},
	}
}

func (a *API) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.openAPI())
}

// openAPI builds the document from the route table and the output registry.
func (a *API) openAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range a.routes {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = a.operationObject(rt)
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "pullpush fetcher service",
			"version": a.opts.Version,
			"description": "Pull live HLS channels and push them to outputs (MediaPackage-style WebDAV ingest, S3, a directory). " +
				"Compatible with hls-pull-push clients. When the server has an API token, every /api/v1 call needs `Authorization: Bearer <token>`; " +
				"/health, /metrics and the documentation are always open. Errors are `{\"error\": \"...\"}` naming the problem.",
		},
		"tags": []any{
			map[string]any{"name": "fetcher", "description": "Fetchers: one source channel relayed to one output."},
			map[string]any{"name": "output", "description": "Output types a fetcher can push to."},
			map[string]any{"name": "service", "description": "Health, metrics and documentation."},
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearerAuth": map[string]any{"type": "http", "scheme": "bearer",
					"description": "The server's --api-token / PULLPUSH_API_TOKEN; not needed when the server has none."},
			},
			"schemas": a.schemas(),
		},
	}
}

func (a *API) operationObject(rt route) map[string]any {
	op := map[string]any{
		"operationId": operationID(rt),
		"summary":     rt.op.summary,
		"tags":        []string{rt.op.tag},
	}
	if rt.op.description != "" {
		op["description"] = rt.op.description
	}
	if rt.auth {
		op["security"] = []any{map[string]any{"bearerAuth": []string{}}}
	} else {
		op["security"] = []any{}
	}
	var params []any
	for _, p := range rt.op.pathParams {
		params = append(params, map[string]any{
			"name": p, "in": "path", "required": true,
			"description": "Fetcher id (the `fetcherId` returned on creation).",
			"schema":      map[string]any{"type": "string"},
		})
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.op.requestBody != "" {
		op["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": ref(rt.op.requestBody)}},
		}
	}
	responses := map[string]any{}
	for _, r := range rt.op.responses {
		obj := map[string]any{"description": r.description}
		if r.schema != nil {
			ct := r.contentType
			if ct == "" {
				ct = "application/json"
			}
			obj["content"] = map[string]any{ct: map[string]any{"schema": r.schema}}
		}
		responses[strconv.Itoa(r.code)] = obj
	}
	op["responses"] = responses
	return op
}

func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, part := range strings.FieldsFunc(rt.path, func(r rune) bool { return r == '/' || r == '.' || r == '{' || r == '}' }) {
		if part == "api" || part == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func str(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }

func obj(required []string, props map[string]any) map[string]any {
	s := map[string]any{"type": "object", "properties": props}
	if required != nil {
		s["required"] = required
	}
	return s
}

// schemas returns the component schemas, including each registered
// output's payload schema as Payload_<name>.
func (a *API) schemas() map[string]any {
	states := []string{"starting", "running", "retrying", "failed", "stopped", "ended"}
	dateTime := func(desc string) map[string]any {
		return map[string]any{"type": "string", "format": "date-time", "description": desc}
	}
	integer := func(desc string) map[string]any { return map[string]any{"type": "integer", "description": desc} }
	var outputNames []string
	var payloads []any
	schemas := map[string]any{}
	for _, f := range a.svc.Outputs().List() {
		outputNames = append(outputNames, f.Name)
		var s any = map[string]any{"type": "object"}
		if len(f.Schema) > 0 {
			var v any
			if json.Unmarshal(f.Schema, &v) == nil {
				s = v
			}
		}
		schemas["Payload_"+f.Name] = s
		payloads = append(payloads, ref("Payload_"+f.Name))
	}
	sort.Strings(outputNames)
	payloadSchema := map[string]any{
		"description": "The output's payload: a JSON object as described by the output's schema (GET /api/v1/outputs), or a string holding that JSON. Secret values come back as \"***\".",
	}
	if len(payloads) > 0 {
		payloadSchema["oneOf"] = append(payloads, map[string]any{"type": "string"})
	}
	outputProp := str("Name of a registered output.")
	if outputNames != nil {
		outputProp["enum"] = outputNames
	}
	target := obj([]string{"name", "segmentsPushed", "bytesPushed", "pushFailures", "segmentsDropped", "pending"}, map[string]any{
		"name":            str("Target name (e.g. the ingest host); never contains secrets."),
		"segmentsPushed":  integer("Segments pushed to this target."),
		"bytesPushed":     integer("Bytes pushed to this target."),
		"pushFailures":    integer("Failed upload attempts."),
		"segmentsDropped": integer("Segments dropped from a full spool (declared gaps)."),
		"pending":         integer("Files waiting to be pushed."),
		"lastPush":        dateTime("Time of the last successful push."),
		"lastError":       str("Last push error."),
		"lastErrorAt":     dateTime("Time of the last push error."),
	})
	rendition := obj([]string{"name", "uri", "type", "mediaSequence", "segmentsPulled", "segmentsMissed", "reloads", "stalled"}, map[string]any{
		"name":           str("Name used in pushed file names."),
		"uri":            str("Source media playlist URL (secrets redacted)."),
		"type":           str("video, audio or subtitles."),
		"mediaSequence":  integer("Last source media sequence seen."),
		"segmentsPulled": integer("Segments downloaded."),
		"segmentsMissed": integer("Segments gone from the source before download (gaps)."),
		"reloads":        integer("Playlist reloads."),
		"lastReload":     dateTime("Time of the last reload."),
		"stalled":        map[string]any{"type": "boolean", "description": "The source playlist stopped advancing."},
	})
	fetcher := obj([]string{"fetcherId", "name", "url", "output", "dest", "windowSize", "concurrency", "created",
		"state", "segmentsPulled", "segmentsPushed", "bytesPulled", "lagSeconds", "renditions", "targets"}, map[string]any{
		"fetcherId":      str("Fetcher id."),
		"name":           str("Fetcher name (unique)."),
		"url":            str("Source playlist URL (a password or token in it is redacted)."),
		"output":         str("Output name."),
		"dest":           str("Same as output (the field hls-pull-push lists)."),
		"payload":        map[string]any{"type": "object", "description": "Output payload with secrets replaced by \"***\"."},
		"windowSize":     map[string]any{"type": "number", "description": "Pushed playlist window in seconds."},
		"concurrency":    integer("Parallel transfers."),
		"created":        dateTime("Creation time (kept across restarts)."),
		"state":          map[string]any{"type": "string", "enum": states, "description": "Lifecycle state."},
		"lastError":      str("Last error."),
		"lastErrorAt":    dateTime("Time of the last error."),
		"segmentsPulled": integer("Segments downloaded from the source."),
		"segmentsPushed": integer("Segments that reached every target."),
		"bytesPulled":    integer("Bytes downloaded from the source."),
		"lastPush":       dateTime("Time of the last push."),
		"lagSeconds":     map[string]any{"type": "number", "description": "Source live edge minus the newest segment pushed everywhere."},
		"renditions":     map[string]any{"type": "array", "items": ref("RenditionStatus")},
		"targets":        map[string]any{"type": "array", "items": ref("TargetStatus"), "description": "Per output target: segments and bytes pushed, failures, last push, last error."},
		"instance":       str("Cluster mode (`serve --cluster`): the instance running the fetcher, absent while none holds it. Counters of fetchers on other instances are those their instance last published (every lease TTL / 3)."),
	})
	number := func(desc string) map[string]any {
		return map[string]any{"description": desc, "oneOf": []any{
			map[string]any{"type": "number"}, map[string]any{"type": "string", "pattern": `^\s*[0-9.eE+-]+\s*$`}}}
	}
	create := obj([]string{"name", "url", "output"}, map[string]any{
		"name":        map[string]any{"type": "string", "maxLength": MaxNameLen, "description": "Unique fetcher name.", "example": "eyevinn-mp"},
		"url":         map[string]any{"type": "string", "format": "uri", "maxLength": MaxURLLen, "description": "Source HLS playlist, http or https.", "example": "https://example.com/live/master.m3u8"},
		"output":      outputProp,
		"payload":     payloadSchema,
		"concurrency": number("Parallel downloads and uploads, an integer from 1 to 64; 0 or absent: the default (4)."),
		"windowSize":  number("Window of the pushed media playlists in seconds, up to 86400; 0 or absent: the default (120)."),
	})
	create["additionalProperties"] = false
	schemas["CreateRequest"] = create
	schemas["Fetcher"] = fetcher
	schemas["TargetStatus"] = target
	schemas["RenditionStatus"] = rendition
	schemas["CreateResponse"] = map[string]any{"allOf": []any{ref("Fetcher"), obj([]string{"message", "requestData"}, map[string]any{
		"message":     str("hls-pull-push compatible acknowledgement."),
		"requestData": map[string]any{"type": "object", "description": "The request as understood, secrets redacted."},
	})}}
	schemas["Output"] = obj([]string{"name", "description", "schema", "secrets"}, map[string]any{
		"name":        str("Output name, the value of `output` in a create request."),
		"description": str("What the output does."),
		"schema":      map[string]any{"type": "object", "description": "JSON schema of the payload."},
		"secrets":     map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": "Payload keys whose values are redacted."},
	})
	schemas["Health"] = obj([]string{"status", "version", "goVersion"}, map[string]any{
		"status":    map[string]any{"type": "string", "enum": []string{"ok"}},
		"version":   str("Module version of the running pullpush (\"(devel)\" for a plain go build)."),
		"revision":  str("VCS revision it was built from, when known."),
		"goVersion": str("Go version it was built with."),
	})
	schemas["Error"] = obj([]string{"error"}, map[string]any{
		"error":     str("What is wrong, naming the field or value."),
		"fetcherId": str("For a duplicate name: the id of the existing fetcher."),
	})
	return schemas
}
