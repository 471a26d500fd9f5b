// Package deploy holds the recipes for running muster (a container image,
// a systemd unit, monitoring); its tests keep them true to the binary.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildMuster builds the binary the recipes run.
func buildMuster(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "muster")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/muster")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The unit's ExecStart runs flags muster serve takes, it has the
// hardening the README promises, and systemd itself accepts it (when
// systemd-analyze is installed).
func TestSystemdUnit(t *testing.T) {
	raw, err := os.ReadFile("systemd/muster.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=muster",
		"WorkingDirectory=/var/lib/muster", "ExecReload=/bin/kill -HUP $MAINPID", "Environment=MUSTER_REDIS_URL_FILE=%d/redis_url"} {
		if !strings.Contains(unit, "\n"+want+"\n") {
			t.Errorf("muster.service lacks %q", want)
		}
	}
	exec1 := regexp.MustCompile(`(?m)^ExecStart=(\S+) (.*)$`).FindStringSubmatch(unit)
	if exec1 == nil {
		t.Fatal("no ExecStart")
	}
	bin := buildMuster(t)
	help, err := exec.Command(bin, "serve", "--help").Output()
	if err != nil {
		t.Fatalf("muster serve --help: %v", err)
	}
	args := strings.Fields(exec1[2])
	if args[0] != "serve" {
		t.Fatalf("ExecStart runs %q, want serve", args[0])
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "--") && !strings.Contains(string(help), "  "+a+" ") {
			t.Errorf("ExecStart passes %s, which muster serve --help does not list", a)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed; the unit's syntax is not checked")
	}
	dir := t.TempDir()
	local := strings.Replace(unit, "ExecStart="+exec1[1], "ExecStart="+bin, 1)
	if err := os.WriteFile(filepath.Join(dir, "muster.service"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "muster.service")).CombinedOutput()
	if err != nil || strings.Contains(string(out), "muster.service:") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The Dockerfile copies only what make build leaves in bin/, runs as a
// numeric non-root user from an empty base, and its default command is
// one muster takes.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	if !regexp.MustCompile(`(?m)^FROM scratch$`).MatchString(df) {
		t.Error("the image is not built FROM scratch (no shell, nothing to download)")
	}
	if m := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindStringSubmatch(df); m == nil || m[1] == "0" {
		t.Error("the image does not run as a numeric non-root user")
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+) `).FindAllStringSubmatch(df, -1) {
		if !strings.HasPrefix(m[1], "bin/") || !strings.Contains(string(makefile), m[1]) {
			t.Errorf("COPY %s: not something make build writes to bin/", m[1])
		}
	}
	if !strings.Contains(df, `ENTRYPOINT ["/usr/local/bin/muster"]`) || !strings.Contains(df, `CMD ["serve", "--listen", "0.0.0.0:8080"]`) {
		t.Error("the image does not run muster serve")
	}
}
