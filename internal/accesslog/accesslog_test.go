package accesslog

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler logs method, path, status, bytes in and out, and redacts
// secret query values over a real loopback request.
func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	srv := httptest.NewServer(Handler(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("hello"))
	})))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/in/x.ts?start=1&token=s3cret", "video/mp2t", strings.NewReader("0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	line := buf.String()
	for _, want := range []string{`msg="http request"`, "method=POST", "path=/in/x.ts", "query=\"start=1&token=REDACTED\"", "status=201", "bytes=5", "bytes_in=10", "duration=", "remote=127.0.0.1:"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %s", want, line)
		}
	}
	if strings.Contains(line, "s3cret") {
		t.Fatalf("secret logged: %s", line)
	}
}
