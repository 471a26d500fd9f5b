package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })

	Version = ""
	if got := Get(); got.Version != "dev" || got.GoVersion != runtime.Version() || got.Revision == "" {
		t.Errorf("unstamped: %+v, want version dev, %s and a revision (or unknown)", got, runtime.Version())
	}
	Version = "v1.2.3"
	got := Get()
	if got.Version != "v1.2.3" {
		t.Errorf("stamped: version %q, want v1.2.3", got.Version)
	}
	if s := got.String(); !strings.HasPrefix(s, "muster, version v1.2.3 (revision ") || !strings.Contains(s, "go version: "+runtime.Version()) {
		t.Errorf("String() = %q", s)
	}
}
