package configs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// exampleWith parses the example configuration with texts replaced, in
// pairs: old, new, old, new...
func exampleWith(t *testing.T, pairs ...string) (*Config, error) {
	t.Helper()
	s := string(exampleYAML)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("the example has no %q", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return Parse([]byte(s), "example")
}

// problems lists the messages of a Parse error, one a line.
func problems(t *testing.T, err error) string {
	t.Helper()
	var probs Errors
	if !errors.As(err, &probs) {
		t.Fatalf("got %v, want configs.Errors", err)
	}
	var out []string
	for _, p := range probs {
		out = append(out, p.Path+": "+p.Msg)
	}
	return strings.Join(out, "\n")
}

// The rotations as the example had them put Elena on the depot's guard
// nights and the harbour's first-aider nights: check-config refuses it.
func TestRotationsTwoSitesAtOnce(t *testing.T) {
	_, err := exampleWith(t, "people: [amara, ben, chloe]}\n    requires: [first-aid]", "people: [amara, elena]}\n    requires: [first-aid]")
	if err == nil {
		t.Fatal("Elena at two sites in the same shift was accepted")
	}
	got := problems(t, err)
	if !strings.Contains(got, "rosters[6].rotation.people: elena would be in two places at once: depot-guard on site depot and harbour-first-aider on site harbour, from 2026-01-05 19:00") {
		t.Errorf("problems:\n%s", got)
	}
}

// A remote roster is a desk: one person may hold the control rosters of
// both sites at once, but not a control desk and a site's guard post.
func TestRotationsRemoteIsOneDesk(t *testing.T) {
	if _, err := exampleWith(t); err != nil {
		t.Fatalf("the example with both control rosters remote: %v", err)
	}
	_, err := exampleWith(t, "people: [hugo, ines]}\n    duty: remote", "people: [hugo, ines]}\n    duty: on_site")
	if err == nil || !strings.Contains(problems(t, err), "hugo would be in two places at once: harbour-control on site harbour and depot-control on a remote desk") {
		t.Errorf("control on site at the harbour and remote for the depot at once: %v", err)
	}
}

// One person alone on a rotation is never off duty, unless the roster is
// held on call; a person on two rosters of one site back to back works
// both shifts without a break.
func TestRotationsPastMaxContinuous(t *testing.T) {
	_, err := exampleWith(t, "people: [jonah]}\n    duty: on_call", "people: [jonah]}")
	if err == nil || !strings.Contains(problems(t, err), "puts jonah on duty without ever a break (harbour-coordinator), past max_continuous 16h") {
		t.Errorf("a coordinator alone on a 7-day rotation, not on call: %v", err)
	}
	// The first-aider rotation one shift behind the guard rotation: each
	// guard's first-aider shift follows their guard shift.
	behind := []string{"rotation: {shift: 12h, handover: \"07:00\", start: 2026-01-05, people: [amara, ben, chloe]}\n    requires: [first-aid]",
		"rotation: {shift: 12h, handover: \"07:00\", start: 2026-01-05, people: [chloe, amara, ben]}\n    requires: [first-aid]"}
	_, err = exampleWith(t, behind...)
	if err == nil || !strings.Contains(problems(t, err), "puts amara on duty for 24h without a break from 2026-01-05 07:00 (harbour-guard, harbour-first-aider), past max_continuous 16h") {
		t.Errorf("back-to-back shifts on two rosters: %v", err)
	}
	// The smallest max_continuous of the rosters in a stretch holds: 24h
	// on one of them is not enough, on both it is.
	_, err = exampleWith(t, append(behind, "people: [chloe, amara, ben]}\n    requires: [first-aid]", "people: [chloe, amara, ben]}\n    requires: [first-aid]\n    max_continuous: 24h")...)
	if err == nil {
		t.Error("max_continuous 24h on one roster let a 24h stretch through the other's 16h")
	}
	cfg, err := exampleWith(t, append(behind, "people: [chloe, amara, ben]}\n    requires: [first-aid]", "people: [chloe, amara, ben]}\n    requires: [first-aid]\n    max_continuous: 24h",
		"people: [amara, ben, chloe]}\n    requires: [sia-licence]", "people: [amara, ben, chloe]}\n    requires: [sia-licence]\n    max_continuous: 1d")...)
	if err != nil {
		t.Fatalf("24h stretches with max_continuous 24h on both rosters: %v", err)
	}
	if r, _ := cfg.Roster("depot-guard"); r.Limit() != DefaultMaxContinuous || r.Duty != DutyOnSite {
		t.Errorf("depot-guard defaults: %s %q", r.Limit(), r.Duty)
	}
}

// A drill is due on the schedule's start and every N days after it, in
// local days (a clock change between does not move the day).
func TestDrillScheduleDue(t *testing.T) {
	cfg, err := exampleWith(t)
	if err != nil {
		t.Fatal(err)
	}
	loc := cfg.Location()
	d := DrillSchedule{Plan: "fire-evacuation", Site: "harbour", Every: Duration(14 * 24 * time.Hour), Start: Date{2026, 3, 16}}
	for _, tc := range []struct {
		from, to string
		want     string
	}{
		{"2026-03-01", "2026-03-16", "[]"},                      // before the start
		{"2026-03-01", "2026-04-01", "[2026-03-16 2026-03-30]"}, // the clocks go forward on 29 March
		{"2026-03-17", "2026-04-14", "[2026-03-30 2026-04-13]"}, // later cycles
		{"2026-04-13", "2026-04-14", "[2026-04-13]"},            // the day itself
		{"2026-01-01", "2027-01-01", "[2026-03-16 2026-03-30 2026-04-13 2026-04-27 2026-05-11 2026-05-25 2026-06-08 2026-06-22 2026-07-06 2026-07-20 2026-08-03 2026-08-17 2026-08-31 2026-09-14 2026-09-28 2026-10-12 2026-10-26 2026-11-09 2026-11-23 2026-12-07 2026-12-21]"},
	} {
		from, _ := time.ParseInLocation("2006-01-02", tc.from, loc)
		to, _ := time.ParseInLocation("2006-01-02", tc.to, loc)
		if got := fmt.Sprint(d.Due(from, to, loc)); got != tc.want {
			t.Errorf("due %s to %s = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}
