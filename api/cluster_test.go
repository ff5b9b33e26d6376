package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/store"
)

// fakeCluster places fetchers by hand.
type fakeCluster struct {
	instance string
	mu       sync.Mutex
	where    map[string]string
	status   map[string]*fetch.Status
}

func newFakeCluster(instance string) *fakeCluster {
	return &fakeCluster{instance: instance, where: map[string]string{}, status: map[string]*fetch.Status{}}
}

func (c *fakeCluster) Instance() string { return c.instance }

func (c *fakeCluster) Placement(id string) (string, *fetch.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.where[id], c.status[id]
}

func (c *fakeCluster) place(id, instance string, st *fetch.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.where[id], c.status[id] = instance, st
}

type clusterItem struct {
	ID             string          `json:"fetcherId"`
	Name           string          `json:"name"`
	State          string          `json:"state"`
	Instance       string          `json:"instance"`
	SegmentsPushed int64           `json:"segmentsPushed"`
	LastError      string          `json:"lastError"`
	Payload        json.RawMessage `json:"payload"`
}

func listCluster(t *testing.T, h *harness) map[string]clusterItem {
	t.Helper()
	r := h.do("GET", "/api/v1/fetcher", "")
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	var list []clusterItem
	r.json(t, &list)
	out := map[string]clusterItem{}
	for _, f := range list {
		out[f.ID] = f
	}
	return out
}

// TestClusterMode runs two API instances on one shared store with a fake
// cluster: create leaves the start to the cluster, every instance lists
// every fetcher with the instance running it, names are unique cluster-wide,
// and delete works from any instance.
func TestClusterMode(t *testing.T) {
	ctx := context.Background()
	shared := store.NewMemory()
	ca, cb := newFakeCluster("inst-a"), newFakeCluster("inst-b")
	ha := newHarness(t, harnessOpts{store: shared, cluster: ca})
	hb := newHarness(t, harnessOpts{store: shared, cluster: cb})
	if n, err := ha.api.Restore(ctx); n != 0 || err != nil {
		t.Fatalf("Restore in cluster mode: %d %v", n, err)
	}

	r := ha.do("POST", "/api/v1/fetcher", fetcherBody("one"))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created clusterItem
	r.json(t, &created)
	if created.State != "starting" || created.Instance != "" {
		t.Fatalf("created = %+v, want starting on no instance yet", created)
	}
	if n := len(ha.svc.Fetchers()); n != 0 {
		t.Fatalf("create started %d fetchers locally; the cluster starts them", n)
	}
	if r := hb.do("POST", "/api/v1/fetcher", fetcherBody("one")); r.status != http.StatusConflict {
		t.Fatalf("same name on the other instance: %d %s", r.status, r.body)
	}

	// Instance b claims it and starts it locally.
	def, err := shared.GetFetcher(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.api.StartLocal(ctx, def); err != nil {
		t.Fatal(err)
	}
	if got := listCluster(t, hb)[created.ID]; got.Instance != "inst-b" || got.State == "" {
		t.Fatalf("on its owner: %+v", got)
	}
	if st, ok := hb.api.LocalStatus(created.ID); !ok || st.State == "" {
		t.Fatalf("LocalStatus = %+v %v", st, ok)
	}
	ca.place(created.ID, "inst-b", &fetch.Status{State: fetch.StateRunning, SegmentsPushed: 7,
		LastError: "push to http://user:pw-one@127.0.0.1:1/x failed: pw-one refused"})
	got := listCluster(t, ha)[created.ID]
	if got.Instance != "inst-b" || got.State != "running" || got.SegmentsPushed != 7 {
		t.Fatalf("on another instance: %+v", got)
	}
	if strings.Contains(got.LastError, "pw-one") || strings.Contains(string(got.Payload), "pw-one") {
		t.Fatalf("secret shown for a remote fetcher: %+v", got)
	}
	var one clusterItem
	ha.do("GET", "/api/v1/fetcher/"+created.ID, "").json(t, &one)
	if one.Instance != "inst-b" || one.SegmentsPushed != 7 {
		t.Fatalf("get on another instance: %+v", one)
	}
	if r := ha.do("GET", "/api/v1/fetcher/nope", ""); r.status != http.StatusNotFound {
		t.Fatalf("get unknown: %d", r.status)
	}

	// Delete on a non-owner removes the definition; the owner's cluster
	// then stops it (StopLocal).
	if r := ha.do("DELETE", "/api/v1/fetcher/"+created.ID, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete remote: %d %s", r.status, r.body)
	}
	if _, err := shared.GetFetcher(ctx, created.ID); err == nil {
		t.Fatal("definition still stored")
	}
	if err := hb.api.StopLocal(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if err := hb.api.StopLocal(ctx, created.ID); err != nil {
		t.Fatalf("second StopLocal: %v", err)
	}
	if r := hb.do("DELETE", "/api/v1/fetcher/"+created.ID, ""); r.status != http.StatusNotFound {
		t.Fatalf("delete again: %d", r.status)
	}

	// Delete on the owner stops it before answering.
	id := ha.create(fetcherBody("two"))
	def, _ = shared.GetFetcher(ctx, id)
	if err := ha.api.StartLocal(ctx, def); err != nil {
		t.Fatal(err)
	}
	if r := ha.do("DELETE", "/api/v1/fetcher/"+id, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete local: %d", r.status)
	}
	if n := len(ha.svc.Fetchers()); n != 0 {
		t.Fatalf("%d fetchers still running after delete on the owner", n)
	}

	// A definition that cannot start is listed as failed on its owner.
	bad := store.Fetcher{ID: "bad", Name: "bad", URL: "http://127.0.0.1:1/m.m3u8", Output: "gone"}
	if err := shared.PutFetcher(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if err := hb.api.StartLocal(ctx, bad); err == nil {
		t.Fatal("StartLocal of an unknown output succeeded")
	}
	if got := listCluster(t, hb)["bad"]; got.State != "failed" || got.Instance != "inst-b" || !strings.Contains(got.LastError, "gone") {
		t.Fatalf("failed start listed as %+v", got)
	}

	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	ha.do("GET", "/api/docs/openapi.json", "").json(t, &doc)
	if _, ok := doc.Components.Schemas["Fetcher"].Properties["instance"]; !ok {
		t.Error("Fetcher schema lacks instance")
	}
}
