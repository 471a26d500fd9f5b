package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/report"
	"github.com/muster-ops/muster/store"
)

// Each test here pins a figure the reports once got wrong. All run on
// the example organization from scenario.Start (Wed 25 Nov 2026 10:00
// GMT): harbour guard Amara (shift 648), harbour control Hugo, harbour
// supervisor Farid (day 324, even), coordinator Jonah.

// newHarness is a scenario on the example config.
func newHarness(t *testing.T) *scenario.Harness {
	t.Helper()
	return scenario.New(t)
}

// day is the review period of scenario.Start's day.
func day() report.ReviewOptions {
	d := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	return report.ReviewOptions{From: d, To: d.Add(24 * time.Hour), Now: d.Add(24 * time.Hour)}
}

// The critical policy (repeat 1) hands a silent task amara -> farid (step
// 3) -> jonah (step 4) -> farid (step 7) -> jonah (step 8), then marks it
// unanswered at 16 minutes. Each person held each task once as far as
// the board is concerned: intruder-lockdown at the harbour has T-1 guard
// (amara), T-2 and T-3 control (hugo), all critical, and T-4 supervisor
// (farid, standard: its step 4 escalates to the supervisor, farid again,
// and it is unanswered at 13 minutes). Nobody answers.
//
// Tasks not answered: farid 4 (T-1..T-4), jonah 3 (T-1..T-3), hugo 2,
// amara 1. Counting every hand-back gave farid 7 and jonah 6.
func TestNonRespondersCountTasksNotRepeatCycles(t *testing.T) {
	h := newHarness(t)
	h.As("jonah").MustDo("/plan trigger intruder-lockdown @harbour Someone on the roof")
	h.Advance(20 * time.Minute)
	b := report.New(h.Config, h.Store)
	r, err := b.Review(context.Background(), day())
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(r.NonResponders); got != "[{farid 4} {jonah 3} {hugo 2} {amara 1}]" {
		t.Errorf("non-responders = %s, want [{farid 4} {jonah 3} {hugo 2} {amara 1}]", got)
	}
	var unanswered []string
	for _, s := range r.Unanswered {
		unanswered = append(unanswered, s.Task.ID()+" "+strings.Join(s.NotAnswered, "+"))
	}
	if got := fmt.Sprint(unanswered); got != "[T-1 amara+farid+jonah T-2 hugo+farid+jonah T-3 hugo+farid+jonah T-4 farid]" {
		t.Errorf("unanswered = %s", got)
	}
	var md strings.Builder
	if err := b.ReviewDoc(r).Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| Amara Okafor, Farid Haddad, Jonah Reid |") || strings.Contains(md.String(), "Farid Haddad, Jonah Reid, Farid Haddad") {
		t.Errorf("the pack's did-not-answer lists repeat people:\n%s", md.String())
	}
	if !strings.Contains(md.String(), "| Farid Haddad | 4 |") {
		t.Errorf("the pack's non-responder table:\n%s", md.String())
	}
}

// /drill report and `muster report drill` name the same non-responders:
// everyone who held a task and did not answer it, not only each task's
// last holder.
func TestChatAndCLIDrillReportsAgree(t *testing.T) {
	h := newHarness(t)
	h.As("jonah").MustDo("/drill start intruder-lockdown @harbour")
	// T-1 (guard, amara) is answered by amara once it has moved on to
	// farid; T-2 (control, hugo) is never answered; T-3 is simulated;
	// T-4 (supervisor, farid) is answered by farid.
	h.Advance(4*time.Minute + 30*time.Second)
	h.As("amara").MustDo("/ack T-1")
	h.As("farid").MustDo("/ack T-4")
	h.Advance(20 * time.Minute)
	h.As("jonah").MustDo("/drill stop D-1")

	chat := h.As("jonah").MustDo("/drill report D-1").Text
	i := strings.Index(chat, "Never answered: ")
	if i < 0 {
		t.Fatalf("chat report has no non-responders:\n%s", chat)
	}
	chatList := strings.TrimSuffix(strings.SplitN(chat[i+len("Never answered: "):], "\n", 2)[0], ".")

	code, md, errOut := runCLI(t, h, "report", "drill", "D-1")
	if code != 0 {
		t.Fatalf("report drill: %d %s", code, errOut)
	}
	j := strings.Index(md, "## Non-responders\n\n")
	if j < 0 {
		t.Fatalf("no non-responders section:\n%s", md)
	}
	cliList := strings.SplitN(md[j+len("## Non-responders\n\n"):], "\n", 2)[0]
	// T-1: amara answered, farid held it after her: farid. T-2: hugo,
	// farid, jonah. T-4: farid answered.
	if want := "Farid Haddad, Hugo Brennan, Jonah Reid"; chatList != want || cliList != want {
		t.Errorf("non-responders: chat %q, command line %q; want both %q", chatList, cliList, want)
	}
	if !strings.Contains(chat, "Result: FAIL") || !strings.Contains(md, "- **Result:** FAIL") {
		t.Errorf("results differ:\n%s\n%s", chat, md)
	}
}

// An incident nobody acknowledged has no time to acknowledge (resolving
// it is not acknowledging it); an open one still counts in the figures;
// a site without incidents is "no data", never "0 min".
func TestIncidentNeverAcknowledged(t *testing.T) {
	h := newHarness(t)
	h.As("amara").MustDo("/incident raise theft @harbour Bike gone from the rack")
	h.Advance(6*time.Minute + 31*time.Second)
	h.As("farid").MustDo("/incident resolve INC-1 Owner had moved it")
	h.As("amara").MustDo("/incident raise suspicious-activity @harbour Van parked at gate A")
	h.Advance(time.Hour)

	code, md, _ := runCLI(t, h, "report", "incident", "INC-1")
	if code != 0 || !strings.Contains(md, "- **Acknowledged:** -") || !strings.Contains(md, "- **Time to acknowledge:** not acknowledged") ||
		!strings.Contains(md, "- **Time to resolve:** 6m31s") {
		t.Errorf("incident report:\n%s", md)
	}

	b := report.New(h.Config, h.Store)
	r, err := b.Review(context.Background(), day())
	if err != nil {
		t.Fatal(err)
	}
	// TTR: 6m31s and one still open, which ranks last: the median (rank
	// 1 of 2) is 6m31s, the 90th percentile (rank 2) is not reached.
	if r.All.Incidents != 2 || r.All.TTA.N != 2 || r.All.TTA.Reached != 0 || r.All.TTA.MedianReached ||
		r.All.TTR.Reached != 1 || r.All.TTR.Median != 6*time.Minute+31*time.Second || r.All.TTR.P90Reached {
		t.Errorf("all incidents: %+v; want both counted, none acknowledged, one resolved", r.All)
	}
	var out strings.Builder
	if err := b.ReviewDoc(r).Markdown(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| All incidents | 2 | 0 | not acknowledged | not acknowledged | 1 | 6m31s | not resolved |",
		"| Harbour Point HQ | no median: 2 of 2 not acknowledged |",
		"| Riverside Depot | no data: no incidents |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("pack lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "0 min") {
		t.Errorf("the pack charts a missing figure as 0 min:\n%s", out.String())
	}
}

// An acknowledgement that comes after the escalation ran out answers the
// task: it is acknowledged late, not unanswered, and whoever answered is
// no non-responder.
func TestAckAfterEscalationRanOut(t *testing.T) {
	h := newHarness(t)
	h.As("jonah").MustDo("/plan trigger fire-evacuation @harbour Alarm on level 2")
	// T-1 sweep (guard amara, critical) runs out at 16 minutes.
	h.Advance(17 * time.Minute)
	if tk, err := h.Store.Task(context.Background(), 1); err != nil || tk.Status != store.TaskUnanswered {
		t.Fatalf("T-1 after 17 minutes: %+v %v, want unanswered", tk, err)
	}
	h.As("amara").MustDo("/ack T-1 radio was flat")

	b := report.New(h.Config, h.Store)
	r, err := b.Review(context.Background(), day())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Unanswered {
		if s.Task.Num == 1 {
			t.Errorf("T-1 is still counted unanswered after amara's ack")
		}
	}
	if len(r.AckedLate) != 1 || r.AckedLate[0].Task.Num != 1 || r.AckedLate[0].AckedBy != "amara" {
		t.Errorf("acknowledged late = %v, want T-1 by amara", r.AckedLate)
	}
	for _, c := range r.NonResponders {
		if c.Label == "amara" {
			t.Errorf("amara answered T-1 but is a non-responder: %v", r.NonResponders)
		}
	}
	code, md, _ := runCLI(t, h, "report", "activation", "A-1")
	if code != 0 || !strings.Contains(md, "| T-1 | Sweep floors and confirm they are clear | guard | Amara Okafor | acknowledged | Amara Okafor (after the escalation ran out) | 17m0s | 7 | chat+sms+voice | Farid Haddad, Jonah Reid |") {
		t.Errorf("activation report:\n%s", md)
	}
}

// A prune keeps a drill whose corrective action is still open, and with
// it the drill's activation and tasks: its report still works.
func TestPruneKeepsAKeptDrillWhole(t *testing.T) {
	h := newHarness(t)
	h.As("jonah").MustDo("/drill start fire-evacuation @harbour")
	h.As("amara").MustDo("/ack T-1")
	h.As("farid").MustDo("/ack T-2")
	h.As("jonah").MustDo("/drill stop D-1")
	h.As("jonah").MustDo("/drill action D-1 Mark the sweep route on the floor plans")
	h.Advance(48 * time.Hour)

	h.Config.Records.Retention = configs.Duration(24 * time.Hour)
	code, out, errOut := runCLI(t, h, "records", "prune", "--out", filepath.Join(t.TempDir(), "pruned.jsonl"))
	if code != 0 {
		t.Fatalf("prune: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "0 activations, 0 tasks, 0 drills") {
		t.Errorf("prune removed part of a kept drill: %s", out)
	}
	if r := h.As("jonah").Do("/drill report D-1"); r.Error || !strings.Contains(r.Text, "Result: PASS") {
		t.Errorf("/drill report D-1 after the prune: %s", r.Text)
	}
	if code, md, errOut := runCLI(t, h, "report", "drill", "D-1"); code != 0 || !strings.Contains(md, "- **Result:** PASS") {
		t.Errorf("report drill D-1 after the prune: %d %s", code, errOut)
	}

	// Once the action has been done for longer than the retention, the
	// whole drill goes.
	h.As("jonah").MustDo("/drill action done 1 Plans updated")
	h.Advance(48 * time.Hour)
	code, out, _ = runCLI(t, h, "records", "prune", "--dry-run")
	if code != 0 || !strings.Contains(out, "1 activations, 3 tasks, 1 drills, 1 corrective actions") {
		t.Errorf("prune after the action is done: %s", out)
	}
}

// The review pack's CSV gives durations as numbers of seconds, in
// columns that say so.
func TestReviewCSVDurationsAreSeconds(t *testing.T) {
	h := newHarness(t)
	h.As("amara").MustDo("/incident raise theft @harbour Bike gone from the rack")
	h.Advance(4*time.Minute + 2*time.Second)
	h.As("farid").MustDo("/incident ack INC-1")
	h.Advance(time.Hour)
	h.As("farid").MustDo("/incident resolve INC-1 Found")
	b := report.New(h.Config, h.Store)
	r, err := b.Review(context.Background(), day())
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := b.ReviewDoc(r).CSV(&out); err != nil {
		t.Fatal(err)
	}
	csv := out.String()
	for _, want := range []string{
		",Group,Incidents,Acknowledged,TTA median (s),TTA p90 (s),Resolved,TTR median (s),TTR p90 (s)\n",
		",All incidents,1,1,242,242,1,3842,3842\n",
	} {
		if !strings.Contains(csv, want) {
			t.Errorf("csv lacks %q:\n%s", want, csv)
		}
	}
	if strings.Contains(csv, "4m2s") {
		t.Errorf("csv has a duration as text:\n%s", csv)
	}
}

// Escalation steps carry the same numbers in a task's timeline and in its
// audit events: the first notice is step 1 in both.
func TestStepNumbersAgree(t *testing.T) {
	h := newHarness(t)
	h.As("jonah").MustDo("/plan trigger fire-evacuation @harbour Alarm on level 2")
	// T-1 (critical): step 1 at once, 2 after 1m, 3 (to the supervisor)
	// after 3m.
	h.Advance(3*time.Minute + time.Second)
	ctx := context.Background()
	tl, err := h.Store.TaskTimeline(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var timeline []string
	for _, e := range tl {
		if e.Kind == "step" {
			timeline = append(timeline, strings.SplitN(e.Text, ":", 2)[0])
		}
	}
	var audit []string
	err = h.Store.ScanAudit(ctx, "", func(e store.AuditEvent) error {
		if e.Subject != "T-1" || (e.Kind != "task.escalated" && e.Kind != "task.reassigned") {
			return nil
		}
		var d struct{ Step int }
		if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
			return err
		}
		audit = append(audit, fmt.Sprintf("%s step %d", e.Kind, d.Step))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(timeline); got != "[step 1 step 2 step 3]" {
		t.Errorf("timeline steps %s", got)
	}
	if got := fmt.Sprint(audit); got != "[task.escalated step 1 task.escalated step 2 task.reassigned step 3 task.escalated step 3]" {
		t.Errorf("audit steps %s", got)
	}
}

// An incident with a corrective action still open stays through a prune,
// and goes with its action once the action is done.
func TestPruneKeepsRecordsWithOpenActions(t *testing.T) {
	h := newHarness(t)
	h.As("amara").MustDo("/incident raise intrusion @harbour Gate B forced")
	h.As("farid").MustDo("/incident resolve INC-1 Lock replaced for now")
	h.As("farid").MustDo("/action add INC-1 ben 2d Fit a stronger lock on gate B")
	h.Advance(48 * time.Hour)
	h.Config.Records.Retention = configs.Duration(24 * time.Hour)
	code, out, _ := runCLI(t, h, "records", "prune", "--dry-run")
	if code != 0 || !strings.Contains(out, "0 incidents") {
		t.Errorf("prune with CA-1 open: %s", out)
	}
	h.As("ben").MustDo("/action done CA-1 fitted")
	h.Advance(48 * time.Hour)
	code, out, _ = runCLI(t, h, "records", "prune", "--dry-run")
	if code != 0 || !strings.Contains(out, "1 incidents, 0 activations, 0 tasks, 0 drills, 1 corrective actions") {
		t.Errorf("prune once CA-1 is done: %s", out)
	}
}
