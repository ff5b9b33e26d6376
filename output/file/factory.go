package file

import (
	"encoding/json"

	"github.com/pullpush/pullpush/output"
)

// Payload is the JSON payload of Factory.
type Payload struct {
	Dir  string `json:"dir"`
	Stem string `json:"stem"`
}

// Schema is the JSON Schema (draft 2020-12) of Payload.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "file output",
  "description": "Write files atomically into a local directory.",
  "type": "object",
  "additionalProperties": false,
  "required": ["dir"],
  "properties": {
    "dir": {"type": "string", "minLength": 1, "description": "Destination directory, created when missing."},
    "stem": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]*$", "default": "channel"}
  }
}`

// Factory builds file outputs from a JSON payload.
var Factory = output.Factory{
	Name:        "file",
	Description: "Write files atomically into a local directory.",
	Schema:      json.RawMessage(Schema),
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
	return Config(p), nil
}
