package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/store"
)

// TestRestartRestoresFetchers runs the API on a bbolt store, creates
// fetchers, deletes one, shuts everything down and starts again on the same
// directory: the kept fetcher is listed again with the same id, name,
// creation time and payload (redacted) and is started; the deleted one and
// its progress stay gone; progress saved before the restart is there for
// the fetcher to continue from.
//
// That the destination stream itself continues across a restart (no
// re-push, no name collision, no gap) is checked end to end, through the
// real fetch engine, by TestServeRestartContinuesStream in cmd/pullpush.
func TestRestartRestoresFetchers(t *testing.T) {
	dir := t.TempDir()
	st1, err := store.OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	h1 := newHarness(t, harnessOpts{store: st1})
	keep := h1.create(fetcherBody("keep"))
	gone := h1.create(fetcherBody("gone"))
	if err := st1.SaveProgress(keep, []byte(`{"version":1,"marker":"keep"}`)); err != nil {
		t.Fatal(err)
	}
	if err := st1.SaveProgress(gone, []byte(`{"version":1}`)); err != nil {
		t.Fatal(err)
	}
	if r := h1.do("DELETE", "/api/v1/fetcher/"+gone, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d", r.status)
	}
	var before Fetcher
	h1.do("GET", "/api/v1/fetcher/"+keep, "").json(t, &before)
	h1.close()
	// What the fetcher last saved (the marker, or the fetch engine's own
	// document once it ran).
	saved, err := st1.LoadProgress(keep)
	if err != nil || saved == nil {
		t.Fatalf("no progress saved: %q %v", saved, err)
	}
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}

	st2, err := store.OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if p, _ := st2.LoadProgress(keep); string(p) != string(saved) {
		t.Fatalf("progress changed across restart: %q, saved %q", p, saved)
	}
	if p, _ := st2.LoadProgress(gone); p != nil {
		t.Fatalf("deleted fetcher's progress survived: %q", p)
	}
	h2 := newHarness(t, harnessOpts{store: st2})
	n, err := h2.api.Restore(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("restore: %d %v", n, err)
	}
	var list []Fetcher
	h2.do("GET", "/api/v1/fetcher", "").json(t, &list)
	if len(list) != 1 {
		t.Fatalf("after restart: %d fetchers, want 1", len(list))
	}
	after := list[0]
	if after.ID != keep || after.Name != "keep" || !after.Created.Equal(before.Created) ||
		after.URL != before.URL || string(after.Payload) != string(before.Payload) || after.Output != "test" {
		t.Fatalf("restored fetcher differs:\n before %+v\n after  %+v", before, after)
	}
	if after.State == "failed" || after.State == "stopped" || after.State == "ended" {
		t.Fatalf("restored state = %s", after.State)
	}
	if _, err := h2.svc.Fetcher(keep); err != nil {
		t.Fatalf("restored fetcher not running in the service: %v", err)
	}
	// The restored fetcher keeps its name reserved.
	if r := h2.do("POST", "/api/v1/fetcher", fetcherBody("keep")); r.status != http.StatusConflict {
		t.Fatalf("duplicate of restored name: %d", r.status)
	}
	// Restore is idempotent.
	if n, _ := h2.api.Restore(t.Context()); n != 0 {
		t.Fatalf("second restore started %d", n)
	}
}

// TestRestoreFailureKeepsDefinition: a stored fetcher whose output is no
// longer registered (or whose payload no longer validates) is not lost: it
// is listed as failed with the reason and can be deleted.
func TestRestoreFailureKeepsDefinition(t *testing.T) {
	st := store.NewMemory()
	h1 := newHarness(t, harnessOpts{store: st})
	id := h1.create(fetcherBody("orphan"))
	h1.close()

	h2 := newHarness(t, harnessOpts{store: st, factories: []output.Factory{voidFactory()}})
	if n, err := h2.api.Restore(t.Context()); err != nil || n != 0 {
		t.Fatalf("restore: %d %v", n, err)
	}
	r := h2.do("GET", "/api/v1/fetcher/"+id, "")
	var f Fetcher
	r.json(t, &f)
	if r.status != 200 || f.State != "failed" || f.LastError != `restore: unknown output "test"` || f.LastErrorAt.IsZero() {
		t.Fatalf("broken fetcher: %d %s", r.status, r.body)
	}
	var payload map[string]any
	if err := json.Unmarshal(f.Payload, &payload); err != nil || !strings.Contains(string(f.Payload), `"password":"***"`) {
		t.Fatalf("broken fetcher payload: %s", f.Payload)
	}
	// Listed, and counted by the metrics.
	var list []Fetcher
	h2.do("GET", "/api/v1/fetcher", "").json(t, &list)
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("list: %+v", list)
	}
	if m := string(h2.do("GET", "/metrics", "").body); !strings.Contains(m, `pullpush_fetchers{state="failed"} 1`) {
		t.Error("failed fetcher not counted in pullpush_fetchers")
	}
	// Its name stays taken until it is deleted.
	if r := h2.do("POST", "/api/v1/fetcher", strings.Replace(fetcherBody("orphan"), `"output":"test"`, `"output":"void"`, 1)); r.status != http.StatusConflict {
		t.Fatalf("name of broken fetcher reusable: %d", r.status)
	}
	if r := h2.do("DELETE", "/api/v1/fetcher/"+id, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete broken: %d %s", r.status, r.body)
	}
	if defs, _ := st.Fetchers(t.Context()); len(defs) != 0 {
		t.Fatalf("definition kept after delete: %+v", defs)
	}
}

// TestMetricsThroughAPI scrapes /metrics of a running API: the observer
// series of a fetcher, the state gauge, and their removal on delete.
func TestMetricsThroughAPI(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	id := h.create(fetcherBody("metered"))
	// Events as the fetch engine reports them.
	h.metrics.SegmentPulled(id, "720p", 1000)
	h.metrics.FilePushed(id, "127.0.0.1:1", 1000, 0)
	h.metrics.Lag(id, 3)
	r := h.do("GET", "/metrics", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{
		`pullpush_segments_pulled_total{fetcher="` + id + `",rendition="720p"} 1`,
		`pullpush_bytes_pushed_total{fetcher="` + id + `",target="127.0.0.1:1"} 1000`,
		`pullpush_lag_seconds{fetcher="` + id + `"} 3`,
		`pullpush_fetchers{state="failed"} 0`,
		`pullpush_fetcher_info{fetcher="` + id + `",name="metered",output="test",state="`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	h.do("DELETE", "/api/v1/fetcher/"+id, "")
	if body := string(h.do("GET", "/metrics", "").body); strings.Contains(body, id) {
		t.Errorf("series of deleted fetcher remain")
	}
}
