package store_test

import (
	"testing"

	"github.com/pullpush/pullpush/store"
	"github.com/pullpush/pullpush/store/storetest"
)

// TestContract runs the shared Store contract against the built-in
// backends (store/natskv runs it against NATS JetStream).
func TestContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		storetest.Contract(t, func(t *testing.T) store.Store { return store.NewMemory() })
	})
	t.Run("bolt", func(t *testing.T) {
		storetest.Contract(t, func(t *testing.T) store.Store {
			b, err := store.OpenBolt(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		})
	})
}
