package s3

import (
	"encoding/json"
	"errors"
	"os"
	"strings"

	"github.com/pullpush/pullpush/internal/s3client"
	"github.com/pullpush/pullpush/output"
)

// Payload is the JSON payload of Factory.
type Payload struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	// Folder is hls-pull-push's name for Prefix: the folder of the bucket
	// the files go to. Giving both is allowed only when they are equal.
	Folder          string `json:"folder"`
	Region          string `json:"region"`
	Endpoint        string `json:"endpoint"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
	PathStyle       bool   `json:"pathStyle"`
	Stem            string `json:"stem"`
	// OutputIndexFilename is the object name of the multivariant playlist
	// (hls-pull-push's key); empty means <stem>.m3u8.
	OutputIndexFilename string `json:"outputIndexFilename"`
	// TimeoutMs bounds one download attempt of a source segment, in
	// milliseconds (hls-pull-push's key); absent or 0 keeps the fetcher's
	// default.
	TimeoutMs *float64 `json:"timeoutMs"`
}

// Schema is the JSON Schema (draft 2020-12) of Payload.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "s3 output",
  "description": "Store files as objects in an S3 or S3-compatible bucket. Without endpoint, region or credentials in the payload, the server's AWS environment supplies them ($AWS_ENDPOINT_URL_S3 or $AWS_ENDPOINT_URL, $AWS_REGION or $AWS_DEFAULT_REGION, $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, the shared credentials file, the instance role).",
  "type": "object",
  "additionalProperties": false,
  "required": ["bucket"],
  "properties": {
    "bucket": {"type": "string", "minLength": 3, "maxLength": 63},
    "prefix": {"type": "string", "description": "Key prefix, e.g. channels/1."},
    "folder": {"type": "string", "description": "Same as prefix (the name hls-pull-push uses); when both are given they must be equal."},
    "region": {"type": "string", "pattern": "^[a-z0-9-]*$", "description": "Default: $AWS_REGION, $AWS_DEFAULT_REGION, else discovered."},
    "endpoint": {"type": "string", "default": "https://s3.amazonaws.com", "description": "http(s)://host[:port]; http disables TLS. Default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS."},
    "accessKeyId": {"type": "string"},
    "secretAccessKey": {"type": "string", "writeOnly": true, "description": "Secret."},
    "sessionToken": {"type": "string", "writeOnly": true, "description": "Secret."},
    "pathStyle": {"type": "boolean", "default": false, "description": "Force path-style requests."},
    "stem": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]*$", "default": "channel"},
    "outputIndexFilename": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]*$", "description": "Object name of the multivariant playlist instead of <stem>.m3u8, e.g. index.m3u8 (as in hls-pull-push). Media playlists and segments keep their names."},
    "timeoutMs": {"type": "number", "minimum": 0, "maximum": 3600000, "description": "Bound in milliseconds on one download attempt of a source segment (as in hls-pull-push); absent or 0: the fetcher's default (4 segment durations, at least 10 s, plus 5 s)."}
  }
}`

// Environment variables that supply defaults for a payload without
// endpoint or region, the same the AWS SDKs (and hls-pull-push) read.
var (
	endpointEnv = []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}
	regionEnv   = []string{"AWS_REGION", "AWS_DEFAULT_REGION"}
)

// Factory builds s3 outputs from a JSON payload, with defaults for
// endpoint and region from the process environment (see NewFactory).
var Factory = NewFactory(os.Getenv)

// NewFactory returns the factory whose outputs take the endpoint from
// getenv("AWS_ENDPOINT_URL_S3") or getenv("AWS_ENDPOINT_URL") and the
// region from getenv("AWS_REGION") or getenv("AWS_DEFAULT_REGION") when
// the payload has none, so a payload written for hls-pull-push (bucket
// and folder only) reaches the store its server's AWS environment names.
// A nil getenv reads nothing. Credentials come from the environment in
// any case when the payload has none (see Config).
func NewFactory(getenv func(string) string) output.Factory {
	return output.Factory{
		Name:        "s3",
		Description: "Store files as objects in an S3 or S3-compatible bucket.",
		Schema:      json.RawMessage(Schema),
		Secrets:     []string{"secretAccessKey", "sessionToken"},
		New: func(payload json.RawMessage) (output.Output, error) {
			cfg, err := ParsePayload(payload)
			if err != nil {
				return nil, err
			}
			if cfg.Endpoint == "" {
				if v, name := lookup(getenv, endpointEnv); v != "" {
					if _, _, err := parseEndpoint(v); err != nil {
						var pe *output.PayloadError
						if errors.As(err, &pe) {
							return nil, output.Invalid("endpoint", "absent, and the default from $%s is not usable: %s", name, pe.Msg)
						}
						return nil, err
					}
					cfg.Endpoint = v
				}
			}
			if cfg.Region == "" {
				if v, name := lookup(getenv, regionEnv); v != "" {
					if !s3client.ValidRegion(v) {
						return nil, output.Invalid("region", "absent, and the default from $%s is not a region name such as eu-west-1", name)
					}
					cfg.Region = v
				}
			}
			return New(cfg)
		},
	}
}

// lookup returns the first non-empty value of names and its name.
func lookup(getenv func(string) string, names []string) (string, string) {
	if getenv == nil {
		return "", ""
	}
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v, n
		}
	}
	return "", ""
}

// ParsePayload strictly decodes a Factory payload into a Config. It does
// not read the environment.
func ParsePayload(payload json.RawMessage) (Config, error) {
	var p Payload
	if err := output.DecodePayload(payload, &p); err != nil {
		return Config{}, err
	}
	prefix := p.Prefix
	if p.Folder != "" {
		if p.Prefix != "" && strings.Trim(p.Prefix, "/") != strings.Trim(p.Folder, "/") {
			return Config{}, output.Invalid("folder", "differs from prefix: both name the key prefix (folder is hls-pull-push's name for it); give one of them")
		}
		if _, err := cleanPrefix(p.Folder); err != nil {
			var pe *output.PayloadError
			if errors.As(err, &pe) {
				return Config{}, output.Invalid("folder", "%s", pe.Msg)
			}
			return Config{}, err
		}
		prefix = p.Folder
	}
	timeout, err := output.TimeoutMs(p.TimeoutMs)
	if err != nil {
		return Config{}, err
	}
	return Config{
		Bucket:          p.Bucket,
		Prefix:          prefix,
		Region:          p.Region,
		Endpoint:        p.Endpoint,
		AccessKeyID:     p.AccessKeyID,
		SecretAccessKey: p.SecretAccessKey,
		SessionToken:    p.SessionToken,
		PathStyle:       p.PathStyle,
		Stem:            p.Stem,
		IndexName:       p.OutputIndexFilename,
		SegmentTimeout:  timeout,
	}, nil
}
