package outputs

import (
	"encoding/json"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/file"
	"github.com/pullpush/pullpush/output/internal/httpput"
	"github.com/pullpush/pullpush/output/mediapackage"
	"github.com/pullpush/pullpush/output/mediapackagev2"
	"github.com/pullpush/pullpush/output/s3"
	"github.com/pullpush/pullpush/output/void"
	"github.com/pullpush/pullpush/output/webdav"
)

// Factories returns the built-in factories: file, mediapackage, s3, void
// and webdav. The HTTP outputs (mediapackage, webdav) it builds share one
// connection pool, so a process with a thousand outputs to one ingest
// server keeps a few dozen connections rather than several per output.
func Factories() []output.Factory {
	shared := httpput.NewTransport()
	return []output.Factory{file.Factory, mediapackage.NewFactory(shared), mediapackagev2.NewFactory(shared), s3.Factory, void.Factory, webdav.NewFactory(shared)}
}

// Register adds every built-in factory to r.
func Register(r *output.Registry) {
	for _, f := range Factories() {
		r.Register(f)
	}
}

// Redact returns payload with the values of the secret keys of output
// name replaced by "***" (see output.Factory.Redact). For a name r does
// not know, every string value is replaced, so nothing can leak; invalid
// JSON gives null.
func Redact(name string, payload json.RawMessage, r *output.Registry) json.RawMessage {
	if r != nil {
		if f, ok := r.Lookup(name); ok {
			return f.Redact(payload)
		}
	}
	return output.RedactJSONFunc(payload, nil, func(string) string { return output.Redacted })
}
