package s3

import (
	"encoding/json"

	"github.com/pullpush/pullpush/output"
)

// Payload is the JSON payload of Factory.
type Payload struct {
	Bucket          string `json:"bucket"`
	Prefix          string `json:"prefix"`
	Region          string `json:"region"`
	Endpoint        string `json:"endpoint"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
	PathStyle       bool   `json:"pathStyle"`
	Stem            string `json:"stem"`
}

// Schema is the JSON Schema (draft 2020-12) of Payload.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "s3 output",
  "description": "Store files as objects in an S3 or S3-compatible bucket.",
  "type": "object",
  "additionalProperties": false,
  "required": ["bucket"],
  "properties": {
    "bucket": {"type": "string", "minLength": 3, "maxLength": 63},
    "prefix": {"type": "string", "description": "Key prefix, e.g. channels/1."},
    "region": {"type": "string", "pattern": "^[a-z0-9-]*$"},
    "endpoint": {"type": "string", "default": "https://s3.amazonaws.com", "description": "http(s)://host[:port]; http disables TLS."},
    "accessKeyId": {"type": "string"},
    "secretAccessKey": {"type": "string", "writeOnly": true, "description": "Secret."},
    "sessionToken": {"type": "string", "writeOnly": true, "description": "Secret."},
    "pathStyle": {"type": "boolean", "default": false, "description": "Force path-style requests."},
    "stem": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]*$", "default": "channel"}
  }
}`

// Factory builds s3 outputs from a JSON payload.
var Factory = output.Factory{
	Name:        "s3",
	Description: "Store files as objects in an S3 or S3-compatible bucket.",
	Schema:      json.RawMessage(Schema),
	Secrets:     []string{"secretAccessKey", "sessionToken"},
	New: func(payload json.RawMessage) (output.Output, error) {
		cfg, err := ParsePayload(payload)
		if err != nil {
			return nil, err
		}
		return New(cfg)
	},
}

// ParsePayload strictly decodes a Factory payload into a Config.
func ParsePayload(payload json.RawMessage) (Config, error) {
	var p Payload
	if err := output.DecodePayload(payload, &p); err != nil {
		return Config{}, err
	}
	return Config{
		Bucket:          p.Bucket,
		Prefix:          p.Prefix,
		Region:          p.Region,
		Endpoint:        p.Endpoint,
		AccessKeyID:     p.AccessKeyID,
		SecretAccessKey: p.SecretAccessKey,
		SessionToken:    p.SessionToken,
		PathStyle:       p.PathStyle,
		Stem:            p.Stem,
	}, nil
}
