package mediapackage

import (
	"encoding/json"
	"net/http"

	"github.com/pullpush/pullpush/output"
)

// Payload is the JSON payload of Factory.
type Payload struct {
	IngestURLs []IngestPayload `json:"ingestUrls"`
	// TimeoutMs bounds one download attempt of a source segment, in
	// milliseconds (hls-pull-push's key of the same name); absent or 0
	// keeps the fetcher's default.
	TimeoutMs *float64 `json:"timeoutMs"`
	// LowLatency pushes the LL-HLS parts of a low-latency source too (see
	// Config.LowLatency).
	LowLatency bool `json:"lowLatency"`
}

// IngestPayload is one element of Payload.IngestURLs.
type IngestPayload struct {
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// Schema is the JSON Schema (draft 2020-12) of Payload.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "mediapackage output",
  "description": "MediaPackage-style WebDAV ingest with digest authentication; files are PUT next to each ingest URL.",
  "type": "object",
  "additionalProperties": false,
  "required": ["ingestUrls"],
  "properties": {
    "ingestUrls": {
      "type": "array",
      "minItems": 1,
      "maxItems": 2,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["url"],
        "properties": {
          "url": {
            "type": "string",
            "format": "uri",
            "pattern": "^https?://[^/?#@]+(/[^/?#]+)*/[A-Za-z0-9_-][A-Za-z0-9._-]*$",
            "description": "Ingest URL ending in a path element such as /channel, which is the file name stem."
          },
          "username": {"type": "string", "description": "Digest username."},
          "password": {"type": "string", "writeOnly": true, "description": "Digest password (secret)."}
        }
      }
    },
    "timeoutMs": {
      "type": "number",
      "minimum": 0,
      "maximum": 3600000,
      "description": "Bound in milliseconds on one download attempt of a source segment (as in hls-pull-push); absent or 0: the fetcher's default (4 segment durations, at least 10 s, plus 5 s)."
    },
    "lowLatency": {
      "type": "boolean",
      "description": "Also push the parts (EXT-X-PART) of a Low-Latency HLS source as they appear, each followed by the playlist listing it, for an ingest that serves LL-HLS (pullpush origin). Off: whole segments only, as MediaPackage v1 takes them."
    }
  }
}`

// Factory builds mediapackage outputs from a JSON payload.
var Factory = NewFactory(nil)

// NewFactory returns the factory with every output it builds on transport
// (nil: each output gets its own connection pool).
func NewFactory(transport *http.Transport) output.Factory {
	return FactoryOf(output.Factory{
		Name:        "mediapackage",
		Description: "Push to MediaPackage-style HLS WebDAV ingest (1 or 2 ingest URLs, digest auth).",
		Schema:      json.RawMessage(Schema),
		Secrets:     []string{"password"},
	}, ParsePayload, transport)
}

// FactoryOf completes f (name, description, schema, secrets) with a New
// that decodes the payload with parse and builds an Output on transport:
// the mediapackage factory, and outputs that push the same way with
// another payload (mediapackagev2).
func FactoryOf(f output.Factory, parse func(json.RawMessage) (Config, error), transport *http.Transport) output.Factory {
	f.New = func(payload json.RawMessage) (output.Output, error) {
		cfg, err := parse(payload)
		if err != nil {
			return nil, err
		}
		cfg.Transport = transport
		return New(cfg)
	}
	return f
}

// ParsePayload strictly decodes a Factory payload into a Config.
func ParsePayload(payload json.RawMessage) (Config, error) {
	var p Payload
	if err := output.DecodePayload(payload, &p); err != nil {
		return Config{}, err
	}
	timeout, err := output.TimeoutMs(p.TimeoutMs)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{IngestURLs: make([]Ingest, 0, len(p.IngestURLs)), SegmentTimeout: timeout, LowLatency: p.LowLatency}
	for _, in := range p.IngestURLs {
		cfg.IngestURLs = append(cfg.IngestURLs, Ingest{URL: in.URL, Username: in.Username, Password: in.Password})
	}
	return cfg, nil
}
