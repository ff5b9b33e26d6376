package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/pullpush/pullpush/internal/s3client"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/internal/httpput"
)

// DefaultStem is the stem used when Config.Stem is empty.
const DefaultStem = "channel"

// DefaultEndpoint is used when Config.Endpoint is empty.
const DefaultEndpoint = "https://s3.amazonaws.com"

// maxSinglePut is the largest object sent in one PutObject request.
const maxSinglePut = 5 << 30

// Config configures an output.
type Config struct {
	Bucket string
	// Prefix is prepended to every object key ("channels/1" stores
	// "channels/1/channel.m3u8"); elements must be names of [A-Za-z0-9._-].
	Prefix string
	// Region is the bucket region; empty lets the client discover it.
	Region string
	// Endpoint is "https://host[:port]", "http://host[:port]" (no TLS) or
	// "host[:port]" (TLS); empty means DefaultEndpoint.
	Endpoint string
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials;
	// all empty means the AWS environment/file/instance-role chain.
	AccessKeyID, SecretAccessKey, SessionToken string
	// PathStyle forces path-style requests (host/bucket/key), which most
	// self-hosted stores need; otherwise the client chooses.
	PathStyle bool
	// Stem is the base name of pushed files; empty means DefaultStem.
	Stem string
	// IndexName is the object name of the multivariant playlist; empty
	// means Stem + ".m3u8". It must be a name of [A-Za-z0-9._-] and must
	// not start with Stem + "_", where media playlists and segments go.
	// It is the payload's outputIndexFilename.
	IndexName string
	// SegmentTimeout bounds one download attempt of a source segment by
	// the fetcher that pushes to this output (see output.SegmentTimeouter);
	// zero keeps the fetcher's default. It is the payload's timeoutMs.
	SegmentTimeout time.Duration
	// Timeout bounds each request; zero means 60 s, negative no bound
	// beyond the caller's context.
	Timeout time.Duration
}

// Output pushes to one bucket.
type Output struct {
	stem       string
	segTimeout time.Duration
	transport  *http.Transport
	target     *target
}

var (
	_ output.Output           = (*Output)(nil)
	_ output.SegmentTimeouter = (*Output)(nil)
)

// New validates cfg and returns an output. It does not contact the
// server. Validation errors are *output.PayloadError values naming the
// JSON payload field.
func New(cfg Config) (*Output, error) {
	if cfg.Bucket == "" {
		return nil, output.Invalid("bucket", "required")
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, output.Invalid("bucket", "not a valid bucket name")
	}
	prefix, err := cleanPrefix(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	if !s3client.ValidRegion(cfg.Region) {
		return nil, output.Invalid("region", "must be a region name such as eu-west-1")
	}
	endpoint, display, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.AccessKeyID != "" && cfg.SecretAccessKey == "":
		return nil, output.Invalid("secretAccessKey", "required when accessKeyId is set")
	case cfg.AccessKeyID == "" && cfg.SecretAccessKey != "":
		return nil, output.Invalid("accessKeyId", "required when secretAccessKey is set")
	case cfg.AccessKeyID == "" && cfg.SessionToken != "":
		return nil, output.Invalid("sessionToken", "needs accessKeyId and secretAccessKey")
	}
	stem := cfg.Stem
	if stem == "" {
		stem = DefaultStem
	}
	if err := output.ValidName(stem); err != nil {
		return nil, output.Invalid("stem", "must be a name of [A-Za-z0-9._-] not starting with a dot")
	}
	index := ""
	if cfg.IndexName != "" && cfg.IndexName != stem+".m3u8" {
		if output.ValidName(cfg.IndexName) != nil {
			return nil, output.Invalid("outputIndexFilename", "must be a name of [A-Za-z0-9._-] not starting with a dot, without a folder")
		}
		if strings.HasPrefix(cfg.IndexName, stem+"_") {
			return nil, output.Invalid("outputIndexFilename", "must not start with %q: media playlists and segments have such names", stem+"_")
		}
		index = cfg.IndexName
	}
	if cfg.SegmentTimeout < 0 {
		return nil, output.Invalid("timeoutMs", "must not be negative")
	}
	tr := httpput.NewTransport()
	client, err := s3client.New(s3client.Config{
		Endpoint:     endpoint,
		Region:       cfg.Region,
		AccessKey:    cfg.AccessKeyID,
		SecretKey:    cfg.SecretAccessKey,
		SessionToken: cfg.SessionToken,
		PathStyle:    cfg.PathStyle,
		Transport:    tr,
		MaxRetries:   1, // the fetcher owns retries
	})
	if err != nil {
		return nil, output.Invalid("endpoint", "not usable: %v", err)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = httpput.DefaultTimeout
	}
	o := &Output{stem: stem, segTimeout: cfg.SegmentTimeout, transport: tr}
	o.target = &target{
		master:  stem + ".m3u8",
		index:   index,
		name:    fmt.Sprintf("s3 %s/%s/%s", display, cfg.Bucket, prefix),
		client:  client,
		bucket:  cfg.Bucket,
		prefix:  prefix,
		display: display,
		timeout: timeout,
	}
	return o, nil
}

// cleanPrefix validates a key prefix and returns it with one trailing "/"
// (or empty).
func cleanPrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	if len(p) > 512 {
		return "", output.Invalid("prefix", "longer than 512 bytes")
	}
	for _, el := range strings.Split(p, "/") {
		if output.ValidName(el) != nil {
			return "", output.Invalid("prefix", "elements must be names of [A-Za-z0-9._-] not starting with a dot, separated by single slashes")
		}
	}
	return p + "/", nil
}

// parseEndpoint returns the endpoint for s3client (scheme and host), and
// a display form. Errors never quote the endpoint.
func parseEndpoint(raw string) (endpoint, display string, err error) {
	if raw == "" {
		raw = DefaultEndpoint
	}
	host, secure, err := s3client.ParseEndpoint(raw)
	if err != nil {
		return "", "", output.Invalid("endpoint", "%v", err)
	}
	display = "http://" + host
	if secure {
		display = "https://" + host
	}
	return display, display, nil
}

// Stem implements output.Output.
func (o *Output) Stem() string { return o.stem }

// SegmentTimeout implements output.SegmentTimeouter: Config.SegmentTimeout.
func (o *Output) SegmentTimeout() time.Duration { return o.segTimeout }

// Targets implements output.Output: a single target.
func (o *Output) Targets() []output.Target { return []output.Target{o.target} }

// Close implements output.Output; it closes idle connections.
func (o *Output) Close() error {
	o.transport.CloseIdleConnections()
	return nil
}

type target struct {
	master  string // <stem>.m3u8, the name the fetcher gives the multivariant playlist
	index   string // object name that replaces master, or empty
	name    string
	client  *minio.Client
	bucket  string
	prefix  string
	display string
	timeout time.Duration
}

// key returns the object key of file name.
func (t *target) key(name string) string {
	if t.index != "" && name == t.master {
		return t.prefix + t.index
	}
	return t.prefix + name
}

// Name implements output.Target: "s3 <endpoint>/<bucket>/<prefix>".
// AcceptsParts implements output.PartTarget: the stored files are served
// as they are, so LL-HLS parts are pushed too.
func (t *target) AcceptsParts() bool { return true }

func (t *target) Name() string { return t.name }

func (t *target) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if t.timeout > 0 {
		return context.WithTimeout(ctx, t.timeout)
	}
	return context.WithCancel(ctx)
}

// Put implements output.Target with one streamed PutObject for files of
// known size up to 5 GiB (multipart otherwise).
func (t *target) Put(ctx context.Context, f output.File) error {
	if err := output.CheckName(f.Name); err != nil {
		return err
	}
	if f.Open == nil {
		return fmt.Errorf("put %s: file has no Open function", f.Name)
	}
	key := t.key(f.Name)
	ctx, cancel := t.withTimeout(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("PUT %s: %w", t.url(key), err)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("put %s: open: %w", f.Name, err)
	}
	defer rc.Close()
	opts := minio.PutObjectOptions{
		ContentType:      f.ContentType,
		CacheControl:     f.CacheControl,
		DisableMultipart: f.Size >= 0 && f.Size <= maxSinglePut,
	}
	_, err = t.client.PutObject(ctx, t.bucket, key, rc, f.Size, opts)
	if err != nil {
		return t.wrap(ctx, http.MethodPut, key, err)
	}
	return nil
}

// Delete implements output.Target; a missing object is not an error.
func (t *target) Delete(ctx context.Context, name string) error {
	if err := output.CheckName(name); err != nil {
		return err
	}
	key := t.key(name)
	ctx, cancel := t.withTimeout(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("DELETE %s: %w", t.url(key), err)
	}
	err := t.client.RemoveObject(ctx, t.bucket, key, minio.RemoveObjectOptions{})
	if err != nil {
		if r := minio.ToErrorResponse(err); r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket" {
			return nil
		}
		return t.wrap(ctx, http.MethodDelete, key, err)
	}
	return nil
}

func (t *target) url(key string) string {
	return t.display + "/" + t.bucket + "/" + key
}

// wrap turns a minio error into an *output.StatusError for S3 error
// responses, or wraps it (and the context's error, if done) otherwise.
func (t *target) wrap(ctx context.Context, op, key string, err error) error {
	if r := minio.ToErrorResponse(err); r.StatusCode != 0 {
		body := r.Code
		if r.Message != "" {
			body += ": " + r.Message
		}
		return &output.StatusError{
			Op:         op,
			URL:        t.url(key),
			StatusCode: r.StatusCode,
			Status:     fmt.Sprintf("%d %s", r.StatusCode, http.StatusText(r.StatusCode)),
			Body:       httpput.Excerpt([]byte(body), ""),
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s %s: %w (%w)", op, t.url(key), cerr, err)
	}
	return fmt.Errorf("%s %s: %w", op, t.url(key), err)
}
