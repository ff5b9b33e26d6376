package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// handling is the state of one request.
type handling struct {
	p   *Proxy
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	d   decision
	ev  Event
}

// injected counts the fault of the decision as applied.
func (h *handling) injected(detail string, args ...any) {
	f := h.d.rule.Fault
	h.ev.Fault = f
	h.ev.Detail = fmt.Sprintf(detail, args...)
	h.p.mu.Lock()
	h.p.stats.Faults[f]++
	h.p.mu.Unlock()
}

// notApplied notes that the rule fired but its fault could not apply.
func (h *handling) notApplied(why string) {
	h.ev.Detail = fmt.Sprintf("%s not applied: %s", h.d.rule.Fault, why)
}

// abort drops the client connection without (further) response. The
// http.Server recovers http.ErrAbortHandler silently.
func (h *handling) abort() {
	panic(http.ErrAbortHandler)
}

// wait blocks for d (forever when 0) or until the request ends or the proxy
// closes; it reports whether d elapsed.
func (h *handling) wait(d time.Duration) bool {
	if d <= 0 {
		<-h.ctx.Done()
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-h.ctx.Done():
		return false
	}
}

func (h *handling) status() {
	code := h.d.rule.Status
	if code == 0 {
		code = http.StatusServiceUnavailable
	}
	h.injected("answered %d", code)
	h.ev.Status = code
	http.Error(h.w, fmt.Sprintf("chaos: injected %d %s", code, http.StatusText(code)), code)
}

func (h *handling) delay() {
	h.injected("delayed %s", h.d.rule.Delay)
	if !h.wait(h.d.rule.Delay) {
		h.abort()
	}
	h.forward()
}

func (h *handling) hang() {
	if h.d.rule.Delay > 0 {
		h.injected("held the request up to %s, then dropped the connection", h.d.rule.Delay)
	} else {
		h.injected("held the request until the client gave up")
	}
	h.wait(h.d.rule.Delay)
	h.abort()
}

func (h *handling) reset() {
	conn, _, err := http.NewResponseController(h.w).Hijack()
	if err != nil {
		h.injected("connection dropped (cannot hijack: %v)", err)
		h.abort()
	}
	h.injected("connection reset")
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // TLS
		raw = nc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close sends RST
	}
	_ = conn.Close()
}

func (h *handling) truncate() {
	resp, ok := h.roundTrip(false)
	if !ok {
		return
	}
	defer resp.Body.Close()
	if h.r.Method == http.MethodHead || !bodyAllowed(resp.StatusCode) {
		h.notApplied("response has no body")
		h.copyResponse(resp, resp.Body, resp.ContentLength)
		return
	}
	total := resp.ContentLength
	var body io.Reader = resp.Body
	if total < 0 {
		buf, err := io.ReadAll(io.LimitReader(resp.Body, maxTruncateBuffer))
		if err != nil {
			h.ev.Detail = fmt.Sprintf("upstream body: %v", err)
			h.abort()
		}
		total, body = int64(len(buf)), bytes.NewReader(buf)
	}
	if total == 0 {
		h.injected("empty body: connection dropped before the response")
		h.abort()
	}
	keep := h.d.rule.Bytes
	if keep == 0 {
		keep = int64(float64(total) * h.d.rule.Percent / 100)
	}
	keep = min(keep, total-1)
	h.injected("sent %d of %d bytes", keep, total)
	header := h.w.Header()
	copyHeader(header, resp.Header)
	header.Set("Content-Length", strconv.FormatInt(total, 10))
	h.ev.Status = resp.StatusCode
	h.w.WriteHeader(resp.StatusCode)
	if keep > 0 {
		if _, err := io.CopyN(h.w, body, keep); err != nil {
			h.abort()
		}
	}
	_ = http.NewResponseController(h.w).Flush()
	h.abort()
}

func (h *handling) stale() {
	h.p.mu.Lock()
	c, ok := h.p.playlist[h.r.URL.Path]
	h.p.mu.Unlock()
	if !ok { // SetRules cleared the cache since begin
		h.notApplied("no earlier answer for this path")
		h.forward()
		return
	}
	h.injected("served the previous %d-byte answer again", len(c.body))
	header := h.w.Header()
	if c.contentType != "" {
		header.Set("Content-Type", c.contentType)
	}
	header.Set("Content-Length", strconv.Itoa(len(c.body)))
	h.ev.Status = http.StatusOK
	h.w.WriteHeader(http.StatusOK)
	if h.r.Method != http.MethodHead {
		_, _ = h.w.Write(c.body)
	}
}

// rewrite applies FaultResetSequence or FaultSkip to a media playlist.
func (h *handling) rewrite() {
	resp, ok := h.roundTrip(true)
	if !ok {
		return
	}
	defer resp.Body.Close()
	if h.r.Method != http.MethodGet || resp.StatusCode != http.StatusOK || encoded(resp.Header) {
		h.notApplied("not a plain 200 answer to a GET")
		h.copyResponse(resp, resp.Body, resp.ContentLength)
		return
	}
	body, whole, err := readUpTo(resp.Body, maxPlaylist)
	if err != nil {
		h.ev.Detail = fmt.Sprintf("upstream body: %v", err)
		h.abort()
	}
	if !whole {
		h.notApplied("body too large for a playlist")
		h.copyResponse(resp, io.MultiReader(bytes.NewReader(body), resp.Body), resp.ContentLength)
		return
	}
	m, err := parseMediaPlaylist(body)
	if err != nil {
		h.notApplied(err.Error())
		h.sendBody(resp, body)
		return
	}
	rule := h.d.rule
	switch rule.Fault {
	case FaultResetSequence:
		h.p.mu.Lock()
		base, seen := rule.seqBase[h.r.URL.Path]
		if !seen || m.seq < base {
			base = m.seq
			rule.seqBase[h.r.URL.Path] = base
		}
		h.p.mu.Unlock()
		rel := m.seq - base
		if rule.Sequence > ^uint64(0)-rel {
			h.notApplied(errSequenceOverflow.Error())
			h.sendBody(resp, body)
			return
		}
		seq := rule.Sequence + rel
		h.injected("EXT-X-MEDIA-SEQUENCE %d -> %d", m.seq, seq)
		body = m.withSequence(seq)
	case FaultSkip:
		k := max(rule.Segments, 1)
		out, dropped, err := m.skip(k)
		if err != nil {
			h.notApplied(err.Error())
			h.sendBody(resp, body)
			return
		}
		h.injected("dropped %d segments, EXT-X-MEDIA-SEQUENCE %d -> %d", dropped, m.seq, m.seq+uint64(dropped))
		body = out
	}
	resp.Header.Del("Etag")
	resp.Header.Del("Content-Md5")
	h.sendBody(resp, body)
}

// forward sends the request to the target and copies the answer back,
// remembering playlists when a stale rule may need them.
func (h *handling) forward() {
	resp, ok := h.roundTrip(false)
	if !ok {
		return
	}
	defer resp.Body.Close()
	if h.d.cache && h.r.Method == http.MethodGet && resp.StatusCode == http.StatusOK &&
		!encoded(resp.Header) && isPlaylist(h.r.URL.Path, resp.Header.Get("Content-Type")) {
		body, whole, err := readUpTo(resp.Body, maxPlaylist)
		if err != nil {
			h.ev.Detail = fmt.Sprintf("upstream body: %v", err)
			h.abort()
		}
		if !whole {
			h.copyResponse(resp, io.MultiReader(bytes.NewReader(body), resp.Body), resp.ContentLength)
			return
		}
		h.sendBody(resp, body)
		return
	}
	h.copyResponse(resp, resp.Body, resp.ContentLength)
}

// roundTrip forwards the request to the target. On failure it answers 502
// (or nothing, when the client or proxy went away) and returns false.
// identity asks the target for an unencoded body.
func (h *handling) roundTrip(identity bool) (*http.Response, bool) {
	out := h.r.Clone(h.ctx)
	out.RequestURI = ""
	out.Host = ""
	out.URL = h.p.targetURL(h.r.URL)
	out.Close = false
	removeHopHeaders(out.Header)
	if identity {
		out.Header.Del("Accept-Encoding")
	}
	if h.r.ContentLength == 0 {
		out.Body = nil
	}
	h.p.mu.Lock()
	h.p.stats.Forwarded++
	h.p.mu.Unlock()
	resp, err := h.p.transport.RoundTrip(out)
	if err != nil {
		if h.ctx.Err() != nil {
			h.abort()
		}
		h.ev.Status = http.StatusBadGateway
		if h.ev.Detail == "" {
			h.ev.Detail = "target unreachable"
		}
		http.Error(h.w, "chaos: target unreachable", http.StatusBadGateway)
		return nil, false
	}
	return resp, true
}

// sendBody answers with resp's status and headers and body (the playlist
// possibly rewritten), remembering it for FaultStale.
func (h *handling) sendBody(resp *http.Response, body []byte) {
	if h.d.cache && h.r.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
		h.p.remember(h.r.URL.Path, resp.Header.Get("Content-Type"), body)
	}
	h.copyResponse(resp, bytes.NewReader(body), int64(len(body)))
}

// copyResponse answers with resp's status and headers and the given body,
// flushing as it goes when the length is unknown (chunked live responses).
func (h *handling) copyResponse(resp *http.Response, body io.Reader, length int64) {
	header := h.w.Header()
	copyHeader(header, resp.Header)
	header.Del("Content-Length")
	if length >= 0 {
		header.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	h.ev.Status = resp.StatusCode
	h.w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(h.w)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := h.w.Write(buf[:n]); werr != nil {
				return // client gone
			}
			if length < 0 {
				_ = rc.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			h.ev.Detail = fmt.Sprintf("upstream body: %v", err)
			h.abort() // do not pass a broken body off as complete
		}
	}
}
