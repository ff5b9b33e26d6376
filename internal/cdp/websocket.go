package cdp

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxMessage bounds one received message (a full-page PNG screenshot,
// base64-encoded, stays well below it).
const maxMessage = 64 << 20

// wsGUID is the fixed GUID of the opening handshake (RFC 6455 section 1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// errClosed is returned after the peer sent a close frame.
var errClosed = errors.New("websocket closed by peer")

// dialWebSocket opens a client WebSocket to a ws:// URL and returns the
// connection and a reader positioned after the handshake.
func dialWebSocket(u string, timeout time.Duration) (net.Conn, *bufio.Reader, error) {
	p, err := url.Parse(u)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket url: %w", err)
	}
	if p.Scheme != "ws" {
		return nil, nil, fmt.Errorf("websocket url %q: only ws:// is supported", u)
	}
	nc, err := net.DialTimeout("tcp", p.Host, timeout)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket dial: %w", err)
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := &http.Request{
		Method: http.MethodGet,
		URL:    &url.URL{Path: p.Path, RawQuery: p.RawQuery},
		Host:   p.Host,
		Header: http.Header{
			"Upgrade":               {"websocket"},
			"Connection":            {"Upgrade"},
			"Sec-Websocket-Key":     {key},
			"Sec-Websocket-Version": {"13"},
		},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	nc.SetDeadline(time.Now().Add(timeout))
	if err := req.Write(nc); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("websocket handshake: %w", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("websocket handshake: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	if got, want := resp.Header.Get("Sec-Websocket-Accept"), acceptKey(key); got != want {
		nc.Close()
		return nil, nil, fmt.Errorf("websocket handshake: Sec-WebSocket-Accept %q, want %q", got, want)
	}
	nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// acceptKey is the server's expected answer to a Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// writeFrame writes one unfragmented frame. Clients must mask (mask != nil);
// a nil mask writes an unmasked (server) frame.
func writeFrame(w io.Writer, op byte, payload []byte, mask *[4]byte) error {
	hdr := make([]byte, 2, 14)
	hdr[0] = 0x80 | op // FIN
	n := len(payload)
	var maskBit byte
	if mask != nil {
		maskBit = 0x80
	}
	switch {
	case n < 126:
		hdr[1] = maskBit | byte(n)
	case n <= 0xFFFF:
		hdr[1] = maskBit | 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr[1] = maskBit | 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	buf := payload
	if mask != nil {
		hdr = append(hdr, mask[:]...)
		buf = make([]byte, n)
		for i := range payload {
			buf[i] = payload[i] ^ mask[i%4]
		}
	}
	if _, err := w.Write(append(hdr, buf...)); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

// frame is one received frame.
type frame struct {
	fin     bool
	op      byte
	payload []byte
}

// readFrame reads one frame, unmasking it if masked.
func readFrame(r io.Reader, limit int) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, op: h[0] & 0x0F}
	if h[0]&0x70 != 0 {
		return frame{}, errors.New("websocket: reserved bits set")
	}
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return frame{}, unexpected(err)
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return frame{}, unexpected(err)
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if f.op >= opClose && (n > 125 || !f.fin) {
		return frame{}, errors.New("websocket: invalid control frame")
	}
	if n > uint64(limit) {
		return frame{}, fmt.Errorf("websocket: frame of %d bytes exceeds the limit of %d", n, limit)
	}
	var mask [4]byte
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return frame{}, unexpected(err)
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return frame{}, unexpected(err)
	}
	if masked {
		for i := range f.payload {
			f.payload[i] ^= mask[i%4]
		}
	}
	return f, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readMessage reads frames until one complete data message, joining
// fragments. Control frames in between go to control (pings must be
// answered); a close frame ends reading with errClosed.
func readMessage(r io.Reader, limit int, control func(op byte, payload []byte) error) ([]byte, error) {
	var msg []byte
	started := false
	for {
		f, err := readFrame(r, limit)
		if err != nil {
			return nil, err
		}
		switch f.op {
		case opClose:
			return nil, errClosed
		case opPing, opPong:
			if control != nil {
				if err := control(f.op, f.payload); err != nil {
					return nil, err
				}
			}
			continue
		case opText, opBinary:
			if started {
				return nil, errors.New("websocket: new message inside a fragmented one")
			}
			started = true
		case opContinuation:
			if !started {
				return nil, errors.New("websocket: continuation without a message")
			}
		default:
			return nil, fmt.Errorf("websocket: unknown opcode %#x", f.op)
		}
		if len(msg)+len(f.payload) > limit {
			return nil, fmt.Errorf("websocket: message exceeds the limit of %d bytes", limit)
		}
		msg = append(msg, f.payload...)
		if f.fin {
			if msg == nil {
				msg = []byte{}
			}
			return msg, nil
		}
	}
}
