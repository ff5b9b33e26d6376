package fetch_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/internal/chaos"
	"github.com/pullpush/pullpush/internal/testutil"
)

var _ fetch.StallObserver = (*countingObserver)(nil)

func (o *countingObserver) SourceStalled(_, rendition string, stalled bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stalled[rendition] = stalled
}

// stalledCount returns how many renditions the observer holds stalled.
func (o *countingObserver) stalledCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, s := range o.stalled {
		if s {
			n++
		}
	}
	return n
}

func stalledRenditions(st fetch.Status) int {
	n := 0
	for _, rs := range st.Renditions {
		if rs.Stalled {
			n++
		}
	}
	return n
}

// TestStalledSourceReported checks that a source that stops delivering new
// segments, with an unchanged playlist or with failing reloads, is reported
// stalled in the status (Stalled, LastError) and to the observer, and that
// both clear when segments flow again.
func TestStalledSourceReported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		stall func(t *testing.T, h *faultRig)
	}{
		{"unchanged playlist", func(*testing.T, *faultRig) {}},
		{"failing reloads", func(t *testing.T, h *faultRig) {
			setRules(t, h.srcProxy, chaos.Rule{Fault: chaos.FaultStatus, Status: 503, Path: "*.m3u8"})
		}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			h := newFaultRig(t, faultScenario{})
			h.step(1)
			n := len(h.src.Renditions())
			if got := stalledRenditions(h.f.Status()); got != 0 {
				t.Fatalf("%d renditions stalled while the source advances", got)
			}
			tc.stall(t, h)
			// Target duration 1 s: stalled after 3 s + 1 s without a new segment.
			testutil.Eventually(t, 15*time.Second, func() bool {
				return stalledRenditions(h.f.Status()) == n && h.obs.stalledCount() == n
			}, "source not reported stalled: status %v, observer %d", status{h.f}, h.obs.stalledCount())
			st := h.f.Status()
			if !strings.Contains(st.LastError, "stalled") && !strings.Contains(st.LastError, "503") {
				t.Errorf("last error %q says nothing about the stall", st.LastError)
			}
			setRules(t, h.srcProxy)
			h.src.Advance(1)
			testutil.Eventually(t, 15*time.Second, func() bool {
				return stalledRenditions(h.f.Status()) == 0 && h.obs.stalledCount() == 0
			}, "stall not cleared: status %v, observer %d", status{h.f}, h.obs.stalledCount())
			h.settle()
			h.verify(faultScenario{name: "stall " + tc.name}, &faultTable{})
		})
	}
}
