package origin

import (
	"strings"
	"testing"

	"github.com/pullpush/pullpush/origin/internal/shared"
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

// FuzzLogKey checks that parseLogKey never panics, accepts only keys that
// logKey writes the same way, and that decodeEntry of arbitrary bytes
// never panics and only accepts segment objects of the key's channel.
func FuzzLogKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, key string, body []byte) {
		k, err := shared.ParseLogKey(key)
		if err != nil {
			return
		}
		if again := shared.LogKey(k.Channel, k.Time, k.Input, k.Name, k.Writer); again != key {
			t.Fatalf("parse(%q) = %+v, which writes %q", key, k, again)
		}
		if t2, err := shared.ParseSnapKey(k.Channel, shared.SnapKey(k.Channel, k.Time)); err != nil || t2 != k.Time {
			t.Fatalf("snapshot key of %d: %d %v", k.Time, t2, err)
		}
		e, err := shared.DecodeEntry(k, body)
		if err != nil {
			return
		}
		if e.Kind == shared.EntryFile && (!strings.HasPrefix(e.Object, shared.SegDir+k.Channel+"/") || strings.Contains(e.Object, "..")) {
			t.Fatalf("accepted object %q for channel %q", e.Object, k.Channel)
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
		c.restore(s)
	})
}
