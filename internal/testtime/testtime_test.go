package testtime_test

import (
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/internal/testtime"
)

// Start is what its comment promises on the example configuration: no
// rotation hands over within an hour of it, and the harbour supervisor
// is Farid. Days walks whole days and crosses the change to summer time.
func TestStart(t *testing.T) {
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.Rosters {
		sh := roster.At(cfg, &r, testtime.Start, nil)
		if testtime.Start.Sub(sh.Start) < time.Hour || sh.End.Sub(testtime.Start) < time.Hour {
			t.Errorf("%s: shift %s to %s is within an hour of Start", r.ID, sh.Start, sh.End)
		}
	}
	sh, ok := roster.OnDuty(cfg, "harbour", "supervisor", testtime.Start, nil)
	if !ok || sh.Person == nil || sh.Person.ID != "farid" {
		t.Errorf("harbour supervisor at Start: %+v, want farid", sh.Person)
	}
	days := testtime.Days(14)
	if len(days) != 14 || !days[0].Equal(testtime.Start) || days[13].Sub(days[0]) != 13*24*time.Hour {
		t.Fatalf("Days(14) = %v", days)
	}
	loc := cfg.Location()
	if _, first := days[0].In(loc).Zone(); first != 0 {
		t.Errorf("Start is not in winter time in %s", loc)
	}
	if _, last := days[13].In(loc).Zone(); last == 0 {
		t.Errorf("Days(14) does not reach summer time in %s", loc)
	}
}
