package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/muster-ops/muster/store"
)

// ReviewSections are the headings of the management review pack, in
// order: the inputs ISO 18788 clause 9.3 asks a management review to
// consider, then a section for its outputs.
var ReviewSections = []string{
	"Scope",
	"Actions from earlier management reviews",
	"Comparison with the previous period",
	"Objectives and results",
	"Incidents",
	"Response times",
	"Incidents open at the end of the period",
	"Escalations (live plans)",
	"Roll calls",
	"Lone-worker check-ins",
	"Drills planned and held",
	"Corrective actions",
	"Qualifications",
	"Audit chain",
	"Decisions, actions and sign-off",
}

// ReviewDoc lays the pack out as a document (sections ReviewSections).
func (b *Builder) ReviewDoc(r *Review) *Doc {
	loc := b.cfg.Location()
	scope := "all sites"
	if r.Opts.Site != "" {
		scope = b.site(r.Opts.Site)
	}
	span := func(from, to time.Time) string {
		return from.In(loc).Format("Mon 2 Jan 2006 15:04") + " to " + to.In(loc).Format("Mon 2 Jan 2006 15:04")
	}
	doc := &Doc{
		Title: "Management review pack: " + b.cfg.Organization,
		Subtitle: fmt.Sprintf("%s (%s), %s. Generated %s from the muster records. Drills are never counted in the incident and live plan figures.",
			span(r.Opts.From, r.Opts.To), loc, scope, b.when(r.Opts.Now)),
	}
	siteName := func(id string) string {
		if s, ok := b.cfg.Site(id); ok {
			return s.Name
		}
		if id == "" {
			return "-"
		}
		return id
	}
	same := func(s string) string { return s }
	add := func(s Section) { doc.Sections = append(doc.Sections, s) }

	add(Section{Heading: "Scope", Facts: []Fact{
		fact("Organization", b.cfg.Organization), fact("Sites", scope),
		fact("Period", span(r.From, r.To)), fact("Previous period (for comparison)", span(r.Previous.From, r.Previous.To)),
		fact("Generated", b.when(r.Opts.Now)),
		fact("Standard", "ISO 18788:2015 clause 9.3, management review: the inputs the review considers, then its decisions"),
	}})

	add(Section{Heading: "Actions from earlier management reviews",
		Paras:  []string{"Actions the board decided on (/action add review ...), as they stand now: every one not verified before the period began."},
		Tables: []Table{b.actionsTable("Management review actions", r.ReviewActions, r.Opts.Now, false)}})

	add(b.comparison(r))
	add(b.objectives(r))

	countTable := func(caption, col string, cs []Count, label func(string) string) Table {
		t := Table{Caption: caption, Header: []string{col, "Incidents"}}
		for _, c := range cs {
			t.Rows = append(t.Rows, []string{label(c.Label), fmt.Sprint(c.N)})
		}
		return t
	}
	siteCounts := Chart{Title: "Incidents by site", Dup: true, Axis: "incidents raised"}
	for _, s := range b.cfg.Sites {
		if r.Opts.Site != "" && s.ID != r.Opts.Site {
			continue
		}
		n := 0
		for _, c := range r.BySite {
			if c.Label == s.ID {
				n = c.N
			}
		}
		siteCounts.Labels = append(siteCounts.Labels, s.Name)
		siteCounts.Values = append(siteCounts.Values, float64(n))
	}
	sevChart := Chart{Title: "Incidents by severity", Dup: true, Axis: "incidents raised"}
	for _, c := range r.BySeverity {
		sevChart.Labels = append(sevChart.Labels, c.Label)
		sevChart.Values = append(sevChart.Values, float64(c.N))
	}
	add(Section{
		Heading: "Incidents",
		Facts:   []Fact{fact("Incidents raised", fmt.Sprint(r.Incidents))},
		Charts:  []Chart{siteCounts, sevChart},
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
	add(Section{Heading: "Response times", Charts: []Chart{ttaChart}, Tables: []Table{tt}})

	ot := Table{Caption: "Incidents open at the end of the period", Header: []string{"Incident", "Site", "Category", "Severity", "Raised", "Open for", "Acknowledged by then", "Status now"},
		Durations: []int{5}}
	for _, oi := range r.OpenAtEnd {
		l, _ := b.timeCells(oi.Incident.Created)
		acked := "no"
		if oi.Acknowledged {
			acked = "yes"
		}
		ot.Rows = append(ot.Rows, []string{oi.Incident.ID(), siteName(oi.Incident.Site), oi.Incident.Category, oi.Incident.Severity, l,
			oi.Age.Round(time.Second).String(), acked, oi.Incident.Status})
	}
	add(Section{Heading: "Incidents open at the end of the period", Facts: []Fact{fact("Open at the end of the period", fmt.Sprint(len(r.OpenAtEnd)))}, Tables: []Table{ot}})

	obt := Table{Caption: "Obligations by contact kind", Header: []string{"Contact kind", "Met on time", "Met late", "Missed", "Pending"}}
	for _, t := range r.Obligations {
		obt.Rows = append(obt.Rows, []string{t.Kind, fmt.Sprint(t.OnTime), fmt.Sprint(t.Late), fmt.Sprint(t.Missed), fmt.Sprint(t.Pending)})
	}
	olt := Table{Caption: "Obligations met late or missed", Header: []string{"Incident", "Obligation", "Contact", "Deadline", "Told"}}
	for _, o := range r.ObligationsLateOrMissed {
		told := "not told"
		if o.Status == store.ObligationMet {
			told = b.when(o.MetTime()) + " by " + b.person(o.MetBy)
		}
		olt.Rows = append(olt.Rows, []string{store.FormatID("INC", o.Incident), o.ID, b.contact(o.Contact), b.when(o.DeadlineAt()), told})
	}
	add(Section{Heading: "External notifications (obligations)",
		Paras:  []string{"Duties to tell the police, a regulator, a client or an insurer within a deadline (ISO 18788: communication with external parties; legal and contractual requirements), for the incidents raised in the period, as they stand when the pack is made."},
		Tables: []Table{obt, olt}})

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
	add(Section{
		Heading: "Escalations (live plans)",
		Facts: []Fact{fact("Plans triggered", fmt.Sprint(r.Activations)), fact("Tasks", fmt.Sprint(r.Tasks)),
			fact("Tasks that needed SMS", fmt.Sprint(r.TasksSMS)), fact("Tasks that needed voice", fmt.Sprint(r.TasksVoice)),
			fact("Tasks escalated to someone else", fmt.Sprint(r.TasksReassigned)), fact("Tasks unanswered", fmt.Sprint(len(r.Unanswered))),
			fact("Tasks acknowledged after the escalation ran out", fmt.Sprint(len(r.AckedLate)))},
		Tables: []Table{ut, lt, nt},
	})

	add(b.rollCalls(r))
	add(b.checkins(r))
	add(b.drills(r))
	add(b.correctiveActions(r))

	qt := Table{Caption: "Qualifications expired", Header: []string{"Person", "Qualification", "Expired", "Required by their rosters"}}
	for _, e := range r.Expired {
		qt.Rows = append(qt.Rows, []string{b.person(e.Person), e.Qualification, e.Expires.String(), orNone(e.RequiredBy)})
	}
	et := Table{Caption: "Qualifications expiring in the next 30 days", Header: []string{"Person", "Qualification", "Expires", "Required by their rosters"}}
	for _, e := range r.Expiring {
		et.Rows = append(et.Rows, []string{b.person(e.Person), e.Qualification, e.Expires.String(), orNone(e.RequiredBy)})
	}
	add(Section{Heading: "Qualifications", Paras: []string{"As of the day the pack is made. A qualification is valid through its expiry day; rosters skip anyone whose required qualification does not last the shift."},
		Tables: []Table{qt, et}})

	add(b.auditSection(r))

	blank := func(n, cols int) [][]string {
		rows := make([][]string, n)
		for i := range rows {
			rows[i] = make([]string, cols)
			rows[i][0] = fmt.Sprint(i + 1)
		}
		return rows
	}
	add(Section{Heading: "Decisions, actions and sign-off",
		Paras: []string{"For the board to complete at the review (ISO 18788 clause 9.3 outputs): decisions on opportunities for improvement, on changes to the security operations management system and on resources. Record each action agreed in muster with /action add review <owner> <due> <text>, so the next pack reports on it."},
		Tables: []Table{
			{Caption: "Decisions", Header: []string{"#", "Decision", "Reason"}, Rows: blank(4, 3)},
			{Caption: "Actions agreed", Header: []string{"#", "Action", "Owner", "Due", "Recorded as (CA-n)"}, Rows: blank(4, 5)},
			{Caption: "Sign-off", Header: []string{"Role", "Name", "Signature", "Date"}, Rows: [][]string{
				{"Chair of the review", "", "", ""}, {"Top management", "", "", ""}, {"Security operations manager", "", "", ""}}},
		}})
	return doc
}

// comparison sets the period's figures against the previous period's.
func (b *Builder) comparison(r *Review) Section {
	cur, prev := &r.Period, &r.Previous
	ct := Table{Caption: "Counts", Header: []string{"Measure", "This period", "Previous period", "Change"}}
	count := func(label string, a, p int) {
		ct.Rows = append(ct.Rows, []string{label, fmt.Sprint(a), fmt.Sprint(p), fmt.Sprintf("%+d", a-p)})
	}
	planned, held := cur.Planned()
	pPlanned, pHeld := prev.Planned()
	liveMet, pLiveMet := cur.Met(false), prev.Met(false)
	count("Incidents raised", cur.Incidents, prev.Incidents)
	count("Incidents never acknowledged", cur.All.Incidents-cur.All.TTA.Reached, prev.All.Incidents-prev.All.TTA.Reached)
	count("Incidents open at the end", len(cur.OpenAtEnd), len(prev.OpenAtEnd))
	count("Live plans triggered", cur.Activations, prev.Activations)
	count("Live tasks unanswered", len(cur.Unanswered), len(prev.Unanswered))
	count("Live tasks acknowledged after the escalation ran out", len(cur.AckedLate), len(prev.AckedLate))
	count("Live plans that met their target", liveMet[ObjectiveMet], pLiveMet[ObjectiveMet])
	count("Live plans that missed their target", liveMet[ObjectiveMissed], pLiveMet[ObjectiveMissed])
	count("Drills planned", planned, pPlanned)
	count("Drills held (as planned)", held, pHeld)
	count("Drills passed", cur.Passed, prev.Passed)
	count("Corrective actions raised", cur.ActionsRaised, prev.ActionsRaised)
	count("Corrective actions done", cur.ActionsDone, prev.ActionsDone)
	count("Corrective actions overdue at the end", cur.ActionsOverdue, prev.ActionsOverdue)

	tt := Table{Caption: "Response times", Header: []string{"Measure", "This period", "Previous period", "Change"}, Durations: []int{1, 2, 3}}
	timeRow := func(label string, a, p Stats, median bool, none string) {
		av, ar, pv, pr := a.P90, a.P90Reached, p.P90, p.P90Reached
		if median {
			av, ar, pv, pr = a.Median, a.MedianReached, p.Median, p.MedianReached
		}
		change := "-"
		if ar && pr && a.N > 0 && p.N > 0 {
			d := (av - pv).Round(time.Second)
			change = d.String()
			if d >= 0 {
				change = "+" + change
			}
		}
		tt.Rows = append(tt.Rows, []string{label, pct(av, ar, a.N, none), pct(pv, pr, p.N, none), change})
	}
	timeRow("TTA median", cur.All.TTA, prev.All.TTA, true, "not acknowledged")
	timeRow("TTA p90", cur.All.TTA, prev.All.TTA, false, "not acknowledged")
	timeRow("TTR median", cur.All.TTR, prev.All.TTR, true, "not resolved")
	timeRow("TTR p90", cur.All.TTR, prev.All.TTR, false, "not resolved")
	return Section{Heading: "Comparison with the previous period", Tables: []Table{ct, tt}}
}

// objectives sets each plan's target against what happened.
func (b *Builder) objectives(r *Review) Section {
	pt := Table{Caption: "Each plan's objective: every task acknowledged within its target", Header: []string{"Plan", "Target", "Live: met", "Live: missed", "Live: not judged", "Slowest live acknowledgement", "Drills: met", "Drills: missed", "Slowest drill acknowledgement"},
		Durations: []int{1, 5, 8}}
	chart := Chart{Title: "Slowest acknowledgement against each plan's target", Unit: "min", Axis: "minutes from the trigger to the last acknowledgement",
		TargetLabel: "the plan's target"}
	for _, p := range r.Plans {
		slow := func(any bool, d time.Duration) string {
			if !any || d == 0 {
				return "-"
			}
			return dur(d)
		}
		pt.Rows = append(pt.Rows, []string{p.Name, dur(p.Target), fmt.Sprint(p.Live[ObjectiveMet]), fmt.Sprint(p.Live[ObjectiveMissed]), fmt.Sprint(p.Live[ObjectiveNotJudged]),
			slow(p.AnyLive, p.SlowestLive), fmt.Sprint(p.Drill[ObjectiveMet]), fmt.Sprint(p.Drill[ObjectiveMissed]), slow(p.AnyDrill, p.SlowestDrill)})
		for _, k := range []struct {
			kind string
			any  bool
			d    time.Duration
		}{{"live", p.AnyLive, p.SlowestLive}, {"drills", p.AnyDrill, p.SlowestDrill}} {
			chart.Labels = append(chart.Labels, p.Name+" ("+k.kind+")")
			chart.Targets = append(chart.Targets, minutes(p.Target))
			switch {
			case !k.any:
				chart.Values = append(chart.Values, 0)
				chart.Missing = append(chart.Missing, "no data: none in the period")
			case k.d == 0:
				chart.Values = append(chart.Values, 0)
				chart.Missing = append(chart.Missing, "no data: nothing acknowledged")
			default:
				chart.Values = append(chart.Values, minutes(k.d))
				chart.Missing = append(chart.Missing, "")
			}
		}
	}
	at := Table{Caption: "Live activations and drills", Header: []string{"Activation", "Plan", "Kind", "Site", "Triggered", "Target", "Slowest acknowledgement", "Result", "Why"},
		Durations: []int{5, 6}}
	for _, o := range r.Objectives {
		kind := "live"
		if o.Drill {
			kind = "drill"
		}
		l, _ := b.timeCells(o.At)
		why := o.Why
		if why == "" {
			why = "-"
		}
		at.Rows = append(at.Rows, []string{o.Ref, o.PlanName, kind, b.siteShort(o.Site), l, dur(o.Target), dur(o.Slowest), o.Result, why})
	}
	live, drill := r.Met(false), r.Met(true)
	return Section{Heading: "Objectives and results",
		Facts: []Fact{fact("Live plans that met their target", fmt.Sprintf("%d of %d judged", live[ObjectiveMet], live[ObjectiveMet]+live[ObjectiveMissed])),
			fact("Drills that met their target", fmt.Sprintf("%d of %d judged", drill[ObjectiveMet], drill[ObjectiveMet]+drill[ObjectiveMissed]))},
		Charts: []Chart{chart}, Tables: []Table{pt, at}}
}

// drills sets the drills held against drills.schedule.
func (b *Builder) drills(r *Review) Section {
	planned, held := r.Planned()
	st := Table{Caption: "Drills planned (drills.schedule) and held", Header: []string{"Plan", "Site", "Every", "Due in the period", "Planned", "Held", "Drills held"}}
	chart := Chart{Title: "Drills held against drills planned", Axis: "drills in the period", TargetLabel: "drills planned"}
	for _, s := range r.Schedule {
		var due []string
		for _, d := range s.Due {
			due = append(due, d.String())
		}
		st.Rows = append(st.Rows, []string{s.PlanName, b.siteShort(s.Site), fmt.Sprintf("%d days", int(s.Every/(24*time.Hour))), orNone(due),
			fmt.Sprint(len(s.Due)), fmt.Sprint(len(s.Held)), orNone(s.Held)})
		chart.Labels = append(chart.Labels, s.PlanName+" @"+s.Site)
		chart.Values = append(chart.Values, float64(len(s.Held)))
		chart.Targets = append(chart.Targets, float64(len(s.Due)))
		chart.Missing = append(chart.Missing, "")
	}
	dt := Table{Caption: "Drills held", Header: []string{"Drill", "Plan", "Site", "Started", "Status", "Result", "Slowest acknowledgement", "Target", "Non-responders"},
		Durations: []int{6, 7}}
	for _, o := range r.Drills {
		res := "FAIL"
		if o.Passed {
			res = "PASS"
		}
		l, _ := b.timeCells(o.Drill.Started)
		dt.Rows = append(dt.Rows, []string{o.Drill.ID(), o.Act.PlanName, b.siteShort(o.Drill.Site), l, o.Drill.Status, res, dur(o.Slowest), dur(o.Drill.Target), b.people(o.NonResponders)})
	}
	notDrilled := "none"
	if len(r.PlansNotDrilled) > 0 {
		notDrilled = strings.Join(r.PlansNotDrilled, ", ")
	}
	sec := Section{Heading: "Drills planned and held",
		Facts: []Fact{fact("Drills planned", fmt.Sprint(planned)), fact("Drills held as planned", fmt.Sprint(held)),
			fact("Drills started", fmt.Sprint(len(r.Drills))), fact("Drills completed", fmt.Sprint(r.DrillsCompleted)),
			fact("Drills passed", fmt.Sprint(r.Passed)), fact("Plans drilled", fmt.Sprintf("%d of %d", len(b.cfg.Plans)-len(r.PlansNotDrilled), len(b.cfg.Plans))),
			fact("Plans not drilled in the period", notDrilled)},
		Tables: []Table{st, dt}}
	if len(r.Schedule) > 0 {
		sec.Charts = []Chart{chart}
	} else {
		sec.Paras = []string{"No drills are scheduled (drills.schedule in the configuration)."}
	}
	return sec
}

// correctiveActions lists the corrective actions of the period with
// their owner, due day, status and effectiveness.
func (b *Builder) correctiveActions(r *Review) Section {
	var open, overdue, effective, ineffective int
	for _, a := range append(append([]*store.CorrectiveAction{}, r.ReviewActions...), r.Actions...) {
		switch {
		case a.Status == store.ActionOpen:
			open++
			if overdueAt(a, r.Opts.Now, b.cfg.Location()) {
				overdue++
			}
		case a.Effective == store.ActionEffective:
			effective++
		case a.Effective == store.ActionIneffective:
			ineffective++
		}
	}
	return Section{Heading: "Corrective actions",
		Facts: []Fact{fact("Raised in the period", fmt.Sprint(r.ActionsRaised)), fact("Done in the period", fmt.Sprint(r.ActionsDone)),
			fact("Open now", fmt.Sprint(open)), fact("Overdue now", fmt.Sprint(overdue)),
			fact("Verified effective", fmt.Sprint(effective)), fact("Verified ineffective (a new action is needed)", fmt.Sprint(ineffective))},
		Paras:  []string{"Every action recorded before the period ended and not verified before it began, as it stands now (those of earlier management reviews are listed above)."},
		Tables: []Table{b.actionsTable("Corrective actions of incidents, plans and drills", r.Actions, r.Opts.Now, true)}}
}

// actionsTable lists corrective actions as they stand at now.
func (b *Builder) actionsTable(caption string, list []*store.CorrectiveAction, now time.Time, withSubject bool) Table {
	t := Table{Caption: caption, Header: []string{"Action", "For", "Site", "What", "Owner", "Recorded", "Due", "Status", "Done", "Effectiveness"}}
	if !withSubject {
		t.Header = append(t.Header[:1], t.Header[3:]...)
	}
	loc := b.cfg.Location()
	for _, a := range list {
		status := a.Status
		if overdueAt(a, now, loc) {
			status += " (overdue)"
		}
		done := "-"
		if !a.DoneAt.IsZero() {
			l, _ := b.timeCells(a.DoneAt)
			done = l + " by " + b.person(a.DoneBy)
			if a.DoneNote != "" {
				done += ": " + a.DoneNote
			}
		}
		eff := "not verified"
		switch {
		case a.Status == store.ActionOpen:
			eff = "-"
		case a.Effective != "":
			l, _ := b.timeCells(a.VerifiedAt)
			eff = a.Effective + " (" + b.person(a.VerifiedBy) + ", " + l
			if a.VerifyNote != "" {
				eff += ": " + a.VerifyNote
			}
			eff += ")"
		}
		due := a.Due
		if due == "" {
			due = "-"
		}
		l, _ := b.timeCells(a.Created)
		row := []string{a.ID(), a.Subject, b.siteShort(a.Site), a.Text, b.person(a.Owner), l, due, status, done, eff}
		if !withSubject {
			row = append(row[:1], row[3:]...)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// overdueAt: still open after its due day, at now.
func overdueAt(a *store.CorrectiveAction, now time.Time, loc *time.Location) bool {
	n := now.In(loc)
	return a.Status == store.ActionOpen && a.Due != "" && a.Due < n.Format("2006-01-02")
}

// auditSection says whether the audit chain verified when the pack was
// made, and its head.
func (b *Builder) auditSection(r *Review) Section {
	sec := Section{Heading: "Audit chain", Paras: []string{"Checked when the pack was made, as `muster audit verify` does. Record the head hash outside muster (in the minutes of the review): a chain rewritten later no longer leads to it."}}
	if r.AuditErr != nil {
		sec.Facts = []Fact{fact("Status", "could not be checked: "+r.AuditErr.Error())}
		return sec
	}
	v := r.Audit
	status := fmt.Sprintf("intact: %d sealed events verified", v.Events)
	if !v.OK() {
		status = "BROKEN: " + v.Problem.String()
	}
	sec.Facts = []Fact{fact("Status", status)}
	if v.Events > 0 {
		sec.Facts = append(sec.Facts, fact("Sealed events", fmt.Sprintf("seq %d to %d", v.FirstSeq, v.LastSeq)),
			fact("Head (SHA-256)", v.Head))
	}
	if !r.Head.SealedAt.IsZero() {
		sec.Facts = append(sec.Facts, fact("Head sealed", b.when(r.Head.SealedAt)))
	}
	switch {
	case v.Signed && v.KeyChecked:
		sec.Facts = append(sec.Facts, fact("Signature", "Ed25519, every head checked against the organization's public key"),
			fact("Signing key", v.SignedBy))
	case v.Signed:
		sec.Facts = append(sec.Facts, fact("Signature", "Ed25519, checked only against the key each head names: give this report the organization's public key to check it is theirs"),
			fact("Signing key", v.SignedBy))
	default:
		sec.Facts = append(sec.Facts, fact("Signature", "unsigned: whoever can write to Redis could rewrite the chain unseen"))
	}
	if r.Head.Sig != "" {
		sec.Facts = append(sec.Facts, fact("Head signature", r.Head.Sig))
	}
	if v.PrunedTo > 0 {
		sec.Facts = append(sec.Facts, fact("Pruned under retention", fmt.Sprintf("seq 1 to %d (checkpointed)", v.PrunedTo)))
	}
	if v.Unsealed > 0 {
		sec.Facts = append(sec.Facts, fact("Not sealed yet", fmt.Sprintf("%d events", v.Unsealed)))
	}
	return sec
}

// siteShort names a site by its name alone ("-" for none).
func (b *Builder) siteShort(id string) string {
	if id == "" {
		return "-"
	}
	if s, ok := b.cfg.Site(id); ok {
		return s.Name
	}
	return id
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// rollCalls is the pack's roll-call section: how many, how fast everyone
// was accounted for, who never answered and who needed help.
func (b *Builder) rollCalls(r *Review) Section {
	f := r.RollCallFigures()
	t := Table{Caption: "Roll calls", Header: []string{"Roll call", "Sites", "Started", "By", "Asked", "Safe", "Need help", "Never answered", "Time to account for everyone"},
		Durations: []int{8}}
	for _, o := range r.RollCalls {
		sites := make([]string, len(o.Sites))
		for i, s := range o.Sites {
			sites[i] = b.siteShort(s)
		}
		n, last := o.Accounted()
		everyone := "not everyone accounted for"
		if n == len(o.People) {
			everyone = dur(last)
		}
		var never []string
		for _, a := range o.People {
			if a.Answer == "" {
				never = append(never, a.Person)
			}
		}
		l, _ := b.timeCells(o.Created)
		t.Rows = append(t.Rows, []string{o.ID(), strings.Join(sites, ", "), l, b.person(o.By), fmt.Sprint(len(o.People)), fmt.Sprint(o.Safe), fmt.Sprint(o.Help),
			orText(b.people(never), "-"), everyone})
	}
	return Section{Heading: "Roll calls",
		Paras: []string{"Everyone on duty asked \"Are you safe?\" (/rollcall). Time to account: from the question to the last person's first answer; `muster report rollcall R-n` has each person. Drilled roll calls are not counted here."},
		Facts: []Fact{fact("Roll calls", fmt.Sprint(f.RollCalls)), fact("Roll-call drills", fmt.Sprint(r.RollCallDrills)),
			fact("People asked", fmt.Sprint(f.Asked)), fact("Never answered", fmt.Sprint(f.NeverAnswered)), fact("Needed help", fmt.Sprint(f.Help)),
			durFact("Median time to account for everyone", pct(f.Everyone.Median, f.Everyone.MedianReached, f.Everyone.N, "not reached: someone never answered")),
			durFact("Longest time to account for everyone", dur(f.Longest)),
			fact("Roll calls where someone never answered", fmt.Sprint(f.Unaccounted))},
		Tables: []Table{t}}
}

// checkins is the pack's lone-worker section: sessions, missed
// check-ins and how fast they were answered.
func (b *Builder) checkins(r *Review) Section {
	f := r.CheckinFigures()
	t := Table{Caption: "Missed check-ins", Header: []string{"Session", "Person", "Site", "Due", "Escalation reached", "Response time"}, Durations: []int{5}}
	for _, s := range r.Checkins {
		for _, m := range s.Missed {
			l, _ := b.timeCells(m.Due)
			rt := "not answered"
			if m.Ended != "" {
				rt += ": " + m.Ended
			}
			if d, ok := m.Response(); ok {
				rt = dur(d)
			}
			reached := "-"
			if n := len(m.Steps); n > 0 {
				reached = fmt.Sprintf("step %d: %s", m.Reached(), b.stepName(m.Steps[n-1]))
			}
			t.Rows = append(t.Rows, []string{s.Ref, b.person(s.Assignee), b.siteShort(s.Site), l, reached, rt})
		}
	}
	return Section{Heading: "Lone-worker check-ins",
		Paras: []string{"Timed check-ins of people working alone (/checkin). Response time: from the time a check-in was due to the check-in that answered it; `muster report checkins` has every session."},
		Facts: []Fact{fact("Sessions", fmt.Sprint(f.Sessions)), fact("Missed check-ins", fmt.Sprint(f.Missed)),
			fact("Missed check-ins answered", fmt.Sprint(f.Answered)),
			durFact("Median response time", pct(f.Response.Median, f.Response.MedianReached, f.Response.N, "not reached: fewer than half answered")),
			durFact("90th percentile response time", pct(f.Response.P90, f.Response.P90Reached, f.Response.N, "not reached")),
			durFact("Longest response time", dur(f.Longest)),
			fact("Incidents raised", fmt.Sprint(f.Incidents))},
		Tables: []Table{t}}
}
