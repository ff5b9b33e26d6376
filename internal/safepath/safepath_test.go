package safepath

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRefusedBeforeTheMux sends each unsafe form, as raw request lines over
// loopback, to a ServeMux (which would redirect them) behind Handler: each
// is answered 400 with a JSON error and never reaches the mux; safe paths
// do.
func TestRefusedBeforeTheMux(t *testing.T) {
	reached := 0
	mux := http.NewServeMux()
	mux.HandleFunc("/in/", func(w http.ResponseWriter, r *http.Request) { reached++; w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("/out/", func(w http.ResponseWriter, r *http.Request) { reached++ })
	srv := httptest.NewServer(Handler(mux))
	defer srv.Close()
	for _, c := range []struct {
		method, target string
		want           int
	}{
		{"PUT", "/in/v2/1/a/../../../../escape.ts", 400},
		{"PUT", "/in/v2/1/a/%2e%2e/%2E%2E/escape.ts", 400},
		{"PUT", "/in/v2/1/a/./channel.m3u8", 400},
		{"PUT", "/in/v2/1//a/channel.m3u8", 400},
		{"PUT", "/in/v2/1/a/..%2f..%2fescape.ts", 400},
		{"PUT", "/in/v2/1/a%2Fb/channel.m3u8", 400},
		{"PUT", "/in/v2/1/a/..%5cescape.ts", 400},
		{"PUT", "/in/v2/1/a/x%00.ts", 400},
		{"GET", "/out/v1/1/../../etc/passwd", 400},
		{"GET", "/out/v1/1/ts/index.m3u8?x=../..", 200},
		{"GET", "/out/v1/1//index.m3u8", 400},
		{"PUT", "/in/v2/1/a/channel_1.ts", 201},
		{"GET", "/out/v1/1/ts/a..b.m3u8", 200},
	} {
		status, body := raw(t, srv.Listener.Addr().String(), c.method, c.target)
		if status != c.want {
			t.Errorf("%s %s: %d, want %d (%s)", c.method, c.target, status, c.want, body)
			continue
		}
		if c.want == 400 {
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Errorf("%s %s: body %q is no JSON error", c.method, c.target, body)
			}
		}
	}
	if reached != 3 {
		t.Fatalf("%d requests reached the mux, want the 3 safe ones", reached)
	}
}

// raw sends one request line as written and returns the status and body.
func raw(t *testing.T, addr, method, target string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody", method, target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"/in/v2/1/a/../x", "/out/v1/1/ts/index.m3u8", "/a%2f", "//", "/%2e/", "/x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if Check(p) != "" {
			return
		}
		// A path Check lets through has no segment that cleaning or
		// unescaping would turn into a different path.
		segs := strings.Split(p, "/")
		for i, seg := range segs[1:] {
			if (seg == "" && i < len(segs)-2) || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
				t.Fatalf("%q passed with segment %q", p, seg)
			}
		}
	})
}
