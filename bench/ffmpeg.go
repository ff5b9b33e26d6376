package main

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// relayFFmpeg is the ffmpeg peer: one 'ffmpeg -c copy -f hls -method PUT'
// process per channel, no API.
const relayFFmpeg = "ffmpeg"

// relayProcs is the set of processes making up the relay under test; CPU and
// memory are summed over them.
type relayProcs struct {
	list []*child
}

// sample reads every process and sums CPU time and RSS. It fails when any
// of them is gone.
func (rp *relayProcs) sample() (procSample, error) {
	sum := procSample{At: time.Now()}
	for _, c := range rp.list {
		if !c.alive() {
			return sum, fmt.Errorf("%s exited: %v (log %s)", c.name, c.err, c.log)
		}
		s, err := readProc(c.cmd.Process.Pid)
		if err != nil {
			return sum, err
		}
		sum.CPU += s.CPU
		sum.RSS += s.RSS
		sum.HWM += s.HWM
		sum.Anon += s.Anon
		sum.File += s.File
	}
	return sum, nil
}

// dead returns the first process that exited, or nil.
func (rp *relayProcs) dead() *child {
	for _, c := range rp.list {
		if !c.alive() {
			return c
		}
	}
	return nil
}

// pids lists the process ids, comma-separated (for perf -p).
func (rp *relayProcs) pids() string {
	var s []string
	for _, c := range rp.list {
		s = append(s, strconv.Itoa(c.cmd.Process.Pid))
	}
	return strings.Join(s, ",")
}

// stopAll signals every process at once, then waits up to grace for each
// and kills the rest.
func (rp *relayProcs) stopAll(grace time.Duration) {
	for _, c := range rp.list {
		if c.alive() {
			c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	var wg sync.WaitGroup
	for _, c := range rp.list {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop(grace) }()
	}
	wg.Wait()
}

// ffmpegVersion returns the first line of 'ffmpeg -version'.
func ffmpegVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-version").Output()
	if err != nil {
		return "", fmt.Errorf("ffmpeg relay: ffmpeg not usable (install ffmpeg): %w", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(line)
	if len(f) >= 3 {
		return "ffmpeg " + f[2], nil
	}
	return strings.TrimSpace(line), nil
}

// ffmpegArgs is the command line relaying channel c: the source's
// multivariant playlist in, every rendition copied (no transcoding) into an
// HLS variant of its own, segments and playlists PUT to the sink with digest
// auth (credentials in the URL) over persistent connections.
func ffmpegArgs(cfg runConfig, c int, srcAddr, sinkAddr string) []string {
	var vm []string
	for r := 0; r < cfg.Renditions; r++ {
		vm = append(vm, "v:"+strconv.Itoa(r))
	}
	base := fmt.Sprintf("http://%s:%s@%s/in/v2/ch%d/a/", sinkUser, sinkPass, sinkAddr, c)
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "warning",
		"-i", "http://" + srcAddr + sourcePath(c),
		"-map", "0", "-c", "copy",
		"-f", "hls", "-hls_time", strconv.FormatFloat(cfg.Segment.Seconds(), 'f', -1, 64),
		"-hls_list_size", strconv.Itoa(cfg.Window),
		"-method", "PUT", "-http_persistent", "1",
		"-var_stream_map", strings.Join(vm, " "), "-master_pl_name", "master.m3u8",
		"-hls_segment_filename", base + "stream_%v_%d.ts"}
	args = append(args, cfg.RelayArgs...)
	return append(args, base+"stream_%v.m3u8")
}

// startFFmpegs starts one ffmpeg per channel, 8 at a time.
func startFFmpegs(cfg runConfig, work, srcAddr, sinkAddr string) (*relayProcs, error) {
	rp := &relayProcs{list: make([]*child, cfg.Channels)}
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				ch, err := startChild(fmt.Sprintf("ffmpeg-ch%d", c), work, exec.Command("ffmpeg", ffmpegArgs(cfg, c, srcAddr, sinkAddr)...), false, 0)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				rp.list[c] = ch
				mu.Unlock()
			}
		}()
	}
	for c := range cfg.Channels {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	started := rp.list[:0]
	for _, ch := range rp.list {
		if ch != nil {
			started = append(started, ch)
		}
	}
	rp.list = started
	return rp, firstErr
}
