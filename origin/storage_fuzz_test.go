package origin

import (
	"strings"
	"testing"
)

// FuzzStorageURL checks that ParseStorageURL never panics and that what it
// accepts is a valid bucket and a clean prefix of safe names.
func FuzzStorageURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		bucket, prefix, err := ParseStorageURL(s)
		if err != nil {
			return
		}
		if bucket == "" || strings.Contains(bucket, "/") {
			t.Fatalf("%q: bucket %q", s, bucket)
		}
		if prefix != "" {
			if !strings.HasSuffix(prefix, "/") {
				t.Fatalf("%q: prefix %q lacks the trailing slash", s, prefix)
			}
			for _, el := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
				if !validName(el) {
					t.Fatalf("%q: unsafe prefix element %q", s, el)
				}
			}
		}
	})
}

// FuzzParseConfig checks that the YAML config parser and the validation
// never panic on arbitrary input.
func FuzzParseConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		cfg.WithDefaults().Validate()
	})
}

// FuzzSnapshot checks that decoding an arbitrary snapshot and restoring it
// never panics (a snapshot is read from a shared bucket).
func FuzzSnapshot(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSnapshot("live", data)
		if err != nil {
			return
		}
		c := &channel{cfg: ChannelConfig{ID: "live"}}
		c.Restore(s)
	})
}
