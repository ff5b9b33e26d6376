package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// child is a process started by the harness.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string // path of its combined stdout/stderr log
	addr string // address from its "LISTEN <addr>" line, if any
	done chan struct{}
	err  error // exit error, valid after done is closed
}

// startChild starts cmd with its output in dir/name.log. When wantListen is
// set, it waits (up to timeout) for a "LISTEN <addr>" line on stdout.
func startChild(name, dir string, cmd *exec.Cmd, wantListen bool, timeout time.Duration) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	// Children die with the harness even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = lf
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(lf, line)
			if a, ok := strings.CutPrefix(line, "LISTEN "); ok && !found {
				found = true
				addrc <- strings.TrimSpace(a)
			}
		}
		io.Copy(lf, pr)
	}()
	go func() {
		c.err = cmd.Wait()
		pw.Close()
		close(c.done)
	}()
	if !wantListen {
		return c, nil
	}
	select {
	case c.addr = <-addrc:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("%s exited before listening: %v (log %s)", name, c.err, logPath)
	case <-time.After(timeout):
		c.stop(time.Second)
		return nil, fmt.Errorf("%s did not listen within %s (log %s)", name, timeout, logPath)
	}
}

// alive reports whether the child is still running.
func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits up to grace, then kills.
func (c *child) stop(grace time.Duration) {
	if !c.alive() {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// freePort returns a currently free loopback TCP port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200, the child exits, or timeout passes.
func waitHTTP(ctx context.Context, c *child, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	cl := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := cl.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !c.alive() {
			return fmt.Errorf("%s exited: %v (log %s)", c.name, c.err, c.log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s after %s (log %s)", c.name, url, timeout, c.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// moduleRoot returns the directory of the pullpush module (for go build and
// the reference launcher).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the pullpush module: run from the repository")
	}
	return filepath.Dir(gomod), nil
}
