package cdp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pullpush/pullpush/internal/testutil"
)

// wsEchoServer is a WebSocket server that answers every text message with
// a ping, an event and {"id":N,"result":{"echo":...}} in two fragments
// (or an error answer for Fail.me). pongs counts the pings the client
// answered.
func wsEchoServer(t *testing.T) (srv *httptest.Server, pongs *atomic.Int32) {
	t.Helper()
	pongs = new(atomic.Int32)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.CloseNow()
		ctx := r.Context()
		for {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			go func() { // the pong arrives while this loop reads
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				if conn.Ping(pctx) == nil {
					pongs.Add(1)
				}
			}()
			conn.Write(ctx, websocket.MessageText, []byte(`{"method":"Test.event","params":{"n":1}}`))
			var call struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(msg, &call); err != nil {
				t.Errorf("call %q: %v", msg, err)
				return
			}
			id := strconv.FormatInt(call.ID, 10)
			if bytes.Contains(msg, []byte("Hang.me")) {
				continue // never answered
			}
			if bytes.Contains(msg, []byte("Fail.me")) {
				conn.Write(ctx, websocket.MessageText, []byte(`{"id":`+id+`,"error":{"code":-32000,"message":"nope"}}`))
				continue
			}
			body := []byte(`{"id":` + id + `,"result":{"echo":` + string(msg) + `}}`)
			wr, err := conn.Writer(ctx, websocket.MessageText)
			if err != nil {
				return
			}
			wr.Write(body[:len(body)/2])
			wr.Write(body[len(body)/2:])
			if wr.Close() != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, pongs
}

func wsURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

func TestPageCall(t *testing.T) {
	srv, pongs := wsEchoServer(t)
	p, err := dialPage(context.Background(), wsURL(srv, "/devtools/page/x"))
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
	testutil.Eventually(t, 5*time.Second, func() bool { return pongs.Load() > 0 }, "the client answered no ping")
}

// TestCallContextKeepsPage checks that a call given up on (its context
// already done, or ending while the answer is awaited) fails alone: the
// page still answers the next call.
func TestCallContextKeepsPage(t *testing.T) {
	srv, _ := wsEchoServer(t)
	p, err := dialPage(context.Background(), wsURL(srv, "/x"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Call(done, "Test.echo", nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("call with a cancelled context: %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Call(short, "Hang.me", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered call: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Call(ctx, "Test.echo", map[string]int{"a": 1}, nil); err != nil {
		t.Fatalf("call after the given-up ones: %v", err)
	}
}

func TestHandshakeRejected(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := dialPage(context.Background(), wsURL(srv, "/x")); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("dial to a plain HTTP server: %v", err)
	}
	if _, err := dialPage(context.Background(), "wss://127.0.0.1:1/x"); err == nil {
		t.Error("wss accepted")
	}
}

func TestCallAfterClose(t *testing.T) {
	srv, _ := wsEchoServer(t)
	p, err := dialPage(context.Background(), wsURL(srv, "/x"))
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
