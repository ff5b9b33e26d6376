package mediapackage

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/internal/httpput"
	"github.com/pullpush/pullpush/sigv4"
)

// MaxIngestURLs is the largest number of ingest URLs of one output.
const MaxIngestURLs = 2

// Config configures an output.
type Config struct {
	// IngestURLs are the 1 or 2 redundant ingest endpoints.
	IngestURLs []Ingest
	// Timeout bounds each request (PUT or DELETE, body included); zero
	// means 60 s, negative means no bound beyond the caller's context.
	Timeout time.Duration
	// SegmentTimeout bounds one download attempt of a source segment by
	// the fetcher that pushes to this output (see output.SegmentTimeouter);
	// zero keeps the fetcher's default. It is the payload's timeoutMs.
	SegmentTimeout time.Duration
	// Transport is a connection pool shared with other outputs (see
	// httpput.NewTransport and NewFactory); nil gives the output its own.
	Transport *http.Transport
	// Now is the signing clock of SigV4 ingest URLs; nil is time.Now.
	Now func() time.Time
	// LowLatency makes the targets take LL-HLS parts (output.PartTarget):
	// a low-latency source's parts are pushed as they appear, for an
	// ingest that serves them (pullpush origin). MediaPackage v1 takes
	// whole segments only: leave it off there.
	LowLatency bool
}

// Ingest is one ingest endpoint.
type Ingest struct {
	// URL is the http or https ingest URL, e.g.
	// "https://host/in/v2/abc/abc/channel"; its last path element is the
	// stem of the pushed file names. It has no user info, query or fragment.
	URL string
	// Username and Password are the digest credentials; empty Username
	// means no authentication (unless SigV4 is set).
	Username, Password string
	// SigV4, when set, signs every request with AWS Signature Version 4
	// instead (MediaPackage v2's ingest); Username must then be empty.
	SigV4 *SigV4
}

// SigV4 are the signing settings of an ingest URL.
type SigV4 struct {
	AccessKeyID, SecretAccessKey string
	// Region is the AWS region of the ingest, e.g. "eu-north-1".
	Region string
	// Service is the signing name; empty is sigv4.MediaPackageV2.
	Service string
}

// Output pushes to MediaPackage-style ingest endpoints.
type Output struct {
	stem         string
	segTimeout   time.Duration
	transport    *http.Transport
	ownTransport bool
	targets      []output.Target
}

var (
	_ output.Output           = (*Output)(nil)
	_ output.SegmentTimeouter = (*Output)(nil)
)

// New validates cfg and returns an output. Validation errors are
// *output.PayloadError values naming the field as in the JSON payload
// ("ingestUrls[1].url: must be http or https").
func New(cfg Config) (*Output, error) {
	if len(cfg.IngestURLs) == 0 {
		return nil, output.Invalid("ingestUrls", "at least one ingest URL is required")
	}
	if len(cfg.IngestURLs) > MaxIngestURLs {
		return nil, output.Invalid("ingestUrls", "at most %d ingest URLs are allowed", MaxIngestURLs)
	}
	if cfg.SegmentTimeout < 0 {
		return nil, output.Invalid("timeoutMs", "must not be negative")
	}
	o := &Output{transport: cfg.Transport, ownTransport: cfg.Transport == nil, segTimeout: cfg.SegmentTimeout}
	if o.ownTransport {
		o.transport = httpput.NewTransport()
	}
	seen := make(map[string]int)
	for i, in := range cfg.IngestURLs {
		field := fmt.Sprintf("ingestUrls[%d]", i)
		dir, stem, err := parseIngestURL(field+".url", in.URL)
		if err != nil {
			return nil, err
		}
		if in.Username == "" && in.Password != "" {
			return nil, output.Invalid(field+".username", "required when password is set")
		}
		if i == 0 {
			o.stem = stem
		} else if stem != o.stem {
			return nil, output.Invalid(field+".url", "last path element %q differs from %q of ingestUrls[0]", stem, o.stem)
		}
		if j, dup := seen[dir.String()]; dup {
			return nil, output.Invalid(field+".url", "same directory as ingestUrls[%d]", j)
		}
		seen[dir.String()] = i
		auth := httpput.AuthNone
		if in.Username != "" {
			auth = httpput.AuthDigest
		}
		var signing httpput.SigV4
		if sv := in.SigV4; sv != nil {
			if in.Username != "" {
				return nil, output.Invalid(field+".username", "not used with SigV4 signing")
			}
			for _, f := range []struct{ name, v string }{{"accessKeyId", sv.AccessKeyID}, {"secretAccessKey", sv.SecretAccessKey}, {"region", sv.Region}} {
				if f.v == "" {
					return nil, output.Invalid(field+"."+f.name, "required")
				}
			}
			auth = httpput.AuthSigV4
			signing.Credentials = sigv4.Credentials{AccessKeyID: sv.AccessKeyID, SecretAccessKey: sv.SecretAccessKey}
			signing.Scope = sigv4.Scope{Region: sv.Region, Service: cmp.Or(sv.Service, sigv4.MediaPackageV2)}
			signing.Now = cfg.Now
		}
		display := *dir
		display.Path += stem
		o.targets = append(o.targets, &target{
			parts: cfg.LowLatency,
			name:  fmt.Sprintf("ingest[%d] %s", i, display.String()),
			client: httpput.New(httpput.Config{
				Dir:       dir,
				Transport: o.transport,
				Auth:      auth,
				Username:  in.Username,
				Password:  in.Password,
				SigV4:     signing,
				Timeout:   cfg.Timeout,
			}),
		})
	}
	return o, nil
}

// parseIngestURL checks an ingest URL and splits it into its directory URL
// (path ending in "/") and its last path element, the stem. Errors never
// quote the URL, which may hold credentials.
func parseIngestURL(field, raw string) (*url.URL, string, error) {
	if raw == "" {
		return nil, "", output.Invalid(field, "required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", output.Invalid(field, "not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", output.Invalid(field, "must be http or https")
	}
	if u.User != nil {
		return nil, "", output.Invalid(field, "must not contain credentials; use username and password")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, "", output.Invalid(field, "must have a host")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, "", output.Invalid(field, "must not have a query or fragment")
	}
	if u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return nil, "", output.Invalid(field, "must end in a path element such as /channel")
	}
	dir, stem := path.Split(u.Path)
	if stem == "" {
		return nil, "", output.Invalid(field, "must end in a path element such as /channel")
	}
	if err := output.ValidName(stem); err != nil {
		return nil, "", output.Invalid(field, "last path element must be a name of [A-Za-z0-9._-] not starting with a dot")
	}
	if path.Clean(u.Path) != u.Path {
		return nil, "", output.Invalid(field, "path must be clean (no //, . or .. elements)")
	}
	d := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: dir}
	return d, stem, nil
}

// Stem implements output.Output: the last path element of the ingest URLs.
func (o *Output) Stem() string { return o.stem }

// SegmentTimeout implements output.SegmentTimeouter: Config.SegmentTimeout.
func (o *Output) SegmentTimeout() time.Duration { return o.segTimeout }

// Targets implements output.Output: one target per ingest URL, in order.
func (o *Output) Targets() []output.Target {
	return append([]output.Target(nil), o.targets...)
}

// Close implements output.Output; it closes the idle connections of a
// transport of its own.
func (o *Output) Close() error {
	if o.ownTransport {
		o.transport.CloseIdleConnections()
	}
	return nil
}

type target struct {
	name   string
	client *httpput.Client
	parts  bool
}

// AcceptsParts implements output.PartTarget: with Config.LowLatency.
func (t *target) AcceptsParts() bool { return t.parts }

// Name implements output.Target: "ingest[i] <url>" without credentials.
func (t *target) Name() string { return t.name }

// Put implements output.Target: PUT next to the ingest URL.
func (t *target) Put(ctx context.Context, f output.File) error {
	return t.client.Put(ctx, f)
}

// Delete implements output.Target: DELETE next to the ingest URL; a
// missing file (404, 410) is not an error.
func (t *target) Delete(ctx context.Context, name string) error {
	return t.client.Delete(ctx, name)
}
