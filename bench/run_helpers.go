package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fetcherRequest is the hls-pull-push compatible POST /api/v1/fetcher body.
type fetcherRequest struct {
	Name        string         `json:"name"`
	URL         string         `json:"url"`
	Output      string         `json:"output"`
	Payload     fetcherPayload `json:"payload"`
	Concurrency int            `json:"concurrency,omitempty"`
}

type fetcherPayload struct {
	IngestURLs []ingestURL `json:"ingestUrls"`
}

type ingestURL struct {
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// createFetchers creates one fetcher per channel, 8 requests at a time.
func createFetchers(ctx context.Context, api string, cfg runConfig, srcAddr, sinkAddr string) (created, failed int, firstErr error) {
	var ok, bad atomic.Int64
	var once sync.Once
	jobs := make(chan int)
	var wg sync.WaitGroup
	cl := &http.Client{Timeout: 30 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				err := createFetcher(ctx, cl, api, fetcherRequest{
					Name:   fmt.Sprintf("bench-ch%d", c),
					URL:    "http://" + srcAddr + sourcePath(c),
					Output: "mediapackage",
					Payload: fetcherPayload{IngestURLs: []ingestURL{{
						URL: fmt.Sprintf("http://%s/in/v2/ch%d/a/channel", sinkAddr, c), Username: sinkUser, Password: sinkPass,
					}}},
					Concurrency: cfg.Concurrency,
				})
				if err != nil {
					bad.Add(1)
					once.Do(func() { firstErr = err })
				} else if n := ok.Add(1); n%100 == 0 {
					cfg.logf("%d fetchers created", n)
				}
			}
		}()
	}
	for c := 0; c < cfg.Channels; c++ {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	return int(ok.Load()), int(bad.Load()), firstErr
}

func createFetcher(ctx context.Context, cl *http.Client, api string, body fetcherRequest) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v1/fetcher", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("create fetcher %s: %w", body.Name, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("create fetcher %s: %s: %s", body.Name, resp.Status, strings.TrimSpace(string(rb)))
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func fetchRecords(ctx context.Context, sinkURL string) ([]segRecord, error) {
	var recs []segRecord
	err := getJSON(ctx, sinkURL+"/records", &recs)
	return recs, err
}

// saveProfile downloads a pprof profile to path.
func saveProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("get profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get profile: %s (does serve expose /debug/pprof?)", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("save profile: %w", err)
	}
	return f.Close()
}

// perfRecord samples pids (comma-separated) with perf(1) for d, then writes the flat profile
// (top symbols by self time) next to the data file.
func perfRecord(ctx context.Context, pids string, d time.Duration, path string) error {
	rec := exec.CommandContext(ctx, "perf", "record", "-F", "499", "-g", "-p", pids, "-o", path,
		"--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	if out, err := rec.CombinedOutput(); err != nil {
		return fmt.Errorf("perf record: %w\n%s", err, out)
	}
	rep := exec.CommandContext(ctx, "perf", "report", "-i", path, "--stdio", "--no-children", "-g", "none",
		"--sort", "dso,symbol", "--percent-limit", "0.5")
	out, err := rep.Output()
	if err != nil {
		return fmt.Errorf("perf report: %w", err)
	}
	var b strings.Builder
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimRight(l, " ")
		l = strings.TrimRight(strings.TrimSuffix(strings.TrimRight(strings.TrimSuffix(l, "-"), " "), "-"), " ")
		b.WriteString(l + "\n")
	}
	return os.WriteFile(path+".txt", []byte(b.String()), 0o644)
}

// machine describes the host.
func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), CPU: cpuModel(), GoVer: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		m.NodeVer = strings.TrimSpace(string(out))
	}
	return m
}

// emit prints the Markdown table to stdout and writes the optional files.
func emit(stdout io.Writer, jsonPath, mdPath string, results any, table func(io.Writer)) error {
	var md bytes.Buffer
	table(&md)
	stdout.Write(md.Bytes())
	if mdPath != "" {
		if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", mdPath, err)
		}
	}
	if jsonPath != "" {
		return writeJSONFile(jsonPath, results)
	}
	return nil
}
