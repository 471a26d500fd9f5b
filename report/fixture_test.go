package report_test

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/store"
)

// monthKey signs the scripted month's audit heads (a test seed, 32 bytes).
const monthKey = "4d7573746572207265766965772070616b20746573742073656564206b657921"

// monthConfig is the example organization with Elena's first-aid
// certificate expiring on 15 March 2026 and Grace's SIA licence expired on
// 14 February, so the pack has one of each to list, and with a drill
// schedule that the month keeps in part.
func monthConfig(t testing.TB) *configs.Config {
	t.Helper()
	yaml := string(configs.ExampleYAML())
	for _, r := range [][2]string{
		{"{name: first-aid, expires: 2027-06-30}", "{name: first-aid, expires: 2026-03-15}"},     // Elena's
		{"{name: sia-licence, expires: 2028-04-30}", "{name: sia-licence, expires: 2026-02-14}"}, // Grace's
	} {
		if !strings.Contains(yaml, r[0]) {
			t.Fatalf("the example config changed: %q was not found", r[0])
		}
		yaml = strings.Replace(yaml, r[0], r[1], 1)
	}
	i, j := strings.Index(yaml, "\ndrills:\n"), strings.Index(yaml, "\nserver:\n")
	if i < 0 || j < i {
		t.Fatal("the example config changed: no drills section before server")
	}
	yaml = yaml[:i] + `
drills:
  schedule:
    - {plan: fire-evacuation, site: harbour, every: 28d, start: 2026-02-09}
    - {plan: medical-emergency, site: depot, every: 14d, start: 2026-01-19}
    - {plan: intruder-lockdown, site: harbour, every: 30d, start: 2026-01-20}
` + yaml[j:]
	cfg, err := configs.Parse([]byte(yaml), "month-config")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// playMonth runs testdata/month.txt through the commands, the escalation
// engine and the store, on a fake clock; the audit chain's heads are
// signed with monthKey.
func playMonth(t testing.TB) *scenario.Harness {
	t.Helper()
	key, err := store.ParseAuditKey(monthKey)
	if err != nil {
		t.Fatal(err)
	}
	h := scenario.NewWith(t, scenario.Options{Config: monthConfig(t), Start: time.Date(2026, 1, 30, 9, 0, 0, 0, time.UTC), AuditKey: key})
	f, err := os.Open("testdata/month.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 3 {
			t.Fatalf("month.txt:%d: want <time> <who> <command>", line)
		}
		at, err := time.Parse(time.RFC3339, fields[0])
		if err != nil {
			t.Fatalf("month.txt:%d: %v", line, err)
		}
		if d := at.Sub(h.Clock.Now()); d > 0 {
			h.Advance(d)
		}
		who := fields[1]
		cmd := strings.TrimSpace(strings.SplitN(text, who, 2)[1])
		h.As(who).MustDo(cmd)
	}
	return h
}
