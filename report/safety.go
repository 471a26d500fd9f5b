package report

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/muster-ops/muster/store"
)

// Roll calls and lone-worker check-ins, as the reports and the review pack
// tell them. Who was asked, every answer (with how it came), every reminder
// and escalation are read from the audit chain (each is an event there,
// and `muster audit verify` vouches for them); the records give only what
// the chain does not repeat (the tally, the session's interval).

// safetyData is every field these reports read from an event's data.
type safetyData struct {
	Rollcall   string   `json:"rollcall"`
	Session    string   `json:"session"`
	Person     string   `json:"person"`
	Site       string   `json:"site"`
	Note       string   `json:"note"`
	Channel    string   `json:"channel"`
	Incident   any      `json:"incident"`
	Step       int      `json:"step"`
	Notify     []string `json:"notify"`
	Told       []string `json:"told"`
	Raise      string   `json:"raise"`
	Missed     bool     `json:"missed"`
	Last       int64    `json:"last"`
	MissedAt   int64    `json:"missed_at"`
	ResponseMS int64    `json:"response_ms"`
	// At and AnsweredAt (ms) are when a question went out and an answer
	// came in degraded mode, before they were recorded.
	At         any `json:"at"`
	AnsweredAt any `json:"answered_at"`
}

// when is the instant an event stands for: the time in its data (ms) when
// it was given in degraded mode, else the event's own.
func (d safetyData) when(v any, e store.AuditEvent) time.Time {
	var ms int64
	switch t := v.(type) {
	case float64:
		ms = int64(t)
	case string:
		ms, _ = strconv.ParseInt(t, 10, 64)
	}
	if ms > 0 {
		return time.UnixMilli(ms)
	}
	return e.At
}

func safetyOf(e store.AuditEvent) safetyData {
	var d safetyData
	_ = json.Unmarshal([]byte(e.Data), &d)
	return d
}

// incidentOf is the incident an event names ("INC-4"), or "".
func (d safetyData) incidentOf() string {
	if d.Incident == nil {
		return ""
	}
	s := fmt.Sprint(d.Incident)
	if s == "" || s == "0" {
		return ""
	}
	if !strings.HasPrefix(s, "INC-") {
		s = "INC-" + s
	}
	return s
}

// Escalation is one step that ran for a person: the question or a
// reminder on some channels, people told, an incident raised.
type Escalation struct {
	At       time.Time
	Step     int
	Notify   []string
	Told     []string
	Incident string
}

// RollCallAccount is one person's part in a roll call as the chain tells
// it.
type RollCallAccount struct {
	Person, Site string
	Task         int64
	Asked        time.Time
	// Answer is their latest answer (safe or help), "" when they never
	// answered; Channel how it came, AnsweredAt when.
	Answer     string
	Channel    string
	AnsweredAt time.Time
	Note       string
	// Accounted is their first answer: the time to account for them is
	// Accounted minus Asked.
	Accounted time.Time
	// Incident is the incident a help raised.
	Incident    string
	Escalations []Escalation
	// Unanswered: their escalation ran out, or the roll call stopped,
	// before they answered.
	Unanswered bool
}

// TimeToAccount is the time from the question to the person's first
// answer; false when they never answered.
func (a *RollCallAccount) TimeToAccount() (time.Duration, bool) {
	if a.Accounted.IsZero() {
		return 0, false
	}
	return a.Accounted.Sub(a.Asked), true
}

// RollCallOutcome is a roll call with everyone's account.
type RollCallOutcome struct {
	*store.RollCall
	People []*RollCallAccount
}

// Accounted counts those who answered, and the time by which the last of
// them did (the time to account for everyone, when nobody is missing).
func (o *RollCallOutcome) Accounted() (n int, last time.Duration) {
	for _, p := range o.People {
		if d, ok := p.TimeToAccount(); ok {
			n++
			last = max(last, d)
		}
	}
	return n, last
}

// rollCallOutcome reads R-num and tells each person's account from the
// audit events of their question.
func (b *Builder) rollCallOutcome(ctx context.Context, h history, rc *store.RollCall) (*RollCallOutcome, error) {
	people, err := b.st.RollCallPeople(ctx, rc.Num)
	if err != nil {
		return nil, err
	}
	o := &RollCallOutcome{RollCall: rc}
	for _, p := range people {
		a := &RollCallAccount{Person: p.Person, Site: p.Site, Task: p.Task, Asked: p.Asked}
		evs := h[store.FormatID("T", p.Task)]
		if len(evs) == 0 {
			// Pruned from the chain: the record is all there is.
			if p.HasAnswered() {
				a.Answer, a.Channel, a.AnsweredAt, a.Note, a.Accounted = p.Status, p.Channel, p.Answered, p.Note, p.Accounted
			}
			if p.Incident > 0 {
				a.Incident = store.FormatID("INC", p.Incident)
			}
			a.Unanswered = !p.HasAnswered() && p.Status != store.TaskOpen
		}
		for _, e := range evs {
			d := safetyOf(e)
			switch e.Kind {
			case "rollcall.asked":
				a.Asked = d.when(d.At, e)
				if d.Step > 0 {
					// Asked and the first step in one: the start
					// queued the question itself.
					a.Escalations = append(a.Escalations, Escalation{At: e.At, Step: d.Step, Notify: d.Notify})
				}
			case "task.escalated":
				a.Escalations = append(a.Escalations, Escalation{At: e.At, Step: d.Step, Notify: d.Notify, Told: d.Told, Incident: d.incidentOf()})
			case "rollcall.safe", "rollcall.help":
				at := d.when(d.AnsweredAt, e)
				a.Answer, a.Channel, a.AnsweredAt, a.Note = strings.TrimPrefix(e.Kind, "rollcall."), d.Channel, at, d.Note
				if a.Accounted.IsZero() {
					a.Accounted = at
				}
				if inc := d.incidentOf(); inc != "" {
					a.Incident = inc
				}
			case "task.unanswered":
				a.Unanswered = a.Answer == ""
			}
		}
		if a.Answer == "" && (p.Status == store.TaskUnanswered || rc.Status != store.RollCallOpen) {
			a.Unanswered = true
		}
		o.People = append(o.People, a)
	}
	return o, nil
}

// escalationText says what a step did: "sms+voice; told Farid, Hugo;
// raised INC-3".
func (b *Builder) escalationText(e Escalation) string {
	var parts []string
	if len(e.Notify) > 0 {
		parts = append(parts, strings.Join(e.Notify, "+"))
	}
	if len(e.Told) > 0 {
		parts = append(parts, "told "+b.people(e.Told))
	}
	if e.Incident != "" {
		parts = append(parts, "raised "+e.Incident)
	}
	if len(parts) == 0 {
		return "escalation ran out"
	}
	return strings.Join(parts, "; ")
}

// clock writes an instant as the local time of day, with the date when it
// is not day.
func (b *Builder) clock(t, day time.Time) string {
	if t.IsZero() {
		return "-"
	}
	loc := b.cfg.Location()
	if t.In(loc).Format("2006-01-02") != day.In(loc).Format("2006-01-02") {
		return t.In(loc).Format("2006-01-02 15:04:05")
	}
	return t.In(loc).Format("15:04:05")
}

// RollCall builds the report of R-num: when it started and who started
// it, its sites, each person with their answer, how it came and the time
// to account for them, who needed help (and the incident raised), who
// never answered, and the escalations each got.
func (b *Builder) RollCall(ctx context.Context, num int64) (*Doc, error) {
	rc, err := b.st.RollCall(ctx, num)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", store.FormatID("R", num), err)
	}
	h, err := b.history(ctx)
	if err != nil {
		return nil, err
	}
	o, err := b.rollCallOutcome(ctx, h, rc)
	if err != nil {
		return nil, err
	}
	kind := "live"
	if rc.Drill {
		kind = "drill"
	}
	sites := make([]string, len(rc.Sites))
	for i, s := range rc.Sites {
		sites[i] = b.site(s)
	}
	status := "open"
	if rc.Status != store.RollCallOpen {
		status = rc.Status + " " + b.when(rc.ClosedAt) + " by " + b.person(rc.ClosedBy)
	}
	n, last := o.Accounted()
	everyone := fmt.Sprintf("not everyone: %d of %d accounted for", n, len(o.People))
	if n == len(o.People) && n > 0 {
		everyone = dur(last)
	}
	var ttas []time.Duration
	for _, p := range o.People {
		if d, ok := p.TimeToAccount(); ok {
			ttas = append(ttas, d)
		}
	}
	med := stats(ttas, len(o.People))
	facts := []Fact{
		fact("Kind", kind), fact("Sites", strings.Join(sites, ", ")), fact("Started", b.when(rc.Created)+" by "+b.person(rc.By)),
		fact("Status", status), fact("Policy", orText(rc.Policy, "the built-in roll-call policy")),
		fact("Asked", fmt.Sprint(len(o.People))), fact("Safe", fmt.Sprint(rc.Safe)), fact("Need help", fmt.Sprint(rc.Help)),
		fact("Not answered", fmt.Sprint(len(o.People)-n)),
		durFact("Time to account for everyone", everyone),
		durFact("Median time to account", pct(med.Median, med.MedianReached, med.N, "not reached: fewer than half answered")),
	}
	if rc.Note != "" {
		facts = append(facts, fact("Note", rc.Note))
	}

	pt := Table{Caption: "Everyone asked", Header: []string{"Person", "Site", "Asked", "Answer", "Channel", "Answered", "Time to account", "Escalations", "Incident"},
		Durations: []int{6}}
	var help, silent []*RollCallAccount
	var rows []timelineRow
	subjects := []string{rc.ID()}
	for _, p := range o.People {
		answer := p.Answer
		switch {
		case answer == "" && p.Unanswered:
			answer = "never answered"
			silent = append(silent, p)
		case answer == "":
			answer = "not yet answered"
			silent = append(silent, p)
		case answer == store.AnswerHelp:
			answer = "need help"
			help = append(help, p)
		}
		tta := "-"
		if d, ok := p.TimeToAccount(); ok {
			tta = dur(d)
			if d < time.Second {
				tta = "0s"
			}
		}
		steps := len(p.Escalations)
		pt.Rows = append(pt.Rows, []string{b.person(p.Person), b.siteShort(p.Site), b.clock(p.Asked, rc.Created), answer, orText(p.Channel, "-"),
			b.clock(p.AnsweredAt, rc.Created), tta, fmt.Sprint(max(steps-1, 0)), orText(p.Incident, "-")})
		id := store.FormatID("T", p.Task)
		subjects = append(subjects, id)
		for _, e := range store.RecordTimeline(id, h) {
			rows = append(rows, timelineRow{e.At, id, e.Actor, e.Kind, b.person(p.Person) + ": " + e.Text})
		}
	}
	for _, e := range store.RecordTimeline(rc.ID(), h) {
		rows = append(rows, timelineRow{e.At, rc.ID(), e.Actor, e.Kind, e.Text})
	}
	for _, e := range h[rc.ID()] {
		switch e.Kind {
		case "rollcall.started", "rollcall.joined", "rollcall.stopped":
			rows = append(rows, timelineRow{e.At, rc.ID(), e.Actor, strings.TrimPrefix(e.Kind, "rollcall."), safetyOf(e).Note})
		}
	}

	ht := Table{Caption: "Needed help", Header: []string{"Person", "Site", "Answered", "Channel", "What they said", "Incident", "Incident status"}}
	for _, p := range help {
		st := "-"
		if n, err := store.ParseID("INC", p.Incident); err == nil {
			if inc, err := b.st.Incident(ctx, n); err == nil {
				st = inc.Status
			}
		}
		ht.Rows = append(ht.Rows, []string{b.person(p.Person), b.siteShort(p.Site), b.clock(p.AnsweredAt, rc.Created), p.Channel, orText(p.Note, "-"), orText(p.Incident, "-"), st})
	}
	st := Table{Caption: "Never answered", Header: []string{"Person", "Site", "Asked", "Escalations they got"}}
	for _, p := range silent {
		var got []string
		for _, e := range p.Escalations {
			got = append(got, b.clock(e.At, rc.Created)+" "+b.escalationText(e))
		}
		st.Rows = append(st.Rows, []string{b.person(p.Person), b.siteShort(p.Site), b.clock(p.Asked, rc.Created), orText(strings.Join(got, " · "), "-")})
	}
	et := Table{Caption: "Questions, reminders and escalations", Header: []string{"Local time", "UTC", "Person", "Step", "What"}}
	type step struct {
		at     time.Time
		person string
		e      Escalation
	}
	var all []step
	for _, p := range o.People {
		for _, e := range p.Escalations {
			all = append(all, step{e.At, p.Person, e})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	for _, s := range all {
		l, u := b.timeCells(s.at)
		what := "question: " + b.escalationText(s.e)
		if s.e.Step > 1 {
			what = "reminder: " + b.escalationText(s.e)
		}
		et.Rows = append(et.Rows, []string{l, u, b.person(s.person), fmt.Sprint(s.e.Step), what})
	}
	title := "Roll call report " + rc.ID()
	if rc.Drill {
		title = "Roll call drill report " + rc.ID()
	}
	doc := &Doc{Title: title, Subtitle: b.generated()}
	doc.Sections = []Section{
		{Heading: "Summary", Facts: facts},
		{Heading: "Everyone asked", Paras: []string{"Time to account: from the question to the person's first answer."}, Tables: []Table{pt}},
		{Heading: "Needed help", Tables: []Table{ht}},
		{Heading: "Never answered", Tables: []Table{st}},
		{Heading: "Escalations", Tables: []Table{et}},
		{Heading: "Timeline", Tables: []Table{b.timelineTable(rows)}},
		{Heading: "Audit trail", Tables: []Table{b.auditTable(h, subjects)}},
	}
	return doc, nil
}

// MissedCheckin is one missed check-in of a lone-worker session and what
// came of it.
type MissedCheckin struct {
	// Due is when the check-in was due (the reminder went then).
	Due time.Time
	// Steps are the escalation steps that ran for it, the reminder first.
	Steps []Escalation
	// AnsweredAt, By and Channel: the check-in that answered it; zero
	// when none did.
	AnsweredAt time.Time
	By         string
	Channel    string
	// Ended says how it ended when no check-in answered it: the session
	// stopped or ended, or its escalation ran out.
	Ended string
}

// Response is how long after the miss a check-in answered it.
func (m *MissedCheckin) Response() (time.Duration, bool) {
	if m.AnsweredAt.IsZero() {
		return 0, false
	}
	return m.AnsweredAt.Sub(m.Due), true
}

// Reached is the highest escalation step that ran for it.
func (m *MissedCheckin) Reached() int {
	n := 0
	for _, s := range m.Steps {
		n = max(n, s.Step)
	}
	return n
}

// CheckinSession is one lone-worker session as the chain tells it.
type CheckinSession struct {
	store.LoneWorker
	Started, Ended time.Time
	EndedBy        string
	Checkins       int
	Missed         []*MissedCheckin
	// Incidents are the incidents raised in it: by an escalation step, or
	// by the worker's HELP.
	Incidents []string
	Helps     int
}

// checkinSessions tells each session started in [from, to) (at site, if
// given) from its audit events.
func (b *Builder) checkinSessions(ctx context.Context, h history, from, to time.Time, site string) ([]*CheckinSession, error) {
	ws, err := b.st.CheckinSessions(ctx, from, to)
	if err != nil {
		return nil, err
	}
	var out []*CheckinSession
	for _, w := range ws {
		if site != "" && w.Site != site {
			continue
		}
		s := &CheckinSession{LoneWorker: w, Started: w.Created}
		var open *MissedCheckin
		closeMiss := func(how string) {
			if open != nil {
				open.Ended = how
				open = nil
			}
		}
		for _, e := range h[w.ID()] {
			d := safetyOf(e)
			switch e.Kind {
			case "checkin.started":
				s.Started = e.At
			case "task.escalated":
				if !d.Missed {
					continue
				}
				if d.Step <= 1 || open == nil {
					closeMiss("missed again")
					open = &MissedCheckin{Due: e.At}
					if d.Last > 0 {
						// The reminder runs when the check-in falls due.
						due := time.UnixMilli(d.Last).Add(w.Every)
						if !w.Until.IsZero() && due.After(w.Until) {
							due = w.Until
						}
						if !due.After(e.At) {
							open.Due = due
						}
					}
					s.Missed = append(s.Missed, open)
				}
				esc := Escalation{At: e.At, Step: d.Step, Notify: d.Notify, Told: d.Told, Incident: d.incidentOf()}
				open.Steps = append(open.Steps, esc)
				if esc.Incident != "" && !slices.Contains(s.Incidents, esc.Incident) {
					s.Incidents = append(s.Incidents, esc.Incident)
				}
			case "task.unanswered":
				if open != nil {
					open.Ended = "escalation ran out"
				}
			case "checkin.ok":
				s.Checkins++
				if open != nil {
					open.AnsweredAt, open.By, open.Channel = e.At, e.Actor, d.Channel
					open = nil
				}
			case "checkin.help":
				s.Helps++
				if inc := d.incidentOf(); inc != "" && !slices.Contains(s.Incidents, inc) {
					s.Incidents = append(s.Incidents, inc)
				}
			case "checkin.stopped":
				s.Ended, s.EndedBy = e.At, e.Actor
				closeMiss("session stopped by " + b.person(e.Actor))
			case "checkin.ended":
				s.Ended, s.EndedBy = e.At, "muster"
				closeMiss("session ended")
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// stepName says what a missed check-in's escalation step is: the reminder
// is step 1, the lone_worker.policy's steps follow.
func (b *Builder) stepName(e Escalation) string {
	if e.Step <= 1 {
		return "reminder (" + strings.Join(e.Notify, "+") + ")"
	}
	return b.escalationText(e)
}

// Checkins builds the lone-worker check-ins report of [from, to): each
// session (person, site, interval, start and end), every missed check-in
// with the escalation it reached and how long after it someone answered,
// and the incidents raised.
func (b *Builder) Checkins(ctx context.Context, from, to time.Time) (*Doc, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("check-ins: the period must end after it starts (%s to %s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	h, err := b.history(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := b.checkinSessions(ctx, h, from, to, "")
	if err != nil {
		return nil, err
	}
	st := Table{Caption: "Sessions", Header: []string{"Session", "Person", "Site", "Every", "Started", "Ended", "Check-ins", "Missed", "Calls for help", "Incidents", "Note"}}
	mt := Table{Caption: "Missed check-ins", Header: []string{"Session", "Person", "Due", "Escalation reached", "Answered", "By", "Channel", "Response time"},
		Durations: []int{7}}
	var resp []time.Duration
	missed, answered, incidents := 0, 0, 0
	var rows []timelineRow
	var subjects []string
	for _, s := range ss {
		ended := "running"
		if !s.Ended.IsZero() {
			ended = b.clock(s.Ended, s.Started)
			if s.EndedBy != "" && s.EndedBy != "muster" {
				ended += " by " + b.person(s.EndedBy)
			} else {
				ended += " (its end)"
			}
		} else if !s.Until.IsZero() {
			ended = "running until " + b.clock(s.Until, s.Started)
		}
		l, _ := b.timeCells(s.Started)
		st.Rows = append(st.Rows, []string{s.Ref, b.person(s.Assignee), b.siteShort(s.Site), dur(s.Every), l, ended, fmt.Sprint(s.Checkins),
			fmt.Sprint(len(s.Missed)), fmt.Sprint(s.Helps), orText(strings.Join(s.Incidents, ", "), "-"), orText(s.Note, "-")})
		incidents += len(s.Incidents)
		for _, m := range s.Missed {
			missed++
			var reached []string
			for _, e := range m.Steps {
				reached = append(reached, b.clock(e.At, m.Due)+" "+b.stepName(e))
			}
			ans, by, ch, rt := "-", "-", "-", "-"
			if d, ok := m.Response(); ok {
				answered++
				resp = append(resp, d)
				ans, by, ch, rt = b.clock(m.AnsweredAt, m.Due), b.person(m.By), orText(m.Channel, "-"), dur(d)
				if d < time.Second {
					rt = "0s"
				}
			} else if m.Ended != "" {
				ans = "not answered: " + m.Ended
			} else {
				ans = "not answered yet"
			}
			dl, _ := b.timeCells(m.Due)
			mt.Rows = append(mt.Rows, []string{s.Ref, b.person(s.Assignee), dl, strings.Join(reached, " · "), ans, by, ch, rt})
		}
		subjects = append(subjects, s.ID())
		for _, e := range store.RecordTimeline(s.ID(), h) {
			rows = append(rows, timelineRow{e.At, s.Ref, e.Actor, e.Kind, b.person(s.Assignee) + ": " + e.Text})
		}
	}
	rs := stats(resp, missed)
	var longest time.Duration
	for _, d := range resp {
		longest = max(longest, d)
	}
	l, u := b.timeCells(from)
	tl, tu := b.timeCells(to)
	doc := &Doc{Title: "Lone-worker check-ins report", Subtitle: b.generated()}
	doc.Sections = []Section{
		{Heading: "Summary", Facts: []Fact{
			fact("Period", l+" ("+u+") to "+tl+" ("+tu+"), sessions started in it"),
			fact("Sessions", fmt.Sprint(len(ss))), fact("Missed check-ins", fmt.Sprint(missed)),
			fact("Missed check-ins answered", fmt.Sprint(answered)),
			durFact("Median response time", pct(rs.Median, rs.MedianReached, rs.N, "not reached: fewer than half answered")),
			durFact("Longest response time", dur(longest)),
			fact("Incidents raised", fmt.Sprint(incidents)),
		}},
		{Heading: "Sessions", Tables: []Table{st}},
		{Heading: "Missed check-ins", Paras: []string{"Response time: from the time the check-in was due to the check-in that answered it."}, Tables: []Table{mt}},
		{Heading: "Timeline", Tables: []Table{b.timelineTable(rows)}},
		{Heading: "Audit trail", Tables: []Table{b.auditTable(h, subjects)}},
	}
	return doc, nil
}

// orText is s, or or when s is empty.
func orText(s, or string) string {
	if s == "" {
		return or
	}
	return s
}
