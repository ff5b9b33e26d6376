package origin

import (
	"fmt"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/pullpush/pullpush/internal/s3client"
	"github.com/pullpush/pullpush/origin/internal/shared"
)

// Defaults of the shared storage settings.
const (
	DefaultSettleDelay      = time.Second
	DefaultPollInterval     = 250 * time.Millisecond
	DefaultSnapshotInterval = time.Minute
	DefaultStorageCache     = 256 << 20
	// DefaultS3Region is the region used when none is configured.
	DefaultS3Region = "us-east-1"
)

// StorageConfig places the origin's state in an S3 bucket shared by several
// origin instances (see "Shared storage" in the package documentation).
// With an empty URL the origin keeps its index in memory and its segments
// under Config.DataDir.
type StorageConfig struct {
	// URL is s3://bucket[/prefix].
	URL string `yaml:"url"`
	// Endpoint is the S3 endpoint, http(s)://host[:port] (default AWS).
	// With an endpoint, buckets are addressed path-style.
	Endpoint string `yaml:"endpoint"`
	// Region is the bucket's region (default us-east-1).
	Region string `yaml:"region"`
	// AccessKey, SecretKey and SessionToken are static credentials; when
	// empty the AWS environment, shared credentials file or instance role
	// are used. The secret is never logged.
	AccessKey    string `yaml:"accessKey"`
	SecretKey    string `yaml:"secretKey"`
	SessionToken string `yaml:"sessionToken"`
	// SettleDelay is how long an ingest-log entry may take to become
	// visible in the bucket: instances apply entries only once they are
	// this old (default 1s; about one segment).
	SettleDelay time.Duration `yaml:"settleDelay"`
	// PollInterval is how often an instance lists new log entries
	// (default 250ms).
	PollInterval time.Duration `yaml:"pollInterval"`
	// SnapshotInterval is the spacing of index snapshots, from which a
	// starting instance recovers (default 1m). Log entries older than the
	// second newest snapshot are deleted.
	SnapshotInterval time.Duration `yaml:"snapshotInterval"`
	// CacheBytes bounds the local memory cache of segments read from the
	// bucket (default 256 MiB).
	CacheBytes int64 `yaml:"cacheBytes"`
}

// Enabled reports whether shared storage is configured.
func (s StorageConfig) Enabled() bool { return s.URL != "" }

// withDefaults fills zero values.
func (s StorageConfig) withDefaults() StorageConfig {
	if s.SettleDelay == 0 {
		s.SettleDelay = DefaultSettleDelay
	}
	if s.PollInterval == 0 {
		s.PollInterval = DefaultPollInterval
	}
	if s.SnapshotInterval == 0 {
		s.SnapshotInterval = DefaultSnapshotInterval
	}
	if s.CacheBytes == 0 {
		s.CacheBytes = DefaultStorageCache
	}
	if s.Region == "" {
		s.Region = DefaultS3Region
	}
	return s
}

// PublishDelay is the propagation bound of shared storage: a playlist
// served at time T lists the segments whose ingest-log entries are at
// least this old, which every instance polling on time has applied. It is
// SettleDelay + 2 × PollInterval.
func (s StorageConfig) PublishDelay() time.Duration {
	s = s.withDefaults()
	return s.SettleDelay + 2*s.PollInterval
}

// validate checks the settings (after withDefaults). Errors never quote
// the credentials.
func (s StorageConfig) validate() error {
	if _, _, err := ParseStorageURL(s.URL); err != nil {
		return cfgErr("storage.url", "%v", err)
	}
	if s.Endpoint != "" {
		if _, _, err := s3client.ParseEndpoint(s.Endpoint); err != nil {
			return cfgErr("storage.endpoint", "%v", err)
		}
	}
	if !s3client.ValidRegion(s.Region) {
		return cfgErr("storage.region", "must be a region name such as eu-west-1")
	}
	if (s.AccessKey == "") != (s.SecretKey == "") {
		return cfgErr("storage.accessKey", "access key and secret key go together")
	}
	if s.SettleDelay < 0 || s.SettleDelay > time.Minute {
		return cfgErr("storage.settleDelay", "must be between 0 and 1m")
	}
	if s.PollInterval < 10*time.Millisecond || s.PollInterval > time.Minute {
		return cfgErr("storage.pollInterval", "must be between 10ms and 1m")
	}
	if s.SnapshotInterval < time.Second || s.SnapshotInterval > 24*time.Hour || s.SnapshotInterval%time.Second != 0 {
		return cfgErr("storage.snapshotInterval", "must be whole seconds between 1s and 24h")
	}
	if s.CacheBytes < 0 {
		return cfgErr("storage.cacheBytes", "must not be negative")
	}
	return nil
}

// ParseStorageURL parses s3://bucket[/prefix] into the bucket and the key
// prefix (empty, or ending in "/"). Prefix elements are names of
// [A-Za-z0-9._-] not starting with a dot.
func ParseStorageURL(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("want s3://bucket[/prefix], got %q", truncate(s, 64))
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return "", "", fmt.Errorf("%q is not a valid bucket name", truncate(bucket, 64))
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return bucket, "", nil
	}
	if len(prefix) > 512 {
		return "", "", fmt.Errorf("prefix longer than 512 bytes")
	}
	for _, el := range strings.Split(prefix, "/") {
		if !validName(el) {
			return "", "", fmt.Errorf("prefix elements must be names of [A-Za-z0-9._-] not starting with a dot, separated by single slashes")
		}
	}
	return bucket, prefix + "/", nil
}

// openBucket builds the object store of cfg (validated). It does not
// contact the server.
func openBucket(cfg StorageConfig) (*shared.S3, error) {
	bucket, prefix, err := ParseStorageURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	return shared.NewS3(bucket, prefix, s3client.Config{
		Endpoint: cfg.Endpoint, Region: cfg.Region,
		AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, SessionToken: cfg.SessionToken,
		PathStyle:  cfg.Endpoint != "", // a self-hosted store: path-style
		MaxRetries: 2,                  // the replay loop and the pusher retry
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
