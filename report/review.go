package report

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// ReviewOptions choose what a management review pack covers.
type ReviewOptions struct {
	// From and To bound the period: incidents raised, plans triggered and
	// drills started at or after From and before To. The previous period
	// is the one of the same length that ends at From.
	From, To time.Time
	// Site limits the pack to one site ("" for all).
	Site string
	// Now is when the pack is made: records are read as they stand then
	// (an acknowledgement after To still counts), qualifications expired
	// by then and expiring in the 30 days after it are listed; the
	// store's clock when zero.
	Now time.Time
	// Verify is what the audit chain is checked against: the key its
	// heads must be signed with, a seal log.
	Verify store.VerifyOptions
}

// Count is a label and how many.
type Count struct {
	Label string
	N     int
}

// Stats summarises the time incidents took to reach a point (their
// acknowledgement, their resolution): the median and the 90th
// percentile by the nearest-rank method (the value at rank ceil(p/100 *
// N) of the sorted list, so the median of an even count is the lower of
// the two middle values). Incidents that never reached the point (not
// acknowledged, not resolved) count in N and rank after every one that
// did: a percentile that falls on one of them is not reached
// (MedianReached, P90Reached false), and its time is unknown.
type Stats struct {
	// N counts the incidents; Reached how many reached the point.
	N, Reached    int
	Median, P90   time.Duration
	MedianReached bool
	P90Reached    bool
}

// GroupStats is the response times of one group of incidents.
type GroupStats struct {
	Label     string
	Incidents int
	TTA, TTR  Stats
}

// Expiry is a qualification that has expired or expires soon.
type Expiry struct {
	Person, Qualification string
	Expires               configs.Date
	// Expired: its last valid day is before the day the pack is made.
	Expired bool
	// RequiredBy lists the rosters the person is on that require it.
	RequiredBy []string
}

// Objective results: whether every task of an activation or drill was
// acknowledged within its plan's target.
const (
	ObjectiveMet       = "met"
	ObjectiveMissed    = "missed"
	ObjectiveNotJudged = "not judged"
	ObjectiveNoTarget  = "no target"
)

// Objective is one live activation or drill judged against its plan's
// target (every task acknowledged within it).
type Objective struct {
	Ref      string // A-n, or D-n for a drill
	Plan     string
	PlanName string
	Site     string
	Drill    bool
	At       time.Time
	Target   time.Duration
	// Result is ObjectiveMet, ObjectiveMissed, ObjectiveNotJudged (a live
	// plan stood down, or still running, before any task could miss its
	// target) or ObjectiveNoTarget.
	Result string
	// Slowest is the longest time to acknowledge among its acknowledged
	// tasks (0: none).
	Slowest time.Duration
	// Why names the tasks that missed it.
	Why string
}

// PlanObjectives tallies one plan's objectives, live and drilled.
type PlanObjectives struct {
	Plan, Name string
	Target     time.Duration
	// Live and Drill count objectives by result.
	Live, Drill map[string]int
	// SlowestLive and SlowestDrill are the longest times to acknowledge
	// (0: nothing acknowledged); Any* say whether there was any.
	SlowestLive, SlowestDrill time.Duration
	AnyLive, AnyDrill         bool
}

// ScheduledDrills is one drills.schedule entry in a period: the days a
// drill was due and the drills held.
type ScheduledDrills struct {
	Plan, PlanName, Site string
	Every                time.Duration
	Due                  []configs.Date
	// Held are the drills of the plan at the site started in the period.
	Held []string
}

// OpenIncident is an incident still open at the end of a period.
type OpenIncident struct {
	Incident *store.Incident
	// Age is how long it had been open at the end of the period.
	Age time.Duration
	// Acknowledged: acknowledged before the end of the period.
	Acknowledged bool
}

// Period is the figures of one period. Drills never count in the
// incident and live plan figures.
type Period struct {
	From, To time.Time
	// Incidents raised in the period, and by site, category, severity.
	Incidents                      int
	BySite, ByCategory, BySeverity []Count
	// All, BySiteTimes (every site, with or without incidents) and
	// ByShift are the response times: TTA from the raise to the
	// acknowledgement; TTR from the raise to the resolution.
	All                  GroupStats
	BySiteTimes, ByShift []GroupStats
	// Live plan activations in the period and their tasks.
	Activations, Tasks int
	// TasksSMS and TasksVoice count live tasks that went out by SMS (by
	// voice) before anyone acknowledged them; TasksReassigned those
	// escalated to someone else.
	TasksSMS, TasksVoice, TasksReassigned int
	// Unanswered are the live tasks whose escalation ran out and that
	// nobody has answered since; AckedLate those answered only after it
	// ran out.
	Unanswered, AckedLate []*TaskStory
	// NonResponders counts, per person, the live tasks they held and did
	// not answer (however often a repeating policy handed them back).
	NonResponders []Count
	// Drills started in the period, and how many were completed
	// (stopped) and passed.
	Drills                  []*DrillOutcome
	DrillsCompleted, Passed int
	// PlansNotDrilled lists the plans no drill exercised in the period.
	PlansNotDrilled []string
	// Objectives judges every live activation and drill of the period
	// against its plan's target, oldest first; Plans tallies them by plan.
	Objectives []Objective
	Plans      []PlanObjectives
	// Schedule is drills.schedule in the period: drills planned and held.
	Schedule []ScheduledDrills
	// OpenAtEnd are the incidents open at the end of the period (raised
	// in it or before), oldest first.
	OpenAtEnd []OpenIncident
	// Obligations tallies, per contact kind, the obligation clocks of the
	// period's incidents: met on time, met late, missed (not met by the
	// deadline and still not met when the pack is made) and pending.
	Obligations []ObligationTally
	// ObligationsLateOrMissed lists the clocks met late or missed.
	ObligationsLateOrMissed []*store.Obligation
	// RollCalls are the live roll calls started in the period (at the
	// site, when the pack is for one), oldest first; RollCallDrills counts
	// the drilled ones, which count nowhere else.
	RollCalls      []*RollCallOutcome
	RollCallDrills int
	// Checkins are the lone-worker sessions started in the period.
	Checkins []*CheckinSession
	// ActionsRaised and ActionsDone count corrective actions recorded and
	// done in the period; ActionsOverdue those past their due day at its
	// end and not done by then.
	ActionsRaised, ActionsDone, ActionsOverdue int
}

// Planned is how many drills drills.schedule had due in the period, and
// Held how many of those plans' drills were held at their sites.
func (p *Period) Planned() (planned, held int) {
	for _, s := range p.Schedule {
		planned += len(s.Due)
		held += len(s.Held)
	}
	return planned, held
}

// Met counts the period's objectives by result, live or drilled.
func (p *Period) Met(drill bool) map[string]int {
	out := map[string]int{}
	for _, o := range p.Objectives {
		if o.Drill == drill {
			out[o.Result]++
		}
	}
	return out
}

// Review is the management review pack as numbers (ISO 18788 clause 9.3):
// the period's figures, the previous period's for comparison, and what
// stands at the time it is made.
type Review struct {
	Opts ReviewOptions
	Period
	// Previous is the period of the same length before this one.
	Previous Period
	// ReviewActions are the actions management reviews decided on that
	// were not verified before the period began (the earlier reviews'
	// included); Actions the corrective actions of incidents, plans and
	// drills recorded before the period ended and not verified before it
	// began. Both as they stand when the pack is made.
	ReviewActions, Actions []*store.CorrectiveAction
	// Expired and Expiring are qualifications expired by the day the pack
	// is made, and expiring in the 30 days after it.
	Expired, Expiring []Expiry
	// Audit is the chain's verification when the pack was made, Head its
	// head then; AuditErr says why it could not be read.
	Audit    *store.AuditVerification
	Head     store.AuditHead
	AuditErr error
}

// Review computes the management review pack.
func (b *Builder) Review(ctx context.Context, o ReviewOptions) (*Review, error) {
	if o.Now.IsZero() {
		o.Now = b.now()
	}
	if !o.To.After(o.From) {
		return nil, fmt.Errorf("review: the period must end after it starts (%s to %s)", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	recs, err := b.st.AllRecords(ctx)
	if err != nil {
		return nil, err
	}
	h, err := b.history(ctx)
	if err != nil {
		return nil, err
	}
	r := &Review{Opts: o}
	obls, err := b.st.ObligationsRecords(ctx, recs.Incidents)
	if err != nil {
		return nil, err
	}
	b.obls = obls
	if r.Period, err = b.period(ctx, recs, h, o.From, o.To, o); err != nil {
		return nil, err
	}
	if r.Previous, err = b.period(ctx, recs, h, o.From.Add(-o.To.Sub(o.From)), o.From, o); err != nil {
		return nil, err
	}

	// Corrective actions as they stand, of the period and still pending
	// from before it.
	for _, a := range recs.Actions {
		if !a.Created.Before(o.To) || a.Status == store.ActionVerified && a.VerifiedAt.Before(o.From) {
			continue
		}
		if a.Subject == store.ReviewSubject {
			r.ReviewActions = append(r.ReviewActions, a)
		} else if o.Site == "" || b.actionSite(recs, a) == o.Site {
			r.Actions = append(r.Actions, a)
		}
	}

	// Qualifications: a qualification "expires: 2026-03-15" is valid
	// through that day.
	loc := b.cfg.Location()
	y, m, d := o.Now.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	horizon := today.AddDate(0, 0, 30)
	for _, p := range b.cfg.People {
		if o.Site != "" && !b.rosteredAt(p.ID, o.Site) {
			continue
		}
		for _, q := range p.Qualifications {
			at := q.Expires.In(loc)
			e := Expiry{Person: p.ID, Qualification: q.Name, Expires: q.Expires, Expired: at.Before(today), RequiredBy: b.requiredBy(p.ID, q.Name)}
			switch {
			case e.Expired:
				r.Expired = append(r.Expired, e)
			case !at.After(horizon):
				r.Expiring = append(r.Expiring, e)
			}
		}
	}
	for _, list := range [][]Expiry{r.Expired, r.Expiring} {
		sort.SliceStable(list, func(i, j int) bool { return list[i].Expires.In(loc).Before(list[j].Expires.In(loc)) })
	}

	// The audit chain as it stands now.
	r.Audit, r.AuditErr = b.st.VerifyAudit(ctx, o.Verify)
	if r.AuditErr == nil {
		r.Head, r.AuditErr = b.st.AuditHead(ctx)
	}
	return r, nil
}

// period works out the figures of [from, to).
func (b *Builder) period(ctx context.Context, recs *store.Records, h history, from, to time.Time, o ReviewOptions) (Period, error) {
	in := func(t time.Time, site string) bool {
		return !t.Before(from) && t.Before(to) && (o.Site == "" || site == o.Site)
	}
	r := Period{From: from, To: to}

	// Incidents.
	site, cat, sev := map[string]int{}, map[string]int{}, map[string]int{}
	var all []*store.Incident
	bySite, byShift := map[string][]*store.Incident{}, map[string][]*store.Incident{}
	for _, inc := range recs.Incidents {
		if o.Site == "" || inc.Site == o.Site {
			if inc.Created.Before(to) && (inc.ResolvedAt.IsZero() || !inc.ResolvedAt.Before(to)) {
				r.OpenAtEnd = append(r.OpenAtEnd, OpenIncident{Incident: inc, Age: to.Sub(inc.Created),
					Acknowledged: !inc.AckedAt.IsZero() && inc.AckedAt.Before(to)})
			}
		}
		if !in(inc.Created, inc.Site) {
			continue
		}
		all = append(all, inc)
		site[inc.Site]++
		cat[inc.Category]++
		sev[inc.Severity]++
		bySite[inc.Site] = append(bySite[inc.Site], inc)
		sh := b.shiftLabel(inc.Site, inc.Created)
		byShift[sh] = append(byShift[sh], inc)
	}
	r.Incidents = len(all)
	r.tallyObligations(b, all, o.Now)
	var siteOrder []string
	for _, s := range b.cfg.Sites {
		siteOrder = append(siteOrder, s.ID)
	}
	r.BySite = counts(site, siteOrder)
	r.ByCategory = counts(cat, b.cfg.Categories)
	r.BySeverity = counts(sev, store.Severities)
	r.All = groupStats("All incidents", all)
	for _, id := range siteOrder {
		if o.Site == "" || id == o.Site {
			r.BySiteTimes = append(r.BySiteTimes, groupStats(id, bySite[id]))
		}
	}
	var shifts []string
	for k := range byShift {
		shifts = append(shifts, k)
	}
	sort.Strings(shifts)
	for _, k := range shifts {
		r.ByShift = append(r.ByShift, groupStats(k, byShift[k]))
	}

	// Live plans: drills are left out.
	missed := map[string]int{}
	for _, a := range recs.Activations {
		if a.Drill > 0 || !in(a.Created, a.Site) {
			continue
		}
		r.Activations++
		var tasks []*store.Task
		for _, tn := range a.Tasks {
			t, ok := recs.Tasks[tn]
			if !ok {
				continue
			}
			tasks = append(tasks, t)
			s := story(t, h[t.ID()])
			r.Tasks++
			if s.Used(configs.ChannelSMS) {
				r.TasksSMS++
			}
			if s.Used(configs.ChannelVoice) {
				r.TasksVoice++
			}
			if len(s.Holders) > 1 {
				r.TasksReassigned++
			}
			switch {
			case s.Unanswered():
				r.Unanswered = append(r.Unanswered, s)
			case s.AckedLate():
				r.AckedLate = append(r.AckedLate, s)
			}
			for _, p := range s.NotAnswered {
				missed[p]++
			}
		}
		r.Objectives = append(r.Objectives, b.judge(a, tasks, o.Now))
	}
	r.NonResponders = counts(missed, nil)

	// Drills.
	drilled := map[string]bool{}
	for _, d := range recs.Drills {
		if !in(d.Started, d.Site) {
			continue
		}
		do, err := b.drillOutcome(ctx, h, d)
		if err != nil {
			return r, err
		}
		r.Drills = append(r.Drills, do)
		drilled[d.Plan] = true
		if d.Status == "stopped" {
			r.DrillsCompleted++
		}
		if do.Passed {
			r.Passed++
		}
		tasks := make([]*store.Task, len(do.Tasks))
		for i, f := range do.Tasks {
			tasks[i] = f.Task
		}
		r.Objectives = append(r.Objectives, b.judge(do.Act, tasks, o.Now))
	}
	for _, p := range b.cfg.Plans {
		if !drilled[p.ID] {
			r.PlansNotDrilled = append(r.PlansNotDrilled, p.ID)
		}
	}
	sort.SliceStable(r.Objectives, func(i, j int) bool { return r.Objectives[i].At.Before(r.Objectives[j].At) })
	for _, p := range b.cfg.Plans {
		po := PlanObjectives{Plan: p.ID, Name: p.Name, Target: p.Target.D(), Live: map[string]int{}, Drill: map[string]int{}}
		for _, ob := range r.Objectives {
			if ob.Plan != p.ID {
				continue
			}
			if ob.Drill {
				po.Drill[ob.Result]++
				po.AnyDrill = true
				po.SlowestDrill = max(po.SlowestDrill, ob.Slowest)
			} else {
				po.Live[ob.Result]++
				po.AnyLive = true
				po.SlowestLive = max(po.SlowestLive, ob.Slowest)
			}
		}
		r.Plans = append(r.Plans, po)
	}

	// Drills planned against drills held.
	loc := b.cfg.Location()
	for _, sd := range b.cfg.Drills.Schedule {
		if o.Site != "" && sd.Site != o.Site {
			continue
		}
		e := ScheduledDrills{Plan: sd.Plan, PlanName: sd.Plan, Site: sd.Site, Every: sd.Every.D(), Due: sd.Due(from, to, loc)}
		if p, ok := b.cfg.Plan(sd.Plan); ok {
			e.PlanName = p.Name
		}
		for _, d := range r.Drills {
			if d.Drill.Plan == sd.Plan && d.Drill.Site == sd.Site {
				e.Held = append(e.Held, d.Drill.ID())
			}
		}
		r.Schedule = append(r.Schedule, e)
	}

	// Corrective actions raised, done and overdue.
	endDay := to.In(loc)
	end := configs.Date{Year: endDay.Year(), Month: int(endDay.Month()), Day: endDay.Day()}.String()
	for _, a := range recs.Actions {
		if o.Site != "" && b.actionSite(recs, a) != o.Site {
			continue
		}
		if !a.Created.Before(from) && a.Created.Before(to) {
			r.ActionsRaised++
		}
		if !a.DoneAt.IsZero() && !a.DoneAt.Before(from) && a.DoneAt.Before(to) {
			r.ActionsDone++
		}
		if a.Created.Before(to) && a.Due != "" && a.Due < end && (a.DoneAt.IsZero() || !a.DoneAt.Before(to)) {
			r.ActionsOverdue++
		}
	}

	// Roll calls and lone-worker check-ins, told from the audit chain.
	rcs, err := b.st.RollCalls(ctx, from, to)
	if err != nil {
		return r, err
	}
	for _, rc := range rcs {
		if o.Site != "" && !slices.Contains(rc.Sites, o.Site) {
			continue
		}
		if rc.Drill {
			r.RollCallDrills++
			continue
		}
		out, err := b.rollCallOutcome(ctx, h, rc)
		if err != nil {
			return r, err
		}
		r.RollCalls = append(r.RollCalls, out)
	}
	if r.Checkins, err = b.checkinSessions(ctx, h, from, to, o.Site); err != nil {
		return r, err
	}
	return r, nil
}

// RollCallFigures are a period's roll calls in numbers: people asked,
// never answered, needing help; the time to account for everyone in each
// roll call (median and longest, nearest rank; a roll call where someone
// never answered has none and ranks last).
type RollCallFigures struct {
	RollCalls, Asked, NeverAnswered, Help int
	Everyone                              Stats
	Longest                               time.Duration
	// Unaccounted counts the roll calls where someone never answered.
	Unaccounted int
}

// RollCallFigures sums the period's roll calls.
func (p *Period) RollCallFigures() RollCallFigures {
	f := RollCallFigures{RollCalls: len(p.RollCalls)}
	var all []time.Duration
	for _, o := range p.RollCalls {
		n, last := o.Accounted()
		f.Asked += len(o.People)
		f.NeverAnswered += len(o.People) - n
		for _, a := range o.People {
			if a.Answer == store.AnswerHelp || a.Incident != "" {
				f.Help++
			}
		}
		if n == len(o.People) {
			all = append(all, last)
			f.Longest = max(f.Longest, last)
		} else {
			f.Unaccounted++
		}
	}
	f.Everyone = stats(all, len(p.RollCalls))
	return f
}

// CheckinFigures are a period's lone-worker check-ins in numbers.
type CheckinFigures struct {
	Sessions, Missed, Answered, Incidents int
	// Response is the time from a missed check-in to the check-in that
	// answered it (median and p90, nearest rank; one never answered ranks
	// last); Longest the longest of them.
	Response Stats
	Longest  time.Duration
}

// CheckinFigures sums the period's lone-worker sessions.
func (p *Period) CheckinFigures() CheckinFigures {
	f := CheckinFigures{Sessions: len(p.Checkins)}
	var resp []time.Duration
	for _, s := range p.Checkins {
		f.Incidents += len(s.Incidents)
		for _, m := range s.Missed {
			f.Missed++
			if d, ok := m.Response(); ok {
				f.Answered++
				resp = append(resp, d)
				f.Longest = max(f.Longest, d)
			}
		}
	}
	f.Response = stats(resp, f.Missed)
	return f
}

// judge says whether every task of act was acknowledged within its
// plan's target. A task nobody acknowledged misses it once the target has
// passed; a live plan stood down before that is not judged on it (a drill
// stopped early is: its tasks were not answered).
func (b *Builder) judge(act *store.Activation, tasks []*store.Task, now time.Time) Objective {
	ob := Objective{Ref: act.ID(), Plan: act.Plan, PlanName: act.PlanName, Site: act.Site, Drill: act.Drill > 0, At: act.Created, Target: act.Target}
	if ob.Drill {
		ob.Ref = store.FormatID("D", act.Drill)
	}
	if ob.Target == 0 {
		if p, ok := b.cfg.Plan(act.Plan); ok {
			ob.Target = p.Target.D()
		}
	}
	if ob.Target == 0 {
		ob.Result = ObjectiveNoTarget
		return ob
	}
	met, missed := 0, []string{}
	for _, t := range tasks {
		f := Figures(t)
		if f.Simulated {
			continue
		}
		deadline := t.Created.Add(ob.Target)
		switch {
		case f.Acked():
			ob.Slowest = max(ob.Slowest, f.TimeToAck())
			if f.TimeToAck() <= ob.Target {
				met++
			} else {
				missed = append(missed, fmt.Sprintf("%s acknowledged after %s", t.ID(), f.TimeToAck().Round(time.Second)))
			}
		case !ob.Drill && !act.ClosedAt.IsZero() && act.ClosedAt.Before(deadline):
		case now.Before(deadline) && act.ClosedAt.IsZero():
		default:
			missed = append(missed, t.ID()+" not acknowledged")
		}
	}
	switch {
	case len(missed) > 0:
		ob.Result, ob.Why = ObjectiveMissed, strings.Join(missed, "; ")
	case met > 0:
		ob.Result = ObjectiveMet
	default:
		ob.Result = ObjectiveNotJudged
	}
	return ob
}

// actionSite is the site of an action's subject (actions recorded before
// they kept one: their drill's).
func (b *Builder) actionSite(recs *store.Records, a *store.CorrectiveAction) string {
	if a.Site != "" || a.Drill == 0 {
		return a.Site
	}
	for _, d := range recs.Drills {
		if d.Num == a.Drill {
			return d.Site
		}
	}
	return ""
}

// requiredBy lists the rosters person is on that require qualification.
func (b *Builder) requiredBy(person, qualification string) []string {
	var out []string
	for _, r := range b.cfg.Rosters {
		if slices.Contains(r.Rotation.People, person) && slices.Contains(r.Requires, qualification) {
			out = append(out, r.ID)
		}
	}
	return out
}

func (b *Builder) rosteredAt(person, site string) bool {
	for _, r := range b.cfg.Rosters {
		if r.Site != site {
			continue
		}
		for _, p := range r.Rotation.People {
			if p == person {
				return true
			}
		}
	}
	return false
}

// counts orders a tally: the labels of order first (those with a count),
// then the rest by count, highest first, then by label.
func counts(m map[string]int, order []string) []Count {
	var out []Count
	seen := map[string]bool{}
	for _, l := range order {
		if m[l] > 0 {
			out = append(out, Count{l, m[l]})
		}
		seen[l] = true
	}
	var rest []Count
	for l, n := range m {
		if !seen[l] && n > 0 {
			rest = append(rest, Count{l, n})
		}
	}
	sort.Slice(rest, func(i, j int) bool {
		return rest[i].N > rest[j].N || rest[i].N == rest[j].N && rest[i].Label < rest[j].Label
	})
	return append(out, rest...)
}

func groupStats(label string, incs []*store.Incident) GroupStats {
	var tta, ttr []time.Duration
	for _, inc := range incs {
		if d, ok := incidentTTA(inc); ok {
			tta = append(tta, d)
		}
		if d, ok := incidentTTR(inc); ok {
			ttr = append(ttr, d)
		}
	}
	return GroupStats{Label: label, Incidents: len(incs), TTA: stats(tta, len(incs)), TTR: stats(ttr, len(incs))}
}

// stats summarises the times of the n incidents of a group, of which
// those in ds reached the point.
func stats(ds []time.Duration, n int) Stats {
	st := Stats{N: n, Reached: len(ds)}
	if n == 0 {
		return st
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	st.Median, st.MedianReached = nearestRank(s, n, 50)
	st.P90, st.P90Reached = nearestRank(s, n, 90)
	return st
}

// nearestRank is the p-th percentile of n values of which sorted are the
// known ones, smallest first, and the rest are longer: the value at rank
// ceil(p/100 * n), counting from 1; false when that rank is one of the
// unknown ones.
func nearestRank(sorted []time.Duration, n, p int) (time.Duration, bool) {
	rank := max(int(math.Ceil(float64(p)/100*float64(n))), 1)
	if rank > len(sorted) {
		return 0, false
	}
	return sorted[rank-1], true
}

// shiftLabel names the shift an instant falls in at a site: from the
// site's guard roster (or its first roster), "07:00–19:00" for a 12-hour
// rotation handed over at 07:00, in local time.
func (b *Builder) shiftLabel(site string, t time.Time) string {
	r, ok := b.cfg.RosterFor(site, configs.RoleGuard)
	if !ok {
		for i := range b.cfg.Rosters {
			if b.cfg.Rosters[i].Site == site {
				r, ok = &b.cfg.Rosters[i], true
				break
			}
		}
	}
	if !ok || r.Rotation.Shift.D() <= 0 || r.Rotation.Shift.D() >= 24*time.Hour || (24*time.Hour)%r.Rotation.Shift.D() != 0 {
		return "all day"
	}
	lt := t.In(b.cfg.Location())
	mins := lt.Hour()*60 + lt.Minute()
	h := r.Rotation.Handover.Hour*60 + r.Rotation.Handover.Minute
	length := int(r.Rotation.Shift.D() / time.Minute)
	start := (h + ((mins-h+1440)%1440)/length*length) % 1440
	end := (start + length) % 1440
	return fmt.Sprintf("%02d:%02d–%02d:%02d", start/60, start%60, end/60, end%60)
}

func minutes(d time.Duration) float64 { return math.Round(d.Minutes()*10) / 10 }

// pct writes a percentile of n incidents: its time, or none when it was
// not reached ("-" when there are no incidents).
func pct(d time.Duration, reached bool, n int, none string) string {
	switch {
	case n == 0:
		return "-"
	case !reached:
		return none
	}
	return d.Round(time.Second).String()
}

// ObligationTally counts one contact kind's obligation clocks.
type ObligationTally struct {
	Kind                          string
	OnTime, Late, Missed, Pending int
}

// tallyObligations counts the obligation clocks of incs by contact kind,
// in the order the kinds first appear in the config's contacts.
func (p *Period) tallyObligations(b *Builder, incs []*store.Incident, now time.Time) {
	var order []string
	for _, c := range b.cfg.Contacts {
		if !slices.Contains(order, c.Kind) {
			order = append(order, c.Kind)
		}
	}
	by := map[string]*ObligationTally{}
	for _, inc := range incs {
		for _, o := range b.obls[inc.Num] {
			t := by[o.Kind]
			if t == nil {
				t = &ObligationTally{Kind: o.Kind}
				by[o.Kind] = t
				if !slices.Contains(order, o.Kind) {
					order = append(order, o.Kind)
				}
			}
			switch {
			case o.Status == store.ObligationMet && !o.Late():
				t.OnTime++
			case o.Status == store.ObligationMet:
				t.Late++
				p.ObligationsLateOrMissed = append(p.ObligationsLateOrMissed, o)
			case o.Missed(now):
				t.Missed++
				p.ObligationsLateOrMissed = append(p.ObligationsLateOrMissed, o)
			default:
				t.Pending++
			}
		}
	}
	for _, k := range order {
		if t := by[k]; t != nil {
			p.Obligations = append(p.Obligations, *t)
		}
	}
}
