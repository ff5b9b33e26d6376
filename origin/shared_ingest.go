package origin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/origin/internal/media"
	"github.com/pullpush/pullpush/origin/internal/shared"
)

// storageTimeout bounds one ingest request's writes to the bucket.
const storageTimeout = 30 * time.Second

// ingestShared records an authenticated ingest request on shared storage:
// a segment's bytes go to their own object, then one ingest-log entry
// describes the request. The index changes only when the replay applies
// the entry (on every instance, this one included).
func (o *Origin) ingestShared(w http.ResponseWriter, r *http.Request, ch *channel, p IngestPath) {
	s := o.shared
	ch.mu.Lock()
	_, known := ch.Inputs[p.Input]
	n, names := len(ch.Inputs), append([]string(nil), ch.Order...)
	ch.mu.Unlock()
	if !known && n >= MaxInputs {
		writeError(w, http.StatusConflict, fmt.Sprintf("channel %s already has %d inputs (%v)", ch.cfg.ID, MaxInputs, names))
		return
	}
	e := shared.Entry{Kind: shared.EntryDelete, Input: p.Input, Name: p.File}
	ctx, cancel := context.WithTimeout(r.Context(), storageTimeout)
	defer cancel()
	status := http.StatusNoContent
	if r.Method != http.MethodDelete {
		data, ext, ok := o.readIngestBody(w, r, p)
		if !ok {
			return
		}
		status = http.StatusCreated
		if ext == ".m3u8" {
			if _, err := hls.Parse(data); err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("parse %s: %v", p.File, err))
				return
			}
			e.Kind, e.Body = shared.EntryPlaylist, string(data)
		} else {
			e.Kind, e.Size = shared.EntryFile, int64(len(data))
			kf, ts := probeSegment(ext, data, ch.needTS)
			e.KF, e.TS = shared.KeyframesToDTO(kf), shared.TSInfoToDTO(ts)
			e.Object = fmt.Sprintf("%s%s/%s/%019d-%s-%s", shared.SegDir, ch.cfg.ID, p.Input, s.now().UnixNano(), s.uniq(), p.File)
			if err := s.blob.Put(ctx, e.Object, data); err != nil {
				o.log.Error("store segment", logChannel, ch.cfg.ID, logInput, p.Input, logFile, p.File, logErr, err)
				writeError(w, http.StatusServiceUnavailable, "cannot store file")
				return
			}
		}
	}
	if err := o.appendLog(ctx, ch, &e); err != nil {
		o.log.Error("write ingest log", logChannel, ch.cfg.ID, logInput, p.Input, logFile, p.File, logErr, err)
		if e.Object != "" {
			s.remove(e.Object)
		}
		writeError(w, http.StatusServiceUnavailable, "cannot store file")
		return
	}
	w.WriteHeader(status)
}

// appendLog writes e as a log entry stamped with the current time. An
// entry that took more than half the settle delay to write may be listed
// after other instances applied later ones: it is withdrawn and the
// request fails, so the pusher retries with a fresh entry.
func (o *Origin) appendLog(ctx context.Context, ch *channel, e *shared.Entry) error {
	s := o.shared
	e.Time = s.now().UnixNano()
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode log entry: %w", err)
	}
	key := shared.LogKey(ch.cfg.ID, e.Time, e.Input, e.Name, s.uniq())
	if err := s.blob.Put(ctx, key, body); err != nil {
		return err
	}
	if took := s.now().UnixNano() - e.Time; took > int64(s.cfg.SettleDelay/2) {
		if err := s.blob.Remove(ctx, key); err != nil {
			return fmt.Errorf("withdraw late log entry: %w", err)
		}
		return fmt.Errorf("log entry took %s to write, more than half the settle delay %s", time.Duration(took), s.cfg.SettleDelay)
	}
	return nil
}

// probeSegment computes what the index keeps of a segment's bytes: its
// keyframes and, for CMAF endpoints, its TS tracks and timing.
func probeSegment(ext string, data []byte, needTS bool) (*media.Keyframes, *media.TSInfo) {
	switch ext {
	case ".ts":
		if needTS {
			if d, err := media.DemuxTS(data); err == nil {
				kf, _ := media.TSKeyframes(d, int64(len(data)))
				return kf, media.ProbeTS(d)
			}
			return nil, nil
		}
		kf, _ := media.ScanTS(data)
		return kf, nil
	case ".m4s", ".mp4", ".m4v", ".cmfv":
		kf, _ := media.ScanFMP4(data, nil)
		return kf, nil
	}
	return nil, nil
}
