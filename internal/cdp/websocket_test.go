package cdp

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testutil"
)

func TestFrameRoundTrip(t *testing.T) {
	mask := [4]byte{1, 2, 3, 4}
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20} {
		payload := bytes.Repeat([]byte("x"), n)
		for _, m := range []*[4]byte{nil, &mask} {
			var buf bytes.Buffer
			if err := writeFrame(&buf, opText, payload, m); err != nil {
				t.Fatal(err)
			}
			f, err := readFrame(&buf, maxMessage)
			if err != nil {
				t.Fatalf("n=%d masked=%v: %v", n, m != nil, err)
			}
			if !f.fin || f.op != opText || !bytes.Equal(f.payload, payload) {
				t.Fatalf("n=%d masked=%v: got fin=%v op=%d len=%d", n, m != nil, f.fin, f.op, len(f.payload))
			}
			if buf.Len() != 0 {
				t.Fatalf("n=%d: %d bytes left", n, buf.Len())
			}
		}
	}
}

// rawFrame builds an unmasked frame with explicit FIN and opcode.
func rawFrame(fin bool, op byte, payload string) []byte {
	var b bytes.Buffer
	writeFrame(&b, op, []byte(payload), nil)
	out := b.Bytes()
	if !fin {
		out[0] &^= 0x80
	}
	return out
}

func TestReadMessage(t *testing.T) {
	join := func(frames ...[]byte) io.Reader { return bytes.NewReader(bytes.Join(frames, nil)) }
	cases := []struct {
		name    string
		in      io.Reader
		want    string
		wantErr string
		pings   int
	}{
		{"single", join(rawFrame(true, opText, `{"id":1}`)), `{"id":1}`, "", 0},
		{"fragmented with a ping between", join(
			rawFrame(false, opText, `{"id":`),
			rawFrame(true, opPing, "p"),
			rawFrame(false, opContinuation, `1`),
			rawFrame(true, opContinuation, `}`),
		), `{"id":1}`, "", 1},
		{"empty", join(rawFrame(true, opText, "")), "", "", 0},
		{"close", join(rawFrame(true, opClose, "")), "", errClosed.Error(), 0},
		{"continuation first", join(rawFrame(true, opContinuation, "x")), "", "continuation without a message", 0},
		{"new message inside", join(rawFrame(false, opText, "a"), rawFrame(true, opText, "b")), "", "new message inside", 0},
		{"fragmented ping", join(rawFrame(false, opPing, "a")), "", "invalid control frame", 0},
		{"unknown opcode", join(rawFrame(true, 0x3, "a")), "", "unknown opcode", 0},
		{"reserved bits", bytes.NewReader([]byte{0xC1, 0x00}), "", "reserved bits", 0},
		{"truncated length", bytes.NewReader([]byte{0x81, 126, 0}), "", io.ErrUnexpectedEOF.Error(), 0},
		{"truncated payload", bytes.NewReader([]byte{0x81, 5, 'a'}), "", io.ErrUnexpectedEOF.Error(), 0},
		{"too large", bytes.NewReader([]byte{0x81, 127, 0xFF, 0, 0, 0, 0, 0, 0, 0}), "", "exceeds the limit", 0},
		{"eof", bytes.NewReader(nil), "", io.EOF.Error(), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pings := 0
			msg, err := readMessage(c.in, 1<<20, func(op byte, p []byte) error {
				if op == opPing {
					pings++
				}
				return nil
			})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || string(msg) != c.want || msg == nil {
				t.Fatalf("got %q, %v; want %q", msg, err, c.want)
			}
			if pings != c.pings {
				t.Errorf("pings = %d, want %d", pings, c.pings)
			}
		})
	}
}

// FuzzReadMessage feeds arbitrary bytes to the frame reader: it must
// return a message or an error, never panic or allocate past the limit.
func FuzzReadMessage(f *testing.F) {
	f.Add(rawFrame(true, opText, `{"id":1,"result":{}}`))
	f.Add(bytes.Join([][]byte{rawFrame(false, opText, "a"), rawFrame(true, opPing, ""), rawFrame(true, opContinuation, "b")}, nil))
	f.Add([]byte{0x81, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := readMessage(bytes.NewReader(data), 1<<16, nil)
		if err == nil && len(msg) > 1<<16 {
			t.Fatalf("message of %d bytes past the limit", len(msg))
		}
	})
}

// wsEchoServer is a minimal WebSocket server that answers every text
// message with {"id":N,"result":{"echo":...}} after a ping.
func wsEchoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-Websocket-Key")
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		h := sha1.Sum([]byte(key + wsGUID))
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n")
		brw.Flush()
		for {
			msg, err := readMessage(brw, maxMessage, nil)
			if err != nil {
				return
			}
			writeFrame(conn, opPing, []byte("hi"), nil)
			writeFrame(conn, opText, []byte(`{"method":"Test.event","params":{"n":1}}`), nil)
			var id string
			if i := bytes.Index(msg, []byte(`"id":`)); i >= 0 {
				id = string(bytes.TrimRight(bytes.SplitN(msg[i+5:], []byte(","), 2)[0], "}"))
			}
			if bytes.Contains(msg, []byte("Fail.me")) {
				writeFrame(conn, opText, []byte(`{"id":`+id+`,"error":{"code":-32000,"message":"nope"}}`), nil)
				continue
			}
			// Answer in two fragments.
			body := []byte(`{"id":` + id + `,"result":{"echo":` + string(msg) + `}}`)
			half := len(body) / 2
			var b bytes.Buffer
			writeFrame(&b, opText, body[:half], nil)
			first := b.Bytes()
			first[0] &^= 0x80
			conn.Write(first)
			writeFrame(conn, opContinuation, body[half:], nil)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPageCall(t *testing.T) {
	srv := wsEchoServer(t)
	p, err := dialPage("ws" + strings.TrimPrefix(srv.URL, "http") + "/devtools/page/x")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var res struct {
		Echo struct {
			Method string `json:"method"`
			Params struct {
				A int `json:"a"`
			} `json:"params"`
		} `json:"echo"`
	}
	if err := p.Call(ctx, "Test.echo", map[string]int{"a": 7}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Echo.Method != "Test.echo" || res.Echo.Params.A != 7 {
		t.Errorf("result = %+v", res)
	}
	err = p.Call(ctx, "Fail.me", nil, nil)
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Message != "nope" || cerr.Method != "Fail.me" {
		t.Errorf("error = %v", err)
	}
	select {
	case ev := <-p.Events():
		if ev.Method != "Test.event" {
			t.Errorf("event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
}

func TestHandshakeRejected(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := dialPage("ws" + strings.TrimPrefix(srv.URL, "http") + "/x"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("dial to a plain HTTP server: %v", err)
	}
	if _, _, err := dialWebSocket("wss://127.0.0.1:1/x", time.Second); err == nil {
		t.Error("wss accepted")
	}
}

func TestCallAfterClose(t *testing.T) {
	srv := wsEchoServer(t)
	p, err := dialPage("ws" + strings.TrimPrefix(srv.URL, "http") + "/x")
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.Call(context.Background(), "Test.echo", nil, nil); err == nil {
		t.Error("call on a closed page succeeded")
	}
	for range p.Events() { // closed when the reader stops
	}
}

// TestChromium drives a real headless Chromium: evaluate and screenshot.
func TestChromium(t *testing.T) {
	path := testutil.RequireTool(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := Start(ctx, path, "--window-size=400,300")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><title>t</title><p id=p>hello</p>`)
	}))
	defer srv.Close()
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatalf("%v\n%s", err, b.Output())
	}
	defer p.Close()
	if err := p.Navigate(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	var text string
	testutil.Eventually(t, 20*time.Second, func() bool {
		return p.Evaluate(ctx, `document.getElementById('p') ? document.getElementById('p').textContent : ''`, &text) == nil && text == "hello"
	}, "page text %q", &text)
	var sum int
	if err := p.Evaluate(ctx, `Promise.resolve(40 + 2)`, &sum); err != nil || sum != 42 {
		t.Errorf("awaited evaluate = %d, %v", sum, err)
	}
	if err := p.Evaluate(ctx, `(() => { throw new Error('boom') })()`, nil); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("exception: %v", err)
	}
	png, err := p.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot is not a PNG: % x", png[:min(8, len(png))])
	}
}
