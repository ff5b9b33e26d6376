package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pullpush/pullpush/fetch/internal/backoff"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/logkey"
)

// poll reloads the source media playlist following RFC 8216 reload rules
// until ctx ends or the source ends.
func (r *rendition) poll(ctx context.Context) {
	f := r.f
	bo := backoff.New(250*time.Millisecond, 15*time.Second)
	var edge edgeTracker
	for {
		start := time.Now()
		changed, err := r.reload(ctx)
		f.obs.PlaylistReloaded(f.cfg.ID, r.name, err)
		r.mu.Lock()
		r.st.Reloads++
		r.st.LastReload = f.now().UTC()
		ended, td := r.ended, r.td
		r.mu.Unlock()
		if ended {
			r.changed.notify()
			return
		}
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.recordError(fmt.Errorf("rendition %s: %w", r.name, err))
			f.log.Warn("playlist reload failed", "rendition", r.name, logkey.Err, err)
			// Back off, but never below the normal reload rate of once per
			// target duration: a longer wait lets the source window slide
			// past the last segment seen, losing segments that were listed
			// all along.
			wait = min(bo.Next(), time.Duration(td)*time.Second)
			r.checkStall(time.Duration(td) * time.Second)
		} else {
			bo.Reset()
			f.running()
			tdur := time.Duration(td) * time.Second
			if changed {
				wait = tdur
			} else {
				wait = tdur / 2
			}
			if !f.cfg.ReloadRFC {
				wait = r.edgeWait(&edge, start, changed, tdur)
			}
			if f.cfg.PollInterval > 0 {
				wait = f.cfg.PollInterval
			}
			r.mu.Lock()
			if r.blockingLocked() {
				wait = 0 // the server holds the next request until there is news
			}
			r.mu.Unlock()
			wait -= time.Since(start)
			r.checkStall(tdur)
		}
		if !backoff.Sleep(ctx, max(wait, 10*time.Millisecond)) {
			return
		}
	}
}

// edgeTracker schedules reloads near the moment the source publishes its
// next segment (see edgeWait).
type edgeTracker struct {
	lastUnchanged time.Time // start of the latest reload that found nothing new
	due           time.Time // when the next segment is expected
	locked        bool      // the publishing phase is known within one step
	sinceProbe    int
}

// edgeProbeEvery is how many segments pass between two early reloads that
// re-measure the publishing phase while locked.
const edgeProbeEvery = 8

// edgeWait returns how long to wait before the next reload. Once a change is
// seen within one step of a reload that saw none, the publishing phase is
// known: the next reload is one segment duration after the change was seen,
// so a regular source costs one request per segment and a discovery delay of
// at most one step (a target duration / 16, 50-500 ms), instead of up to a
// target duration with the RFC 8216 intervals. Without a known phase, or
// when a reload at the due time finds nothing, the playlist is reloaded
// every step until it changes; half a target duration past the due time (a
// stalled or irregular source) it falls back to every half target duration.
func (r *rendition) edgeWait(e *edgeTracker, start time.Time, changed bool, tdur time.Duration) time.Duration {
	step := min(max(tdur/16, 50*time.Millisecond), 500*time.Millisecond)
	r.mu.Lock()
	dur := time.Duration(r.lastDur * float64(time.Second))
	r.mu.Unlock()
	if dur <= 0 {
		dur = tdur
	}
	now := time.Now()
	if changed {
		if !e.lastUnchanged.IsZero() {
			e.locked = start.Sub(e.lastUnchanged) <= 2*step
		}
		switch {
		case !e.locked:
			e.due = start.Add(dur / 2) // look early to learn the phase
		case e.sinceProbe >= edgeProbeEvery:
			e.sinceProbe = 0
			e.due = start.Add(dur - step) // re-measure the phase
		default:
			e.sinceProbe++
			e.due = start.Add(dur)
		}
		e.lastUnchanged = time.Time{}
		return max(e.due.Sub(now), step)
	}
	e.lastUnchanged = start
	if !e.due.IsZero() && now.Before(e.due.Add(tdur/2)) {
		return max(min(e.due.Sub(now), tdur/2), step)
	}
	e.locked = false
	return tdur / 2
}

// checkStall marks the rendition stalled when no new segment came for
// three target durations (plus a second), whether the reloads succeed with
// an unchanged playlist or fail, and tells a StallObserver of changes.
func (r *rendition) checkStall(td time.Duration) {
	r.mu.Lock()
	if r.lastNew.IsZero() {
		r.mu.Unlock()
		return
	}
	stalled := time.Since(r.lastNew) > 3*td+time.Second
	if stalled && !r.st.Stalled {
		r.f.log.Warn("source stalled", "rendition", r.name, "since", r.lastNew)
		r.f.recordError(fmt.Errorf("rendition %s: source stalled: no new segment for %s", r.name, time.Since(r.lastNew).Round(time.Second)))
	}
	r.st.Stalled = stalled
	changed := stalled != r.stallTold
	r.stallTold = stalled
	r.mu.Unlock()
	if so, ok := r.f.obs.(StallObserver); ok && changed {
		so.SourceStalled(r.f.cfg.ID, r.name, stalled)
	}
}

// reload fetches and applies the media playlist once; changed reports new
// segments (or, for a Low-Latency HLS source, new parts). A blocking reload
// that fails is followed by a normal one.
func (r *rendition) reload(ctx context.Context) (bool, error) {
	u, timeout, blocking := r.reloadRequest()
	data, base, err := r.f.getTimeout(ctx, u, maxPlaylistBytes, timeout)
	if err != nil && blocking && ctx.Err() == nil {
		r.f.log.Debug("blocking playlist reload failed", "rendition", r.name, logkey.Err, err)
		var ne net.Error
		if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
			// A server that held the request until the timeout does
			// block (the source is late); one that refused it may not.
			r.mu.Lock()
			r.blockMissedLocked(err.Error())
			r.mu.Unlock()
		}
		blocking = false
		data, base, err = r.f.get(ctx, r.url, maxPlaylistBytes)
	}
	if err != nil {
		return false, err
	}
	pl, err := hls.ParseMedia(data)
	if err != nil {
		return false, fmt.Errorf("parse %s: %w", r.url, err)
	}
	segs, err := resolveSegments(base, pl)
	if err != nil {
		return false, err
	}
	changed := r.apply(pl, segs)
	advanced := r.applyParts(pl, base, blocking)
	return changed || advanced, nil
}
