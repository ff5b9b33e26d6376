package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pullpush/pullpush/digest"
)

// prefiller pushes a synthetic channel into the origin, MediaPackage style.
type prefiller struct {
	base  string
	cfg   originConfig
	cl    *http.Client
	body  []byte        // every segment's body (null media), or the first one's (h264)
	h264  *h264Segments // h264 media: segment bodies by sequence number
	epoch time.Time     // start of segment 0
	next  int64         // next segment index to push
	puts  atomic.Int64
}

func newPrefiller(base string, cfg originConfig) *prefiller {
	n := int64(cfg.Window / cfg.Segment)
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.PutWorkers * 2}
	// Segment 0 starts so that the last pre-filled segment ends now; 1%
	// margin keeps the oldest segments inside the window during the test.
	n -= n / 100
	p := &prefiller{
		base: base, cfg: cfg,
		cl:    &http.Client{Transport: &digest.Transport{Username: originUser, Password: originPass, Base: tr}, Timeout: 30 * time.Second},
		body:  segmentBody(cfg.SegmentBytes),
		epoch: time.Now().Add(-time.Duration(n) * cfg.Segment).Truncate(time.Millisecond),
		next:  0,
	}
	if cfg.Media == mediaH264 {
		// Segments of SegmentBytes (or the least the frames need), PTS
		// continuous from segment to segment.
		bitrate := int64(cfg.SegmentBytes) * 8 * int64(time.Second) / int64(cfg.Segment)
		p.h264 = newH264Segments(schedule{Segment: cfg.Segment, Window: 5, Bitrate: bitrate, Media: mediaH264, Renditions: cfg.Renditions})
		p.body = p.segment(0, 0)
	}
	return p
}

// segment is the body of segment k of rendition r.
func (p *prefiller) segment(r int, k int64) []byte {
	if p.h264 == nil {
		return p.body
	}
	return p.h264.segment(marker{Rendition: uint16(r), Seq: uint64(k)})
}

func (p *prefiller) ingest(name string) string {
	return p.base + "/in/v2/" + originChannel + "/" + originInput + "/" + name
}

func (p *prefiller) put(ctx context.Context, name string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.ingest(name), bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := p.cl.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s: %w", name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	p.puts.Add(1)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("PUT %s: %s", name, resp.Status)
	}
	return nil
}

func rendName(r int) string { return "r" + strconv.Itoa(r) }

func (p *prefiller) segName(r int, k int64) string {
	return "channel_" + rendName(r) + "_" + strconv.FormatInt(k, 10) + ".ts"
}

// playlist is the media playlist of rendition r listing segments [from, to).
func (p *prefiller) playlist(r int, from, to int64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n",
		int((p.cfg.Segment+time.Second-1)/time.Second), from)
	d := strconv.FormatFloat(p.cfg.Segment.Seconds(), 'f', 3, 64)
	for k := from; k < to; k++ {
		t := p.epoch.Add(time.Duration(k) * p.cfg.Segment).UTC()
		b.WriteString("#EXT-X-PROGRAM-DATE-TIME:")
		b.WriteString(t.Format("2006-01-02T15:04:05.000Z"))
		b.WriteString("\n#EXTINF:" + d + ",\n" + p.segName(r, k) + "\n")
	}
	return b.Bytes()
}

func (p *prefiller) master() []byte {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n")
	for r := 0; r < p.cfg.Renditions; r++ {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720\nchannel_%s.m3u8\n",
			1_000_000+r*1000, rendName(r))
	}
	return b.Bytes()
}

// pushBatch PUTs segments [from, to) of every rendition with PutWorkers
// workers, then each rendition's playlist listing [listFrom, to).
func (p *prefiller) pushBatch(ctx context.Context, listFrom, from, to int64) error {
	type job struct {
		r int
		k int64
	}
	jobs := make(chan job)
	errc := make(chan error, p.cfg.PutWorkers)
	var wg sync.WaitGroup
	for w := 0; w < p.cfg.PutWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := p.put(ctx, p.segName(j.r, j.k), p.segment(j.r, j.k)); err != nil {
					errc <- err
					for range jobs {
					}
					return
				}
			}
		}()
	}
	for k := from; k < to; k++ {
		for r := 0; r < p.cfg.Renditions; r++ {
			select {
			case jobs <- job{r, k}:
			case err := <-errc:
				close(jobs)
				wg.Wait()
				return err
			}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	for r := 0; r < p.cfg.Renditions; r++ {
		if err := p.put(ctx, "channel_"+rendName(r)+".m3u8", p.playlist(r, listFrom, to)); err != nil {
			return err
		}
	}
	return nil
}

// due is the number of segments that have ended by now.
func (p *prefiller) due() int64 { return int64(time.Since(p.epoch) / p.cfg.Segment) }

// fill pushes the master and every segment that has ended by now, in
// batches of 5 minutes.
func (p *prefiller) fill(ctx context.Context) error {
	if err := p.put(ctx, "channel.m3u8", p.master()); err != nil {
		return err
	}
	batch := int64(5 * time.Minute / p.cfg.Segment)
	for {
		end := min(p.next+batch, p.due())
		if end <= p.next {
			return nil
		}
		if err := p.pushBatch(ctx, p.next, p.next, end); err != nil {
			return err
		}
		p.next = end
	}
}

// live keeps pushing new segments as they end, with a 5-segment playlist,
// like a relay would.
func (p *prefiller) live(ctx context.Context) error {
	for {
		next := p.epoch.Add(time.Duration(p.next+1) * p.cfg.Segment)
		if !sleepCtx(ctx, time.Until(next)) {
			return ctx.Err()
		}
		end := p.due()
		if end <= p.next {
			continue
		}
		if err := p.pushBatch(ctx, max(0, end-5), p.next, end); err != nil {
			return err
		}
		p.next = end
	}
}
