// Command pullpush relays live HLS channels (pull -> push), serves a
// MediaPackage-compatible origin and a VOD2Live channel engine.
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

	"github.com/pullpush/pullpush/internal/buildinfo"
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
		fmt.Fprintln(os.Stderr, "pullpush:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usage = `usage: pullpush <command> [flags]

commands:
  demo      channel engine + relay + origin on one port, with a dashboard
  pull      run one fetcher in the foreground (pull a live HLS source, push it to an output)
  serve     REST API and fetchers (hls-pull-push compatible)
  origin    MediaPackage-compatible ingest + playback origin (CMAF, encryption)
  keys      content key server (SPEKE/CPIX) for encrypted origin endpoints
  channel   VOD2Live channel engine
  chaos     fault-injection proxy for manual reliability tests
  version   print the version, VCS revision, build time and Go version (also --version on any command)

Run 'pullpush <command> -h' for the flags of a command.
`

// run executes the command line args and returns an error for main to print.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	cmd, rest := args[0], args[1:]
	// --version on every command, before its own flags are parsed.
	for _, a := range rest {
		if a == "--" {
			break
		}
		if a == "--version" || a == "-version" {
			fmt.Fprintln(stdout, buildinfo.Get())
			return nil
		}
	}
	switch cmd {
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, buildinfo.Get())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "pull":
		return runPull(ctx, rest, stdout, stderr)
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "origin":
		return runOrigin(ctx, rest, stdout, stderr)
	case "chaos":
		return runChaos(ctx, rest, stdout, stderr)
	case "channel":
		return runChannel(ctx, rest, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}
