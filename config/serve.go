package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pullpush/pullpush/internal/strictyaml"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable.
const EnvPrefix = "PULLPUSH_"

// Serve is the configuration of `pullpush serve`.
type Serve struct {
	// Listen is the HTTP address (host:port) of the API.
	Listen string
	// Data is the directory of the fetcher database and spools.
	Data string
	// APIToken, when set, is required as a bearer token on /api/v1.
	APIToken string
	// APITokenFile holds the token (trailing newline trimmed) instead of APIToken.
	APITokenFile string
	// MaxFetchers limits the number of fetchers (0 = unlimited).
	MaxFetchers int
	// SpoolBytes bounds each fetcher's spool of segments waiting for upload.
	SpoolBytes int64
	// SpoolMemory is the memory all fetchers share for segments in flight;
	// what does not fit waits in the spool files.
	SpoolMemory int64
	// Pprof serves Go's profiling endpoints under /debug/pprof/ (behind
	// the API token when one is set).
	Pprof bool
	// ShutdownTimeout bounds a graceful shutdown (in-flight requests and uploads).
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogFormat is text or json.
	LogFormat string
	// CORSOrigin, when set, allows browser dashboards from that origin ("*" for any).
	CORSOrigin string
	// Cluster, when set, is the NATS URL (several comma-separated) of the
	// JetStream that holds the cluster's fetchers, shared by every
	// instance; empty keeps them in bbolt under Data.
	Cluster string
	// InstanceID names this instance in the cluster (default: the host
	// name); unique among live instances.
	InstanceID string
	// LeaseTTL is how long a fetcher lease and a membership live without
	// renewal; a dead instance's fetchers move within 2 × LeaseTTL.
	LeaseTTL time.Duration
	// ClusterPrefix starts the names of the cluster's buckets.
	ClusterPrefix string
	// ClusterCredsFile is a NATS credentials file (.creds) for the connection.
	ClusterCredsFile string
	// AllowHosts, when set, limits source fetches to these hosts
	// (comma-separated names, IPs or *.domain).
	AllowHosts string
	// DenyPrivate refuses source fetches to loopback, private, link-local
	// and other non-public addresses (checked at connect time).
	DenyPrivate bool
}

// AllowHostList returns AllowHosts split on commas, empty entries dropped.
func (c Serve) AllowHostList() []string {
	var out []string
	for _, h := range strings.Split(c.AllowHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// DefaultServe returns the built-in defaults.
func DefaultServe() Serve {
	return Serve{
		Listen:          "127.0.0.1:8080",
		MaxFetchers:     100,
		SpoolBytes:      512 << 20,
		SpoolMemory:     256 << 20,
		ShutdownTimeout: 15 * time.Second,
		LogLevel:        "info",
		LogFormat:       "text",
		LeaseTTL:        10 * time.Second,
		ClusterPrefix:   "pullpush",
	}
}

// DefaultInstanceID returns the host name reduced to the characters an
// instance id may hold, or "pullpush" when there is none.
func DefaultInstanceID() string {
	h, _ := os.Hostname()
	var b strings.Builder
	for _, r := range h {
		if b.Len() >= 64 {
			break
		}
		if isIDRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if id := strings.Trim(b.String(), "-"); id != "" {
		return id
	}
	return "pullpush"
}

func isIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// setting is one configuration key.
type setting struct {
	key    string // YAML key; the flag and env names derive from it
	usage  string
	secret bool // its value never appears in messages
	isBool bool // a flag that may be given bare (--deny-private) for true
	get    func(c *Serve) string
	set    func(c *Serve, v string) error
}

// Flag returns the command-line flag name of a key: maxFetchers → max-fetchers.
func Flag(key string) string { return words(key, "-", unicode.ToLower) }

// Env returns the environment variable of a key: maxFetchers → PULLPUSH_MAX_FETCHERS.
func Env(key string) string { return EnvPrefix + words(key, "_", unicode.ToUpper) }

func words(key, sep string, conv func(rune) rune) string {
	var b strings.Builder
	for i, r := range key {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteString(sep)
		}
		b.WriteRune(conv(r))
	}
	return b.String()
}

func stringSetting(key, usage string, secret bool, field func(c *Serve) *string) setting {
	return setting{key: key, usage: usage, secret: secret,
		get: func(c *Serve) string { return *field(c) },
		set: func(c *Serve, v string) error { *field(c) = v; return nil },
	}
}

// boolSetting is a true/false key; its flag may be given bare for true
// (--deny-private) or with a value (--deny-private=false), as flag.Bool.
func boolSetting(key, usage string, field func(c *Serve) *bool) setting {
	return setting{key: key, usage: usage + " (true or false)", isBool: true,
		get: func(c *Serve) string { return strconv.FormatBool(*field(c)) },
		set: func(c *Serve, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			*field(c) = b
			return nil
		}}
}

var serveSettings = []setting{
	stringSetting("listen", "HTTP listen address host:port (\":8080\" for every interface)", false, func(c *Serve) *string { return &c.Listen }),
	stringSetting("data", "data directory: fetcher database (owner-only) and spools (required)", false, func(c *Serve) *string { return &c.Data }),
	stringSetting("apiToken", "bearer token required on /api/v1 (prefer the env var or apiTokenFile over the flag)", true, func(c *Serve) *string { return &c.APIToken }),
	stringSetting("apiTokenFile", "file holding the API token", false, func(c *Serve) *string { return &c.APITokenFile }),
	{key: "maxFetchers", usage: "maximum number of fetchers, 0 for unlimited",
		get: func(c *Serve) string { return strconv.Itoa(c.MaxFetchers) },
		set: func(c *Serve, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			c.MaxFetchers = n
			return nil
		}},
	stringSetting("allowHosts", "only fetch sources from these hosts (comma-separated names, IPs or *.domain); empty allows any", false, func(c *Serve) *string { return &c.AllowHosts }),
	boolSetting("denyPrivate", "refuse sources on loopback, private and link-local addresses", func(c *Serve) *bool { return &c.DenyPrivate }),
	{key: "spoolBytes", usage: "per-fetcher spool bound in bytes; suffixes KiB, MiB, GiB allowed",
		get: func(c *Serve) string { return strconv.FormatInt(c.SpoolBytes, 10) },
		set: func(c *Serve, v string) error {
			n, err := ParseBytes(v)
			if err != nil {
				return err
			}
			c.SpoolBytes = n
			return nil
		}},
	{key: "spoolMemory", usage: "memory shared by all fetchers for segments in flight, beyond it they wait in spool files; suffixes KiB, MiB, GiB allowed",
		get: func(c *Serve) string { return strconv.FormatInt(c.SpoolMemory, 10) },
		set: func(c *Serve, v string) error {
			n, err := ParseBytes(v)
			if err != nil {
				return err
			}
			c.SpoolMemory = n
			return nil
		}},
	boolSetting("pprof", "serve Go profiling endpoints under /debug/pprof/ (behind the API token when set)", func(c *Serve) *bool { return &c.Pprof }),
	{key: "shutdownTimeout", usage: "bound on a graceful shutdown, e.g. 15s",
		get: func(c *Serve) string { return c.ShutdownTimeout.String() },
		set: func(c *Serve, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a duration (e.g. 15s)", v)
			}
			c.ShutdownTimeout = d
			return nil
		}},
	stringSetting("logLevel", "log level: debug, info, warn, error", false, func(c *Serve) *string { return &c.LogLevel }),
	stringSetting("logFormat", "log format: text or json", false, func(c *Serve) *string { return &c.LogFormat }),
	stringSetting("corsOrigin", "allowed browser origin for the API (\"*\" for any; empty disables CORS)", false, func(c *Serve) *string { return &c.CORSOrigin }),
	stringSetting("cluster", "cluster mode: NATS URL of the JetStream shared by every instance (nats://host:4222, comma-separated for several); fetchers and progress live there instead of bbolt", false, func(c *Serve) *string { return &c.Cluster }),
	stringSetting("instanceId", "cluster mode: this instance's name, unique among live instances (default: the host name)", false, func(c *Serve) *string { return &c.InstanceID }),
	{key: "leaseTtl", usage: "cluster mode: lease and membership TTL; a dead instance's fetchers move within 2 x TTL; the same on every instance",
		get: func(c *Serve) string { return c.LeaseTTL.String() },
		set: func(c *Serve, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a duration (e.g. 10s)", v)
			}
			c.LeaseTTL = d
			return nil
		}},
	stringSetting("clusterPrefix", "cluster mode: prefix of the NATS key-value bucket names (several clusters can share one NATS)", false, func(c *Serve) *string { return &c.ClusterPrefix }),
	stringSetting("clusterCredsFile", "cluster mode: NATS credentials file (.creds) for the connection", false, func(c *Serve) *string { return &c.ClusterCredsFile }),
}

func lookupSetting(key string) (setting, bool) {
	for _, s := range serveSettings {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

// ParseBytes parses a byte count: an integer with an optional suffix B,
// KiB, MiB, GiB, TiB (powers of 1024) or kB, MB, GB, TB (powers of 1000).
func ParseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a byte count (e.g. 536870912 or 512MiB)", v)
	}
	return n * mult, nil
}

// ServeFlags records the flags given on the command line, to be applied
// after the file and the environment.
type serveFlags struct {
	fs     *flag.FlagSet
	config string
	set    []flagValue
}

type flagValue struct {
	s     setting
	value string
}

// recorder is a flag.Value that remembers what was given.
type recorder struct {
	f *serveFlags
	s setting
}

func (r recorder) String() string { return "" }

// IsBoolFlag lets the flag package accept a boolean key's flag bare.
func (r recorder) IsBoolFlag() bool { return r.s.isBool }

func (r recorder) Set(v string) error {
	r.f.set = append(r.f.set, flagValue{s: r.s, value: v})
	return nil
}

// LoadServe parses args and builds the configuration from defaults, the YAML
// file named by --config or PULLPUSH_CONFIG, the PULLPUSH_* variables found
// by lookupEnv and the flags, in that order, then validates it. Flag usage
// goes to usage. It returns flag.ErrHelp for -h.
func LoadServe(args []string, lookupEnv func(string) (string, bool), usage io.Writer) (Serve, error) {
	sf := &serveFlags{fs: flag.NewFlagSet("serve", flag.ContinueOnError)}
	sf.fs.SetOutput(usage)
	sf.fs.StringVar(&sf.config, "config", "", "YAML config file with the same keys (camelCase) ("+EnvPrefix+"CONFIG)")
	for _, s := range serveSettings {
		def := ""
		if d := DefaultServe(); !s.secret {
			def = s.get(&d)
		}
		u := fmt.Sprintf("%s (%s; file key %s)", s.usage, Env(s.key), s.key)
		if def != "" && def != "0" {
			u += " (default " + def + ")"
		}
		sf.fs.Var(recorder{f: sf, s: s}, Flag(s.key), u)
	}
	sf.fs.Usage = func() {
		fmt.Fprintf(usage, "usage: pullpush serve --data DIR [--listen ADDR] [--api-token T] [--cluster nats://HOST:4222 [--instance-id NAME]] [--config FILE] [flags]\n\n"+
			"Runs the REST API and the fetchers. With --cluster, several instances share the fetchers stored in NATS JetStream.\n"+
			"Precedence: defaults < config file < %s* env < flags.\n\n", EnvPrefix)
		sf.fs.PrintDefaults()
	}
	if err := sf.fs.Parse(args); err != nil {
		return Serve{}, err
	}
	if sf.fs.NArg() > 0 {
		return Serve{}, fmt.Errorf("unexpected argument %q", sf.fs.Arg(0))
	}
	c := DefaultServe()
	path := sf.config
	if path == "" {
		path, _ = lookupEnv(EnvPrefix + "CONFIG")
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Serve{}, fmt.Errorf("config file %q: %w", path, err)
		}
		if err := c.applyYAML(data); err != nil {
			return Serve{}, fmt.Errorf("config file %q: %w", path, err)
		}
	}
	for _, s := range serveSettings {
		if v, ok := lookupEnv(Env(s.key)); ok {
			if err := s.set(&c, v); err != nil {
				return Serve{}, fmt.Errorf("%s: %w", Env(s.key), valueErr(s, err))
			}
		}
	}
	for _, fv := range sf.set {
		if err := fv.s.set(&c, fv.value); err != nil {
			return Serve{}, fmt.Errorf("flag --%s: %w", Flag(fv.s.key), valueErr(fv.s, err))
		}
	}
	if err := c.loadTokenFile(); err != nil {
		return Serve{}, err
	}
	if c.Cluster != "" && c.InstanceID == "" {
		c.InstanceID = DefaultInstanceID()
	}
	if err := c.Validate(); err != nil {
		return Serve{}, err
	}
	return c, nil
}

// valueErr names the key and hides the value of a secret.
func valueErr(s setting, err error) error {
	if s.secret {
		return fmt.Errorf("'%s' has an invalid value", s.key)
	}
	return fmt.Errorf("'%s': %w", s.key, err)
}

// applyYAML sets the keys of a YAML mapping; unknown keys are an error.
func (c *Serve) applyYAML(data []byte) error {
	doc, err := strictyaml.Parse(data)
	if err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return errors.New("must be a YAML mapping of keys to values")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		s, ok := lookupSetting(k.Value)
		if !ok {
			return fmt.Errorf("line %d: unknown key '%s'", k.Line, k.Value)
		}
		if seen[k.Value] {
			return fmt.Errorf("line %d: key '%s' given twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: '%s' must be a single value", v.Line, k.Value)
		}
		if v.Tag == "!!null" {
			continue
		}
		if err := s.set(c, v.Value); err != nil {
			return fmt.Errorf("line %d: %w", v.Line, valueErr(s, err))
		}
	}
	return nil
}

func (c *Serve) loadTokenFile() error {
	if c.APITokenFile == "" {
		return nil
	}
	if c.APIToken != "" {
		return errors.New("'apiToken' and 'apiTokenFile' are both set: use one")
	}
	b, err := os.ReadFile(c.APITokenFile)
	if err != nil {
		return fmt.Errorf("'apiTokenFile': %w", err)
	}
	c.APIToken = strings.TrimRight(string(b), "\r\n")
	if c.APIToken == "" {
		return fmt.Errorf("'apiTokenFile': %s is empty", c.APITokenFile)
	}
	return nil
}

// Validate checks the configuration; each error quotes the key.
func (c Serve) Validate() error {
	if c.Data == "" {
		return fmt.Errorf("'data' must be set (flag --%s or %s)", Flag("data"), Env("data"))
	}
	if c.Listen == "" {
		return errors.New("'listen' must be set")
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return fmt.Errorf("'listen' must be host:port or :port, got %q", c.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("'listen' has an invalid port %q", port)
	}
	if strings.IndexFunc(c.APIToken, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return errors.New("'apiToken' must not contain whitespace or control characters")
	}
	if c.MaxFetchers < 0 {
		return fmt.Errorf("'maxFetchers' must not be negative, got %d", c.MaxFetchers)
	}
	if c.SpoolMemory < 1<<20 {
		return fmt.Errorf("'spoolMemory' must be at least 1048576 (1MiB), got %d", c.SpoolMemory)
	}
	if c.SpoolBytes < 1<<20 {
		return fmt.Errorf("'spoolBytes' must be at least 1048576 (1MiB), got %d", c.SpoolBytes)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("'shutdownTimeout' must be positive, got %s", c.ShutdownTimeout)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("'logLevel' must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("'logFormat' must be text or json, got %q", c.LogFormat)
	}
	if strings.ContainsAny(c.CORSOrigin, " \t\r\n,") {
		return fmt.Errorf("'corsOrigin' must be one origin (e.g. https://dash.example.com) or *, got %q", c.CORSOrigin)
	}
	return c.validateCluster()
}

// validateCluster checks the cluster keys. A URL is quoted with its
// password hidden.
func (c Serve) validateCluster() error {
	if c.Cluster == "" {
		return nil
	}
	for _, raw := range strings.Split(c.Cluster, ",") {
		raw = strings.TrimSpace(raw)
		if !strings.Contains(raw, "://") {
			raw = "nats://" + raw // as the NATS client reads host:port
		}
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("'cluster' must be NATS URLs like nats://host:4222, got an unparsable URL")
		}
		shown := u.Redacted()
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("'cluster' URL %q must start with nats://, tls://, ws:// or wss://", shown)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("'cluster' URL %q has no host", shown)
		}
	}
	if c.InstanceID == "" || len(c.InstanceID) > 64 || strings.IndexFunc(c.InstanceID, func(r rune) bool { return !isIDRune(r) }) >= 0 {
		return fmt.Errorf("'instanceId' must be 1 to 64 letters, digits, '-' or '_', got %q", c.InstanceID)
	}
	if c.LeaseTTL < time.Second || c.LeaseTTL > 10*time.Minute {
		return fmt.Errorf("'leaseTtl' must be between 1s and 10m, got %s", c.LeaseTTL)
	}
	if c.ClusterPrefix == "" || len(c.ClusterPrefix) > 64 || strings.IndexFunc(c.ClusterPrefix, func(r rune) bool { return !isIDRune(r) }) >= 0 {
		return fmt.Errorf("'clusterPrefix' must be 1 to 64 letters, digits, '-' or '_', got %q", c.ClusterPrefix)
	}
	if c.ClusterCredsFile != "" {
		if _, err := os.Stat(c.ClusterCredsFile); err != nil {
			return fmt.Errorf("'clusterCredsFile': %w", err)
		}
	}
	return nil
}
