package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"testing"

	"github.com/muster-ops/muster/internal/metrics"
)

// promtool is Prometheus's rule checker; CI installs it (Debian's
// prometheus package) and sets MUSTER_TEST_REQUIRE_PROMTOOL=1 so these
// tests run there rather than skip.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("MUSTER_TEST_REQUIRE_PROMTOOL") == "1" {
			t.Fatal("promtool is not installed (apt-get install prometheus)")
		}
		t.Skip("promtool is not installed (apt-get install prometheus); the alert rules are not checked")
	}
	return p
}

// The shipped alert rules are valid and behave as their unit tests say.
func TestAlertRules(t *testing.T) {
	pt := promtool(t)
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(pt, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// seriesRE finds the muster series a query or rule names.
var seriesRE = regexp.MustCompile(`muster_[a-z_]+`)

// known reports whether name is a muster series, or one of a histogram's
// generated series.
func known(name string) bool {
	names := metrics.Names()
	for _, suffix := range []string{"", "_bucket", "_count", "_sum"} {
		if n := len(name) - len(suffix); n > 0 && name[n:] == suffix && slices.Contains(names, name[:n]) {
			return true
		}
	}
	return false
}

// The alerts and the dashboard name only series muster exports, and the
// dashboard shows every one of them.
func TestMonitoringNamesRealSeries(t *testing.T) {
	alerts, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range seriesRE.FindAllString(string(alerts), -1) {
		if !known(name) {
			t.Errorf("alerts.yml names %s, which muster does not export", name)
		}
	}
	raw, err := os.ReadFile("grafana/muster.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana/muster.json: %v", err)
	}
	shown := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range seriesRE.FindAllString(tg.Expr, -1) {
				if !known(name) {
					t.Errorf("panel %q names %s, which muster does not export", p.Title, name)
				}
				shown[regexp.MustCompile(`_(bucket|count|sum)$`).ReplaceAllString(name, "")] = true
			}
		}
	}
	for _, name := range metrics.Names() {
		if !shown[name] {
			t.Errorf("the dashboard shows no panel of %s", name)
		}
	}
}
