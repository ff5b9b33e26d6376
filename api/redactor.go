package api

import "github.com/pullpush/pullpush/api/internal/redact"

// Redactor keeps secrets out of log lines, whoever writes them (the API,
// the service, the fetch engine, outputs): wrap the handler of the logger
// given to pullpush.New and api.New with Handler. It hides URL passwords
// and secret query values in the message and every attribute, and every
// secret value registered with Add (the API registers each fetcher's
// payload secrets and source URL secrets before starting it).
//
// It is implemented in api/internal/redact with the rest of the API's
// secret handling.
type Redactor = redact.Redactor

// NewRedactor returns a Redactor with no registered values.
func NewRedactor() *Redactor { return redact.NewRedactor() }
