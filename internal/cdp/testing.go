package cdp

import (
	"context"
	"testing"
)

// StartT is Start for a test: a Chromium that cannot start fails the test,
// and the browser is closed at the end of the test.
func StartT(t testing.TB, ctx context.Context, path string, extra ...string) *Browser {
	t.Helper()
	b, err := Start(ctx, path, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// OpenPage is NewPage for a test: a page that cannot be opened fails the
// test with Chromium's output, and the page is closed at the end of the
// test (before the browser of StartT).
func (b *Browser) OpenPage(t testing.TB, ctx context.Context) *Page {
	t.Helper()
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatalf("%v\nchromium output:\n%s", err, b.Output())
	}
	t.Cleanup(func() { p.Close() })
	return p
}
