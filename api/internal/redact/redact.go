package redact

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/pullpush/pullpush/output"
)

// redacted replaces every secret value.
const redacted = output.Redacted

// defaultSecretKeys are redacted in every payload in addition to the keys the
// output's factory lists, so that an output that forgets one still leaks
// nothing common. Compared case-insensitively.
var defaultSecretKeys = []string{
	"password", "passwd", "secret", "secretKey", "secretAccessKey", "sessionToken",
	"token", "apiKey", "privateKey", "credentials",
}

// secretQueryKeys are URL query parameters whose values are redacted
// (signed URLs and tokenised sources). Compared case-insensitively.
var secretQueryKeys = []string{
	"token", "access_token", "password", "secret", "key", "apikey", "api_key",
	"signature", "sig", "x-amz-signature", "x-amz-security-token", "x-amz-credential",
	"hdnts", "hdnea", "policy",
}

func hasFold(list []string, k string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, k) })
}

// RedactURL hides a password in the user info and the values of secret
// query parameters. A string that is not an absolute URL is returned
// unchanged.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return s
	}
	changed := false
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
			changed = true
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if hasFold(secretQueryKeys, k) {
				q[k] = []string{redacted}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return s
	}
	// url.String escapes the "*" of the redaction marker; undo that for
	// readability.
	out := u.String()
	out = strings.ReplaceAll(out, "%2A%2A%2A", redacted)
	return out
}

// RedactPayload returns payload with the values of secret keys (at any
// depth, the output's and defaultSecretKeys) replaced by "***" and
// passwords in URL strings hidden. A payload that is not valid JSON gives
// null so that nothing can leak through it; an empty one gives nil.
func RedactPayload(payload json.RawMessage, secrets []string) json.RawMessage {
	keys := append(slices.Clip(secrets), defaultSecretKeys...)
	return output.RedactJSONFunc(payload, keys, RedactURL)
}

// SecretValues collects the string values under secret keys and the
// passwords in URL strings of payload, for scrubbing messages.
func SecretValues(payload json.RawMessage, secrets []string) []string {
	var v any
	if json.Unmarshal(payload, &v) != nil {
		return nil
	}
	var out []string
	var walk func(v any, secret bool)
	walk = func(v any, secret bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(e, secret || hasFold(secrets, k) || hasFold(defaultSecretKeys, k))
			}
		case []any:
			for _, e := range x {
				walk(e, secret)
			}
		case string:
			if secret && x != "" {
				out = append(out, x)
			} else {
				out = append(out, URLSecrets(x)...)
			}
		case json.Number, float64, bool:
			if secret {
				if b, err := json.Marshal(x); err == nil {
					out = append(out, string(b))
				}
			}
		}
	}
	walk(v, false)
	// Longest first so that a secret containing another is replaced whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// URLSecrets returns the password and the secret query values of an
// absolute URL.
func URLSecrets(s string) []string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil
	}
	var out []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p)
		}
	}
	for k, vs := range u.Query() {
		if hasFold(secretQueryKeys, k) {
			for _, v := range vs {
				if v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// Scrub replaces every occurrence of a secret value in msg by "***".
func Scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		for _, f := range secretForms(s) {
			msg = strings.ReplaceAll(msg, f, redacted)
		}
	}
	return msg
}

// secretForms returns s and the escaped forms a message may quote it in
// (%q or JSON, URL query and path escaping), each once.
func secretForms(s string) []string {
	forms := []string{s}
	for _, f := range []string{strings.Trim(JSONQuote(s), `"`), url.QueryEscape(s), url.PathEscape(s)} {
		if !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}

func JSONQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// RedactURLsIn hides URL passwords and secret query values in every URL
// found in msg.
func RedactURLsIn(msg string) string {
	return urlInText.ReplaceAllStringFunc(msg, RedactURL)
}
