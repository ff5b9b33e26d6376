// Package api is the REST API of `pullpush serve`, compatible with
// hls-pull-push clients: create, list, inspect and delete fetchers, list the
// registered outputs, health, Prometheus metrics and an OpenAPI 3 document
// with a readable page.
//
// Routes (see the OpenAPI document at /api/docs/openapi.json):
//
//	POST   /api/v1/fetcher        create a fetcher (201)
//	GET    /api/v1/fetcher        list fetchers with status
//	GET    /api/v1/fetcher/{id}   one fetcher with status
//	DELETE /api/v1/fetcher/{id}   stop and forget a fetcher (204)
//	GET    /api/v1/outputs        registered outputs and their payload schemas
//	GET    /health                {"status":"ok"}, never authenticated
//	GET    /metrics               Prometheus text, never authenticated
//	GET    /api/docs              HTML page rendering the OpenAPI document
//	GET    /api/docs/openapi.json OpenAPI 3.0 document
//
// In cluster mode (Options.Cluster, `pullpush serve --cluster`) every
// instance answers for the whole cluster: list and get show each stored
// fetcher with "instance", the instance running it; create stores the
// definition and some instance claims it; delete works on any instance.
//
// When a token is configured every /api/v1 call needs
// "Authorization: Bearer <token>"; /health, /metrics and the docs stay open
// so that probes and scrapers need no secret (put /metrics behind the
// network if its fetcher names are sensitive).
//
// Errors are JSON objects {"error": "..."} naming the problem; a client
// mistake never gets a 500:
//
//	400  malformed JSON, body not an object, unknown field, missing or
//	     invalid name/url/output, url not http(s), unknown output, payload
//	     failing the output's schema, invalid concurrency or windowSize
//	401  token configured and no valid bearer token (WWW-Authenticate: Bearer)
//	404  unknown fetcher id or path
//	405  method not allowed on the path (with Allow)
//	409  a fetcher with the same name exists ("fetcherId" names it), or the
//	     configured fetcher limit is reached
//	413  body larger than 1 MiB
//	415  Content-Type present and not application/json
//	503  the server is shutting down
//
// Secrets in
// output payloads (the keys each output factory lists, plus common names
// such as "password") and URL passwords are redacted to "***" in every
// response and log line; the API token is never logged.
//
// # Files
//
//	api.go          API, New, routing, auth, errors, metrics feed
//	fetcher.go      the handlers: health, outputs, fetcher create, list, get,
//	                delete; names, broken fetchers, presentation
//	request.go      CreateRequest decoding and validation, RequestError
//	cluster.go      serve --cluster: local start/stop, cluster-wide list, get, delete
//	openapi.go      the OpenAPI document built from the route table
//	docs.go         the /api/docs page
//	redactor.go     Redactor (alias of internal/redact's)
//	internal/redact payload, URL and log-line redaction, the secret index
package api
