package keys

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// StaticFile is the format of a static key file (YAML, or JSON which is
// YAML too):
//
//	keys:
//	  - channel: live                        # "*" or empty: any channel
//	    kid: 9f2c1a4e5b6d4e7f8a9b0c1d2e3f4a5b  # 32 hex digits or a UUID
//	    key: 00112233445566778899aabbccddeeff  # 32 hex digits
//	    iv: 0f0e0d0c0b0a09080706050403020100   # optional
//	    uri: https://keys.example.com/k/live/9f2c...   # optional EXT-X-KEY URI
//
// A channel's keys are used in turn: period p gets key p mod n, so one key
// per channel disables rotation.
type StaticFile struct {
	Keys []StaticKey `yaml:"keys" json:"keys"`
}

// StaticKey is one entry of a StaticFile.
type StaticKey struct {
	Channel string `yaml:"channel" json:"channel"`
	KID     string `yaml:"kid" json:"kid"`
	Key     string `yaml:"key" json:"key"`
	IV      string `yaml:"iv" json:"iv"`
	URI     string `yaml:"uri" json:"uri"`
}

// Static is a Provider of keys from a list. It also implements Lookup, so a
// Server can serve its keys to players.
type Static struct {
	byChannel map[string][]Key // "*" for any channel
}

var _ Provider = (*Static)(nil)

// channelRe and the length check of validChannel are
// ^(\*|[A-Za-z0-9_.-]{1,128})$: the counted repetition compiles to 128
// copies of the class, 120 KB of heap at every start of the binary.
var channelRe = regexp.MustCompile(`^(\*|[A-Za-z0-9_.-]+)$`)

// validChannel reports whether s is * or a channel name of 1 to 128
// characters from [A-Za-z0-9_.-].
func validChannel(s string) bool { return len(s) <= 128 && channelRe.MatchString(s) }

// NewStatic validates the entries of f and returns a provider. Error
// messages name the entry and field but never include a key value.
func NewStatic(f StaticFile) (*Static, error) {
	s := &Static{byChannel: make(map[string][]Key)}
	if len(f.Keys) == 0 {
		return nil, errors.New("static keys: no keys")
	}
	seen := map[string]bool{}
	for i, e := range f.Keys {
		at := fmt.Sprintf("keys[%d]", i)
		ch := e.Channel
		if ch == "" {
			ch = "*"
		}
		if !validChannel(ch) {
			return nil, fmt.Errorf("static keys: %s.channel: must match [A-Za-z0-9_.-]{1,128} or be *, got %q", at, e.Channel)
		}
		kid, err := ParseKID(e.KID)
		if err != nil {
			return nil, fmt.Errorf("static keys: %s.kid: %w", at, err)
		}
		if seen[ch+"/"+kid.String()] {
			return nil, fmt.Errorf("static keys: %s.kid: duplicate key ID %s for channel %s", at, kid, ch)
		}
		seen[ch+"/"+kid.String()] = true
		val, err := ParseSecret(e.Key)
		if err != nil {
			return nil, fmt.Errorf("static keys: %s.key: %w", at, err)
		}
		k := Key{ID: kid, Value: val, URI: e.URI}
		if e.IV != "" {
			iv, err := hex.DecodeString(trim0x(e.IV))
			if err != nil || len(iv) != 16 {
				return nil, fmt.Errorf("static keys: %s.iv: want 32 hex digits", at)
			}
			k.IV = iv
		}
		s.byChannel[ch] = append(s.byChannel[ch], k)
	}
	return s, nil
}

func trim0x(s string) string {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return s[2:]
	}
	return s
}

// ParseStatic decodes a static key file strictly (unknown fields are
// errors) and validates it.
func ParseStatic(data []byte) (*Static, error) {
	var f StaticFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("static keys: %w", yamlError(err))
	}
	return NewStatic(f)
}

// yamlError returns err as one line that quotes no value. yaml.v3 lists
// type errors on several lines, each quoting the start of the offending
// value ("cannot unmarshal !!str `0011223...` into ..."), which may be key
// material: those quotes are dropped. Control characters (a tag or field
// name may hold a newline) are escaped.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(oneLine(err.Error()))
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		const verb = "cannot unmarshal "
		if at := strings.Index(m, verb); at >= 0 {
			tag := at + len(verb)
			if end := strings.IndexByte(m[tag:], ' '); end >= 0 {
				if into := strings.LastIndex(m, " into "); into >= tag+end {
					m = m[:tag+end] + m[into:]
				}
			}
		}
		msgs[i] = oneLine(m)
	}
	return errors.New("yaml: " + strings.Join(msgs, "; "))
}

// oneLine escapes the control characters of s as Go would quote them.
func oneLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// LoadStaticFile reads and parses a static key file.
func LoadStaticFile(path string) (*Static, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("static keys: %w", err)
	}
	s, err := ParseStatic(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Static) list(resource string) []Key {
	if l := s.byChannel[resource]; len(l) > 0 {
		return l
	}
	return s.byChannel["*"]
}

// Key returns key period mod n of the resource's n keys (or of the keys
// listed for any channel).
func (s *Static) Key(_ context.Context, resource string, period int64) (Key, error) {
	l := s.list(resource)
	if len(l) == 0 {
		return Key{}, fmt.Errorf("static keys: %w for %q", ErrNoKey, resource)
	}
	i := period % int64(len(l))
	if i < 0 {
		i += int64(len(l))
	}
	return l[i], nil
}

// Lookup returns the key with ID kid of resource.
func (s *Static) Lookup(resource string, kid KID) (Key, bool) {
	for _, k := range s.list(resource) {
		if k.ID == kid {
			return k, true
		}
	}
	return Key{}, false
}
