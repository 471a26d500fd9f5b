package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/internal/testtime"
)

// TestConsoleEscalationScenario is the piped rehearsal, with the
// console's clock starting at testtime.Start and running 60 times faster
// (a minute passes in a second):
//
//	/roster cover harbour-guard amara now 12h   # whoever's shift it is, amara is the guard
//	/plan trigger medical-emergency @harbour Visitor collapsed in reception
//	:wait 4m        # T-3 (guard amara, standard policy): chat, then sms at 2m
//	:as amara
//	/ack T-3
//	:wait 16m       # spans the voice step (5m), the supervisor (8m), unanswered (13m)
//
// The silent assignee gets an SMS after the first wait; once she has
// acknowledged, nothing more is printed about T-3. The waits sit well
// clear of the deadlines (a minute of console time either side is a
// second of real time) so a loaded machine does not make the test flaky
// (at 600 times, on a machine at load 25, the engine fell behind). Each
// step waits its full wait from when the step before it actually ran, so
// at this speed a few milliseconds of real lateness a step add up: T-1's
// critical policy (16 minutes in all) goes unanswered well inside the
// second wait's 20 minutes.
func TestConsoleEscalationScenario(t *testing.T) {
	o := newOrg(t)
	script := strings.Join([]string{
		"/roster cover harbour-guard amara now 12h",
		"/plan trigger medical-emergency @harbour Visitor collapsed in reception",
		":wait 4m",
		":as amara",
		"/ack T-3",
		":wait 16m",
	}, "\n") + "\n"
	r := o.console(t, script, "--as", "farid", "--time-scale", "60", "--start", testtime.Start.Format(time.RFC3339))
	out := r.stdout

	if !strings.Contains(out, "A-1 triggered: Medical emergency v1 at Harbour Point HQ by Farid Haddad.") ||
		!regexp.MustCompile(`(?m)^  T-3 Amara Okafor: Meet the ambulance`).MatchString(out) {
		t.Fatalf("no trigger with T-3 for Amara:\n%s", out)
	}
	ack := strings.Index(out, "\nT-3 acknowledged by Amara Okafor")
	if ack < 0 {
		t.Fatalf("no acknowledgement of T-3:\n%s", out)
	}
	before, after := out[:ack], out[ack+1:]
	// Before the ack: the chat notice, then the SMS of the second step.
	if !regexp.MustCompile(`(?m)^→ chat @amara \(Amara Okafor\): T-3 .*/ack T-3`).MatchString(before) {
		t.Errorf("no chat notice of T-3 to amara before the ack:\n%s", before)
	}
	if !regexp.MustCompile(`(?m)^→ sms amara \(\*+0101\): T-3 Harbour Point HQ: Meet the ambulance.* Reply ACK 3$`).MatchString(before) {
		t.Errorf("no SMS of T-3 to amara before the ack:\n%s", before)
	}
	// After it: nothing about T-3 (the voice text says "Task 3 at").
	about := regexp.MustCompile(`\bT-3\b|Task 3 at`)
	lines := strings.Split(after, "\n")
	for _, l := range lines[1:] {
		if about.MatchString(l) {
			t.Errorf("after the ack, a line about T-3: %q\nwhole output:\n%s", l, out)
		}
	}
	// Meanwhile the other tasks kept escalating, so the wait did span
	// further steps: T-1 (critical) went unanswered.
	if !strings.Contains(after, "T-1 UNANSWERED") {
		t.Errorf("no further escalation at all after the ack; did the second :wait run?\n%s", after)
	}
}

// TestConsoleTriggerAnyDay triggers the medical emergency from a console
// started on each of fourteen consecutive days: every task goes to whoever
// `muster roster` says holds its role at harbour that day.
func TestConsoleTriggerAnyDay(t *testing.T) {
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	for _, day := range testtime.Days(14) {
		t.Run(day.Format("2006-01-02"), func(t *testing.T) {
			o := newOrg(t)
			r := o.console(t, "/plan trigger medical-emergency @harbour Visitor collapsed in reception\n",
				"--as", "farid", "--start", day.Format(time.RFC3339))
			plan, _ := cfg.Plan("medical-emergency")
			for i, task := range plan.Tasks {
				sh, ok := roster.OnDuty(cfg, "harbour", task.Role, day, nil)
				if !ok || sh.Person == nil {
					t.Fatalf("nobody holds %s at harbour on %s", task.Role, day)
				}
				want := fmt.Sprintf("\n  T-%d %s: %s\n", i+1, sh.Person.Name, task.Title)
				if !strings.Contains(r.stdout, want) {
					t.Errorf("want %q in:\n%s", want, r.stdout)
				}
			}
		})
	}
}
