package config

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/pullpush/pullpush/channel"
)

// Channel is the configuration of `pullpush channel`: the engine's
// channels (channel.Config: the YAML or JSON file, or the bundled channel
// 1) and the process's own settings.
type Channel struct {
	// Listen is the address to listen on.
	Listen string
	// Config is what channel.New takes.
	Config channel.Config
	// Data is the directory of the channels' schedules; empty: the
	// schedule API is off.
	Data string
	// APIToken is the bearer token of the schedule API (a secret).
	APIToken string
	// AccessLog logs every request when true.
	AccessLog bool
}

// Environment variables of `pullpush channel` (each flag's default; the
// API token ones are those of serve and origin).
const (
	ChannelListenEnv    = EnvPrefix + "CHANNEL_LISTEN"
	ChannelConfigEnv    = EnvPrefix + "CHANNEL_CONFIG"
	ChannelDataEnv      = EnvPrefix + "CHANNEL_DATA"
	ChannelAccessLogEnv = EnvPrefix + "CHANNEL_ACCESS_LOG"
)

// DefaultChannelListen is the channel engine's default listen address.
const DefaultChannelListen = "localhost:8000"

// LoadChannel parses the flags of `pullpush channel` and builds its
// configuration: the bundled channel 1, or the file named by --config (or
// PULLPUSH_CHANNEL_CONFIG), then the PULLPUSH_* variables found by
// lookupEnv, then the flags. On -h it writes help and the flags to usage
// and returns flag.ErrHelp.
func LoadChannel(args []string, lookupEnv func(string) (string, bool), usage io.Writer, help string) (Channel, error) {
	env := environ(lookupEnv)
	c := Channel{AccessLog: true}
	if v := env.get(ChannelAccessLogEnv); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Channel{}, fmt.Errorf("%s: want true or false", ChannelAccessLogEnv)
		}
		c.AccessLog = b
	}
	var configPath, token, tokenFile string
	fs := flag.NewFlagSet("channel", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Listen, "listen", cmp.Or(env.get(ChannelListenEnv), DefaultChannelListen), "`address` to listen on, host:port ($"+ChannelListenEnv+")")
	fs.StringVar(&configPath, "config", env.get(ChannelConfigEnv), "channels config `file` (YAML or JSON); default: the bundled channel 1 ($"+ChannelConfigEnv+")")
	fs.StringVar(&c.Data, "data", env.get(ChannelDataEnv), "`directory` for the channels' schedules; the schedule API is off without it ($"+ChannelDataEnv+")")
	fs.StringVar(&token, "api-token", "", "bearer `token` required on /api/v1 (prefer $"+APITokenEnv+" or --api-token-file over the flag)")
	fs.StringVar(&tokenFile, "api-token-file", "", "`file` holding the API token ($"+APITokenFileEnv+")")
	fs.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "log every request (method, path, status, bytes, duration, remote); --access-log=false turns it off ($"+ChannelAccessLogEnv+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(usage, help)
			fs.SetOutput(usage)
			fs.PrintDefaults()
		}
		return Channel{}, err
	}
	if fs.NArg() > 0 {
		return Channel{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	tok, err := APIToken(token, tokenFile, lookupEnv)
	if err != nil {
		return Channel{}, err
	}
	c.APIToken = tok
	c.Config = channel.DefaultConfig()
	if configPath != "" {
		if c.Config, err = channel.LoadConfig(configPath); err != nil {
			return Channel{}, err
		}
	}
	return c, nil
}

// APIToken resolves a control API token: the flags (--api-token or
// --api-token-file, not both), else PULLPUSH_API_TOKEN or
// PULLPUSH_API_TOKEN_FILE; a token file holds it on its first line. A
// token with whitespace or control characters is refused (it would not
// survive an Authorization header); the error never quotes it.
func APIToken(token, file string, lookupEnv func(string) (string, bool)) (string, error) {
	if token == "" && file == "" {
		token, _ = lookupEnv(APITokenEnv)
		file, _ = lookupEnv(APITokenFileEnv)
	}
	if token != "" && file != "" {
		return "", errors.New("--api-token and --api-token-file are both set: use one")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--api-token-file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if token = strings.TrimRight(line, "\r"); token == "" {
			return "", fmt.Errorf("--api-token-file: %s is empty", file)
		}
	}
	if strings.IndexFunc(token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", errors.New("--api-token must not contain whitespace or control characters")
	}
	return token, nil
}
