package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// SPEKEConfig configures a SPEKE client.
type SPEKEConfig struct {
	// URL is the key server's CPIX endpoint, e.g.
	// http://127.0.0.1:8091/speke/v1.0/copyProtection. Required.
	URL string
	// Token, when set, is sent as "Authorization: Bearer <token>".
	Token string
	// Client is the HTTP client (default: one with a 10 s timeout).
	Client *http.Client
}

// SPEKE is a Provider that asks a SPEKE v1 / CPIX key server for the key
// of each rotation period. The key ID is DeriveKID(resource, period), so
// every origin asks for the same key of a period. It does not cache: the
// origin caches keys per period.
type SPEKE struct {
	url    string
	token  string
	client *http.Client
}

var _ Provider = (*SPEKE)(nil)

// maxCPIXResponse bounds a key server response.
const maxCPIXResponse = 1 << 20

// NewSPEKE returns a SPEKE client.
func NewSPEKE(cfg SPEKEConfig) (*SPEKE, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("speke: url must be an http(s) URL, got %q", cfg.URL)
	}
	if u.User != nil {
		return nil, errors.New("speke: url must not contain credentials (use the token)")
	}
	c := cfg.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	return &SPEKE{url: cfg.URL, token: cfg.Token, client: c}, nil
}

// Key requests the key of a period from the key server.
func (s *SPEKE) Key(ctx context.Context, resource string, period int64) (Key, error) {
	kid := DeriveKID(resource, period)
	body, err := newKeyRequest(resource, kid, period).Marshal()
	if err != nil {
		return Key{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return Key{}, fmt.Errorf("speke: %w", err)
	}
	req.Header.Set("Content-Type", "application/xml")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return Key{}, fmt.Errorf("speke: request key %s of %s: %w", kid, resource, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCPIXResponse))
	if err != nil {
		return Key{}, fmt.Errorf("speke: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Key{}, fmt.Errorf("speke: key server answered %s", resp.Status)
	}
	doc, err := ParseCPIX(data)
	if err != nil {
		return Key{}, fmt.Errorf("speke: %w", err)
	}
	k, err := keyFromResponse(doc, kid)
	if err != nil {
		return Key{}, fmt.Errorf("speke: %w", err)
	}
	return k, nil
}
