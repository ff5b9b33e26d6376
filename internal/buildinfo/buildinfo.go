// Package buildinfo reports what a pullpush binary was built from: the
// module version (set by `go install ...@vX.Y.Z`, or by the release build
// with -ldflags "-X github.com/pullpush/pullpush/internal/buildinfo.version=vX.Y.Z"),
// the VCS revision and time stamped by the go command, and the Go version.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// version, revision and buildTime may be set with -ldflags -X; otherwise
// they come from runtime/debug.ReadBuildInfo.
var (
	version   = ""
	revision  = ""
	buildTime = ""
)

// Info is the build of the running binary.
type Info struct {
	Version   string `json:"version"`             // module version, "(devel)" for a plain go build
	Revision  string `json:"revision,omitempty"`  // VCS revision, with "-dirty" when modified
	BuildTime string `json:"buildTime,omitempty"` // VCS commit time (RFC 3339), or the release build's time
	GoVersion string `json:"goVersion"`
}

// Get returns the build of the running binary.
func Get() Info {
	info := Info{Version: version, Revision: revision, BuildTime: buildTime, GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if info.Version == "" {
			info.Version = "(unknown)"
		}
		return info
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if info.Revision == "" {
				info.Revision = s.Value
			}
		case "vcs.time":
			if info.BuildTime == "" {
				info.BuildTime = s.Value
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && revision == "" && info.Revision != "" {
		info.Revision += "-dirty"
	}
	return info
}

// String is the one line `pullpush version` prints.
func (i Info) String() string {
	s := "pullpush " + i.Version
	if i.Revision != "" {
		s += " (" + i.Revision
		if i.BuildTime != "" {
			s += ", " + i.BuildTime
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s %s/%s", s, i.GoVersion, runtime.GOOS, runtime.GOARCH)
}

// Collector returns the pullpush_build_info gauge (always 1, labelled
// with the build) for a Prometheus registry.
func Collector() prometheus.Collector {
	i := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pullpush_build_info",
		Help: "The build of the running pullpush: always 1, labelled with version, revision and Go version.",
		ConstLabels: prometheus.Labels{
			"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return g
}

// Health is the body of a /health answer: status ("ok", or why not) and
// the build.
func Health(status string) map[string]string {
	i := Get()
	h := map[string]string{"status": status, "version": i.Version, "goVersion": i.GoVersion}
	if i.Revision != "" {
		h["revision"] = i.Revision
	}
	return h
}
