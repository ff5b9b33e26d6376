package output_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/output"
)

type inner struct {
	URL      string `json:"url"`
	Password string `json:"password"`
}

type testPayload struct {
	Name    string            `json:"name"`
	Count   int               `json:"count"`
	Ratio   float64           `json:"ratio"`
	On      bool              `json:"on"`
	Items   []inner           `json:"items"`
	Headers map[string]string `json:"headers"`
	Ptr     *inner            `json:"ptr"`
}

func TestDecodePayload(t *testing.T) {
	cases := []struct {
		name, in, err string
	}{
		{"empty", ``, ""},
		{"null", `null`, ""},
		{"object", `{"name":"x","count":3,"ratio":0.5,"on":true,"items":[{"url":"u"}],"headers":{"A":"b"},"ptr":{"url":"p"}}`, ""},
		{"nulls", `{"name":null,"items":[null],"ptr":null}`, ""},
		{"array", `[]`, "payload: must be a JSON object"},
		{"string", `"x"`, "payload: must be a JSON object"},
		{"malformed", `{"name":`, "payload: malformed JSON (unexpected end)"},
		{"syntax", `{"name" "x"}`, "payload: malformed JSON at byte 9"},
		{"trailing", `{} {}`, "payload: unexpected data after the JSON object"},
		{"trailing garbage", `{}x`, "payload: unexpected data after the JSON object"},
		{"unknown", `{"nope":1}`, "nope: unknown field"},
		{"case folded", `{"Name":"x"}`, "Name: unknown field"},
		{"nested unknown", `{"items":[{"url":"u"},{"user":"x"}]}`, "items[1].user: unknown field"},
		{"pointer unknown", `{"ptr":{"x":1}}`, "ptr.x: unknown field"},
		{"string type", `{"name":1}`, "name: must be a string"},
		{"int type", `{"count":"1"}`, "count: must be an integer"},
		{"int fraction", `{"count":1.5}`, "count: must be an integer"},
		{"int overflow", `{"count":1e30}`, "count: must be an integer"},
		{"float type", `{"ratio":true}`, "ratio: must be a number"},
		{"bool type", `{"on":"true"}`, "on: must be a boolean"},
		{"array type", `{"items":{}}`, "items: must be an array"},
		{"element type", `{"items":["u"]}`, "items[0]: must be an object"},
		{"nested string", `{"items":[{"url":["u"]}]}`, "items[0].url: must be a string"},
		{"map value", `{"headers":{"A":1}}`, "headers.A: must be a string"},
		{"map type", `{"headers":[]}`, "headers: must be an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p testPayload
			err := output.DecodePayload(json.RawMessage(c.in), &p)
			if c.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || err.Error() != c.err {
				t.Fatalf("error = %v, want %q", err, c.err)
			}
			if !errors.Is(err, output.ErrInvalidPayload) {
				t.Errorf("error does not wrap ErrInvalidPayload")
			}
			var pe *output.PayloadError
			if !errors.As(err, &pe) {
				t.Errorf("error is not a *PayloadError")
			}
		})
	}
	var p testPayload
	if err := output.DecodePayload(json.RawMessage(`{"name":"x","items":[{"url":"u","password":"p"}],"headers":{"K":"v"}}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.Name != "x" || len(p.Items) != 1 || p.Items[0].Password != "p" || p.Headers["K"] != "v" {
		t.Errorf("decoded %+v", p)
	}
	if err := output.DecodePayload(nil, p); err == nil {
		t.Error("DecodePayload into a non-pointer succeeded")
	}
}

func TestDecodePayloadNeverQuotesValues(t *testing.T) {
	for _, in := range []string{
		`{"name":"hunter2secret"`,
		`{"count":"hunter2secret"}`,
		`{"items":[{"password":7, "url":"hunter2secret"}]}`,
		`{"name":"x"} "hunter2secret"`,
		`{"name":hunter2secret}`,
	} {
		var p testPayload
		err := output.DecodePayload(json.RawMessage(in), &p)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("DecodePayload(%s) = %v", in, err)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, good := range []string{"channel.m3u8", "channel_720p_1234.ts", "a", "A-b_c.9", "init.mp4", strings.Repeat("a", 255)} {
		if err := output.ValidName(good); err != nil {
			t.Errorf("ValidName(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", `a\b`, ".hidden", "a..b", "x/../y", "a b", "é", "a\x00", "a:b", strings.Repeat("a", 256)} {
		if err := output.ValidName(bad); err == nil {
			t.Errorf("ValidName(%q) = nil", bad)
		}
		if err := output.CheckName(bad); !errors.Is(err, output.ErrInvalidName) {
			t.Errorf("CheckName(%q) = %v", bad, err)
		}
	}
}

func TestRedact(t *testing.T) {
	f := output.Factory{Secrets: []string{"password", "headers"}}
	cases := []struct{ in, want string }{
		{``, ``},
		{`null`, `null`},
		{`{"ingestUrls":[{"url":"u","username":"a","password":"p"},{"url":"v","Password":"q"}]}`,
			`{"ingestUrls":[{"password":"***","url":"u","username":"a"},{"Password":"***","url":"v"}]}`},
		{`{"password":{"nested":"x"},"headers":{"X-Key":"k"},"n":12345678901234567890}`,
			`{"headers":"***","n":12345678901234567890,"password":"***"}`},
		{`{"pass\u0077ord":"x"}`, `{"password":"***"}`},
		{`{"password":"a","password":"b"}`, `{"password":"***"}`},
		{`[{"password":1}]`, `[{"password":"***"}]`},
		{`{"password":"x"`, `null`},
		{`{"password":"x"} {"password":"y"}`, `null`},
		{`not json password`, `null`},
	}
	for _, c := range cases {
		got := string(f.Redact(json.RawMessage(c.in)))
		if got != c.want {
			t.Errorf("Redact(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	// RedactJSONFunc maps the other string values, never keys nor secrets.
	upper := string(output.RedactJSONFunc(json.RawMessage(`{"a":["x",{"b":"y","password":"p"}],"n":1}`), f.Secrets, strings.ToUpper))
	if want := `{"a":["X",{"b":"Y","password":"***"}],"n":1}`; upper != want {
		t.Errorf("RedactJSONFunc = %s, want %s", upper, want)
	}
}

func TestStatusError(t *testing.T) {
	e := &output.StatusError{Op: "PUT", URL: "http://h/x.ts", StatusCode: 401, Status: "401 Unauthorized", Body: "nope"}
	if got := e.Error(); got != "PUT http://h/x.ts: 401 Unauthorized: nope" {
		t.Errorf("Error() = %q", got)
	}
	e.Body = ""
	if got := e.Error(); got != "PUT http://h/x.ts: 401 Unauthorized" {
		t.Errorf("Error() = %q", got)
	}
}

func TestTimeoutMs(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		in   *float64
		want time.Duration
		err  string
	}{
		{nil, 0, ""},
		{f(0), 0, ""},
		{f(5000), 5 * time.Second, ""},
		{f(0.5), 500 * time.Microsecond, ""},
		{f(output.MaxTimeoutMs), time.Hour, ""},
		{f(-1), 0, "timeoutMs: must be a number of milliseconds from 0 to 3600000 (0 or absent: the default)"},
		{f(output.MaxTimeoutMs + 1), 0, "timeoutMs: must be a number of milliseconds from 0 to 3600000 (0 or absent: the default)"},
	}
	for _, c := range cases {
		got, err := output.TimeoutMs(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err || !errors.Is(err, output.ErrInvalidPayload) {
				t.Errorf("TimeoutMs(%v) error = %v, want %q", *c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("TimeoutMs = %v, %v, want %v", got, err, c.want)
		}
	}
}
