package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/pullpush/pullpush"
)

// Limits on a create request.
const (
	MaxBodyBytes   = 1 << 20 // request bodies larger than this get 413
	MaxNameLen     = 200     // characters in a fetcher name
	MaxURLLen      = 4096    // bytes in a source URL
	MaxConcurrency = 64      // parallel transfers per fetcher
	MaxWindowSize  = 86400   // seconds in a pushed playlist window
)

// createFields are the keys a create request may have, in the order
// problems are reported.
var createFields = []string{"name", "url", "output", "payload", "concurrency", "windowSize"}

// CreateRequest is the decoded body of POST /api/v1/fetcher.
type CreateRequest struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Output string `json:"output"`
	// Payload is the output's JSON object, or nil when the request had
	// none. A payload sent as a JSON-encoded string (as some hls-pull-push
	// clients do) is unwrapped.
	Payload     json.RawMessage `json:"payload,omitempty"`
	Concurrency int             `json:"concurrency,omitempty"` // 0: the default
	WindowSize  float64         `json:"windowSize,omitempty"`  // seconds; 0: the default
}

// RequestError is a problem with a request body; the API answers it with
// 400 and its message.
type RequestError struct {
	Field string // JSON key, empty for the body as a whole
	Msg   string
}

// Error implements error.
func (e *RequestError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return "'" + e.Field + "' " + e.Msg
}

func fieldErr(field, format string, args ...any) error {
	return &RequestError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// DecodeCreateRequest parses a create body: a JSON object with "name",
// "url" (http or https), "output", an optional "payload" object (or a
// string holding one), and optional "concurrency" (integer 1-64) and
// "windowSize" (seconds, up to 86400) given as numbers or numeric strings;
// 0 or null means the default. Unknown keys are rejected so that a typo
// ("windowsize") is not silently ignored. Errors are *RequestError naming
// the key; they never quote the payload.
func DecodeCreateRequest(body []byte) (CreateRequest, error) {
	var req CreateRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return req, &RequestError{Msg: "request body is empty: send a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return req, &RequestError{Msg: "body must be a JSON object"}
		}
		return req, &RequestError{Msg: "malformed JSON" + syntaxWhere(body, err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, &RequestError{Msg: "unexpected data after the JSON object"}
	}
	if raw == nil {
		return req, &RequestError{Msg: "body must be a JSON object"}
	}
	for k := range raw {
		if !knownField(k) {
			return req, fieldErr(k, "is not a known field (expected %s)", strings.Join(createFields, ", "))
		}
	}
	var err error
	if req.Name, err = requiredString(raw, "name"); err != nil {
		return req, err
	}
	if n := len([]rune(req.Name)); n > MaxNameLen {
		return req, fieldErr("name", "is longer than %d characters", MaxNameLen)
	}
	if strings.TrimSpace(req.Name) == "" {
		return req, fieldErr("name", "must not be blank")
	}
	if strings.IndexFunc(req.Name, unicode.IsControl) >= 0 {
		return req, fieldErr("name", "must not contain control characters")
	}
	if req.URL, err = requiredString(raw, "url"); err != nil {
		return req, err
	}
	if len(req.URL) > MaxURLLen {
		return req, fieldErr("url", "is longer than %d bytes", MaxURLLen)
	}
	if err := pullpush.ValidateSourceURL(req.URL); err != nil {
		return req, fieldErr("url", "must be an absolute http or https URL")
	}
	if req.Output, err = requiredString(raw, "output"); err != nil {
		return req, err
	}
	if req.Payload, err = decodePayload(raw["payload"]); err != nil {
		return req, err
	}
	if req.Concurrency, err = decodeConcurrency(raw["concurrency"]); err != nil {
		return req, err
	}
	if req.WindowSize, err = decodeWindowSize(raw["windowSize"]); err != nil {
		return req, err
	}
	return req, nil
}

func knownField(k string) bool {
	for _, f := range createFields {
		if k == f {
			return true
		}
	}
	return false
}

// syntaxWhere says where a syntax error is, and names a trailing comma
// (which JSON does not allow, though some documented examples have one),
// without quoting the body.
func syntaxWhere(body []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if i := int(se.Offset) - 1; i > 0 && i < len(body) && (body[i] == '}' || body[i] == ']') {
			prev := bytes.TrimRight(body[:i], " \t\r\n")
			if n := len(prev); n > 0 && prev[n-1] == ',' {
				return fmt.Sprintf(" at byte %d: trailing comma before %q (JSON allows none)", se.Offset, body[i])
			}
		}
		return fmt.Sprintf(" at byte %d", se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return " (unexpected end of body)"
	}
	return ""
}

func isNull(v json.RawMessage) bool {
	return v == nil || string(bytes.TrimSpace(v)) == "null"
}

func requiredString(raw map[string]json.RawMessage, key string) (string, error) {
	v, ok := raw[key]
	if !ok || isNull(v) {
		return "", fieldErr(key, "is required")
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fieldErr(key, "must be a string")
	}
	if s == "" {
		return "", fieldErr(key, "is required")
	}
	return s, nil
}

// decodePayload returns the payload object (compacted), unwrapping a
// JSON-encoded string, or nil when absent.
func decodePayload(v json.RawMessage) (json.RawMessage, error) {
	if isNull(v) {
		return nil, nil
	}
	v = bytes.TrimSpace(v)
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fieldErr("payload", "must be a JSON object")
		}
		v = bytes.TrimSpace([]byte(s))
		if len(v) == 0 || v[0] != '{' || !json.Valid(v) {
			return nil, fieldErr("payload", "is a string that does not hold a JSON object")
		}
	}
	if v[0] != '{' {
		return nil, fieldErr("payload", "must be a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return nil, fieldErr("payload", "must be a JSON object")
	}
	return buf.Bytes(), nil
}

// number reads a JSON number or a string holding one (hls-pull-push
// documents windowSize as a string).
func number(v json.RawMessage) (float64, bool) {
	v = bytes.TrimSpace(v)
	s := string(v)
	if len(v) > 0 && v[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func decodeConcurrency(v json.RawMessage) (int, error) {
	if isNull(v) {
		return 0, nil
	}
	f, ok := number(v)
	if !ok || f != math.Trunc(f) || f < 0 || f > MaxConcurrency {
		return 0, fieldErr("concurrency", "must be an integer from 1 to %d (0 or absent: the default)", MaxConcurrency)
	}
	return int(f), nil
}

func decodeWindowSize(v json.RawMessage) (float64, error) {
	if isNull(v) {
		return 0, nil
	}
	f, ok := number(v)
	if !ok || f < 0 || f > MaxWindowSize {
		return 0, fieldErr("windowSize", "must be a number of seconds from 0 to %d (0 or absent: the default)", MaxWindowSize)
	}
	return f, nil
}
