package digest

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed is returned for a header that is not a valid digest header.
var ErrMalformed = errors.New("malformed digest header")

// maxHeaderLen bounds the size of header values we parse.
const maxHeaderLen = 4096

// ParseParams parses the parameter list of a WWW-Authenticate or
// Authorization header whose scheme is Digest, e.g.
// `Digest realm="x", nonce="y", qop="auth"`. Keys are lower-cased.
func ParseParams(header string) (map[string]string, error) {
	if len(header) > maxHeaderLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxHeaderLen)
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return nil, fmt.Errorf("%w: scheme %q is not Digest", ErrMalformed, scheme)
	}
	params := make(map[string]string)
	s := rest
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%w: parameter without value", ErrMalformed)
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		if key == "" || strings.ContainsAny(key, " \t\"") {
			return nil, fmt.Errorf("%w: bad parameter name %q", ErrMalformed, key)
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quoted value for %s", ErrMalformed, key)
			}
			val = b.String()
			s = s[i:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		if _, dup := params[key]; dup {
			return nil, fmt.Errorf("%w: duplicate parameter %s", ErrMalformed, key)
		}
		params[key] = val
	}
	return params, nil
}

// quote returns s as an HTTP quoted-string.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
