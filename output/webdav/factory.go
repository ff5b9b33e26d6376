package webdav

import (
	"encoding/json"
	"net/http"

	"github.com/pullpush/pullpush/output"
)

// Payload is the JSON payload of Factory.
type Payload struct {
	URL           string            `json:"url"`
	Auth          string            `json:"auth"`
	Username      string            `json:"username"`
	Password      string            `json:"password"`
	DeleteExpired bool              `json:"deleteExpired"`
	Headers       map[string]string `json:"headers"`
	Stem          string            `json:"stem"`
}

// Schema is the JSON Schema (draft 2020-12) of Payload.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "webdav output",
  "description": "HTTP PUT (WebDAV) to a directory URL.",
  "type": "object",
  "additionalProperties": false,
  "required": ["url"],
  "properties": {
    "url": {"type": "string", "format": "uri", "pattern": "^https?://", "description": "Directory URL; files are stored below it."},
    "auth": {"type": "string", "enum": ["none", "basic", "digest"], "default": "none"},
    "username": {"type": "string"},
    "password": {"type": "string", "writeOnly": true, "description": "Secret."},
    "deleteExpired": {"type": "boolean", "default": false, "description": "Send DELETE for segments that left the window."},
    "headers": {
      "type": "object",
      "additionalProperties": {"type": "string"},
      "writeOnly": true,
      "description": "Extra request headers, e.g. an API key. Treated as secret: redacted as a whole."
    },
    "stem": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]*$", "default": "channel", "description": "Base name of pushed files."}
  }
}`

// Factory builds webdav outputs from a JSON payload.
var Factory = NewFactory(nil)

// NewFactory returns the factory with every output it builds on transport
// (nil: each output gets its own connection pool).
func NewFactory(transport *http.Transport) output.Factory {
	return output.Factory{
		Name:        "webdav",
		Description: "Push with HTTP PUT to a WebDAV or plain HTTP directory (no, basic or digest auth).",
		Schema:      json.RawMessage(Schema),
		Secrets:     []string{"password", "headers"},
		New: func(payload json.RawMessage) (output.Output, error) {
			cfg, err := ParsePayload(payload)
			if err != nil {
				return nil, err
			}
			cfg.Transport = transport
			return New(cfg)
		},
	}
}

// ParsePayload strictly decodes a Factory payload into a Config.
func ParsePayload(payload json.RawMessage) (Config, error) {
	var p Payload
	if err := output.DecodePayload(payload, &p); err != nil {
		return Config{}, err
	}
	cfg := Config{
		URL:           p.URL,
		Auth:          Auth(p.Auth),
		Username:      p.Username,
		Password:      p.Password,
		DeleteExpired: p.DeleteExpired,
		Stem:          p.Stem,
	}
	if len(p.Headers) > 0 {
		cfg.Header = make(http.Header, len(p.Headers))
		for k, v := range p.Headers {
			cfg.Header[k] = []string{v}
		}
	}
	return cfg, nil
}
