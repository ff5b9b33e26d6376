package outputs

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/pullpush/pullpush/output"
)

// redactAllStrings replaces every string value (not keys) with "***".
func redactAllStrings(payload json.RawMessage) json.RawMessage {
	data := bytes.TrimSpace(payload)
	if len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return json.RawMessage("null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return json.RawMessage("null")
	}
	out, err := json.Marshal(maskStrings(v))
	if err != nil {
		return json.RawMessage("null")
	}
	return out
}

func maskStrings(v any) any {
	switch x := v.(type) {
	case string:
		return output.Redacted
	case map[string]any:
		for k, e := range x {
			x[k] = maskStrings(e)
		}
	case []any:
		for i, e := range x {
			x[i] = maskStrings(e)
		}
	}
	return v
}
