package keys

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// KID is a 16-byte key ID.
type KID [16]byte

// String returns the key ID as 32 lower-case hex digits.
func (k KID) String() string { return hex.EncodeToString(k[:]) }

// UUID returns the key ID in UUID form (8-4-4-4-12), as CPIX writes it.
func (k KID) UUID() string {
	h := k.String()
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ParseKID parses a key ID written as 32 hex digits, with or without
// UUID dashes or a 0x prefix.
func ParseKID(s string) (KID, error) {
	var k KID
	h := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), "-", "")
	if len(h) != 32 {
		return k, fmt.Errorf("key ID %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(k[:], []byte(h)); err != nil {
		return k, fmt.Errorf("key ID %q: %w", s, err)
	}
	return k, nil
}

// DeriveKID returns the key ID the origin uses for a rotation period of a
// resource (channel): stable across restarts and origins, so redundant
// origins ask a key server for the same key.
func DeriveKID(resource string, period int64) KID {
	sum := sha256.Sum256([]byte("pullpush/kid\x00" + resource + "\x00" + strconv.FormatInt(period, 10)))
	var k KID
	copy(k[:], sum[:16])
	k[6] = k[6]&0x0f | 0x40 // UUID version 4 layout
	k[8] = k[8]&0x3f | 0x80 // RFC 4122 variant
	return k
}

// redacted replaces key material wherever a Secret is formatted.
const redacted = "[redacted]"

// Secret is a 16-byte AES key. Its formatted, logged and JSON forms are
// redacted; use Bytes for the key material.
type Secret [16]byte

// Bytes returns a copy of the key material.
func (s Secret) Bytes() []byte { return append([]byte(nil), s[:]...) }

// String implements fmt.Stringer without revealing the key.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer without revealing the key.
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb (%x, %v, %d, ...)
// prints the redacted form.
func (s Secret) Format(f fmt.State, _ rune) { f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler without revealing the key.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler without revealing the key.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// ParseSecret parses a key written as 32 hex digits (optional 0x prefix).
func ParseSecret(s string) (Secret, error) {
	var k Secret
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(h) != 32 {
		return k, errors.New("key: want 32 hex digits")
	}
	if _, err := hex.Decode(k[:], []byte(h)); err != nil {
		return k, errors.New("key: not hexadecimal") // no value in the message
	}
	return k, nil
}

// Key is a content key of one rotation period.
type Key struct {
	// ID is the key ID (KID), written into CMAF init segments and sent to
	// key servers.
	ID KID
	// Value is the AES-128 key.
	Value Secret
	// IV is an optional explicit IV (16 bytes) chosen by the key server;
	// nil lets the origin choose.
	IV []byte
	// URI is an optional key URI for EXT-X-KEY (a key server may return
	// one); the origin's endpoint keyURI template is used when empty.
	URI string
}

// LogValue implements slog.LogValuer: the key ID only.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.ID.String()))
}

// String describes the key without its value.
func (k Key) String() string { return "key " + k.ID.String() }

// Provider supplies content keys. Key returns the key of rotation period
// period of resource (a channel ID, or an endpoint's resource ID); it must
// return the same key for the same arguments for as long as content
// encrypted with it can be played. Implementations are safe for concurrent
// use.
type Provider interface {
	Key(ctx context.Context, resource string, period int64) (Key, error)
}

// ErrNoKey is wrapped by providers that have no key for a request.
var ErrNoKey = errors.New("no key")
