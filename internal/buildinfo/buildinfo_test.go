package buildinfo

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestGet(t *testing.T) {
	i := Get()
	if i.Version == "" || i.GoVersion != runtime.Version() {
		t.Fatalf("%+v", i)
	}
	if s := i.String(); !strings.HasPrefix(s, "pullpush "+i.Version) || !strings.Contains(s, runtime.Version()) {
		t.Fatalf("String: %q", s)
	}
	version, revision = "v9.9.9", "abc123"
	defer func() { version, revision = "", "" }()
	if i := Get(); i.Version != "v9.9.9" || i.Revision != "abc123" {
		t.Fatalf("with -X values: %+v", i)
	}
}

func TestCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector())
	want := `# HELP pullpush_build_info The build of the running pullpush: always 1, labelled with version, revision and Go version.
# TYPE pullpush_build_info gauge
pullpush_build_info{goversion="` + runtime.Version() + `",revision="` + Get().Revision + `",version="` + Get().Version + `"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "pullpush_build_info"); err != nil {
		t.Fatal(err)
	}
}
