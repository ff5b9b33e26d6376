// Command bench is the benchmark harness of pullpush: a synthetic live HLS
// source, a recording digest WebDAV sink, and drivers that run a relay under
// test (pullpush, the Node reference @eyevinn/hls-pull-push, or ffmpeg) between them
// and report CPU, memory, latency and delivery numbers. See bench/README.md.
//
//	go run ./bench source  --listen 127.0.0.1:8001 --channels 50
//	go run ./bench sink    --listen 127.0.0.1:8002 --user u --pass p
//	go run ./bench run     --relay pullpush --channels 50 --duration 60s
//	go run ./bench compare --channels 50 --duration 60s
//	go run ./bench scale   --sizes 10,100,500,1000 --duration 60s
//	go run ./bench origin  --clients 100 --duration 20s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// errUsage marks errors caused by bad command-line input (exit code 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usage = `usage: go run ./bench <command> [flags]

commands:
  source    synthetic live HLS source: N channels x R renditions on wall-clock time
  sink      digest-auth WebDAV sink recording every segment PUT
  run       one relay (pullpush, reference or ffmpeg) between a source and a sink
  compare   pullpush and its peers (reference, ffmpeg) on the same load, side by side
  scale     pullpush (and the peers while they survive) at several channel counts
  origin    load test of 'pullpush origin' (and nginx with -peer nginx): GETs per second

Run 'go run ./bench <command> -h' for the flags of a command.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "source":
		return runSource(ctx, rest, stdout, stderr)
	case "sink":
		return runSink(ctx, rest, stdout, stderr)
	case "run":
		return runRun(ctx, rest, stdout, stderr)
	case "compare":
		return runCompare(ctx, rest, stdout, stderr)
	case "scale":
		return runScale(ctx, rest, stdout, stderr)
	case "origin":
		return runOrigin(ctx, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and wraps parse errors as usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
