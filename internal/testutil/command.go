package testutil

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"
)

// StopTimeout bounds how long Command.Stop waits for a cancelled command
// to return; it is a hang detector, not a speed requirement.
const StopTimeout = 10 * time.Second

// Command is a CLI subcommand (a func of ctx, stdout and stderr, such as
// cmd/pullpush's runServe) running on a goroutine of the test process,
// with its output collected in Stdout and Stderr.
type Command struct {
	Stdout, Stderr LockedBuffer

	cancel   context.CancelFunc
	done     chan struct{}
	err      error // valid once done is closed
	stopOnce sync.Once
	stopErr  error
}

// StartCommand runs run until Stop or the end of the test (when it is
// stopped and its error ignored).
func StartCommand(t testing.TB, run func(ctx context.Context, stdout, stderr io.Writer) error) *Command {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Command{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.err = run(ctx, &c.Stdout, &c.Stderr)
	}()
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

// WaitMatch waits until re matches what the command wrote to out (its
// Stdout or Stderr) and returns the submatches. It fails the test when the
// command returns first or timeout passes.
func (c *Command) WaitMatch(t testing.TB, out *LockedBuffer, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	var m []string
	Eventually(t, timeout, func() bool {
		if m = re.FindStringSubmatch(out.String()); m != nil {
			return true
		}
		select {
		case <-c.done:
			if m = re.FindStringSubmatch(out.String()); m != nil {
				return true
			}
			t.Fatalf("command returned %v before printing %s\nstdout:\n%s\nstderr:\n%s", c.err, re, c.Stdout.String(), c.Stderr.String())
		default:
		}
		return false
	}, "no match of %s\nstdout:\n%s\nstderr:\n%s", re, &c.Stdout, &c.Stderr)
	return m
}

// Done is closed when the command has returned.
func (c *Command) Done() <-chan struct{} { return c.done }

// Err is what the command returned; call it after Done is closed.
func (c *Command) Err() error { return c.err }

// Stop cancels the command's context and returns what it returned, or an
// error when it did not return within StopTimeout. Later calls return the
// same.
func (c *Command) Stop() error { return c.StopWithin(StopTimeout) }

// StopWithin is Stop waiting up to timeout.
func (c *Command) StopWithin(timeout time.Duration) error {
	c.stopOnce.Do(func() {
		c.cancel()
		select {
		case <-c.done:
			c.stopErr = c.err
		case <-time.After(timeout):
			c.stopErr = fmt.Errorf("command did not return within %s of its cancellation", timeout)
		}
	})
	return c.stopErr
}

// Process is a child process whose stderr is collected line by line.
type Process struct {
	Cmd  *exec.Cmd
	Logs LockedBuffer // stderr, whole lines

	done chan struct{}
	err  error // of Cmd.Wait, valid once done is closed
}

// StartProcess starts cmd, collects its stderr in Logs and waits up to
// timeout for a line matching re, returning the process and that line's
// submatches. It fails the test when the process ends first or timeout
// passes. Stdout is discarded unless set. The process is killed at the
// end of the test.
func StartProcess(t testing.TB, cmd *exec.Cmd, re *regexp.Regexp, timeout time.Duration) (*Process, []string) {
	t.Helper()
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	matched := make(chan []string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.Logs.Write([]byte(line + "\n"))
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case matched <- m:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr) // a line past the limit: keep the child unblocked
		p.err = cmd.Wait()
	}()
	t.Cleanup(p.Kill)
	select {
	case m := <-matched:
		return p, m
	case <-p.done:
		select {
		case m := <-matched:
			return p, m
		default:
		}
		t.Fatalf("%s ended (%v) before printing %s:\n%s", cmd.Path, p.err, re, p.Logs.String())
	case <-time.After(timeout):
		p.Kill()
		t.Fatalf("%s did not print %s within %s:\n%s", cmd.Path, re, timeout, p.Logs.String())
	}
	return nil, nil
}

// Done is closed when the process has exited and its stderr is drained.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns what Cmd.Wait returned.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Kill sends SIGKILL (if the process still runs) and waits for it to be
// gone.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.Cmd.Process.Kill()
	<-p.done
}

// WaitListening polls addr (host:port) until it accepts TCP connections
// and reports whether it did before exited was closed (the server process
// ended) or timeout passed. Servers that print no address (versitygw,
// nats-server) are started on a port the test chose and awaited so.
func WaitListening(addr string, exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}
