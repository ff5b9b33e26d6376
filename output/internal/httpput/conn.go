package httpput

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
)

// copyBufferSize is the size of the buffers request bodies are sent through.
const copyBufferSize = 32 << 10

// bufferedDialer dials TCP connections whose ReadFrom copies request bodies
// through pooled buffers. net/http sends a body with a known length through
// an io.LimitedReader, which hides every fast path, so without this each
// upload allocates a fresh 32 KiB buffer: most of the relay's allocation
// rate, and so of its garbage collection.
type bufferedDialer struct {
	dialer *net.Dialer
	pool   sync.Pool
}

func newBufferedDialer(d *net.Dialer) *bufferedDialer {
	bd := &bufferedDialer{dialer: d}
	bd.pool.New = func() any { b := make([]byte, copyBufferSize); return &b }
	return bd
}

// DialContext dials like net.Dialer.DialContext.
func (d *bufferedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		return &bufferedConn{TCPConn: tc, d: d}, nil
	}
	return c, nil
}

// bufferedConn is a TCP connection with a pooled-buffer ReadFrom.
type bufferedConn struct {
	*net.TCPConn
	d *bufferedDialer
}

// ReadFrom implements io.ReaderFrom. A file (a spooled segment on disk)
// still goes through the kernel's sendfile.
func (c *bufferedConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if _, isFile := lr.R.(*os.File); isFile {
			return c.TCPConn.ReadFrom(r)
		}
	}
	if _, isFile := r.(*os.File); isFile {
		return c.TCPConn.ReadFrom(r)
	}
	bp := c.d.pool.Get().(*[]byte)
	defer c.d.pool.Put(bp)
	return io.CopyBuffer(writerOnly{c.TCPConn}, r, *bp)
}

// writerOnly hides the connection's ReadFrom from io.CopyBuffer.
type writerOnly struct{ io.Writer }
