package config

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/origin"
)

// Origin is the configuration of `pullpush origin`: the origin's settings
// (origin.Config: YAML file, then environment, then flags) and the
// process's own (listen address, control API token, access log).
type Origin struct {
	// Listen is the address to listen on.
	Listen string
	// Config is what origin.New takes.
	Config origin.Config
	// APIToken is the bearer token of the control API (a secret; empty:
	// no token).
	APIToken string
	// AccessLog logs every request when true.
	AccessLog bool
}

// Environment variables of `pullpush origin` (each flag's default).
const (
	OriginListenEnv      = EnvPrefix + "ORIGIN_LISTEN"
	OriginDataEnv        = EnvPrefix + "ORIGIN_DATA"
	OriginConfigEnv      = EnvPrefix + "ORIGIN_CONFIG"
	OriginAccessLogEnv   = EnvPrefix + "ORIGIN_ACCESS_LOG"
	OriginKeyServerEnv   = EnvPrefix + "ORIGIN_KEY_SERVER"
	OriginKeysFileEnv    = EnvPrefix + "ORIGIN_KEYS_FILE"
	OriginKeyURIEnv      = EnvPrefix + "ORIGIN_KEY_URI"
	OriginKeyRotationEnv = EnvPrefix + "ORIGIN_KEY_ROTATION"
	KeyTokenEnv          = EnvPrefix + "KEY_TOKEN"
	APITokenEnv          = EnvPrefix + "API_TOKEN"
	APITokenFileEnv      = EnvPrefix + "API_TOKEN_FILE"
	StorageEnv           = EnvPrefix + "STORAGE"
	S3EndpointEnv        = EnvPrefix + "S3_ENDPOINT"
	S3RegionEnv          = EnvPrefix + "S3_REGION"
	S3AccessKeyEnv       = EnvPrefix + "S3_ACCESS_KEY"
	S3SecretKeyEnv       = EnvPrefix + "S3_SECRET_KEY"
	S3TokenEnv           = EnvPrefix + "S3_SESSION_TOKEN"
)

// DefaultOriginListen is the origin's default listen address.
const DefaultOriginListen = "127.0.0.1:8090"

// originFlags are the parsed flags of LoadOrigin.
type originFlags struct {
	listen, data, configPath                       string
	keyServer, keyToken, keysFile, keyURI          string
	storage, s3Endpoint, s3Region, s3Access, s3Key string
	apiToken, apiTokenFile                         string
	keyRotation                                    time.Duration
	accessLog                                      bool
	channels                                       channelFlags
	endpoints                                      endpointFlags
}

// LoadOrigin parses the flags of `pullpush origin` and builds its
// configuration: origin defaults, the YAML file named by --config (or
// PULLPUSH_ORIGIN_CONFIG), then the PULLPUSH_* variables found by lookupEnv,
// then the flags (--channel adds to or replaces the file's channels;
// --endpoint gives every channel without endpoints of its own its
// endpoints). It validates what the command needs (a --data directory or
// --storage). On -h it writes help and the flags to usage and returns
// flag.ErrHelp.
func LoadOrigin(args []string, lookupEnv func(string) (string, bool), usage io.Writer, help string) (Origin, error) {
	env := environ(lookupEnv)
	var f originFlags
	fs := flag.NewFlagSet("origin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.listen, "listen", cmp.Or(env.get(OriginListenEnv), DefaultOriginListen), "`address` to listen on ($"+OriginListenEnv+")")
	fs.StringVar(&f.data, "data", "", "`directory` for stored segments, required unless --storage or set in --config ($"+OriginDataEnv+")")
	fs.StringVar(&f.configPath, "config", env.get(OriginConfigEnv), "YAML config `file` with per-channel settings ($"+OriginConfigEnv+")")
	fs.Var(&f.channels, "channel", "channel `ID=USER:PASSWORD` (repeatable; both inputs use these credentials)")
	fs.Var(&f.endpoints, "endpoint", "packaging endpoint `ID[=PACKAGING[:METHOD]][,SETTING=VALUE...]` of every channel without endpoints in --config (repeatable), e.g. ts, cmaf, dash, aes=ts:AES-128, cbcs=cmaf:cbcs, dash-cenc=dash:cenc,segmentDuration=6s; settings: "+strings.Join(origin.EndpointFlagKeys(), ", "))
	fs.StringVar(&f.keyServer, "key-server", "", "SPEKE/CPIX key server `URL` for encrypted endpoints, pullpush keys ($"+OriginKeyServerEnv+")")
	fs.StringVar(&f.keyToken, "key-token", "", "bearer `token` for the key server ($"+KeyTokenEnv+")")
	fs.StringVar(&f.keysFile, "keys-file", "", "static key `file` for encrypted endpoints ($"+OriginKeysFileEnv+")")
	fs.StringVar(&f.keyURI, "key-uri", env.get(OriginKeyURIEnv), "EXT-X-KEY URI `template` of --endpoint endpoints ({channel} {endpoint} {resource} {kid} {period}; default: the key server's; $"+OriginKeyURIEnv+")")
	fs.DurationVar(&f.keyRotation, "key-rotation", origin.DefaultKeyRotationInterval, "key rotation `interval` of --endpoint endpoints (0: one key; $"+OriginKeyRotationEnv+")")
	fs.StringVar(&f.storage, "storage", "", "shared storage `URL` s3://BUCKET[/PREFIX] instead of --data ($"+StorageEnv+")")
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3 endpoint `URL` of --storage, e.g. http://127.0.0.1:7070 (default AWS; $"+S3EndpointEnv+")")
	fs.StringVar(&f.s3Region, "s3-region", "", "S3 `region` of --storage (default $"+S3RegionEnv+", $AWS_REGION, us-east-1)")
	fs.StringVar(&f.s3Access, "s3-access-key", "", "S3 access `key` of --storage (default $"+S3AccessKeyEnv+", else the AWS environment or role)")
	fs.StringVar(&f.s3Key, "s3-secret-key", "", "S3 secret `key` of --storage (default $"+S3SecretKeyEnv+"; prefer the environment)")
	fs.StringVar(&f.apiToken, "api-token", "", "bearer `token` of the control API under /api/v1/ (default $"+APITokenEnv+"; prefer --api-token-file)")
	fs.StringVar(&f.apiTokenFile, "api-token-file", "", "`file` holding the control API token ($"+APITokenFileEnv+")")
	fs.BoolVar(&f.accessLog, "access-log", true, "log every request (method, path, status, bytes, duration, remote); --access-log=false turns it off ($"+OriginAccessLogEnv+")")
	if v, ok := lookupEnv(OriginKeyRotationEnv); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Origin{}, fmt.Errorf("%s: %v", OriginKeyRotationEnv, err)
		}
		f.keyRotation = d
	}
	if v, ok := lookupEnv(OriginAccessLogEnv); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Origin{}, fmt.Errorf("%s: want true or false", OriginAccessLogEnv)
		}
		f.accessLog = b
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(usage, help)
			fs.SetOutput(usage)
			fs.PrintDefaults()
		}
		return Origin{}, err
	}
	if fs.NArg() > 0 {
		return Origin{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f.build(env)
}

// build layers the configuration of LoadOrigin.
func (f *originFlags) build(env environ) (Origin, error) {
	o := Origin{Listen: f.listen, AccessLog: f.accessLog}
	cfg := &o.Config
	if f.configPath != "" {
		c, err := origin.LoadConfigFile(f.configPath)
		if err != nil {
			return Origin{}, fmt.Errorf("--config: %v", err)
		}
		*cfg = c
	}
	if d := cmp.Or(f.data, env.get(OriginDataEnv)); d != "" {
		cfg.DataDir = d
	}
	f.applyChannels(cfg)
	server, file := f.keyServer, f.keysFile
	if server == "" && file == "" {
		server, file = env.get(OriginKeyServerEnv), env.get(OriginKeysFileEnv)
	}
	if server != "" {
		cfg.Keys.URL, cfg.Keys.File = server, ""
	}
	if file != "" {
		cfg.Keys.File, cfg.Keys.URL = file, ""
	}
	if f.keyToken != "" {
		cfg.Keys.Token = f.keyToken
	} else if tok := env.get(KeyTokenEnv); tok != "" && cfg.Keys.URL != "" && cfg.Keys.Token == "" {
		cfg.Keys.Token = tok
	}
	if err := applyStorage(&cfg.Storage, f, env); err != nil {
		return Origin{}, err
	}
	if cfg.DataDir == "" && !cfg.Storage.Enabled() {
		return Origin{}, errors.New("--data (or --storage) is required")
	}
	tok, err := APIToken(f.apiToken, f.apiTokenFile, env)
	if err != nil {
		return Origin{}, err
	}
	o.APIToken = tok
	return o, nil
}

// applyChannels adds the --channel channels to cfg (replacing the
// credentials of a channel of the file with the same ID) and gives every
// channel without endpoints the --endpoint endpoints.
func (f *originFlags) applyChannels(cfg *origin.Config) {
	for _, ch := range f.channels {
		replaced := false
		for i := range cfg.Channels {
			if cfg.Channels[i].ID == ch.ID {
				cfg.Channels[i].Username, cfg.Channels[i].Password = ch.Username, ch.Password
				replaced = true
			}
		}
		if !replaced {
			cfg.Channels = append(cfg.Channels, ch)
		}
	}
	for i := range cfg.Channels {
		if len(cfg.Channels[i].Endpoints) > 0 {
			continue
		}
		for _, ep := range f.endpoints {
			if ep.Encryption != nil {
				e := *ep.Encryption
				if e.KeyURI == "" {
					e.KeyURI = f.keyURI
				}
				if e.KeyRotationInterval == nil {
					e.KeyRotationInterval = origin.Duration(f.keyRotation)
				}
				ep.Encryption = &e
			}
			cfg.Channels[i].Endpoints = append(cfg.Channels[i].Endpoints, ep)
		}
	}
}

// applyStorage layers the shared storage settings: flags, then PULLPUSH_*
// environment variables, then the config file, then the AWS environment
// (region, endpoint; credentials are found by the S3 client). It checks
// the URL so that a bad --storage is a one-line error.
func applyStorage(st *origin.StorageConfig, f *originFlags, env environ) error {
	pick := func(dst *string, flag, key string, fallbacks ...string) {
		*dst = cmp.Or(flag, env.get(key), *dst)
		for _, k := range fallbacks {
			*dst = cmp.Or(*dst, env.get(k))
		}
	}
	pick(&st.URL, f.storage, StorageEnv)
	if st.URL == "" {
		if f.s3Endpoint != "" || f.s3Access != "" || f.s3Key != "" {
			return errors.New("--s3-* flags need --storage s3://BUCKET[/PREFIX]")
		}
		return nil
	}
	if _, _, err := origin.ParseStorageURL(st.URL); err != nil {
		return fmt.Errorf("--storage: %v", err)
	}
	pick(&st.Endpoint, f.s3Endpoint, S3EndpointEnv, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	pick(&st.Region, f.s3Region, S3RegionEnv, "AWS_REGION", "AWS_DEFAULT_REGION")
	pick(&st.AccessKey, f.s3Access, S3AccessKeyEnv)
	pick(&st.SecretKey, f.s3Key, S3SecretKeyEnv)
	pick(&st.SessionToken, "", S3TokenEnv)
	return nil
}

// environ reads PULLPUSH_* (and AWS_*) variables through a lookupEnv.
type environ func(string) (string, bool)

// get is the value of variable k; empty when unset.
func (e environ) get(k string) string {
	v, _ := e(k)
	return v
}

// channelFlags collects repeated --channel ID=USER:PASSWORD values.
type channelFlags []origin.ChannelConfig

func (c *channelFlags) String() string {
	ids := make([]string, len(*c))
	for i, ch := range *c {
		ids[i] = ch.ID + "=***"
	}
	return strings.Join(ids, ",")
}

func (c *channelFlags) Set(v string) error {
	id, cred, ok := strings.Cut(v, "=")
	user, pass, ok2 := strings.Cut(cred, ":")
	if !ok || !ok2 || id == "" || user == "" || pass == "" {
		return errors.New("want ID=USER:PASSWORD")
	}
	*c = append(*c, origin.ChannelConfig{ID: id, Username: user, Password: pass})
	return nil
}

// endpointFlags collects repeated --endpoint values (origin.ParseEndpointFlag).
type endpointFlags []origin.EndpointConfig

func (e *endpointFlags) String() string {
	ids := make([]string, len(*e))
	for i, ep := range *e {
		ids[i] = ep.ID
	}
	return strings.Join(ids, ",")
}

func (e *endpointFlags) Set(v string) error {
	ep, err := origin.ParseEndpointFlag(v)
	if err != nil {
		return err
	}
	*e = append(*e, ep)
	return nil
}
