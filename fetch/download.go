package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pullpush/pullpush/fetch/internal/backoff"

	"github.com/pullpush/pullpush/fetch/internal/spool"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/logkey"
)

// inSource reports whether source msn is still listed by the source.
func (r *rendition) inSource(msn int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return msn >= r.liveFirst || r.grows
}

// download fetches the entry (and its aux files) into the spool, retrying
// with backoff while the segment is still listed by the source.
func (r *rendition) download(e *entry, _ bool) {
	f := r.f
	ctx := f.dlCtx
	bo := backoff.New(200*time.Millisecond, 5*time.Second)
	attempts := 0
	defer close(e.ready)
	for _, a := range e.keyAux {
		r.fetchAux(ctx, a)
	}
	if e.initMap != nil {
		r.fetchAux(ctx, e.initMap)
	}
	for {
		attempts++
		f.sem <- struct{}{}
		w, sf, err := r.fetchSegment(ctx, e)
		<-f.sem
		if err == nil {
			evicted := f.spool.Commit(sf, w)
			size := sf.Size()
			r.mu.Lock()
			e.file, e.size = sf, size
			r.bytesIn += size
			r.secondsIn += e.duration
			r.st.SegmentsPulled++
			r.mu.Unlock()
			f.mu.Lock()
			f.pulled++
			f.bytesPulled += size
			f.mu.Unlock()
			f.obs.SegmentPulled(f.cfg.ID, r.name, size)
			for _, ev := range evicted {
				f.evicted(ev)
			}
			return
		}
		var he *httpError
		gone := !r.inSource(e.src) || (errors.As(err, &he) && (he.status == http.StatusNotFound || he.status == http.StatusGone) && attempts >= 8)
		r.mu.Lock()
		grows, td := r.grows, time.Duration(r.td)*time.Second
		r.mu.Unlock()
		if grows && attempts >= 10 {
			gone = true
		}
		if gone {
			r.mu.Lock()
			e.missed = true
			r.st.SegmentsMissed++
			r.mu.Unlock()
			f.obs.SegmentMissed(f.cfg.ID, r.name)
			f.recordError(fmt.Errorf("rendition %s: segment %d lost (gone from source): %w", r.name, e.src, err))
			f.log.Warn("segment lost: gone from the source before it could be downloaded", "rendition", r.name, "msn", e.src, logkey.Err, err)
			return
		}
		// Back off, but retry at least once per target duration: a live
		// source lists a segment for only a few of them.
		if !backoff.Sleep(ctx, min(bo.Next(), td)) {
			e.missed = true // shutting down: nobody will push it
			return
		}
	}
}

func (r *rendition) fetchAux(ctx context.Context, a *aux) {
	a.once.Do(func() {
		defer close(a.ready)
		bo := backoff.New(200*time.Millisecond, 3*time.Second)
		for attempt := 0; attempt < 8; attempt++ {
			data, err := r.fetchBytes(ctx, a.srcURL, a.rng, 16<<20)
			if err == nil {
				a.data = data
				return
			}
			a.err = err
			if !backoff.Sleep(ctx, bo.Next()) {
				break
			}
		}
		r.f.log.Warn("auxiliary file unavailable", "rendition", r.name, "url", a.srcURL, logkey.Err, a.err)
	})
}

func (r *rendition) fetchBytes(ctx context.Context, u string, rng *hls.ByteRange, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := r.rangeGet(ctx, u, rng)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	return data, nil
}

func (r *rendition) rangeGet(ctx context.Context, u string, rng *hls.ByteRange) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	if rng != nil && rng.Offset != nil {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", *rng.Offset, *rng.Offset+rng.Length-1))
	}
	resp, err := r.f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	ok := resp.StatusCode == http.StatusOK
	if rng != nil {
		ok = resp.StatusCode == http.StatusPartialContent
	}
	if !ok {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, &httpError{url: u, status: resp.StatusCode}
	}
	return resp, nil
}

// fetchSegment streams one segment into a spool file.
func (r *rendition) fetchSegment(ctx context.Context, e *entry) (*spool.Writer[*entry], *spool.File[*entry], error) {
	timeout := r.f.cfg.SegmentTimeout
	if timeout <= 0 {
		timeout = time.Duration(max(4*e.duration, 10)*float64(time.Second)) + 5*time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := r.rangeGet(ctx, e.srcURL, e.rng)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	w, sf := r.f.spool.Create(e)
	n, err := w.ReadFrom(resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && e.rng != nil && n != e.rng.Length {
		err = fmt.Errorf("byte range: got %d bytes, want %d", n, e.rng.Length)
	}
	if err != nil {
		r.f.spool.Discard(w)
		return nil, nil, fmt.Errorf("download %s: %w", e.srcURL, err)
	}
	return w, sf, nil
}
