package shared

import (
	"strings"
	"testing"
)

// FuzzLogKey checks that ParseLogKey never panics, accepts only keys that
// LogKey writes the same way, and that DecodeEntry of arbitrary bytes
// never panics and only accepts segment objects of the key's channel.
func FuzzLogKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, key string, body []byte) {
		k, err := ParseLogKey(key)
		if err != nil {
			return
		}
		if again := LogKey(k.Channel, k.Time, k.Input, k.Name, k.Writer); again != key {
			t.Fatalf("parse(%q) = %+v, which writes %q", key, k, again)
		}
		if t2, err := ParseSnapKey(k.Channel, SnapKey(k.Channel, k.Time)); err != nil || t2 != k.Time {
			t.Fatalf("snapshot key of %d: %d %v", k.Time, t2, err)
		}
		e, err := DecodeEntry(k, body)
		if err != nil {
			return
		}
		if e.Kind == EntryFile && (!strings.HasPrefix(e.Object, SegDir+k.Channel+"/") || strings.Contains(e.Object, "..")) {
			t.Fatalf("accepted object %q for channel %q", e.Object, k.Channel)
		}
	})
}
