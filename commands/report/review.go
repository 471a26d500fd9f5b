package report

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// ReviewOptions choose what a management review pack covers.
type ReviewOptions struct {
	// From and To bound the period: incidents raised, plans triggered and
	// drills started at or after From and before To.
	From, To time.Time
	// Site limits the pack to one site ("" for all).
	Site string
	// Now is when the pack is made (qualifications expiring in the 30 days
	// after it are listed); the store's clock when zero.
	Now time.Time
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

// Expiry is a qualification that expires soon.
type Expiry struct {
	Person, Qualification string
	Expires               configs.Date
}

// Review is the management review pack as numbers. Drills never count in
// the incident and live plan figures.
type Review struct {
	Opts ReviewOptions
	// Incidents raised in the period, and by site, category, severity.
	Incidents                      int
	BySite, ByCategory, BySeverity []Count
	// All, BySiteTimes and ByShift are the response times: TTA from the
	// raise to the first acknowledgement (or the resolution, when it came
	// without one); TTR from the raise to the resolution.
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
	// OpenActions are the corrective actions still open.
	OpenActions []*store.CorrectiveAction
	// Expiring are qualifications expiring in the 30 days after Now.
	Expiring []Expiry
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
	in := func(t time.Time, site string) bool {
		return !t.Before(o.From) && t.Before(o.To) && (o.Site == "" || site == o.Site)
	}
	r := &Review{Opts: o}

	// Incidents.
	site, cat, sev := map[string]int{}, map[string]int{}, map[string]int{}
	var all []*store.Incident
	bySite, byShift := map[string][]*store.Incident{}, map[string][]*store.Incident{}
	for _, inc := range recs.Incidents {
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
		for _, tn := range a.Tasks {
			t, ok := recs.Tasks[tn]
			if !ok {
				continue
			}
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
	}
	r.NonResponders = counts(missed, nil)

	// Drills.
	drilled := map[string]bool{}
	for _, d := range recs.Drills {
		if !in(d.Started, d.Site) {
			continue
		}
		o, err := b.drillOutcome(ctx, h, d)
		if err != nil {
			return nil, err
		}
		r.Drills = append(r.Drills, o)
		drilled[d.Plan] = true
		if d.Status == "stopped" {
			r.DrillsCompleted++
		}
		if o.Passed {
			r.Passed++
		}
	}
	for _, p := range b.cfg.Plans {
		if !drilled[p.ID] {
			r.PlansNotDrilled = append(r.PlansNotDrilled, p.ID)
		}
	}

	// Corrective actions still open (of drills at the site, when one is
	// chosen).
	drillSite := map[int64]string{}
	for _, d := range recs.Drills {
		drillSite[d.Num] = d.Site
	}
	for _, a := range recs.Actions {
		if a.Status == store.ActionOpen && (o.Site == "" || drillSite[a.Drill] == o.Site) {
			r.OpenActions = append(r.OpenActions, a)
		}
	}

	// Qualifications expiring in the 30 days after Now: a qualification
	// "expires: 2026-03-15" is valid through that day.
	loc := b.cfg.Location()
	y, m, d := o.Now.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	horizon := today.AddDate(0, 0, 30)
	for _, p := range b.cfg.People {
		if o.Site != "" && !b.rosteredAt(p.ID, o.Site) {
			continue
		}
		for _, q := range p.Qualifications {
			if at := q.Expires.In(loc); !at.Before(today) && !at.After(horizon) {
				r.Expiring = append(r.Expiring, Expiry{Person: p.ID, Qualification: q.Name, Expires: q.Expires})
			}
		}
	}
	sort.SliceStable(r.Expiring, func(i, j int) bool {
		return r.Expiring[i].Expires.In(loc).Before(r.Expiring[j].Expires.In(loc))
	})
	return r, nil
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

// ReviewDoc lays the pack out as a document.
func (b *Builder) ReviewDoc(r *Review) *Doc {
	loc := b.cfg.Location()
	scope := "all sites"
	if r.Opts.Site != "" {
		scope = b.site(r.Opts.Site)
	}
	doc := &Doc{
		Title: "Management review pack: " + b.cfg.Organization,
		Subtitle: fmt.Sprintf("%s to %s (%s), %s. Generated %s from the muster records. Drills are never counted in the incident and live plan figures.",
			r.Opts.From.In(loc).Format("2 Jan 2006 15:04"), r.Opts.To.In(loc).Format("2 Jan 2006 15:04"), loc, scope, b.when(r.Opts.Now)),
	}
	countTable := func(caption, col string, cs []Count, label func(string) string) Table {
		t := Table{Caption: caption, Header: []string{col, "Incidents"}}
		for _, c := range cs {
			t.Rows = append(t.Rows, []string{label(c.Label), fmt.Sprint(c.N)})
		}
		return t
	}
	chart := func(title string, cs []Count, label func(string) string) Chart {
		c := Chart{Title: title, Dup: true}
		for _, x := range cs {
			c.Labels = append(c.Labels, label(x.Label))
			c.Values = append(c.Values, float64(x.N))
		}
		return c
	}
	same := func(s string) string { return s }
	siteName := func(id string) string {
		if s, ok := b.cfg.Site(id); ok {
			return s.Name
		}
		return id
	}
	doc.Sections = append(doc.Sections, Section{
		Heading: "Incidents",
		Facts:   []Fact{fact("Incidents raised", fmt.Sprint(r.Incidents))},
		Charts:  []Chart{chart("Incidents by site", r.BySite, siteName), chart("Incidents by severity", r.BySeverity, same)},
		Tables: []Table{countTable("By site", "Site", r.BySite, siteName), countTable("By category", "Category", r.ByCategory, same),
			countTable("By severity", "Severity", r.BySeverity, same)},
	})
	tt := Table{Caption: "Time to acknowledge (TTA) and to resolve (TTR); median and 90th percentile, nearest rank; incidents never acknowledged (or not resolved) rank last",
		Header:    []string{"Group", "Incidents", "Acknowledged", "TTA median", "TTA p90", "Resolved", "TTR median", "TTR p90"},
		Durations: []int{3, 4, 6, 7}}
	row := func(prefix string, g GroupStats) {
		tt.Rows = append(tt.Rows, []string{prefix + g.Label, fmt.Sprint(g.Incidents),
			fmt.Sprint(g.TTA.Reached), pct(g.TTA.Median, g.TTA.MedianReached, g.Incidents, "not acknowledged"), pct(g.TTA.P90, g.TTA.P90Reached, g.Incidents, "not acknowledged"),
			fmt.Sprint(g.TTR.Reached), pct(g.TTR.Median, g.TTR.MedianReached, g.Incidents, "not resolved"), pct(g.TTR.P90, g.TTR.P90Reached, g.Incidents, "not resolved")})
	}
	row("", r.All)
	ttaChart := Chart{Title: "Median time to acknowledge by site", Unit: "min", Axis: "minutes from the raise to the acknowledgement"}
	for _, g := range r.BySiteTimes {
		row("Site: ", GroupStats{Label: siteName(g.Label), Incidents: g.Incidents, TTA: g.TTA, TTR: g.TTR})
		ttaChart.Labels = append(ttaChart.Labels, siteName(g.Label))
		switch {
		case g.Incidents == 0:
			ttaChart.Values = append(ttaChart.Values, 0)
			ttaChart.Missing = append(ttaChart.Missing, "no data: no incidents")
		case !g.TTA.MedianReached:
			ttaChart.Values = append(ttaChart.Values, 0)
			ttaChart.Missing = append(ttaChart.Missing, fmt.Sprintf("no median: %d of %d not acknowledged", g.Incidents-g.TTA.Reached, g.Incidents))
		default:
			ttaChart.Values = append(ttaChart.Values, minutes(g.TTA.Median))
			ttaChart.Missing = append(ttaChart.Missing, "")
		}
	}
	for _, g := range r.ByShift {
		row("Shift ", g)
	}
	doc.Sections = append(doc.Sections, Section{Heading: "Response times", Charts: []Chart{ttaChart}, Tables: []Table{tt}})

	ut := Table{Caption: "Unanswered tasks (escalation ran out, nobody answered)", Header: []string{"Task", "Activation", "Title", "Site", "Created", "Did not answer"}}
	for _, s := range r.Unanswered {
		l, _ := b.timeCells(s.Task.Created)
		ut.Rows = append(ut.Rows, []string{s.Task.ID(), store.FormatID("A", s.Task.Activation), s.Task.Title, siteName(s.Task.Site), l, b.people(s.NotAnswered)})
	}
	lt := Table{Caption: "Tasks acknowledged after their escalation ran out", Header: []string{"Task", "Activation", "Title", "Site", "Acknowledged by", "Time to acknowledge", "Did not answer"},
		Durations: []int{5}}
	for _, s := range r.AckedLate {
		lt.Rows = append(lt.Rows, []string{s.Task.ID(), store.FormatID("A", s.Task.Activation), s.Task.Title, siteName(s.Task.Site), b.person(s.AckedBy), dur(s.TimeToAck()), b.people(s.NotAnswered)})
	}
	nt := Table{Caption: "Non-responders (live tasks held and not answered)", Header: []string{"Person", "Tasks not answered"}}
	for _, c := range r.NonResponders {
		nt.Rows = append(nt.Rows, []string{b.person(c.Label), fmt.Sprint(c.N)})
	}
	doc.Sections = append(doc.Sections, Section{
		Heading: "Escalations (live plans)",
		Facts: []Fact{fact("Plans triggered", fmt.Sprint(r.Activations)), fact("Tasks", fmt.Sprint(r.Tasks)),
			fact("Tasks that needed SMS", fmt.Sprint(r.TasksSMS)), fact("Tasks that needed voice", fmt.Sprint(r.TasksVoice)),
			fact("Tasks escalated to someone else", fmt.Sprint(r.TasksReassigned)), fact("Tasks unanswered", fmt.Sprint(len(r.Unanswered))),
			fact("Tasks acknowledged after the escalation ran out", fmt.Sprint(len(r.AckedLate)))},
		Tables: []Table{ut, lt, nt},
	})

	dt := Table{Caption: "Drills held", Header: []string{"Drill", "Plan", "Site", "Started", "Status", "Result", "Slowest acknowledgement", "Target", "Non-responders"},
		Durations: []int{6, 7}}
	for _, o := range r.Drills {
		res := "FAIL"
		if o.Passed {
			res = "PASS"
		}
		l, _ := b.timeCells(o.Drill.Started)
		dt.Rows = append(dt.Rows, []string{o.Drill.ID(), o.Act.PlanName, siteName(o.Drill.Site), l, o.Drill.Status, res, dur(o.Slowest), dur(o.Drill.Target), b.people(o.NonResponders)})
	}
	notDrilled := "none"
	if len(r.PlansNotDrilled) > 0 {
		notDrilled = strings.Join(r.PlansNotDrilled, ", ")
	}
	doc.Sections = append(doc.Sections, Section{
		Heading: "Drills",
		Facts: []Fact{fact("Drills started", fmt.Sprint(len(r.Drills))), fact("Drills completed", fmt.Sprint(r.DrillsCompleted)),
			fact("Drills passed", fmt.Sprint(r.Passed)), fact("Plans drilled", fmt.Sprintf("%d of %d", len(b.cfg.Plans)-len(r.PlansNotDrilled), len(b.cfg.Plans))),
			fact("Plans not drilled in the period", notDrilled)},
		Charts: []Chart{{Title: "Drill results", Dup: true, Labels: []string{"Passed", "Failed"}, Values: []float64{float64(r.Passed), float64(len(r.Drills) - r.Passed)}}},
		Tables: []Table{dt},
	})
	doc.Sections = append(doc.Sections, Section{Heading: "Open corrective actions", Tables: []Table{b.actionTable(r.OpenActions)}})
	et := Table{Caption: "Qualifications expiring in the next 30 days", Header: []string{"Person", "Qualification", "Expires"}}
	for _, e := range r.Expiring {
		et.Rows = append(et.Rows, []string{b.person(e.Person), e.Qualification, e.Expires.String()})
	}
	doc.Sections = append(doc.Sections, Section{Heading: "Qualifications", Tables: []Table{et}})
	return doc
}
