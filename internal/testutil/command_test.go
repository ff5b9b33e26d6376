package testutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestCommandWaitMatchAndStop(t *testing.T) {
	stopped := errors.New("stopped")
	c := StartCommand(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		fmt.Fprintln(stderr, "starting")
		fmt.Fprintln(stdout, "listening on http://127.0.0.1:4242/x")
		<-ctx.Done()
		return stopped
	})
	m := c.WaitMatch(t, &c.Stdout, regexp.MustCompile(`on (http://\S+)`), 5*time.Second)
	if m[1] != "http://127.0.0.1:4242/x" {
		t.Fatalf("match %q", m)
	}
	if err := c.Stop(); !errors.Is(err, stopped) {
		t.Fatalf("Stop = %v, want the command's error", err)
	}
	if err := c.Stop(); !errors.Is(err, stopped) {
		t.Fatalf("second Stop = %v", err)
	}
	if c.Stderr.String() != "starting\n" {
		t.Fatalf("stderr %q", c.Stderr.String())
	}
}

// TestCommandEndedEarly checks that WaitMatch reports a command that
// returned without printing (in a subtest whose failure is expected).
func TestCommandEndedEarly(t *testing.T) {
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := StartCommand(ft, func(ctx context.Context, stdout, stderr io.Writer) error {
			return errors.New("bad flag")
		})
		c.WaitMatch(ft, &c.Stdout, regexp.MustCompile(`never`), 5*time.Second)
	}()
	<-done
	if !ft.failed || !regexp.MustCompile(`returned bad flag before printing never`).MatchString(ft.msg) {
		t.Fatalf("failed=%v msg=%q", ft.failed, ft.msg)
	}
}

// fakeT records a fatal failure and ends the goroutine like t.Fatal.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(s string, a ...any) {
	f.failed, f.msg = true, fmt.Sprintf(s, a...)
	runtime.Goexit()
}

func TestProcessHelper(t *testing.T) {
	if os.Getenv("TESTUTIL_CHILD") == "1" {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		fmt.Fprintln(os.Stderr, "level=INFO msg=serving addr=127.0.0.1:5555")
		<-stop // or SIGKILL from the parent
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessHelper$")
	cmd.Env = append(os.Environ(), "TESTUTIL_CHILD=1")
	p, m := StartProcess(t, cmd, regexp.MustCompile(`msg=serving addr=(\S+)`), 20*time.Second)
	if m[1] != "127.0.0.1:5555" {
		t.Fatalf("match %q", m)
	}
	p.Kill()
	if err := p.Wait(); err == nil {
		t.Fatal("a killed process exited cleanly")
	}
	if !regexp.MustCompile(`addr=127\.0\.0\.1:5555\n`).MatchString(p.Logs.String()) {
		t.Fatalf("logs %q", p.Logs.String())
	}
}

func TestWaitListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	running := make(chan struct{})
	if !WaitListening(addr, running, 5*time.Second) {
		t.Fatal("a listening address was not seen")
	}
	ln.Close()
	exited := make(chan struct{})
	close(exited)
	if WaitListening(addr, exited, 5*time.Second) {
		t.Fatal("an exited server was reported listening")
	}
}
