// Package s3client builds the minio-go client that every S3 user of
// pullpush shares (output/s3 and the origin's bucket storage): endpoint
// parsing, region check, static or environment credentials and the
// bucket addressing style, in one place.
package s3client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// DefaultHost is the endpoint used when Config.Endpoint is empty (TLS).
const DefaultHost = "s3.amazonaws.com"

// Config says how to reach a store. It is not validated by New beyond
// the endpoint: callers check their own settings first and report errors
// under their own field names.
type Config struct {
	// Endpoint is "https://host[:port]", "http://host[:port]" (no TLS) or
	// "host[:port]" (TLS); empty means DefaultHost over TLS.
	Endpoint string
	// Region is the bucket region; empty lets the client discover it.
	Region string
	// AccessKey, SecretKey and SessionToken are static credentials; an
	// empty AccessKey means the AWS environment, the shared credentials
	// file, then the instance role.
	AccessKey, SecretKey, SessionToken string
	// PathStyle forces path-style requests (host/bucket/key), which most
	// self-hosted stores need; otherwise the client chooses.
	PathStyle bool
	// Transport carries the requests; nil means minio's default.
	Transport http.RoundTripper
	// MaxRetries is minio's retry count per request (0 means minio's
	// default).
	MaxRetries int
}

// New returns a client for cfg. It does not contact the server. Errors
// never quote the credentials.
func New(cfg Config) (*minio.Client, error) {
	host, secure := DefaultHost, true
	if cfg.Endpoint != "" {
		var err error
		if host, secure, err = ParseEndpoint(cfg.Endpoint); err != nil {
			return nil, fmt.Errorf("s3 endpoint: %w", err)
		}
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        Credentials(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		Secure:       secure,
		Transport:    cfg.Transport,
		Region:       cfg.Region,
		BucketLookup: lookup,
		MaxRetries:   cfg.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	return client, nil
}

// Credentials returns static credentials when accessKey is set, otherwise
// the chain of the AWS environment variables, the shared credentials file
// and the instance role.
func Credentials(accessKey, secretKey, sessionToken string) *credentials.Credentials {
	if accessKey != "" {
		return credentials.NewStaticV4(accessKey, secretKey, sessionToken)
	}
	return credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
		&credentials.IAM{},
	})
}

// ParseEndpoint returns the host[:port] of an endpoint and whether to use
// TLS; an endpoint without a scheme is https. Errors never quote the
// endpoint (it could hold credentials).
func ParseEndpoint(raw string) (host string, secure bool, err error) {
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, perr := url.Parse(raw)
	switch {
	case perr != nil:
		return "", false, errors.New("not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", false, errors.New("must be http or https")
	case u.User != nil:
		return "", false, errors.New("must not contain credentials")
	case u.Hostname() == "":
		return "", false, errors.New("must have a host")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "":
		return "", false, errors.New("must be a scheme and host only, without path or query")
	}
	return u.Host, u.Scheme == "https", nil
}

// ValidRegion reports whether r is empty or looks like a region name
// (lower-case letters, digits and dashes).
func ValidRegion(r string) bool {
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
