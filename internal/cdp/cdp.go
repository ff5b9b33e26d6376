// Package cdp is a minimal Chrome DevTools Protocol client for tests: it
// starts headless Chromium on loopback, opens pages and sends them
// commands (Runtime.evaluate, Page.captureScreenshot, ...) over a
// WebSocket (github.com/coder/websocket).
package cdp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/pullpush/pullpush/internal/testutil"
)

// baseFlags are the flags every Chromium started here gets: headless, as
// root, without the background traffic to Google services (which fails
// without network).
func baseFlags() []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
		"--mute-audio", "--autoplay-policy=no-user-gesture-required",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
	}
}

// startTimeout bounds how long Chromium takes to open its DevTools port.
const startTimeout = 30 * time.Second

// Browser is a running headless Chromium.
type Browser struct {
	cmd  *exec.Cmd
	dir  string // user data dir, removed by Close
	addr string // DevTools host:port
	out  *testutil.LockedBuffer
	done chan struct{} // closed when the process exited

	closeOnce sync.Once
}

// Start launches Chromium at path headless, with a new user data directory
// and the DevTools protocol on a free loopback port. extra flags (e.g.
// "--window-size=1280,900") are appended. Call Close when done.
func Start(ctx context.Context, path string, extra ...string) (*Browser, error) {
	dir, err := os.MkdirTemp("", "pullpush-chromium-")
	if err != nil {
		return nil, fmt.Errorf("chromium: %w", err)
	}
	args := append(append(baseFlags(), "--user-data-dir="+dir), extra...)
	args = append(args, "about:blank")
	b := &Browser{dir: dir, out: &testutil.LockedBuffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(path, args...)
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	setProcessGroup(b.cmd)
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("chromium: %w", err)
	}
	go func() {
		b.cmd.Wait()
		close(b.done)
	}()
	// Chromium writes the port it bound to DevToolsActivePort in the user
	// data directory.
	deadline := time.Now().Add(startTimeout)
	for {
		data, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort"))
		if err == nil {
			line, _, _ := strings.Cut(string(data), "\n")
			if port, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && port > 0 {
				b.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
				return b, nil
			}
		}
		select {
		case <-b.done:
			b.Close()
			return nil, fmt.Errorf("chromium exited before opening DevTools: %s", b.Output())
		case <-ctx.Done():
			b.Close()
			return nil, fmt.Errorf("chromium: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Close()
			return nil, fmt.Errorf("chromium did not open DevTools within %s: %s", startTimeout, b.Output())
		}
	}
}

// Output returns what Chromium wrote to stdout and stderr so far.
func (b *Browser) Output() string { return b.out.String() }

// Close kills Chromium (and its helper processes) and removes its user
// data directory.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		killProcessGroup(b.cmd)
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
		}
		os.RemoveAll(b.dir)
	})
	return nil
}

// target is an entry of the DevTools HTTP endpoint /json/*.
type target struct {
	ID                   string `json:"id"`
	Type                 string `json:"type"`
	WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
}

// NewPage opens a new tab on about:blank and connects to it. Navigate it
// with (*Page).Navigate once its events are wanted.
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+b.addr+"/json/new?about:blank", nil)
	if err != nil {
		return nil, fmt.Errorf("new page: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("new page: %w", err)
	}
	defer resp.Body.Close()
	var t target
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return nil, fmt.Errorf("new page: %s: %w", resp.Status, err)
	}
	if t.WebSocketDebuggerURL == "" {
		return nil, fmt.Errorf("new page: %s: no webSocketDebuggerUrl", resp.Status)
	}
	return dialPage(ctx, t.WebSocketDebuggerURL)
}

// Event is a protocol event (a message without id).
type Event struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// Error is an error answer to a command.
type Error struct {
	Method  string
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (%d) %s", e.Method, e.Message, e.Code, e.Data)
}

type response struct {
	ID     int64           `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

// Page is a connection to one tab.
type Page struct {
	conn *websocket.Conn

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan response
	err     error // set when the reader stopped

	events chan Event
	done   chan struct{}
}

// eventBuffer is how many events a Page keeps for Events; older ones are
// dropped when nobody reads them.
const eventBuffer = 1024

// maxMessage bounds one received message (a full-page PNG screenshot,
// base64-encoded, stays well below it).
const maxMessage = 64 << 20

// dialTimeout bounds the WebSocket handshake with a page, writeTimeout
// the sending of one command.
const (
	dialTimeout  = 10 * time.Second
	writeTimeout = 10 * time.Second
)

// dialPage connects to a page's ws:// DevTools URL; ctx bounds the
// handshake only.
func dialPage(ctx context.Context, wsURL string) (*Page, error) {
	if !strings.HasPrefix(wsURL, "ws://") {
		return nil, fmt.Errorf("websocket url %q: only ws:// is supported", wsURL)
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("page %s: %w", wsURL, err)
	}
	conn.SetReadLimit(maxMessage)
	p := &Page{conn: conn, pending: map[int64]chan response{}, events: make(chan Event, eventBuffer), done: make(chan struct{})}
	go p.read()
	return p, nil
}

// read delivers answers to their calls and events to Events until the
// connection ends. The library answers pings while it reads.
func (p *Page) read() {
	var err error
	defer func() {
		p.mu.Lock()
		p.err = err
		for id, ch := range p.pending {
			close(ch)
			delete(p.pending, id)
		}
		p.mu.Unlock()
		close(p.events)
		close(p.done)
	}()
	for {
		var msg []byte
		_, msg, err = p.conn.Read(context.Background())
		if err != nil {
			return
		}
		var r response
		if json.Unmarshal(msg, &r) != nil {
			continue
		}
		if r.ID == 0 {
			select {
			case p.events <- Event{Method: r.Method, Params: r.Params}:
			default: // nobody reads events: drop
			}
			continue
		}
		p.mu.Lock()
		ch := p.pending[r.ID]
		delete(p.pending, r.ID)
		p.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

// Events returns the page's protocol events (Runtime.consoleAPICalled,
// Runtime.exceptionThrown, ... once the domain is enabled). The channel is
// closed when the connection ends.
func (p *Page) Events() <-chan Event { return p.events }

// Call sends a command and decodes its result into result (unless nil).
func (p *Page) Call(ctx context.Context, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	ch := make(chan response, 1)
	p.mu.Lock()
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		return fmt.Errorf("%s: connection closed: %w", method, err)
	}
	p.nextID++
	id := p.nextID
	p.pending[id] = ch
	p.mu.Unlock()
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	// The library closes the connection when the write's context ends
	// mid-frame: write under a bound of its own, so that a caller giving up
	// on one answer keeps the page.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	err = p.conn.Write(wctx, websocket.MessageText, msg)
	wcancel()
	if err != nil {
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: connection closed", method)
		}
		if r.Error != nil {
			r.Error.Method = method
			return r.Error
		}
		if result != nil {
			if err := json.Unmarshal(r.Result, result); err != nil {
				return fmt.Errorf("%s: decode result: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Navigate loads url and waits for the navigation to be committed.
func (p *Page) Navigate(ctx context.Context, url string) error {
	var r struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.Call(ctx, "Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("navigate %s: %s", url, r.ErrorText)
	}
	return nil
}

// Evaluate runs a JavaScript expression in the page (awaiting a returned
// promise) and decodes its value, which must be JSON-serialisable, into out
// (unless nil). A thrown exception is an error.
func (p *Page) Evaluate(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.Call(ctx, "Runtime.evaluate", map[string]any{
		"expression": expr, "returnByValue": true, "awaitPromise": true,
	}, &r)
	if err != nil {
		return err
	}
	if d := r.ExceptionDetails; d != nil {
		return fmt.Errorf("evaluate %q: %s %s", expr, d.Text, d.Exception.Description)
	}
	if out == nil {
		return nil
	}
	if len(r.Result.Value) == 0 {
		return fmt.Errorf("evaluate %q: no value (type %s)", expr, r.Result.Type)
	}
	if err := json.Unmarshal(r.Result.Value, out); err != nil {
		return fmt.Errorf("evaluate %q: %w", expr, err)
	}
	return nil
}

// Screenshot returns a PNG of the page's viewport.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := p.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	return png, nil
}

// Close closes the connection to the page (the tab stays open), with a
// close handshake of at most a few seconds.
func (p *Page) Close() error {
	err := p.conn.Close(websocket.StatusNormalClosure, "")
	<-p.done
	if err != nil && !errors.Is(err, net.ErrClosed) && websocket.CloseStatus(err) == -1 {
		return fmt.Errorf("close page: %w", err)
	}
	return nil
}
