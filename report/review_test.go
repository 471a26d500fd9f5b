package report_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/report"
	"github.com/muster-ops/muster/store"
)

var (
	feb1  = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	mar1  = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	genAt = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
)

func m(n float64) time.Duration { return time.Duration(n * float64(time.Minute)) }

// monthReview is the pack of February 2026 (testdata/month.txt), made on
// 1 March at 10:00, its audit heads checked against monthKey.
func monthReview(t *testing.T, b *report.Builder, site string) *report.Review {
	t.Helper()
	key, err := store.ParseAuditKey(monthKey)
	if err != nil {
		t.Fatal(err)
	}
	o := report.ReviewOptions{From: feb1, To: mar1, Site: site, Now: genAt}
	o.Verify.Keys = append(o.Verify.Keys, key.Public())
	r, err := b.Review(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReviewPackOfAScriptedMonth checks the pack's numbers against the
// hand computation below, for February 2026 (testdata/month.txt); the
// previous period is 4 January to 1 February (28 days).
//
// Incidents raised 1-28 Feb: INC-2..INC-11 = 10 (INC-1 is 30 Jan, INC-12
// is 2 Mar). Sites: harbour INC-2,3,6,7,10,11 = 6; depot INC-4,5,8,9 = 4.
// Categories, in the config's order: intrusion 4 (INC-2,5,8,10), medical 1
// (INC-6), theft 2 (INC-3,9), suspicious-activity 2 (INC-7,11), hazard 1
// (INC-4). Severities: sev1 2 (INC-5,8), sev2 3 (INC-2,6,10), sev3 4
// (INC-3,7,9,11), sev4 1 (INC-4).
//
// TTA (raise to acknowledge), in minutes: INC-2 4, INC-3 10, INC-4 2,
// INC-5 6, INC-6 3, INC-7 never (resolved without it), INC-8 5, INC-9 8,
// INC-10 5, INC-11 never (open). Incidents that never got there rank last.
// All 10: 2 3 4 5 5 6 8 10 [INC-7 INC-11]: nearest rank, median rank
// ceil(0.5*10)=5 -> 5m; p90 rank 9 -> not acknowledged.
// TTR: 60 120 30 90 45 20 120 240, INC-10 and INC-11 open: 20 30 45 60 90
// 120 120 240 [open open]: median rank 5 -> 90m; p90 rank 9 -> not resolved.
// Harbour (INC-2,3,6,7,10,11): TTA 3 4 5 10 [2 never], N=6: median rank 3
// -> 5m, p90 rank ceil(5.4)=6 -> not acknowledged. TTR 20 45 60 120 [2
// open]: median rank 3 -> 60m, p90 not resolved.
// Depot (INC-4,5,8,9): TTA 2 5 6 8: median rank 2 -> 5m, p90 rank
// ceil(3.6)=4 -> 8m. TTR 30 90 120 240: median 90m, p90 240m.
// Shifts (both guard rosters hand over at 07:00 and 19:00; London = UTC in
// February): day 07:00-19:00 INC-2 09:00, INC-4 14:00, INC-6 11:00, INC-9
// 08:15, INC-10 16:00 = 5; TTA 2 3 4 5 8: median rank 3 -> 4m, p90 rank 5
// -> 8m; TTR 30 45 60 240 [INC-10]: median rank 3 -> 60m, p90 rank 5 -> not
// resolved. Night INC-3 21:00, INC-5 02:00, INC-7 23:30, INC-8 02:00,
// INC-11 22:00 = 5; TTA 5 6 10 [INC-7 INC-11]: median rank 3 -> 10m, p90
// not acknowledged; TTR 20 90 120 120 [INC-11]: median rank 3 -> 120m, p90
// not resolved.
//
// Live plans: A-2 (medical, harbour, 12 Feb 11:01, shift 76: guard and
// first-aider ben, control hugo, supervisor farid) and A-3 (intruder
// lockdown, depot, 18 Feb 02:01, night shift 87: guard elena, control
// ines; depot supervisor day 43, odd: farid), 7 tasks:
//
//	T-4 first aid (critical) -> ben, acked at 11:01:30 after step 1
//	  (chat+sms): SMS, no voice.
//	T-5 ambulance (critical) -> hugo: 11:01 chat+sms, 11:02 voice, 11:04
//	  to farid (sms+voice); farid acks 11:05 (4m). SMS, voice, re-assigned;
//	  hugo did not answer.
//	T-6 meet ambulance (standard) -> ben: chat 11:01, sms 11:03, voice
//	  11:06, farid 11:09, unanswered 11:14. SMS, voice, re-assigned,
//	  unanswered; ben and farid did not answer.
//	T-7 lock the gates (critical, repeat 1) -> elena: 02:01 chat+sms, 02:02
//	  voice, 02:04 farid, 02:06 jonah, 02:09, 02:10, 02:12 farid, 02:14
//	  jonah, unanswered 02:17; elena acks at 02:20 (19m). SMS, voice,
//	  re-assigned, acknowledged late; farid and jonah did not answer (once
//	  each, though each held it twice).
//	T-8 CCTV (critical) -> ines, acked at 02:03 after the voice step (2m).
//	  SMS, voice.
//	T-9 police (critical) -> ines, never answered: as T-7, unanswered at
//	  02:17. SMS, voice, re-assigned; ines, farid, jonah did not answer.
//	T-10 account for staff (standard) -> farid; its step 4 escalates to
//	  the supervisor, farid again; unanswered at 02:14. SMS, voice, not
//	  re-assigned; farid did not answer.
//
// So: tasks 7, needed SMS 7, voice 6 (not T-4), re-assigned 4 (T-5,6,7,9),
// unanswered 3 (T-6, T-9, T-10), acknowledged late 1 (T-7); tasks not
// answered: farid 4 (T-6,7,9,10), jonah 2 (T-7,9), ben 1, hugo 1, ines 1.
//
// Objectives (target: every task acknowledged within it): D-1 (fire, 5m)
// met, slowest 1m45s; A-2 (medical, 4m) missed, T-6 not acknowledged
// (T-5's 4m0s is within), slowest 4m0s; A-3 (intruder, 3m) missed: T-7
// after 19m0s, T-9 and T-10 not acknowledged, slowest 19m0s; D-2
// (medical, 4m) missed: T-13 not acknowledged (the drill stopped at 14:15,
// after 14:04), slowest 2m30s. Live met 0 of 2, drills 1 of 2.
//
// Drills: D-1 fire evacuation at the harbour, 10 Feb (T-1 amara 1m30s, T-2
// farid 1m45s, T-3 simulated): PASS. D-2 medical at the depot, 24 Feb
// (T-11 dev 2m30s; T-13 dev never: to the depot supervisor grace at 14:08,
// day 50, even; unanswered 14:13): FAIL, non-responders dev and grace.
// Started 2, completed 2, passed 1; plans drilled 2 of 3.
// Schedule: fire at the harbour every 28 days from 9 Feb: due 9 Feb,
// planned 1, held 1 (D-1); medical at the depot every 14 days from 19 Jan:
// due 2 and 16 Feb, planned 2, held 1 (D-2); intruder at the harbour every
// 30 days from 20 Jan: due 19 Feb, planned 1, held 0. Planned 4, held 2.
// The previous period: fire not yet due (it starts 9 Feb), medical 19 Jan,
// intruder 20 Jan: planned 2, held 0.
//
// Open at the end (1 Mar 00:00): INC-10 (25 Feb 16:00, 80h, acknowledged)
// and INC-11 (27 Feb 22:00, 26h, not). At the previous end: none.
//
// Corrective actions: CA-1 INC-1 (30 Jan, due 5 Feb, done 4 Feb, verified
// effective 6 Feb); CA-2 review grace (31 Jan, due 20 Feb, done 19 Feb,
// effective 26 Feb); CA-3 review farid (31 Jan, due 27 Feb, open:
// overdue); CA-4 INC-2 ben (2 Feb, due 16 Feb, done 10 Feb, ineffective 26
// Feb); CA-5 D-1 jonah (10 Feb, due 12 Mar, done 16 Feb); CA-6 D-2 jonah (24
// Feb, due 26 Mar, open); CA-7 INC-10 farid (26 Feb, due 10 Mar, open).
// Raised in February 4 (CA-4..7), in January 3; done in February 4 (CA-1,
// 4, 5, 2), in January 0; overdue at the end 1 (CA-3), at January's end 0.
// Review actions: CA-2, CA-3. The others: CA-1, CA-4, CA-5, CA-6, CA-7.
// Now (1 Mar): open 3 (CA-3, 6, 7), overdue 1 (CA-3), effective 2 (CA-1,
// 2), ineffective 1 (CA-4).
//
// Previous period: INC-1 only: TTA 5m, TTR 30m.
// Qualifications on 1 Mar: Grace's SIA licence expired 14 Feb (no roster
// of hers requires it); Elena's first aid expires 15 Mar (depot-first-aider
// requires it).
func TestReviewPackOfAScriptedMonth(t *testing.T) {
	h := playMonth(t)
	b := report.New(h.Config, h.Store)
	r := monthReview(t, b, "")
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("incidents", r.Incidents, 10)
	check("by site", r.BySite, "[{harbour 6} {depot 4}]")
	check("by category", r.ByCategory, "[{intrusion 4} {medical 1} {theft 2} {suspicious-activity 2} {hazard 1}]")
	check("by severity", r.BySeverity, "[{sev1 2} {sev2 3} {sev3 4} {sev4 1}]")
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
	check("all", stats(r.All), fmt.Sprintf("All incidents n=10 tta 8 %v/none ttr 8 %v/none", m(5), m(90)))
	check("harbour", stats(r.BySiteTimes[0]), fmt.Sprintf("harbour n=6 tta 4 %v/none ttr 4 %v/none", m(5), m(60)))
	check("depot", stats(r.BySiteTimes[1]), fmt.Sprintf("depot n=4 tta 4 %v/%v ttr 4 %v/%v", m(5), m(8), m(90), m(240)))
	check("shifts", len(r.ByShift), 2)
	check("day shift", stats(r.ByShift[0]), fmt.Sprintf("07:00–19:00 n=5 tta 5 %v/%v ttr 4 %v/none", m(4), m(8), m(60)))
	check("night shift", stats(r.ByShift[1]), fmt.Sprintf("19:00–07:00 n=5 tta 3 %v/none ttr 4 %v/none", m(10), m(120)))

	check("live activations", r.Activations, 2)
	check("live tasks", r.Tasks, 7)
	check("needed sms", r.TasksSMS, 7)
	check("needed voice", r.TasksVoice, 6)
	check("re-assigned", r.TasksReassigned, 4)
	var unanswered, late []string
	for _, s := range r.Unanswered {
		unanswered = append(unanswered, s.Task.ID()+" "+strings.Join(s.NotAnswered, "+"))
	}
	for _, s := range r.AckedLate {
		late = append(late, fmt.Sprintf("%s %s %v %s", s.Task.ID(), s.AckedBy, s.TimeToAck(), strings.Join(s.NotAnswered, "+")))
	}
	check("unanswered", unanswered, "[T-6 ben+farid T-9 ines+farid+jonah T-10 farid]")
	check("acknowledged late", late, "[T-7 elena 19m0s farid+jonah]")
	check("non-responders", r.NonResponders, "[{farid 4} {jonah 2} {ben 1} {hugo 1} {ines 1}]")

	var objectives []string
	for _, o := range r.Objectives {
		objectives = append(objectives, fmt.Sprintf("%s %s %v %s (%s)", o.Ref, o.Result, o.Slowest, o.Target, o.Why))
	}
	check("objectives", objectives, "[D-1 met 1m45s 5m0s () A-2 missed 4m0s 4m0s (T-6 not acknowledged) "+
		"A-3 missed 19m0s 3m0s (T-7 acknowledged after 19m0s; T-9 not acknowledged; T-10 not acknowledged) D-2 missed 2m30s 4m0s (T-13 not acknowledged)]")
	var plans []string
	for _, p := range r.Plans {
		plans = append(plans, fmt.Sprintf("%s live %d/%d drill %d/%d", p.Plan, p.Live[report.ObjectiveMet], p.Live[report.ObjectiveMissed], p.Drill[report.ObjectiveMet], p.Drill[report.ObjectiveMissed]))
	}
	check("plans", plans, "[fire-evacuation live 0/0 drill 1/0 intruder-lockdown live 0/1 drill 0/0 medical-emergency live 0/1 drill 0/1]")

	var drills []string
	for _, o := range r.Drills {
		drills = append(drills, fmt.Sprintf("%s %s passed=%v slowest=%v non=%v", o.Drill.ID(), o.Drill.Status, o.Passed, o.Slowest, o.NonResponders))
	}
	check("drills", drills, "[D-1 stopped passed=true slowest=1m45s non=[] D-2 stopped passed=false slowest=2m30s non=[dev grace]]")
	check("completed", r.DrillsCompleted, 2)
	check("passed", r.Passed, 1)
	check("not drilled", r.PlansNotDrilled, "[intruder-lockdown]")
	var schedule []string
	for _, s := range r.Schedule {
		schedule = append(schedule, fmt.Sprintf("%s@%s due %v held %v", s.Plan, s.Site, s.Due, s.Held))
	}
	check("schedule", schedule, "[fire-evacuation@harbour due [2026-02-09] held [D-1] medical-emergency@depot due [2026-02-02 2026-02-16] held [D-2] intruder-lockdown@harbour due [2026-02-19] held []]")
	planned, held := r.Planned()
	check("planned, held", fmt.Sprint(planned, held), "4 2")

	var open []string
	for _, o := range r.OpenAtEnd {
		open = append(open, fmt.Sprintf("%s %v %v", o.Incident.ID(), o.Age, o.Acknowledged))
	}
	check("open at the end", open, "[INC-10 80h0m0s true INC-11 26h0m0s false]")
	check("actions raised, done, overdue", fmt.Sprint(r.ActionsRaised, r.ActionsDone, r.ActionsOverdue), "4 4 1")
	ids := func(list []*store.CorrectiveAction) []string {
		var out []string
		for _, a := range list {
			out = append(out, fmt.Sprintf("%s %s %s %s %s", a.ID(), a.Subject, a.Owner, a.Status, a.Effective))
		}
		return out
	}
	check("review actions", ids(r.ReviewActions), "[CA-2 review grace verified effective CA-3 review farid open ]")
	check("actions", ids(r.Actions), "[CA-1 INC-1 ben verified effective CA-4 INC-2 ben verified ineffective CA-5 D-1 jonah done  CA-6 D-2 jonah open  CA-7 INC-10 farid open ]")
	check("expired", r.Expired, "[{grace sia-licence 2026-02-14 true []}]")
	check("expiring", r.Expiring, "[{elena first-aid 2026-03-15 false [depot-first-aider]}]")

	// The previous period.
	p := r.Previous
	check("previous period", fmt.Sprint(p.From.Format(time.DateOnly), " ", p.To.Format(time.DateOnly)), "2026-01-04 2026-02-01")
	check("previous all", stats(p.All), fmt.Sprintf("All incidents n=1 tta 1 %v/%v ttr 1 %v/%v", m(5), m(5), m(30), m(30)))
	pp, ph := p.Planned()
	check("previous planned, held", fmt.Sprint(pp, ph), "2 0")
	check("previous actions raised, done, overdue", fmt.Sprint(p.ActionsRaised, p.ActionsDone, p.ActionsOverdue), "3 0 0")
	check("previous open at the end", len(p.OpenAtEnd), 0)

	// The audit chain, as it stood.
	if r.AuditErr != nil || !r.Audit.OK() || !r.Audit.Signed || !r.Audit.KeyChecked || r.Audit.Head == "" || r.Audit.Head != r.Head.Hash {
		t.Errorf("audit: %+v %+v %v", r.Audit, r.Head, r.AuditErr)
	}

	// One site: the depot's share only.
	d := monthReview(t, b, "depot")
	check("depot incidents", d.Incidents, 4)
	check("depot all", stats(d.All), fmt.Sprintf("All incidents n=4 tta 4 %v/%v ttr 4 %v/%v", m(5), m(8), m(90), m(240)))
	check("depot sites", len(d.BySiteTimes), 1)
	check("depot live tasks", d.Tasks, 4)
	check("depot drills", len(d.Drills), 1)
	check("depot not drilled", d.PlansNotDrilled, "[fire-evacuation intruder-lockdown]")
	check("depot schedule", len(d.Schedule), 1)
	check("depot open at the end", len(d.OpenAtEnd), 0)
	check("depot actions", ids(d.Actions), "[CA-6 D-2 jonah open ]")

	// The rendered pack carries the same numbers.
	var md, csv strings.Builder
	doc := b.ReviewDoc(r)
	if err := doc.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| All incidents | 10 | 8 | 5m0s | not acknowledged | 8 | 1h30m0s | not resolved |",
		"| Shift 19:00–07:00 | 5 | 3 | 10m0s | not acknowledged | 4 | 2h0m0s | not resolved |",
		"- **Tasks that needed SMS:** 7",
		"| Farid Haddad | 4 |",
		"| T-7 | A-3 | Lock the perimeter gates and hold the gatehouse | Riverside Depot | Elena Rossi | 19m0s | Farid Haddad, Jonah Reid |",
		"- **Plans not drilled in the period:** intruder-lockdown",
		"| Intruder lockdown | Harbour Point HQ | 30 days | 2026-02-19 | 1 | 0 | none |",
		"| Incidents raised | 10 | 1 | +9 |",
		"| Drills planned | 4 | 2 | +2 |",
		"| TTR median | 1h30m0s | 30m0s | +1h0m0s |",
		"| TTA p90 | not acknowledged | 5m0s | - |",
		"| A-3 | Intruder lockdown | live | Riverside Depot | 2026-02-18 02:01:00 GMT | 3m0s | 19m0s | missed | T-7 acknowledged after 19m0s; T-9 not acknowledged; T-10 not acknowledged |",
		"| Medical emergency | 4m0s | 0 | 1 | 0 | 4m0s | 0 | 1 | 2m30s |",
		"| INC-11 | Harbour Point HQ | suspicious-activity | sev3 | 2026-02-27 22:00:00 GMT | 26h0m0s | no | open |",
		"| CA-3 | Brief supervisors on the critical policy | Farid Haddad | 2026-01-31 12:05:00 GMT | 2026-02-27 | open (overdue) | - | - |",
		"| CA-4 | INC-2 | Harbour Point HQ | Replace the fence panel at gate B | Ben Walsh | 2026-02-02 10:30:00 GMT | 2026-02-16 | verified | 2026-02-10 08:00:00 GMT by Ben Walsh: new panel fitted | ineffective (Jonah Reid, 2026-02-26 09:00:00 GMT: gate B forced again on 25 Feb) |",
		"- **Overdue now:** 1",
		"| Grace Kim | sia-licence | 2026-02-14 | none |",
		"| Elena Rossi | first-aid | 2026-03-15 | depot-first-aider |",
		"- **Status:** intact: ",
		"- **Head (SHA-256):** " + r.Audit.Head,
		"- **Signature:** Ed25519, every head checked against the organization's public key",
		"| Chair of the review |  |  |  |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown pack lacks %q", want)
		}
	}
	for _, h := range report.ReviewSections {
		if !strings.Contains(md.String(), "\n## "+h+"\n") {
			t.Errorf("markdown pack lacks the section %q", h)
		}
	}
	if t.Failed() {
		t.Logf("markdown pack:\n%s", md.String())
	}
	if err := doc.CSV(&csv); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Escalations (live plans),facts,Tasks that needed voice,6\n",
		"Incidents,By severity,sev3,4\n",
		"Response times,\"Time to acknowledge (TTA) and to resolve (TTR); median and 90th percentile, nearest rank; incidents never acknowledged (or not resolved) rank last\",All incidents,10,8,300,not acknowledged,8,5400,not resolved\n",
		"Comparison with the previous period,Response times,TTR median,5400,1800,3600\n",
		"Incidents open at the end of the period,Incidents open at the end of the period,INC-10,Harbour Point HQ,intrusion,sev2,2026-02-25 16:00:00 GMT,288000,yes,acknowledged\n",
	} {
		if !strings.Contains(csv.String(), want) {
			t.Errorf("csv pack lacks %q:\n%s", want, csv.String())
		}
	}
}
