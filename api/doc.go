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
// When a token is configured every /api/v1 call needs
// "Authorization: Bearer <token>"; /health, /metrics and the docs stay open
// so that probes and scrapers need no secret (put /metrics behind the
// network if its fetcher names are sensitive).
//
// Errors are JSON objects {"error": "..."} naming the problem. Secrets in
// output payloads (the keys each output factory lists, plus common names
// such as "password") and URL passwords are redacted to "***" in every
// response and log line; the API token is never logged.
package api
