package origin

import (
	"cmp"
	"errors"
	"net/http"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/sigv4"
)

// SigV4Config makes a channel take ingest requests signed with AWS
// Signature Version 4 (as MediaPackage v2's ingest does): the access key
// and its secret, the region and the service name of the credential
// scope. A channel with SigV4 and no username takes only signed requests;
// with both, a request may use either.
type SigV4Config struct {
	AccessKeyID     string `yaml:"accessKeyId" json:"accessKeyId"`
	SecretAccessKey string `yaml:"secretAccessKey" json:"secretAccessKey"`
	Region          string `yaml:"region" json:"region"`
	// Service defaults to sigv4.MediaPackageV2 ("mediapackagev2").
	Service string `yaml:"service" json:"service"`
}

// minSigV4SecretLen is the shortest accepted secret access key.
const minSigV4SecretLen = 16

// validateSigV4 checks a channel's SigV4 settings; k is its key path.
func validateSigV4(k string, s *SigV4Config) error {
	if s == nil {
		return nil
	}
	switch {
	case s.AccessKeyID == "":
		return cfgErr(k+".sigv4.accessKeyId", "must be set")
	case len(s.SecretAccessKey) < minSigV4SecretLen:
		return cfgErr(k+".sigv4.secretAccessKey", "must be at least %d characters", minSigV4SecretLen)
	case s.Region == "":
		return cfgErr(k+".sigv4.region", "must be set")
	}
	return nil
}

// newSigV4Verifier returns the verifier of a channel's SigV4 settings, or
// nil without them.
func newSigV4Verifier(s *SigV4Config, now func() time.Time) *sigv4.Verifier {
	if s == nil {
		return nil
	}
	key, secret := s.AccessKeyID, s.SecretAccessKey
	return sigv4.NewVerifier(sigv4.Scope{Region: s.Region, Service: cmp.Or(s.Service, sigv4.MediaPackageV2)},
		func(id string) (string, bool) { return secret, id == key }, sigv4.WithClock(now))
}

// ingestAuth authenticates an ingest request: SigV4 when the request is
// signed and the channel takes it, else digest. It answers the refusal
// and reports false.
func (o *Origin) ingestAuth(w http.ResponseWriter, r *http.Request, ch *channel, input string) bool {
	if ch.sig != nil && (sigv4.IsSigned(r) || ch.cfg.Username == "" && len(ch.cfg.Inputs) == 0) {
		if _, err := ch.sig.Verify(r); err != nil {
			writeError(w, http.StatusForbidden, err.Error())
			return false
		}
		return true
	}
	v := ch.verifier
	if ch.perInput != nil {
		if v = ch.perInput[input]; v == nil {
			writeError(w, http.StatusNotFound, "unknown input \""+input+"\"")
			return false
		}
	}
	if _, err := v.Verify(r); err != nil {
		v.Challenge(w, errors.Is(err, digest.ErrStale))
		return false
	}
	return true
}
