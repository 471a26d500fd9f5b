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
	// obls are the obligation clocks of every incident, by incident
	// number, read once per review pack.
	obls map[int64][]*store.Obligation
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
		for _, m := range e.Messages() {
			h[m.Subject] = append(h[m.Subject], m)
		}
		return nil
	})
	return h, err
}

// TaskStory is one task's figures (from its record) with the escalation
// steps that ran (from its audit events).
type TaskStory struct {
	TaskFigures
	// Steps are the escalation steps that ran, in order; the first is the
	// first notice. Empty once the audit events are pruned.
	Steps []StepRun
	// Channels are the channels the steps before the acknowledgement used
	// (chat, sms, voice).
	Channels []string
}

// StepRun is one escalation step of a task.
type StepRun struct {
	At time.Time
	// Step numbers the task's steps from 1, as its timeline does.
	Step   int
	Notify []string
	To     string
}

// FirstAssignee is whom the task was first given to.
func (s *TaskStory) FirstAssignee() string {
	if len(s.Holders) == 0 {
		return ""
	}
	return s.Holders[0]
}

// Used reports whether a step before the acknowledgement used channel.
func (s *TaskStory) Used(channel string) bool { return slices.Contains(s.Channels, channel) }

func story(t *store.Task, evs []store.AuditEvent) *TaskStory {
	s := &TaskStory{TaskFigures: Figures(t)}
	for _, e := range evs {
		if e.Kind != "task.escalated" {
			continue
		}
		var d struct {
			To     string   `json:"to"`
			Notify []string `json:"notify"`
		}
		_ = json.Unmarshal([]byte(e.Data), &d)
		// Steps are numbered by their order: events written before step
		// numbers were 1-based in the audit data carry 0 for the first.
		s.Steps = append(s.Steps, StepRun{At: e.At, Step: len(s.Steps) + 1, Notify: d.Notify, To: d.To})
		if s.Acked() && e.At.After(s.AckedAt) {
			continue
		}
		for _, ch := range d.Notify {
			if !slices.Contains(s.Channels, ch) {
				s.Channels = append(s.Channels, ch)
			}
		}
	}
	return s
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
	// Timelines are read from the audit chain (store/timeline.go).
	for _, e := range store.RecordTimeline(act.ID(), h) {
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
		for _, e := range store.RecordTimeline(t.ID(), h) {
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
	t := Table{Caption: "Tasks", Header: []string{"Task", "Title", "Role", "First assigned", "Status", "Acknowledged by", "Time to acknowledge", "Escalation steps", "Channels", "Did not answer"},
		Durations: []int{6}}
	for _, s := range p.stories {
		t.Rows = append(t.Rows, []string{s.Task.ID(), s.Task.Title, s.Task.Role, b.person(s.FirstAssignee()), s.Task.Status,
			b.ackedBy(s.TaskFigures), dur(s.TimeToAck()), fmt.Sprint(s.Escalations()), strings.Join(s.Channels, "+"), b.people(s.NotAnswered)})
	}
	return t
}

// ackedBy names whoever acknowledged a task, and says so when it came
// only after the escalation ran out.
func (b *Builder) ackedBy(f TaskFigures) string {
	if !f.Acked() {
		return "-"
	}
	if f.AckedLate() {
		return b.person(f.AckedBy) + " (after the escalation ran out)"
	}
	return b.person(f.AckedBy)
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
				ms = append(ms, msg{st.At, s.Task.ID(), ch, b.person(st.To), fmt.Sprintf("queued (step %d)", st.Step)})
			}
		}
	}
	// Each send, delivery report and failure is an audit event.
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
	facts := []Fact{
		fact("Site", b.site(inc.Site)), fact("Category", inc.Category), fact("Severity", inc.Severity), fact("Status", inc.Status),
		fact("Raised", b.when(inc.Created)+" by "+b.person(inc.Reporter)), fact("Report", inc.Text),
		fact("Acknowledged", ackText(b, inc)), fact("Resolved", resolvedText(b, inc)),
		durFact("Time to acknowledge", ttaText(inc)), durFact("Time to resolve", ttrText(inc)),
		fact("Legal hold", hold),
	}
	if inc.Summary != "" {
		facts = append(facts, fact("Outcome", inc.Summary))
	}
	doc := &Doc{Title: "Incident report " + inc.ID(), Subtitle: b.generated()}
	subjects := []string{inc.ID()}
	var sections []Section
	if inc.Activation != "" {
		facts = append(facts, fact("Plan triggered", inc.Activation))
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
	obls, err := b.st.Obligations(ctx, num)
	if err != nil {
		return nil, err
	}
	if len(obls) > 0 {
		sections = append([]Section{b.obligationSection(obls)}, sections...)
	}
	for _, e := range h[inc.ID()] {
		if line, ok := b.obligationEvent(e); ok {
			rows = append(rows, timelineRow{e.At, inc.ID(), e.Actor, e.Kind, line})
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

// incidentTTA is the time from the raise to the acknowledgement; false
// when the incident was never acknowledged (resolving it is not an
// acknowledgement).
func incidentTTA(inc *store.Incident) (time.Duration, bool) {
	if inc.AckedAt.IsZero() {
		return 0, false
	}
	return inc.AckedAt.Sub(inc.Created), true
}

// incidentTTR is the time from the raise to the resolution; false while
// it is open.
func incidentTTR(inc *store.Incident) (time.Duration, bool) {
	if inc.ResolvedAt.IsZero() {
		return 0, false
	}
	return inc.ResolvedAt.Sub(inc.Created), true
}

func ttaText(inc *store.Incident) string {
	if d, ok := incidentTTA(inc); ok {
		return dur(d)
	}
	return "not acknowledged"
}

func ttrText(inc *store.Incident) string {
	if d, ok := incidentTTR(inc); ok {
		return dur(d)
	}
	return "not resolved"
}

func (b *Builder) activationFacts(act *store.Activation) []Fact {
	kind := "live"
	if act.Drill > 0 {
		kind = fmt.Sprintf("drill D-%d", act.Drill)
	}
	f := []Fact{
		fact("Plan", fmt.Sprintf("%s (%s) v%d", act.PlanName, act.Plan, act.PlanVersion)), fact("Kind", kind), fact("Site", b.site(act.Site)),
		fact("Triggered", b.when(act.Created)+" by "+b.person(act.TriggeredBy)), fact("Status", strings.ReplaceAll(act.Status, "_", " ")),
		fact("Target", "every task acknowledged within "+dur(act.Target)),
	}
	if !act.ClosedAt.IsZero() {
		f = append(f, fact("Closed", b.when(act.ClosedAt)+" by "+b.person(act.ClosedBy)))
	}
	if act.Note != "" {
		f = append(f, fact("Note", act.Note))
	}
	if act.Incident > 0 {
		f = append(f, fact("Incident", store.FormatID("INC", act.Incident)))
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

// DrillOutcome is a drill's result with its tasks' stories.
type DrillOutcome struct {
	*DrillFigures
	Stories []*TaskStory
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
	tasks := make([]*store.Task, len(p.stories))
	for i, s := range p.stories {
		tasks[i] = s.Task
	}
	return &DrillOutcome{DrillFigures: DrillResult(d, act, tasks), Stories: p.stories}, nil
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
	doc.Sections = append(doc.Sections, Section{Heading: "Objective", Facts: []Fact{
		fact("Plan", o.Act.PlanName+" ("+d.Plan+")"+version), fact("Site", b.site(d.Site)),
		fact("Target", "every task acknowledged within "+dur(d.Target)),
		fact("Started", b.when(d.Started)+" by "+b.person(d.StartedBy)), fact("Stopped", stopped),
		fact("Activation", o.Act.ID()),
	}})
	rt := Table{Caption: "Tasks", Header: []string{"Task", "Title", "First assigned", "Acknowledged by", "Time to acknowledge", "Within target", "Escalation steps needed", "Channels", "Did not answer"},
		Durations: []int{4}}
	for _, s := range o.Stories {
		within := "-"
		switch {
		case s.Simulated:
			within = "simulated (live only)"
		case !s.Acked():
			within = "no: not acknowledged"
		case d.Target == 0 || s.TimeToAck() <= d.Target:
			within = "yes"
		default:
			within = "no"
		}
		rt.Rows = append(rt.Rows, []string{s.Task.ID(), s.Task.Title, b.person(s.FirstAssignee()), b.ackedBy(s.TaskFigures), dur(s.TimeToAck()),
			within, fmt.Sprint(s.Escalations()), strings.Join(s.Channels, "+"), b.people(s.NotAnswered)})
	}
	doc.Sections = append(doc.Sections,
		Section{Heading: "Participants", Paras: []string{b.people(o.Participants)}},
		Section{Heading: "Results per task", Tables: []Table{rt}},
		Section{Heading: "Non-responders", Paras: []string{b.people(o.NonResponders)}},
		Section{Heading: "Overall result", Facts: []Fact{fact("Result", result), durFact("Slowest acknowledgement", dur(o.Slowest)), durFact("Target", dur(d.Target))}},
		Section{Heading: "Corrective actions", Tables: []Table{b.actionsTable("Corrective actions", actions, b.now(), false)}},
	)
	return doc, nil
}

// ErrUsage marks a command line RunCLI cannot run.
var ErrUsage = errors.New("usage")
