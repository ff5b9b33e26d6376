package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pullpush/pullpush"
)

// FuzzCreateFetcherJSON checks the POST /api/v1/fetcher body decoder: it
// never panics, rejects with a *RequestError, and everything it accepts
// satisfies the documented limits and survives a round trip. Seeds: every
// body of the create table test plus testdata/fuzz/FuzzCreateFetcherJSON.
func FuzzCreateFetcherJSON(f *testing.F) {
	for _, tc := range createCases {
		if len(tc.body) < 64<<10 {
			f.Add([]byte(tc.body))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeCreateRequest(body)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || err.Error() == "" {
				t.Fatalf("error %v (%T) is not a *RequestError", err, err)
			}
			return
		}
		if strings.TrimSpace(req.Name) == "" || utf8.RuneCountInString(req.Name) > MaxNameLen {
			t.Fatalf("accepted name %q", req.Name)
		}
		if pullpush.ValidateSourceURL(req.URL) != nil || len(req.URL) > MaxURLLen {
			t.Fatalf("accepted url %q", req.URL)
		}
		if req.Output == "" {
			t.Fatal("accepted empty output")
		}
		if req.Payload != nil && (!json.Valid(req.Payload) || req.Payload[0] != '{') {
			t.Fatalf("accepted payload %q", req.Payload)
		}
		if req.Concurrency < 0 || req.Concurrency > MaxConcurrency || req.WindowSize < 0 || req.WindowSize > MaxWindowSize {
			t.Fatalf("accepted concurrency %d windowSize %v", req.Concurrency, req.WindowSize)
		}
		// What was accepted, encoded again, decodes to the same request.
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, err := DecodeCreateRequest(again)
		if err != nil {
			t.Fatalf("re-encoded request %s rejected: %v", again, err)
		}
		// Payloads compare as JSON values: encoding may escape characters
		// differently (corpus entry html_chars: "<&>" comes back as \u003c...).
		if !sameJSON(req.Payload, req2.Payload) {
			t.Fatalf("round trip changed the payload:\n %s\n %s", req.Payload, req2.Payload)
		}
		req.Payload, req2.Payload = nil, nil
		if !reflect.DeepEqual(req, req2) {
			t.Fatalf("round trip changed the request:\n %+v\n %+v", req, req2)
		}
	})
}

func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
