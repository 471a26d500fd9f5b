package report_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/store"
)

// monthConfig is the example organization with Elena's first-aid
// certificate expiring on 15 March 2026, so the pack has one to list.
func monthConfig(t testing.TB) *configs.Config {
	t.Helper()
	yaml := strings.Replace(string(configs.ExampleYAML()), "{name: first-aid, expires: 2027-06-30}", "{name: first-aid, expires: 2026-03-15}", 1)
	if !strings.Contains(yaml, "2026-03-15") {
		t.Fatal("the example config changed: Elena's first-aid line was not found")
	}
	cfg, err := configs.Parse([]byte(yaml), "month-config")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// playMonth runs testdata/month.txt through the commands, the escalation
// engine and the store, on a fake clock.
func playMonth(t testing.TB) *scenario.Harness {
	t.Helper()
	h := scenario.NewWith(t, scenario.Options{Config: monthConfig(t), Start: time.Date(2026, 1, 30, 9, 0, 0, 0, time.UTC)})
	f, err := os.Open("testdata/month.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
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
		if rest, ok := strings.CutPrefix(cmd, "action "); ok {
			playAction(t, h.Store, line, who, rest)
			h.Settle()
			continue
		}
		h.As(who).MustDo(cmd)
	}
	_ = ctx
	return h
}

func playAction(t testing.TB, st *store.Store, line int, who, rest string) {
	t.Helper()
	ctx := context.Background()
	f := strings.Fields(rest)
	if f[0] == "done" {
		n, err := store.ParseID("CA", f[1])
		if err == nil {
			_, err = st.CloseAction(ctx, n, who, strings.Join(f[2:], " "))
		}
		if err != nil {
			t.Fatalf("month.txt:%d: %v", line, err)
		}
		return
	}
	d, err := store.ParseID("D", f[0])
	if err == nil {
		_, err = st.AddAction(ctx, d, who, strings.Join(f[1:], " "))
	}
	if err != nil {
		t.Fatalf("month.txt:%d: %v", line, err)
	}
}
