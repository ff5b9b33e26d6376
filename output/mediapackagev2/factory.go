// Package mediapackagev2 pushes to AWS Elemental MediaPackage v2-style HLS
// ingest: every file is PUT next to the ingest URL, as the mediapackage
// output does, but each request is signed with AWS Signature Version 4
// (service "mediapackagev2", the body's SHA-256 in X-Amz-Content-Sha256)
// instead of digest authentication. One or two ingest URLs are pushed
// independently.
//
// The REST API payload:
//
//	{"ingestUrls": [{"url": "https://host/in/v1/group/channel/1/channel",
//	                 "accessKeyId": "AKIA...", "secretAccessKey": "...", "region": "eu-north-1"}],
//	 "timeoutMs": 5000}
package mediapackagev2

import (
	"encoding/json"
	"net/http"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/mediapackage"
)

// Payload is the JSON payload of Factory.
type Payload struct {
	IngestURLs []IngestPayload `json:"ingestUrls"`
	// TimeoutMs bounds one download attempt of a source segment, as in
	// the mediapackage output.
	TimeoutMs *float64 `json:"timeoutMs"`
	// LowLatency pushes the parts of a Low-Latency HLS source too, as in
	// the mediapackage output (MediaPackage v2 makes its LL-HLS from whole
	// segments; pullpush origin serves the parts).
	LowLatency bool `json:"lowLatency"`
}

// IngestPayload is one element of Payload.IngestURLs.
type IngestPayload struct {
	URL             string `json:"url"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	Region          string `json:"region"`
	Service         string `json:"service"`
}

// Schema is the JSON Schema (draft 2020-12) of Payload.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "mediapackagev2 output",
  "description": "MediaPackage v2-style HLS ingest: files are PUT next to each ingest URL, every request signed with AWS Signature Version 4.",
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
        "required": ["url", "accessKeyId", "secretAccessKey", "region"],
        "properties": {
          "url": {
            "type": "string",
            "format": "uri",
            "pattern": "^https?://[^/?#@]+(/[^/?#]+)*/[A-Za-z0-9_-][A-Za-z0-9._-]*$",
            "description": "Ingest URL ending in a path element such as /channel, which is the file name stem."
          },
          "accessKeyId": {"type": "string", "description": "AWS access key ID."},
          "secretAccessKey": {"type": "string", "writeOnly": true, "description": "AWS secret access key (secret)."},
          "region": {"type": "string", "description": "AWS region of the ingest, e.g. eu-north-1."},
          "service": {"type": "string", "description": "Signing name; default mediapackagev2."}
        }
      }
    },
    "timeoutMs": {
      "type": "number",
      "minimum": 0,
      "maximum": 3600000,
      "description": "Bound in milliseconds on one download attempt of a source segment; absent or 0: the fetcher's default."
    },
    "lowLatency": {
      "type": "boolean",
      "description": "Also push the parts (EXT-X-PART) of a Low-Latency HLS source as they appear, for an ingest that serves LL-HLS from them (pullpush origin)."
    }
  }
}`

// Factory builds mediapackagev2 outputs from a JSON payload.
var Factory = NewFactory(nil)

// NewFactory returns the factory with every output it builds on transport
// (nil: each output gets its own connection pool).
func NewFactory(transport *http.Transport) output.Factory {
	return mediapackage.FactoryOf(output.Factory{
		Name:        "mediapackagev2",
		Description: "Push to MediaPackage v2-style HLS ingest (1 or 2 ingest URLs, AWS SigV4 signing).",
		Schema:      json.RawMessage(Schema),
		Secrets:     []string{"secretAccessKey"},
	}, ParsePayload, transport)
}

// ParsePayload strictly decodes a Factory payload into the mediapackage
// output's Config with SigV4 signing on every ingest URL.
func ParsePayload(payload json.RawMessage) (mediapackage.Config, error) {
	var p Payload
	if err := output.DecodePayload(payload, &p); err != nil {
		return mediapackage.Config{}, err
	}
	timeout, err := output.TimeoutMs(p.TimeoutMs)
	if err != nil {
		return mediapackage.Config{}, err
	}
	cfg := mediapackage.Config{IngestURLs: make([]mediapackage.Ingest, 0, len(p.IngestURLs)), SegmentTimeout: timeout, LowLatency: p.LowLatency}
	for _, in := range p.IngestURLs {
		cfg.IngestURLs = append(cfg.IngestURLs, mediapackage.Ingest{URL: in.URL, SigV4: &mediapackage.SigV4{
			AccessKeyID: in.AccessKeyID, SecretAccessKey: in.SecretAccessKey, Region: in.Region, Service: in.Service,
		}})
	}
	return cfg, nil
}
