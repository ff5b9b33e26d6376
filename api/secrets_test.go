package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/api/internal/redact"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/store"
)

// TestSecretsNeverLeave drives every endpoint, success and error paths,
// with a payload password, a password in the source URL and a token in its
// query, and checks that none appears in any response body or log line.
func TestSecretsNeverLeave(t *testing.T) {
	const (
		password  = "Pa55-w0rd-never-shown"
		urlPass   = "url-pass-never-shown"
		urlToken  = "query-token-never-shown"
		apiToken  = "api-token-never-logged-123"
		storedPwd = "stored-secret-of-a-broken-one"
	)
	secrets := []string{password, urlPass, urlToken, apiToken, storedPwd}

	st := store.NewMemory()
	// A stored fetcher whose output is no longer registered: restored as
	// "failed", its error and payload shown redacted.
	ctx := context.Background()
	st.PutFetcher(ctx, store.Fetcher{ID: "oldone", Name: "old", URL: "http://u:" + urlPass + "@127.0.0.1:1/m.m3u8",
		Output: "gone", Payload: json.RawMessage(`{"password":"` + storedPwd + `","nested":{"token":"` + storedPwd + `"}}`)})

	h := newHarness(t, harnessOpts{store: st, token: apiToken})
	if _, err := h.api.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	record := func(r result) result { bodies = append(bodies, string(r.body)); return r }

	src := "http://user:" + urlPass + "@127.0.0.1:1/live/master.m3u8?token=" + urlToken + "&x=1"
	payload := `{"ingestUrls":[{"url":"http://127.0.0.1:1/in/v2/abc/a/channel","username":"u","password":"` + password + `"},` +
		`{"url":"http://127.0.0.1:1/in/v2/abc/b/channel","username":"u","password":"` + password + `"}]}`
	body := `{"name":"secret","url":"` + src + `","output":"test","payload":` + payload + `}`

	created := record(h.do("POST", "/api/v1/fetcher", body))
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	var f Fetcher
	created.json(t, &f)
	// Payload given as a string too.
	record(h.do("POST", "/api/v1/fetcher", `{"name":"secret2","url":"`+src+`","output":"test","payload":`+redact.JSONQuote(payload)+`}`))
	// Error paths that see the payload: duplicate name, and a factory error
	// quoting the password.
	record(h.do("POST", "/api/v1/fetcher", body))
	leak := `{"name":"leaky","url":"` + src + `","output":"test","payload":{"ingestUrls":[{"url":"http://127.0.0.1:1/in/channel","username":"leak","password":"` + password + `"}]}}`
	r := record(h.do("POST", "/api/v1/fetcher", leak))
	if r.status != 400 || r.errorMsg(t) != `invalid payload for output "test": ingestUrls[0]: login leak:*** refused` {
		t.Fatalf("factory error: %d %s", r.status, r.body)
	}
	record(h.do("POST", "/api/v1/fetcher", `{"name":"bad","url":"ftp://u:`+urlPass+`@127.0.0.1/m3u8","output":"test","payload":`+payload+`}`))

	for _, p := range []string{"/api/v1/fetcher", "/api/v1/fetcher/" + f.ID, "/api/v1/fetcher/oldone",
		"/api/v1/outputs", "/api/docs", "/api/docs/openapi.json", "/metrics", "/health"} {
		r := record(h.do("GET", p, ""))
		if r.status != 200 {
			t.Errorf("GET %s: %d", p, r.status)
		}
	}
	// Log lines as a fetch engine or an output might write them, through
	// the service's logger: URL secrets and payload secrets are hidden.
	flog := h.log.With("fetcher", f.ID, "url", src)
	flog.Warn("source not available", "err", fmt.Errorf("get %s: %w", src, errors.New("connection refused")))
	flog.Error("push failed", "err", fmt.Errorf("login u:%s refused", password), "target", struct{ Pass string }{password},
		slog.Group("req", "header", "Authorization: Digest "+password))
	flog.Info("message with " + password + " and " + src)
	record(h.do("DELETE", "/api/v1/fetcher/"+f.ID, ""))
	record(h.do("DELETE", "/api/v1/fetcher/oldone", ""))

	logs := h.logs.String()
	for _, s := range secrets {
		for _, b := range bodies {
			if strings.Contains(b, s) {
				t.Errorf("secret %q in response: %s", s, b)
			}
		}
		if strings.Contains(logs, s) {
			t.Errorf("secret %q in log:\n%s", s, logs)
		}
	}
	// Redacted, not dropped: a reader can see where the secrets were.
	if !strings.Contains(string(created.body), `"password":"***"`) ||
		!strings.Contains(f.URL, "user:***@") || !strings.Contains(f.URL, "token=***") {
		t.Errorf("create response not redacted as expected: %s", created.body)
	}
	if !strings.Contains(logs, "fetcher created") || !strings.Contains(logs, "fetcher not restored") {
		t.Errorf("expected log lines missing:\n%s", logs)
	}
}

func TestRedactPayload(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"password":"x"}`, `{"password":"***"}`},
		{`{"Password":"x","user":"u"}`, `{"Password":"***","user":"u"}`},
		{`{"a":[{"secretKey":"x","n":1.50}]}`, `{"a":[{"n":1.50,"secretKey":"***"}]}`},
		{`{"custom":{"deep":"x"}}`, `{"custom":"***"}`},
		{`{"url":"https://u:p@h/x?sig=abc&keep=1"}`, `{"url":"https://u:***@h/x?keep=1\u0026sig=***"}`},
		{`{"url":"not a url"}`, `{"url":"not a url"}`},
		{`not json`, `null`},
		{``, ``},
	} {
		got := string(redact.RedactPayload(json.RawMessage(tc.in), []string{"custom"}))
		if got != tc.want {
			t.Errorf("redact(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := redact.RedactURL("http://127.0.0.1/m.m3u8"); got != "http://127.0.0.1/m.m3u8" {
		t.Errorf("plain URL changed: %s", got)
	}
	// A factory without secrets still gets the common ones redacted.
	f := output.Factory{}
	if got := string(redact.RedactPayload(json.RawMessage(`{"apiKey":"k","token":"t"}`), f.Secrets)); got != `{"apiKey":"***","token":"***"}` {
		t.Errorf("default secrets: %s", got)
	}
}
