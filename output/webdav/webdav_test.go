package webdav_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/internal/davtest"
	"github.com/pullpush/pullpush/output/outputtest"
	"github.com/pullpush/pullpush/output/webdav"
)

const password = "w3bdav-Secret-pw"

func TestContract(t *testing.T) {
	for _, auth := range []webdav.Auth{webdav.AuthNone, webdav.AuthBasic, webdav.AuthDigest} {
		t.Run(string(auth), func(t *testing.T) {
			outputtest.Run(t, func(t *testing.T) (output.Output, outputtest.Reader) {
				opts := davtest.Options{}
				cfg := webdav.Config{Auth: auth, DeleteExpired: true}
				switch auth {
				case webdav.AuthBasic:
					opts.Basic = &davtest.Credentials{Username: "u", Password: password}
					cfg.Username, cfg.Password = "u", password
				case webdav.AuthDigest:
					opts.Digest = &davtest.Credentials{Username: "u", Password: password}
					cfg.Username, cfg.Password = "u", password
				}
				s := davtest.New(t, opts)
				cfg.URL = s.URL + "/dav/live"
				o, err := webdav.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return o, davtest.Reader{Servers: []*davtest.Server{s}, Dirs: []string{"/dav/live/"}}
			})
		})
	}
}

func TestDeleteExpiredOff(t *testing.T) {
	s := davtest.New(t, davtest.Options{})
	o, err := webdav.New(webdav.Config{URL: s.URL + "/live/"})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	tg := o.Targets()[0]
	if err := tg.Put(t.Context(), outputtest.BytesFile("channel_1.ts", "video/mp2t", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if err := tg.Delete(t.Context(), "channel_1.ts"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("/live/channel_1.ts"); !ok {
		t.Error("file deleted although deleteExpired is false")
	}
	for _, r := range s.Requests() {
		if r.Method == http.MethodDelete {
			t.Errorf("DELETE sent although deleteExpired is false")
		}
	}
	if err := tg.Delete(t.Context(), "../x"); !errors.Is(err, output.ErrInvalidName) {
		t.Errorf("Delete(../x) = %v", err)
	}
}

func TestHeadersStemAndName(t *testing.T) {
	s := davtest.New(t, davtest.Options{})
	o, err := webdav.Factory.New(json.RawMessage(`{"url":"` + s.URL + `/a/b","headers":{"x-api-key":"` + password + `","X-Extra":"1"},"stem":"live"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Stem() != "live" {
		t.Errorf("Stem() = %q", o.Stem())
	}
	tg := o.Targets()[0]
	if want := "webdav " + s.URL + "/a/b/"; tg.Name() != want {
		t.Errorf("Name() = %q, want %q", tg.Name(), want)
	}
	if err := tg.Put(t.Context(), outputtest.BytesFile("live.m3u8", "application/vnd.apple.mpegurl", []byte("#EXTM3U\n"))); err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get("/a/b/live.m3u8")
	if !ok {
		t.Fatalf("not stored: %v", s.Paths())
	}
	if got.Header.Get("X-Api-Key") != password || got.Header.Get("X-Extra") != "1" {
		t.Errorf("headers %v", got.Header)
	}
	if got.ContentType != "application/vnd.apple.mpegurl" {
		t.Errorf("Content-Type %q", got.ContentType)
	}
}

func TestErrors(t *testing.T) {
	s := davtest.New(t, davtest.Options{Basic: &davtest.Credentials{Username: "u", Password: password}})
	o, err := webdav.New(webdav.Config{URL: s.URL + "/live/", Auth: webdav.AuthBasic, Username: "u", Password: "nope-" + password, DeleteExpired: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	tg := o.Targets()[0]
	err = tg.Put(t.Context(), outputtest.BytesFile("channel_1.ts", "video/mp2t", []byte("x")))
	var se *output.StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Put = %v, want a 401 StatusError", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error leaks the password: %v", err)
	}
	if err := tg.Delete(t.Context(), "channel_1.ts"); err == nil {
		t.Error("unauthorised Delete succeeded")
	}
}

func TestPayload(t *testing.T) {
	for _, c := range payloadCases {
		t.Run(c.name, func(t *testing.T) {
			o, err := webdav.Factory.New(json.RawMessage(c.payload))
			if c.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				o.Close()
				return
			}
			if err == nil {
				o.Close()
				t.Fatalf("accepted, want %q", c.err)
			}
			if err.Error() != c.err || !errors.Is(err, output.ErrInvalidPayload) {
				t.Errorf("error = %q, want %q wrapping ErrInvalidPayload", err, c.err)
			}
		})
	}
}

var payloadCases = []struct{ name, payload, err string }{
	{"minimal", `{"url":"http://127.0.0.1/live/"}`, ""},
	{"full", `{"url":"https://h/live","auth":"digest","username":"u","password":"p","deleteExpired":true,"headers":{"X-Api-Key":"k"},"stem":"live"}`, ""},
	{"basic", `{"url":"https://h/","auth":"basic","username":"u"}`, ""},
	{"host only", `{"url":"https://h"}`, ""},
	{"absent", ``, "url: required"},
	{"unknown", `{"url":"http://h/","user":"u"}`, "user: unknown field"},
	{"scheme", `{"url":"file:///tmp"}`, "url: must be http or https"},
	{"credentials", `{"url":"http://u:p@h/"}`, "url: must not contain credentials; use username and password"},
	{"query", `{"url":"http://h/?token=x"}`, "url: must not have a query or fragment"},
	{"unclean", `{"url":"http://h/a/../b/"}`, "url: path must be clean (no //, . or .. elements)"},
	{"bad auth", `{"url":"http://h/","auth":"ntlm"}`, `auth: must be "none", "basic" or "digest"`},
	{"auth missing", `{"url":"http://h/","username":"u","password":"p"}`, `auth: required when username or password is set ("basic" or "digest")`},
	{"auth none with user", `{"url":"http://h/","auth":"none","username":"u"}`, `auth: is "none" but username or password is set`},
	{"digest without user", `{"url":"http://h/","auth":"digest","password":"p"}`, "username: required when auth is digest"},
	{"deleteExpired type", `{"url":"http://h/","deleteExpired":"yes"}`, "deleteExpired: must be a boolean"},
	{"headers type", `{"url":"http://h/","headers":["a"]}`, "headers: must be an object"},
	{"header value type", `{"url":"http://h/","headers":{"X-A":1}}`, "headers.X-A: must be a string"},
	{"header name", `{"url":"http://h/","headers":{"X A":"1"}}`, "headers.X A: not a valid header name"},
	{"header value", `{"url":"http://h/","headers":{"X-A":"a\nb"}}`, "headers.X-A: value has control characters"},
	{"reserved header", `{"url":"http://h/","headers":{"content-length":"1"}}`, "headers.content-length: is set by the client and cannot be configured"},
	{"authorization with auth", `{"url":"http://h/","auth":"basic","username":"u","headers":{"Authorization":"x"}}`, `headers.Authorization: conflicts with auth "basic"`},
	{"stem", `{"url":"http://h/","stem":"../x"}`, "stem: must be a name of [A-Za-z0-9._-] not starting with a dot"},
}

func TestSchema(t *testing.T) {
	outputtest.CheckSchema(t, webdav.Factory, webdav.Payload{})
}

func TestRedact(t *testing.T) {
	got := string(webdav.Factory.Redact(json.RawMessage(`{"url":"http://h/","auth":"basic","username":"u","password":"p","headers":{"X-Api-Key":"k"}}`)))
	want := `{"auth":"basic","headers":"***","password":"***","url":"http://h/","username":"u"}`
	if got != want {
		t.Errorf("Redact = %s, want %s", got, want)
	}
}

func FuzzWebDAVPayload(f *testing.F) {
	for _, c := range payloadCases {
		f.Add([]byte(c.payload))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		outputtest.CheckPayload(t, webdav.Factory, payload)
	})
}
