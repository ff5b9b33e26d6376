package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/pullpush/pullpush/store"
)

// wantConflict posts a fetcher called name and expects 409 naming id.
func wantConflict(t *testing.T, h *harness, name, id string) {
	t.Helper()
	r := h.do("POST", "/api/v1/fetcher", fetcherBody(name))
	var e errorBody
	r.json(t, &e)
	if r.status != http.StatusConflict || e.FetcherID != id ||
		e.Error != `a fetcher named "`+name+`" already exists: delete it first or choose another name` {
		t.Fatalf("duplicate %q: %d %s (want 409 naming %s)", name, r.status, r.body, id)
	}
}

// TestNameIndex checks that the name index behind create's uniqueness
// check follows creates, deletes, a restart and fetchers that could not be
// restored: a name is refused with 409 (naming the holder) exactly while a
// fetcher of that name exists.
func TestNameIndex(t *testing.T) {
	st := store.NewMemory()
	h1 := newHarness(t, harnessOpts{store: st})
	a := h1.create(fetcherBody("a"))
	b := h1.create(fetcherBody("b"))
	wantConflict(t, h1, "a", a)
	wantConflict(t, h1, "b", b)
	if r := h1.do("DELETE", "/api/v1/fetcher/"+a, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	a2 := h1.create(fetcherBody("a")) // free again once deleted
	wantConflict(t, h1, "a", a2)
	wantConflict(t, h1, "b", b) // untouched by the other delete
	h1.close()

	// A stored definition whose output no longer exists: restored as failed.
	orphan := store.Fetcher{ID: "orphan1", Name: "c", URL: "http://127.0.0.1:1/x.m3u8", Output: "gone", Created: time.Now().UTC()}
	if err := st.PutFetcher(t.Context(), orphan); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, harnessOpts{store: st})
	if n, err := h2.api.Restore(t.Context()); err != nil || n != 2 {
		t.Fatalf("restore: %d %v", n, err)
	}
	wantConflict(t, h2, "a", a2)
	wantConflict(t, h2, "b", b)
	wantConflict(t, h2, "c", orphan.ID)
	for _, id := range []string{orphan.ID, b} {
		if r := h2.do("DELETE", "/api/v1/fetcher/"+id, ""); r.status != http.StatusNoContent {
			t.Fatalf("delete %s: %d %s", id, r.status, r.body)
		}
	}
	c := h2.create(fetcherBody("c"))
	b2 := h2.create(fetcherBody("b"))
	wantConflict(t, h2, "a", a2)
	wantConflict(t, h2, "b", b2)
	wantConflict(t, h2, "c", c)
	h2.api.mu.Lock()
	defer h2.api.mu.Unlock()
	if len(h2.api.names) != 3 {
		t.Errorf("name index = %v, want a, b and c", h2.api.names)
	}
}
