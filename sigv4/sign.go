package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Header names of a signed request.
const (
	HeaderDate          = "X-Amz-Date"
	HeaderContentSHA256 = "X-Amz-Content-Sha256"
)

// MediaPackageV2 is the signing name (service) of MediaPackage v2's
// ingest, the default of pullpush's signing clients and verifiers.
const MediaPackageV2 = "mediapackagev2"

// emptySHA256 is the hex SHA-256 of an empty body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Credentials are an access key and its secret.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// Scope is where a signature is valid: an AWS region and service name
// (e.g. "us-east-1", "mediapackagev2").
type Scope struct {
	Region  string
	Service string
}

// Transport is an http.RoundTripper that signs every request with
// Credentials for Scope. A request body is read once to hash it and sent
// from GetBody when the request has one (as http.NewRequest sets for
// in-memory bodies), else from memory.
type Transport struct {
	Credentials Credentials
	Scope       Scope
	// Base sends the signed requests; nil is http.DefaultTransport.
	Base http.RoundTripper
	// Now is the signing clock; nil is time.Now.
	Now func() time.Time
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	hash, err := hashBody(r)
	if err != nil {
		return nil, fmt.Errorf("sigv4: hash %s body: %w", req.Method, err)
	}
	r.Header.Del("Authorization")
	r.Header.Set(HeaderContentSHA256, hash)
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	creds := aws.Credentials{AccessKeyID: t.Credentials.AccessKeyID, SecretAccessKey: t.Credentials.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, r, hash, t.Scope.Service, t.Scope.Region, now().UTC()); err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("sigv4: sign %s: %w", req.Method, err)
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// hashBody returns the hex SHA-256 of r's body and leaves r with a body
// that sends the same bytes again.
func hashBody(r *http.Request) (string, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return emptySHA256, nil
	}
	h := sha256.New()
	if r.GetBody != nil {
		// Hash a second reader of the body and send the first: the body
		// (a spool file, say) is not held in memory.
		rc, err := r.GetBody()
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	data, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return "", err
	}
	h.Write(data)
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return hex.EncodeToString(h.Sum(nil)), nil
}
