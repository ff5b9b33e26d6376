package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat. It is 100
// on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)).
const clockTicks = 100

// procSample is one reading of a process's CPU time and memory.
type procSample struct {
	At  time.Time
	CPU time.Duration // utime + stime, all threads
	RSS int64         // VmRSS bytes
	HWM int64         // VmHWM bytes (peak RSS since start)
	// RSS split: RssAnon (heap, stacks, written data) and RssFile (pages
	// of the binary and libraries mapped from the page cache), in bytes.
	Anon, File int64
}

// readProc samples pid from /proc.
func readProc(pid int) (procSample, error) {
	s := procSample{At: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	cpu, err := parseStatCPU(b)
	if err != nil {
		return s, fmt.Errorf("stat of %d: %w", pid, err)
	}
	s.CPU = cpu
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read status of %d: %w", pid, err)
	}
	s.RSS, s.HWM, s.Anon, s.File = parseStatusMem(b)
	return s, nil
}

// parseStatCPU returns utime+stime from the contents of /proc/PID/stat.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime %q %q", f[11], f[12])
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// parseStatusMem returns VmRSS, VmHWM, RssAnon and RssFile in bytes from
// /proc/PID/status.
func parseStatusMem(b []byte) (rss, hwm, anon, file int64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		case strings.HasPrefix(line, "RssAnon:"):
			dst = &anon
		case strings.HasPrefix(line, "RssFile:"):
			dst = &file
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			*dst = kb * 1024
		}
	}
	return rss, hwm, anon, file
}

// machineInfo describes the host for reports.
type machineInfo struct {
	CPUs    int    `json:"cpus"`
	CPU     string `json:"cpuModel"`
	Kernel  string `json:"kernel,omitempty"`
	GoVer   string `json:"go"`
	NodeVer string `json:"node,omitempty"`
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAvg returns the 1-minute load average, or -1.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// cpuTimes is the machine-wide CPU time from the first line of /proc/stat.
type cpuTimes struct {
	busy, total int64 // clock ticks
}

// readCPUTimes reads the aggregate "cpu" line of /proc/stat.
func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	return parseCPUTimes(b)
}

func parseCPUTimes(b []byte) (cpuTimes, error) {
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("malformed /proc/stat")
	}
	var t cpuTimes
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("malformed /proc/stat: %w", err)
		}
		if i >= 8 { // guest time is already included in user
			break
		}
		t.total += n
		if i != 3 && i != 4 { // idle, iowait
			t.busy += n
		}
	}
	return t, nil
}

// busyCores returns the machine's busy cores (all processes) between a and b.
func busyCores(a, b cpuTimes, ncpu int) float64 {
	if b.total <= a.total {
		return 0
	}
	return round3(float64(b.busy-a.busy) / float64(b.total-a.total) * float64(ncpu))
}
