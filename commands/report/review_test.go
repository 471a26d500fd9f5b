package report_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands/report"
)

var (
	feb1  = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	mar1  = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	genAt = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
)

func m(n float64) time.Duration { return time.Duration(n * float64(time.Minute)) }

// TestReviewPackOfAScriptedMonth checks the pack's numbers against the
// hand computation below, for February 2026 (testdata/month.txt).
//
// Incidents raised 1-28 Feb: INC-2..INC-9 = 8 (INC-1 is 30 Jan, INC-10 is
// 2 Mar). Sites: harbour INC-2,3,6,7,9 = 5; depot INC-4,5,8 = 3.
// Categories, in the config's order: intrusion 3 (INC-2,5,9), medical 1
// (INC-6), theft 2 (INC-3,8), suspicious-activity 1 (INC-7), hazard 1
// (INC-4). Severities: sev1 1 (INC-5), sev2 3 (INC-2,6,9), sev3 3
// (INC-3,7,8), sev4 1 (INC-4).
//
// TTA (raise to acknowledge), in minutes: INC-2 4, INC-3 10, INC-4 2,
// INC-5 6, INC-6 3, INC-7 never acknowledged (resolved without it), INC-8
// 8, INC-9 5. An incident that never got there ranks after every one that
// did. All 8: 2 3 4 5 6 8 10 [INC-7]; nearest rank: median = rank
// ceil(0.5*8)=4 -> 5m; p90 = rank ceil(7.2)=8 -> INC-7: not acknowledged.
// TTR (INC-9 is open): 60 120 30 90 45 20 240 [INC-9]. Sorted: 20 30 45 60
// 90 120 240 [open], N=8: median rank 4 -> 60m; p90 rank 8 -> not resolved.
// Harbour (INC-2,3,6,7,9): TTA 3 4 5 10 [INC-7], N=5: median rank
// ceil(2.5)=3 -> 5m, p90 rank ceil(4.5)=5 -> not acknowledged. TTR 20 45 60
// 120 [INC-9]: median rank 3 -> 60m, p90 rank 5 -> not resolved.
// Depot: TTA 2 6 8: median rank 2 -> 6m, p90 rank ceil(2.7)=3 -> 8m. TTR 30
// 90 240: median 90m, p90 240m.
// Shifts (both guard rosters hand over at 07:00 and 19:00; London = UTC in
// February): day 07:00-19:00 INC-2 09:00, INC-4 14:00, INC-6 11:00, INC-8
// 08:15, INC-9 16:00 = 5; TTA 4 2 3 8 5 -> 2 3 4 5 8: median rank 3 -> 4m,
// p90 rank 5 -> 8m; TTR 60 30 45 240 [INC-9] -> 30 45 60 240 [open]: median
// rank 3 -> 60m, p90 rank 5 -> not resolved. Night 19:00-07:00 INC-3 21:00,
// INC-5 02:00, INC-7 23:30 = 3; TTA 10 6 [INC-7] -> 6 10 [INC-7]: median
// rank 2 -> 10m, p90 rank 3 -> not acknowledged; TTR 120 90 20 -> 20 90
// 120: median 90m, p90 120m.
//
// Live plans: one, A-2 (medical emergency for INC-6, 12 Feb 11:01), three
// tasks. Who is on duty on Thu 12 Feb 11:01: 38 days and 4 h after the
// rotation start, so 12 h shift 76: harbour guard people[76 mod 3 = 1] =
// ben; harbour first-aider (the same rotation) ben; harbour control
// (hand-over 08:00, also shift 76) = hugo; harbour supervisor (24 h, day 38,
// 38 mod 2 = 0) = farid.
//
//	T-4 first aid (critical) -> ben: step 1 at 11:01 chat+sms; he acks
//	  at 11:01:30. SMS yes, voice no.
//	T-5 ambulance (critical) -> hugo: 11:01 chat+sms, 11:02 voice, 11:04
//	  escalated to the supervisor farid with sms+voice; farid acks 11:05.
//	  SMS yes, voice yes, re-assigned; hugo did not answer.
//	T-6 meet the ambulance (standard) -> ben: 11:01 chat, 11:03 sms, 11:06
//	  voice, 11:09 escalated to farid chat+sms, 11:14 unanswered. SMS yes,
//	  voice yes, re-assigned, unanswered; ben and farid did not answer.
//
// So: tasks 3, needed SMS 3, needed voice 2, escalated to someone else 2,
// unanswered 1 (T-6); non-responders ben 1, farid 1, hugo 1.
//
// Drills (never in the figures above): D-1 fire evacuation at the harbour,
// 10 Feb 10:00, target 5m (T-1 sweep amara acks after 1m30s, the voice step
// at 10:01 having run: 1 escalation; T-2 roll call farid after 1m45s, 0
// escalations; T-3 simulated): PASS, slowest 1m45s. D-2 medical at the depot,
// 24 Feb 14:00, target 4m (T-7 dev, the first-aider on duty, acks after 2m30s; T-9 dev never:
// escalated at 14:08 to the depot supervisor grace, day 50 -> people[0],
// unanswered at 14:13): FAIL, non-responders dev and grace. Started 2,
// completed 2, passed 1; plans drilled 2 of 3, intruder-lockdown not.
// Corrective actions: CA-1 (D-1) closed 16 Feb, CA-2 (D-2) open.
// Qualifications expiring within 30 days of 1 Mar: Elena's first aid, 15
// Mar 2026 (the others expire in 2027 and 2028).
func TestReviewPackOfAScriptedMonth(t *testing.T) {
	h := playMonth(t)
	ctx := context.Background()
	b := report.New(h.Config, h.Store)
	r, err := b.Review(ctx, report.ReviewOptions{From: feb1, To: mar1, Now: genAt})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("incidents", r.Incidents, 8)
	check("by site", r.BySite, "[{harbour 5} {depot 3}]")
	check("by category", r.ByCategory, "[{intrusion 3} {medical 1} {theft 2} {suspicious-activity 1} {hazard 1}]")
	check("by severity", r.BySeverity, "[{sev1 1} {sev2 3} {sev3 3} {sev4 1}]")
	pc := func(d time.Duration, ok bool) string {
		if !ok {
			return "none"
		}
		return d.String()
	}
	stats := func(g report.GroupStats) string {
		return fmt.Sprintf("%s n=%d tta %d %s/%s ttr %d %s/%s", g.Label, g.Incidents, g.TTA.Reached, pc(g.TTA.Median, g.TTA.MedianReached), pc(g.TTA.P90, g.TTA.P90Reached),
			g.TTR.Reached, pc(g.TTR.Median, g.TTR.MedianReached), pc(g.TTR.P90, g.TTR.P90Reached))
	}
	check("all", stats(r.All), fmt.Sprintf("All incidents n=8 tta 7 %v/none ttr 7 %v/none", m(5), m(60)))
	check("harbour", stats(r.BySiteTimes[0]), fmt.Sprintf("harbour n=5 tta 4 %v/none ttr 4 %v/none", m(5), m(60)))
	check("depot", stats(r.BySiteTimes[1]), fmt.Sprintf("depot n=3 tta 3 %v/%v ttr 3 %v/%v", m(6), m(8), m(90), m(240)))
	check("shifts", len(r.ByShift), 2)
	check("day shift", stats(r.ByShift[0]), fmt.Sprintf("07:00–19:00 n=5 tta 5 %v/%v ttr 4 %v/none", m(4), m(8), m(60)))
	check("night shift", stats(r.ByShift[1]), fmt.Sprintf("19:00–07:00 n=3 tta 2 %v/none ttr 3 %v/%v", m(10), m(90), m(120)))

	check("live activations", r.Activations, 1)
	check("live tasks", r.Tasks, 3)
	check("needed sms", r.TasksSMS, 3)
	check("needed voice", r.TasksVoice, 2)
	check("re-assigned", r.TasksReassigned, 2)
	var unanswered []string
	for _, s := range r.Unanswered {
		unanswered = append(unanswered, s.Task.ID()+" "+strings.Join(s.NotAnswered, "+"))
	}
	check("unanswered", unanswered, "[T-6 ben+farid]")
	check("non-responders", r.NonResponders, "[{ben 1} {farid 1} {hugo 1}]")

	var drills []string
	for _, o := range r.Drills {
		drills = append(drills, fmt.Sprintf("%s %s passed=%v slowest=%v non=%v", o.Drill.ID(), o.Drill.Status, o.Passed, o.Slowest, o.NonResponders))
	}
	check("drills", drills, "[D-1 stopped passed=true slowest=1m45s non=[] D-2 stopped passed=false slowest=2m30s non=[dev grace]]")
	check("completed", r.DrillsCompleted, 2)
	check("passed", r.Passed, 1)
	check("not drilled", r.PlansNotDrilled, "[intruder-lockdown]")
	var open []string
	for _, a := range r.OpenActions {
		open = append(open, a.ID()+" D-"+fmt.Sprint(a.Drill)+" "+a.Text)
	}
	check("open actions", open, "[CA-2 D-2 Retrain depot guards on answering pages]")
	check("expiring", r.Expiring, "[{elena first-aid 2026-03-15}]")

	// One site: the depot's share only.
	d, err := b.Review(ctx, report.ReviewOptions{From: feb1, To: mar1, Site: "depot", Now: genAt})
	if err != nil {
		t.Fatal(err)
	}
	check("depot incidents", d.Incidents, 3)
	check("depot all", stats(d.All), fmt.Sprintf("All incidents n=3 tta 3 %v/%v ttr 3 %v/%v", m(6), m(8), m(90), m(240)))
	check("depot sites", len(d.BySiteTimes), 1)
	check("depot live tasks", d.Tasks, 0)
	check("depot drills", len(d.Drills), 1)
	check("depot not drilled", d.PlansNotDrilled, "[fire-evacuation intruder-lockdown]")
	check("depot open actions", len(d.OpenActions), 1)

	// The rendered pack carries the same numbers.
	var md, csv strings.Builder
	doc := b.ReviewDoc(r)
	if err := doc.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| All incidents | 8 | 7 | 5m0s | not acknowledged | 7 | 1h0m0s | not resolved |", "- **Tasks that needed SMS:** 3",
		"| Shift 19:00–07:00 | 3 | 2 | 10m0s | not acknowledged | 3 | 1h30m0s | 2h0m0s |", "- **Plans not drilled in the period:** intruder-lockdown",
		"| Elena Rossi | first-aid | 2026-03-15 |", "| D-2 | Medical emergency | Riverside Depot |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown pack lacks %q:\n%s", want, md.String())
		}
	}
	if err := doc.CSV(&csv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "Escalations (live plans),facts,Tasks that needed voice,2\n") ||
		!strings.Contains(csv.String(), "Incidents,By severity,sev2,3\n") {
		t.Errorf("csv pack:\n%s", csv.String())
	}
}
