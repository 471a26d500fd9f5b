// Package buildinfo says which muster this is: the version `make build`
// stamps, the commit and the Go version the binary was built from.
// `muster version` prints it and the muster_build_info metric carries it.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time:
//
//	go build -ldflags "-X github.com/muster-ops/muster/internal/buildinfo.Version=v1.2.0"
//
// `make build` stamps `git describe`. Empty means an unstamped build.
var Version string

// Revision is the commit, set at build time the same way (make build
// stamps `git rev-parse HEAD`) for builds where Go records no VCS
// information (-buildvcs=false, a source tarball).
var Revision string

// Info is one binary's identity.
type Info struct {
	// Version is the stamped version, the module version when built with
	// `go install module@version`, or "dev".
	Version string
	// Revision is the commit (vcs.revision), with "-modified" when the
	// tree had uncommitted changes, or "unknown" (go run, go test).
	Revision string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
	// Platform is GOOS/GOARCH.
	Platform string
}

// Get reads the binary's identity from Version and its build info.
func Get() Info {
	info := Info{Version: Version, Revision: Revision, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && info.Revision != "" {
			info.Revision += "-modified"
		}
	}
	if info.Revision == "" {
		info.Revision = "unknown"
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	return info
}

// String is what `muster version` prints.
func (i Info) String() string {
	return fmt.Sprintf("muster, version %s (revision %s)\n  go version: %s\n  platform:   %s\n", i.Version, i.Revision, i.GoVersion, i.Platform)
}
