package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// Builder builds reports from one organization's store.
type Builder struct {
	cfg *configs.Config
	st  *store.Store
	// now is the instant a report is generated at; the store's clock.
	now func() time.Time
}

// New builds a Builder.
func New(cfg *configs.Config, st *store.Store) *Builder {
	return &Builder{cfg: cfg, st: st, now: st.Now}
}

// history is the audit log, grouped by subject, oldest first.
type history map[string][]store.AuditEvent

func (b *Builder) history(ctx context.Context) (history, error) {
	h := history{}
	err := b.st.ScanAudit(ctx, "", func(e store.AuditEvent) error {
		h[e.Subject] = append(h[e.Subject], e)
		return nil
	})
	return h, err
}

// TaskStory is what happened to one task, rebuilt from its audit events.
type TaskStory struct {
	Task *store.Task
	// FirstAssignee is whom the task was first given to.
	FirstAssignee string
	// Steps are the escalation steps that ran, in order; the first is the
	// first notice.
	Steps []StepRun
	// StepsBeforeAck counts the steps that ran before the acknowledgement
	// (all of them when none came).
	StepsBeforeAck int
	// Channels are the channels those steps used (chat, sms, voice).
	Channels []string
	// Unanswered: escalation ran out before anyone acknowledged.
	Unanswered bool
	// AckedBy and AckedAt: the first acknowledgement (or done).
	AckedBy string
	AckedAt time.Time
	// Missed lists, in order, each person who held the task and did not
	// answer it: it was re-assigned away from them, or went unanswered
	// while theirs.
	Missed []string
}

// StepRun is one escalation step of a task.
type StepRun struct {
	At     time.Time
	Step   int
	Notify []string
	To     string
}

// TimeToAck is the time from the task's creation to its acknowledgement
// (0 when it was not acknowledged).
func (s *TaskStory) TimeToAck() time.Duration {
	if s.AckedAt.IsZero() {
		return 0
	}
	return s.AckedAt.Sub(s.Task.Created)
}

// Escalations is how many steps beyond the first notice ran before the
// acknowledgement.
func (s *TaskStory) Escalations() int { return max(s.StepsBeforeAck-1, 0) }

// Used reports whether a step before the acknowledgement used channel.
func (s *TaskStory) Used(channel string) bool { return slices.Contains(s.Channels, channel) }

func story(t *store.Task, evs []store.AuditEvent) *TaskStory {
	s := &TaskStory{Task: t, FirstAssignee: t.Assignee}
	holder := ""
	done := false
	for _, e := range evs {
		var d struct {
			Assignee string   `json:"assignee"`
			From     string   `json:"from"`
			To       string   `json:"to"`
			Step     any      `json:"step"`
			Notify   []string `json:"notify"`
		}
		_ = json.Unmarshal([]byte(e.Data), &d)
		switch e.Kind {
		case "task.assigned":
			s.FirstAssignee, holder = d.Assignee, d.Assignee
		case "task.reassigned":
			if !done && d.From != "" {
				s.Missed = append(s.Missed, d.From)
			}
			holder = d.To
		case "task.escalated":
			s.Steps = append(s.Steps, StepRun{At: e.At, Step: stepNum(d.Step), Notify: d.Notify, To: d.To})
			if !done {
				s.StepsBeforeAck++
				for _, ch := range d.Notify {
					if !slices.Contains(s.Channels, ch) {
						s.Channels = append(s.Channels, ch)
					}
				}
			}
		case "task.unanswered":
			if !done {
				s.Unanswered = true
				if holder != "" {
					s.Missed = append(s.Missed, holder)
				}
			}
		case "task.ack", "task.done":
			if !done {
				done = true
				s.AckedBy, s.AckedAt = e.Actor, e.At
			}
		}
	}
	if !done && !t.AckedAt.IsZero() {
		// The audit events were pruned: the task record still knows.
		s.AckedBy, s.AckedAt = t.AckedBy, t.AckedAt
	}
	return s
}

func stepNum(v any) int {
	switch t := v.(type) {
	case float64:
		return int(t)
	case string:
		var n int
		_, _ = fmt.Sscan(t, &n)
		return n
	}
	return 0
}

// timeCells writes an instant as local time (the organization's zone)
// and UTC.
func (b *Builder) timeCells(t time.Time) (local, utc string) {
	if t.IsZero() {
		return "-", "-"
	}
	return t.In(b.cfg.Location()).Format("2006-01-02 15:04:05 MST"), t.UTC().Format("2006-01-02 15:04:05Z")
}

func (b *Builder) when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	l, u := b.timeCells(t)
	return l + " (" + u + ")"
}

func (b *Builder) person(id string) string {
	if id == "" {
		return "-"
	}
	if p, ok := b.cfg.Person(id); ok {
		return p.Name
	}
	return id
}

func (b *Builder) people(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = b.person(id)
	}
	return strings.Join(out, ", ")
}

func (b *Builder) site(id string) string {
	if s, ok := b.cfg.Site(id); ok {
		return s.Name + " (@" + id + ")"
	}
	return id
}

// dur writes a duration rounded to the second; "-" for none.
func dur(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Second).String()
}

func (b *Builder) generated() string {
	return "Generated " + b.when(b.now()) + " for " + b.cfg.Organization + " from the muster records; every time is shown in " + b.cfg.Location().String() + " and in UTC."
}

// timelineRow is one line of a merged timeline.
type timelineRow struct {
	at                      time.Time
	record, who, kind, text string
}

func (b *Builder) timelineTable(rows []timelineRow) Table {
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
	t := Table{Caption: "Timeline", Header: []string{"Local time", "UTC", "Record", "Who", "What", "Details"}}
	for _, r := range rows {
		l, u := b.timeCells(r.at)
		who := b.person(r.who)
		if r.who == "muster" || r.who == "twilio" {
			who = r.who
		}
		t.Rows = append(t.Rows, []string{l, u, r.record, who, r.kind, r.text})
	}
	return t
}

func (b *Builder) auditTable(h history, subjects []string) Table {
	var evs []store.AuditEvent
	for _, s := range subjects {
		evs = append(evs, h[s]...)
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
	t := Table{Caption: "Audit events (verify them with `muster audit verify`)", Header: []string{"Seq", "UTC", "Kind", "Actor", "Subject", "Hash"}}
	for _, e := range evs {
		_, u := b.timeCells(e.At)
		h := e.Hash
		if len(h) > 16 {
			h = h[:16] + "…"
		}
		t.Rows = append(t.Rows, []string{e.SeqRaw, u, e.Kind, e.Actor, e.Subject, h})
	}
	return t
}

// activationParts gathers an activation's tasks, their stories and their
// timelines.
type activationParts struct {
	act     *store.Activation
	stories []*TaskStory
	rows    []timelineRow
	// deliveries are the audit events about messages of the activation
	// and its tasks (message.*, delivery.*, outbox.*).
	deliveries []store.AuditEvent
}

// isDelivery reports whether an audit event is about a message.
func isDelivery(kind string) bool {
	return strings.HasPrefix(kind, "message.") || strings.HasPrefix(kind, "delivery.") || strings.HasPrefix(kind, "outbox.")
}

func (b *Builder) activationParts(ctx context.Context, h history, act *store.Activation) (*activationParts, error) {
	p := &activationParts{act: act}
	tasks, err := b.st.Tasks(ctx, act.Tasks)
	if err != nil {
		return nil, err
	}
	tl, err := b.st.ActivationTimeline(ctx, act.Num)
	if err != nil {
		return nil, err
	}
	for _, e := range tl {
		p.rows = append(p.rows, timelineRow{e.At, act.ID(), e.Actor, e.Kind, e.Text})
	}
	for _, ref := range append([]string{act.ID()}, taskIDs(tasks)...) {
		for _, e := range h[ref] {
			if isDelivery(e.Kind) {
				p.deliveries = append(p.deliveries, e)
			}
		}
	}
	for _, t := range tasks {
		p.stories = append(p.stories, story(t, h[t.ID()]))
		ttl, err := b.st.TaskTimeline(ctx, t.Num)
		if err != nil {
			return nil, err
		}
		for _, e := range ttl {
			p.rows = append(p.rows, timelineRow{e.At, t.ID(), e.Actor, e.Kind, e.Text})
		}
	}
	return p, nil
}

func taskIDs(tasks []*store.Task) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID()
	}
	return out
}

func (b *Builder) taskTable(p *activationParts) Table {
	t := Table{Caption: "Tasks", Header: []string{"Task", "Title", "Role", "First assigned", "Status", "Acknowledged by", "Time to acknowledge", "Escalation steps", "Channels", "Did not answer"}}
	for _, s := range p.stories {
		t.Rows = append(t.Rows, []string{s.Task.ID(), s.Task.Title, s.Task.Role, b.person(s.FirstAssignee), s.Task.Status,
			b.person(s.AckedBy), dur(s.TimeToAck()), fmt.Sprint(s.Escalations()), strings.Join(s.Channels, "+"), b.people(s.Missed)})
	}
	return t
}

func (b *Builder) messageTable(p *activationParts) Table {
	t := Table{Caption: "Messages sent and their delivery", Header: []string{"Local time", "UTC", "Task", "Channel", "To", "Status"}}
	type msg struct {
		at                time.Time
		task, ch, to, stt string
	}
	var ms []msg
	for _, s := range p.stories {
		for _, st := range s.Steps {
			for _, ch := range st.Notify {
				ms = append(ms, msg{st.At, s.Task.ID(), ch, b.person(st.To), fmt.Sprintf("queued (step %d)", st.Step+1)})
			}
		}
	}
	for _, r := range p.rows {
		if r.kind == "sent" || r.kind == "delivery" || r.kind == "delivered" || r.kind == "failed" {
			ms = append(ms, msg{r.at, r.record, "", "", r.kind + ": " + r.text})
		}
	}
	for _, e := range p.deliveries {
		var d struct {
			Channel string `json:"channel"`
			To      string `json:"to"`
			Status  string `json:"status"`
			Code    string `json:"code"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal([]byte(e.Data), &d)
		st := e.Kind
		for _, x := range []string{d.Status, d.Code, d.Error} {
			if x != "" {
				st += " " + x
			}
		}
		ms = append(ms, msg{e.At, e.Subject, d.Channel, b.person(d.To), st})
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].at.Before(ms[j].at) })
	for _, m := range ms {
		l, u := b.timeCells(m.at)
		t.Rows = append(t.Rows, []string{l, u, m.task, m.ch, m.to, m.stt})
	}
	return t
}

func (b *Builder) subjects(p *activationParts) []string {
	out := []string{p.act.ID()}
	for _, s := range p.stories {
		out = append(out, s.Task.ID())
	}
	return out
}

// Incident builds the report of INC-num: what happened when and by
// whom, the plan it triggered, the messages and their delivery, the time
// to acknowledge and to resolve, and its audit events.
func (b *Builder) Incident(ctx context.Context, num int64) (*Doc, error) {
	inc, err := b.st.Incident(ctx, num)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", store.FormatID("INC", num), err)
	}
	h, err := b.history(ctx)
	if err != nil {
		return nil, err
	}
	tl, err := b.st.IncidentTimeline(ctx, num)
	if err != nil {
		return nil, err
	}
	var rows []timelineRow
	for _, e := range tl {
		rows = append(rows, timelineRow{e.At, inc.ID(), e.Actor, e.Kind, e.Text})
	}
	hold := "no"
	if inc.Hold {
		hold = "yes: kept past retention until released"
	}
	facts := [][2]string{
		{"Site", b.site(inc.Site)}, {"Category", inc.Category}, {"Severity", inc.Severity}, {"Status", inc.Status},
		{"Raised", b.when(inc.Created) + " by " + b.person(inc.Reporter)}, {"Report", inc.Text},
		{"Acknowledged", ackText(b, inc)}, {"Resolved", resolvedText(b, inc)},
		{"Time to acknowledge", dur(incidentTTA(inc))}, {"Time to resolve", dur(incidentTTR(inc))},
		{"Legal hold", hold},
	}
	if inc.Summary != "" {
		facts = append(facts, [2]string{"Outcome", inc.Summary})
	}
	doc := &Doc{Title: "Incident report " + inc.ID(), Subtitle: b.generated()}
	subjects := []string{inc.ID()}
	var sections []Section
	if inc.Activation != "" {
		facts = append(facts, [2]string{"Plan triggered", inc.Activation})
		if an, err := store.ParseID("A", inc.Activation); err == nil {
			if act, err := b.st.Activation(ctx, an); err == nil {
				p, err := b.activationParts(ctx, h, act)
				if err != nil {
					return nil, err
				}
				rows = append(rows, p.rows...)
				subjects = append(subjects, b.subjects(p)...)
				sections = append(sections, Section{Heading: "Plan " + act.ID() + ": " + act.PlanName, Facts: b.activationFacts(act),
					Tables: []Table{b.taskTable(p), b.messageTable(p)}})
			}
		}
	}
	doc.Sections = append([]Section{{Heading: "Summary", Facts: facts}, {Heading: "Timeline", Tables: []Table{b.timelineTable(rows)}}}, sections...)
	doc.Sections = append(doc.Sections, Section{Heading: "Audit trail", Tables: []Table{b.auditTable(h, subjects)}})
	return doc, nil
}

func ackText(b *Builder, inc *store.Incident) string {
	if inc.AckedAt.IsZero() {
		return "-"
	}
	return b.when(inc.AckedAt) + " by " + b.person(inc.AckedBy)
}

func resolvedText(b *Builder, inc *store.Incident) string {
	if inc.ResolvedAt.IsZero() {
		return "-"
	}
	return b.when(inc.ResolvedAt) + " by " + b.person(inc.ResolvedBy)
}

// incidentTTA is the time from the raise to the first response: the
// acknowledgement, or the resolution when it came without one. 0: none
// yet.
func incidentTTA(inc *store.Incident) time.Duration {
	switch {
	case !inc.AckedAt.IsZero():
		return inc.AckedAt.Sub(inc.Created)
	case !inc.ResolvedAt.IsZero():
		return inc.ResolvedAt.Sub(inc.Created)
	}
	return 0
}

// incidentTTR is the time from the raise to the resolution (0: open).
func incidentTTR(inc *store.Incident) time.Duration {
	if inc.ResolvedAt.IsZero() {
		return 0
	}
	return inc.ResolvedAt.Sub(inc.Created)
}

func (b *Builder) activationFacts(act *store.Activation) [][2]string {
	kind := "live"
	if act.Drill > 0 {
		kind = fmt.Sprintf("drill D-%d", act.Drill)
	}
	f := [][2]string{
		{"Plan", fmt.Sprintf("%s (%s) v%d", act.PlanName, act.Plan, act.PlanVersion)}, {"Kind", kind}, {"Site", b.site(act.Site)},
		{"Triggered", b.when(act.Created) + " by " + b.person(act.TriggeredBy)}, {"Status", strings.ReplaceAll(act.Status, "_", " ")},
		{"Target", "every task acknowledged within " + dur(act.Target)},
	}
	if !act.ClosedAt.IsZero() {
		f = append(f, [2]string{"Closed", b.when(act.ClosedAt) + " by " + b.person(act.ClosedBy)})
	}
	if act.Note != "" {
		f = append(f, [2]string{"Note", act.Note})
	}
	if act.Incident > 0 {
		f = append(f, [2]string{"Incident", store.FormatID("INC", act.Incident)})
	}
	return f
}

// Activation builds the report of A-num: the plan, every task with who
// acknowledged it and when, the escalation steps and messages, the
// timeline and the audit events.
func (b *Builder) Activation(ctx context.Context, num int64) (*Doc, error) {
	act, err := b.st.Activation(ctx, num)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", store.FormatID("A", num), err)
	}
	h, err := b.history(ctx)
	if err != nil {
		return nil, err
	}
	p, err := b.activationParts(ctx, h, act)
	if err != nil {
		return nil, err
	}
	doc := &Doc{Title: "Activation report " + act.ID() + ": " + act.PlanName, Subtitle: b.generated()}
	doc.Sections = []Section{
		{Heading: "Summary", Facts: b.activationFacts(act)},
		{Heading: "Tasks", Tables: []Table{b.taskTable(p)}},
		{Heading: "Messages", Tables: []Table{b.messageTable(p)}},
		{Heading: "Timeline", Tables: []Table{b.timelineTable(p.rows)}},
		{Heading: "Audit trail", Tables: []Table{b.auditTable(h, b.subjects(p))}},
	}
	return doc, nil
}

// DrillOutcome is the after-action result of one drill.
type DrillOutcome struct {
	Drill   *store.Drill
	Act     *store.Activation
	Stories []*TaskStory
	// Passed: every live task acknowledged within the target.
	Passed bool
	// Slowest is the longest time to acknowledge among the tasks that
	// were acknowledged.
	Slowest time.Duration
	// NonResponders: everyone who held a task and did not answer it.
	NonResponders []string
	// Participants: everyone who was given, or acknowledged, a task.
	Participants []string
}

func (b *Builder) drillOutcome(ctx context.Context, h history, d *store.Drill) (*DrillOutcome, error) {
	act, err := b.st.Activation(ctx, d.Activation)
	if err != nil {
		return nil, err
	}
	p, err := b.activationParts(ctx, h, act)
	if err != nil {
		return nil, err
	}
	o := &DrillOutcome{Drill: d, Act: act, Stories: p.stories, Passed: true}
	add := func(list *[]string, id string) {
		if id != "" && !slices.Contains(*list, id) {
			*list = append(*list, id)
		}
	}
	for _, s := range p.stories {
		if s.Task.Status == store.TaskSimulated {
			continue
		}
		add(&o.Participants, s.FirstAssignee)
		for _, st := range s.Steps {
			add(&o.Participants, st.To)
		}
		add(&o.Participants, s.AckedBy)
		for _, m := range s.Missed {
			add(&o.NonResponders, m)
		}
		switch {
		case s.AckedAt.IsZero():
			o.Passed = false
			if !s.Unanswered {
				// Stopped before anyone answered: whoever held it did not.
				add(&o.NonResponders, s.Task.Assignee)
			}
		default:
			o.Slowest = max(o.Slowest, s.TimeToAck())
			if d.Target > 0 && s.TimeToAck() > d.Target {
				o.Passed = false
			}
		}
	}
	return o, nil
}

// Drill builds the after-action report of D-num: the objective (the plan
// and its target), participants, per task the time to acknowledge and the
// escalation steps needed, non-responders, the result and the corrective
// actions.
func (b *Builder) Drill(ctx context.Context, num int64) (*Doc, error) {
	d, err := b.st.Drill(ctx, num)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", store.FormatID("D", num), err)
	}
	h, err := b.history(ctx)
	if err != nil {
		return nil, err
	}
	o, err := b.drillOutcome(ctx, h, d)
	if err != nil {
		return nil, err
	}
	actions, err := b.st.Actions(ctx, store.ActionFilter{Drill: d.Num})
	if err != nil {
		return nil, err
	}
	result := "FAIL"
	if o.Passed {
		result = "PASS"
	}
	version := ""
	if o.Act.PlanVersion > 0 {
		version = fmt.Sprintf(" v%d", o.Act.PlanVersion)
	}
	stopped := "still running"
	if !d.Stopped.IsZero() {
		stopped = b.when(d.Stopped) + " by " + b.person(d.StoppedBy)
	}
	doc := &Doc{Title: "Drill after-action report " + d.ID() + ": " + o.Act.PlanName, Subtitle: b.generated()}
	doc.Sections = append(doc.Sections, Section{Heading: "Objective", Facts: [][2]string{
		{"Plan", o.Act.PlanName + " (" + d.Plan + ")" + version}, {"Site", b.site(d.Site)},
		{"Target", "every task acknowledged within " + dur(d.Target)},
		{"Started", b.when(d.Started) + " by " + b.person(d.StartedBy)}, {"Stopped", stopped},
		{"Activation", o.Act.ID()},
	}})
	rt := Table{Caption: "Tasks", Header: []string{"Task", "Title", "First assigned", "Acknowledged by", "Time to acknowledge", "Within target", "Escalation steps needed", "Channels", "Did not answer"}}
	for _, s := range o.Stories {
		within := "-"
		switch {
		case s.Task.Status == store.TaskSimulated:
			within = "simulated (live only)"
		case s.AckedAt.IsZero():
			within = "no: not acknowledged"
		case d.Target == 0 || s.TimeToAck() <= d.Target:
			within = "yes"
		default:
			within = "no"
		}
		rt.Rows = append(rt.Rows, []string{s.Task.ID(), s.Task.Title, b.person(s.FirstAssignee), b.person(s.AckedBy), dur(s.TimeToAck()),
			within, fmt.Sprint(s.Escalations()), strings.Join(s.Channels, "+"), b.people(s.Missed)})
	}
	doc.Sections = append(doc.Sections,
		Section{Heading: "Participants", Paras: []string{b.people(o.Participants)}},
		Section{Heading: "Results per task", Tables: []Table{rt}},
		Section{Heading: "Non-responders", Paras: []string{b.people(o.NonResponders)}},
		Section{Heading: "Overall result", Facts: [][2]string{{"Result", result}, {"Slowest acknowledgement", dur(o.Slowest)}, {"Target", dur(d.Target)}}},
		Section{Heading: "Corrective actions", Tables: []Table{b.actionTable(actions)}},
	)
	return doc, nil
}

func (b *Builder) actionTable(actions []*store.CorrectiveAction) Table {
	t := Table{Caption: "Corrective actions", Header: []string{"Action", "Drill", "What", "Recorded", "By", "Status", "Closed"}}
	for _, a := range actions {
		closed := "-"
		if a.Status == store.ActionDone {
			closed = b.when(a.DoneAt) + " by " + b.person(a.DoneBy)
			if a.DoneNote != "" {
				closed += ": " + a.DoneNote
			}
		}
		l, _ := b.timeCells(a.Created)
		t.Rows = append(t.Rows, []string{a.ID(), store.FormatID("D", a.Drill), a.Text, l, b.person(a.By), a.Status, closed})
	}
	return t
}

// ErrUsage marks a command line RunCLI cannot run.
var ErrUsage = errors.New("usage")
