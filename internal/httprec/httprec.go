// Package httprec records what a handler answered: the status code, the
// bytes of the response body and of the request body.
package httprec

import (
	"io"
	"net/http"
	"sync/atomic"
)

// Recorder wraps a ResponseWriter and counts what passes through it. Use
// Wrap; Unwrap lets http.ResponseController reach the Flusher and deadline
// setters of the writer beneath.
type Recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	body   *countingBody
}

// Wrap returns a Recorder for w that also counts the bytes read from r's
// body (r.Body is replaced).
func Wrap(w http.ResponseWriter, r *http.Request) *Recorder {
	rec := &Recorder{ResponseWriter: w}
	if r.Body != nil && r.Body != http.NoBody {
		rec.body = &countingBody{ReadCloser: r.Body}
		r.Body = rec.body
	}
	return rec
}

// WriteHeader records the status.
func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write counts the body bytes (a first Write without WriteHeader is 200).
func (r *Recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy's sendfile path of the writer beneath.
func (r *Recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(r.ResponseWriter, src)
	}
	r.bytes += n
	return n, err
}

// Unwrap returns the ResponseWriter beneath.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Status is the status code sent (200 when the handler wrote nothing).
func (r *Recorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Bytes is the number of response body bytes written.
func (r *Recorder) Bytes() int64 { return r.bytes }

// RequestBytes is the number of request body bytes the handler read.
func (r *Recorder) RequestBytes() int64 {
	if r.body == nil {
		return 0
	}
	return r.body.n.Load()
}

type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
