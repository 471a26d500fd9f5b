package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Task statuses.
const (
	TaskOpen         = "open"
	TaskAcknowledged = "acknowledged"
	TaskDone         = "done"
	TaskUnanswered   = "unanswered"
	TaskCancelled    = "cancelled"
	// TaskSimulated: a live_only task in a drill, recorded but never sent.
	TaskSimulated = "simulated"
)

// Activation is one triggering of a plan (a drill is an activation too).
type Activation struct {
	Num         int64
	Plan        string
	PlanName    string
	PlanVersion int
	Site        string
	TriggeredBy string
	Note        string
	Status      string // active, stood_down
	Created     time.Time
	ClosedAt    time.Time
	ClosedBy    string
	Drill       int64 // D-n when this is a drill, else 0
	Incident    int64 // INC-n it was triggered for, else 0
	Tasks       []int64
	Target      time.Duration
}

// ID is the human id, A-7.
func (a *Activation) ID() string { return FormatID("A", a.Num) }

// Task is one plan task of one activation, assigned to one person.
type Task struct {
	Num        int64
	Activation int64
	Plan       string
	Title      string
	Role       string
	Policy     string
	Site       string
	Assignee   string
	// Assignees is everyone the task was ever assigned to, in order (the
	// current assignee last).
	Assignees []string
	Status    string
	// Step is the next escalation step to run (0 before the first).
	Step     int
	Due      time.Time // when Step runs
	Created  time.Time
	AckedBy  string
	AckedAt  time.Time
	AckNote  string
	DoneBy   string
	DoneAt   time.Time
	Drill    int64
	LiveOnly bool
	// UnansweredAt is when its escalation ran out (zero if it never did);
	// an acknowledgement may still come after it.
	UnansweredAt time.Time
	// Kind is "" for a plan task, KindRollCall or KindCheckin; Ref is then
	// the roll call (R-n) or session (L-n) it belongs to.
	Kind string
	Ref  string
	// Until, Last, Every and Note belong to a lone-worker session: when it
	// ends, the last check-in, the interval, and the worker's note.
	Until time.Time
	Last  time.Time
	Every time.Duration
	Note  string
}

// ID is the human id, T-17.
func (t *Task) ID() string { return FormatID("T", t.Num) }

// WasAssigned reports whether person holds or once held the task.
func (t *Task) WasAssigned(person string) bool {
	if person == "" {
		return false
	}
	if t.Assignee == person {
		return true
	}
	for _, p := range t.Assignees {
		if p == person {
			return true
		}
	}
	return false
}

// Holders lists everyone who held the task, in the order they were given
// it, each once (a repeating policy can hand it back and forth).
func (t *Task) Holders() []string {
	list := t.Assignees
	if len(list) == 0 && t.Assignee != "" {
		list = []string{t.Assignee}
	}
	var out []string
	for _, p := range list {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if t.Assignee != "" && !slices.Contains(out, t.Assignee) {
		out = append(out, t.Assignee)
	}
	return out
}

// Closed reports whether nothing more happens to the task.
func (t *Task) Closed() bool {
	return t.Status != TaskOpen && t.Status != TaskUnanswered
}

// Drill is an exercise run of a plan.
type Drill struct {
	Num        int64
	Plan       string
	Site       string
	Activation int64
	StartedBy  string
	Started    time.Time
	Stopped    time.Time
	StoppedBy  string
	Status     string // running, stopped
	Target     time.Duration
}

// ID is the human id, D-3.
func (d *Drill) ID() string { return FormatID("D", d.Num) }

// OutMessage is an outgoing message written to the outbox inside a
// transition; delivery happens afterwards.
type OutMessage struct {
	Key     string `json:"key,omitempty"`
	Channel string `json:"channel"`
	To      string `json:"to,omitempty"`
	Site    string `json:"site,omitempty"`
	Kind    string `json:"kind"`
	Ref     string `json:"ref,omitempty"`
	Text    string `json:"text"`
	// Task, when set, suppresses the send if the task is no longer open
	// by the time it is delivered.
	Task  string `json:"task,omitempty"`
	Drill string `json:"drill,omitempty"`
}

// NewActivation is what a trigger writes.
type NewActivation struct {
	Plan, PlanName, Site, By, Note string
	PlanVersion                    int
	Drill                          bool
	Incident                       int64 // 0 for none
	Target                         time.Duration
	Tasks                          []NewTask
	// Messages go out with the activation (the broadcast).
	Messages []OutMessage
}

// NewTask is one task of a trigger.
type NewTask struct {
	Title, Role, Policy, Assignee string
	// Note explains the assignment for the timeline ("on duty",
	// "no guard on duty: assigned to the coordinator").
	Note      string
	LiveOnly  bool
	Simulated bool
}

var (
	triggerScript = loadScript("plan_trigger")
	claimScript   = loadScript("timers_claim")
	stepScript    = loadScript("task_steps")
	ackScript     = loadScript("task_ack")
	closeScript   = loadScript("activation_close")
	readScript    = loadScript("activation_read")
	takeScript    = loadScript("outbox_take")
)

// TriggerPlan writes an activation, its tasks, their first deadlines and
// the broadcast in one script. It returns the activation as written.
func (s *Store) TriggerPlan(ctx context.Context, in NewActivation) (*Activation, []*Task, error) {
	now := ms(s.now())
	type taskJSON struct {
		Title     string `json:"title"`
		Role      string `json:"role"`
		Policy    string `json:"policy"`
		Assignee  string `json:"assignee"`
		Note      string `json:"note"`
		LiveOnly  string `json:"live_only"`
		Simulated string `json:"simulated"`
	}
	tasks := make([]taskJSON, len(in.Tasks))
	for i, t := range in.Tasks {
		tasks[i] = taskJSON{Title: t.Title, Role: t.Role, Policy: t.Policy, Assignee: t.Assignee, Note: t.Note,
			LiveOnly: flag(t.LiveOnly), Simulated: flag(t.Simulated)}
	}
	incident := ""
	if in.Incident > 0 {
		incident = strconv.FormatInt(in.Incident, 10)
	}
	act := map[string]string{
		"plan": in.Plan, "name": in.PlanName, "version": strconv.Itoa(in.PlanVersion), "site": in.Site,
		"by": in.By, "note": in.Note, "drill": flag(in.Drill), "incident": incident,
		"target": strconv.FormatInt(in.Target.Milliseconds(), 10),
	}
	msgs := in.Messages
	if msgs == nil {
		msgs = []OutMessage{}
	}
	data := auditData(map[string]any{"plan": in.Plan, "name": in.PlanName, "version": in.PlanVersion, "site": in.Site, "note": in.Note,
		"drill": in.Drill, "tasks": len(in.Tasks), "incident": incident})
	v, err := s.run(ctx, triggerScript, now, mustJSON(act), mustJSON(tasks), mustJSON(msgs), data)
	res, _ := v.([]any)
	// With ErrNotReplicated the activation is saved (on the primary) all
	// the same: it is returned with the error, so the answer can name it.
	unconfirmed := errors.Is(err, ErrNotReplicated) && len(res) >= 2
	if err != nil && !unconfirmed {
		return nil, nil, fmt.Errorf("trigger %s: %w", in.Plan, err)
	}
	if len(res) < 2 {
		return nil, nil, unavailable(fmt.Errorf("trigger %s: unexpected reply %v", in.Plan, v))
	}
	a := &Activation{
		Num: toInt(res[0]), Drill: toInt(res[1]), Plan: in.Plan, PlanName: in.PlanName, PlanVersion: in.PlanVersion,
		Site: in.Site, TriggeredBy: in.By, Note: in.Note, Status: "active", Created: time.UnixMilli(now),
		Incident: in.Incident, Target: in.Target,
	}
	out := make([]*Task, 0, len(in.Tasks))
	for i, r := range res[2:] {
		t := in.Tasks[i]
		n := toInt(r)
		a.Tasks = append(a.Tasks, n)
		status := TaskOpen
		if t.Simulated {
			status = TaskSimulated
		}
		out = append(out, &Task{Num: n, Activation: a.Num, Plan: in.Plan, Title: t.Title, Role: t.Role, Policy: t.Policy,
			Site: in.Site, Assignee: t.Assignee, Status: status, Due: time.UnixMilli(now), Created: time.UnixMilli(now),
			Drill: a.Drill, LiveOnly: t.LiveOnly})
	}
	if unconfirmed {
		return a, out, fmt.Errorf("trigger %s as %s: %w", in.Plan, a.ID(), err)
	}
	return a, out, nil
}

// Claim is a due timer this process now holds.
type Claim struct {
	Task int64
	// Due is when the step was scheduled (the task's due time, which
	// stays put when a dead claimer's lease is taken over).
	Due time.Time
	// Until is the end of the lease: the claim holds while the task's
	// timer is still there (StepRun.Until).
	Until time.Time
	// Record is the task as it was when claimed, its ClaimFields only;
	// nil when it is gone.
	Record *Task
}

// ClaimFields are the task's fields a claim reads, what a step needs (in
// the order lua/timers_claim.lua reads them).
var ClaimFields = []string{"num", "status", "step", "policy", "site", "assignee", "drill", "title", "plan", "due", "kind", "ref",
	"until", "last", "note"}

// ClaimDue claims up to limit timers due at or before now, earliest
// first, holding each until now+lease. Each claim carries its task, read
// in the same script, so running a batch costs no further reads.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Claim, error) {
	until := ms(now.Add(lease))
	v, err := s.run(ctx, claimScript, ms(now), until, limit)
	if err != nil {
		return nil, err
	}
	res, _ := v.([]any)
	out := make([]Claim, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		score, _ := strconv.ParseFloat(toString(res[i+1]), 64)
		c := Claim{Task: toInt(res[i]), Due: time.UnixMilli(int64(score)), Until: time.UnixMilli(until)}
		if vals, _ := res[i+2].([]any); len(vals) == len(ClaimFields) {
			m := make(map[string]string, len(vals))
			for j, f := range ClaimFields {
				m[f] = toString(vals[j])
			}
			c.Record = taskFromHash(m)
		}
		out = append(out, c)
	}
	return out, nil
}

// NextDue is the earliest pending deadline, a task's or an obligation's;
// ok is false when none.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var tz, oz *redis.ZSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		tz = p.ZRangeWithScores(ctx, s.Key("timers"), 0, 0)
		oz = p.ZRangeWithScores(ctx, s.Key("otimers"), 0, 0)
	}); err != nil {
		return time.Time{}, false, err
	}
	var (
		next time.Time
		ok   bool
	)
	for _, z := range [][]redis.Z{tz.Val(), oz.Val()} {
		if len(z) == 0 {
			continue
		}
		if t := time.UnixMilli(int64(z[0].Score)); !ok || t.Before(next) {
			next, ok = t, true
		}
	}
	return next, ok, nil
}

// PendingTimers counts pending deadlines.
func (s *Store) PendingTimers(ctx context.Context) (int64, error) {
	n, err := s.rdb.ZCard(s.carry(ctx), s.Key("timers")).Result()
	return n, unavailable(err)
}

// Step results.
const (
	StepOK     = "ok"
	StepClosed = "closed" // acknowledged, done or cancelled meanwhile
	StepStale  = "stale"  // the claim's lease ended and another process took it over
	StepGone   = "gone"
)

// StepRun is one escalation step to record.
type StepRun struct {
	Task int64
	// Until is the end of the claim's lease (Claim.Until): the step is
	// refused as stale once another process has taken the claim over.
	Until time.Time
	Step  int
	// NewAssignee re-assigns the task ("" keeps the assignee).
	NewAssignee string
	// Wait is how long the next step waits, counted from when this step
	// is recorded (the script's now), so every step gets its full wait
	// however late this one ran; zero marks the task unanswered.
	Wait     time.Duration
	Messages []OutMessage
	// Raise, when set, raises an incident with the step (a missed
	// check-in's last resort); the messages' text and ref may hold
	// IDPlaceholder for its INC-n.
	Raise *NewIncident
	// Close, with no Wait, ends the task with this status instead of
	// marking it unanswered (CheckinEnded: a session reached its end).
	Close string
	// Note is the step's line in the task's timeline; it is recorded in
	// the audit event with Audit's details.
	Note  string
	Audit map[string]any
}

// RunStep records an escalation step atomically, if the task is still
// open, its claim still holds, and it is at step Step.
func (s *Store) RunStep(ctx context.Context, r StepRun) (string, error) {
	res, err := s.RunSteps(ctx, []StepRun{r})
	if err != nil {
		return "", err
	}
	return res[0], nil
}

// maxStepsPerScript bounds one script's batch, so Redis is never busy
// with one for long (some milliseconds).
const maxStepsPerScript = 200

// RunSteps records several escalation steps (of different tasks), a
// batch at a time in one script: each step's check and writes are atomic
// together (lua/task_steps.lua). It returns each step's result; the steps
// of a batch whose script failed have "" and the error is joined into
// err (their claims' leases bring them back).
func (s *Store) RunSteps(ctx context.Context, runs []StepRun) ([]string, error) {
	out := make([]string, len(runs))
	var errs []error
	for lo := 0; lo < len(runs); lo += maxStepsPerScript {
		batch := runs[lo:min(lo+maxStepsPerScript, len(runs))]
		args := make([]any, 0, 2+len(batch)*12)
		args = append(args, ms(s.now()), len(batch))
		for _, r := range batch {
			args = s.stepArgs(args, r)
		}
		v, err := s.run(ctx, stepScript, args...)
		if err != nil {
			errs = append(errs, fmt.Errorf("steps of T-%d to T-%d: %w", batch[0].Task, batch[len(batch)-1].Task, err))
			continue
		}
		res, _ := v.([]any)
		for i := range batch {
			if i < len(res) {
				out[lo+i] = toString(res[i])
			}
		}
	}
	return out, errors.Join(errs...)
}

// stepArgs appends one step's arguments (see lua/task_steps.lua).
func (s *Store) stepArgs(args []any, r StepRun) []any {
	wait := ""
	if r.Wait > 0 {
		wait = strconv.FormatInt(r.Wait.Milliseconds(), 10)
	}
	data := make(map[string]any, len(r.Audit)+1)
	for k, v := range r.Audit {
		data[k] = v
	}
	if r.Note != "" {
		data["note"] = r.Note
	}
	inc := ""
	if in := r.Raise; in != nil {
		inc = mustJSON(map[string]string{"site": in.Site, "category": in.Category, "severity": in.Severity,
			"reporter": in.Reporter, "text": in.Text,
			"data": auditData(map[string]any{"site": in.Site, "category": in.Category, "severity": in.Severity, "text": in.Text})})
	}
	args = append(args, r.Task, r.Step, ms(r.Until), r.NewAssignee, wait, auditData(data), inc, r.Close, len(r.Messages))
	for _, m := range r.Messages {
		if m.Channel == "" {
			m.Channel = "chat"
		}
		args = append(args, mustJSON(m))
	}
	return args
}

// Task actions for AckTask.
const (
	TaskActionAck  = "ack"
	TaskActionDone = "done"
)

// AckTask acknowledges (action "ack") or finishes ("done") a task and
// removes its deadline, only if the task still allows it. It returns the
// status the task had before.
func (s *Store) AckTask(ctx context.Context, num int64, actor, action, note string) (string, error) {
	r, err := s.ackTask(ctx, TaskAnswer{Num: num, Actor: actor, Action: action, Note: note}, "")
	if err != nil {
		return "", err
	}
	return r.Before, nil
}

// TaskAnswer is one person acknowledging or finishing a task (AnswerTask).
type TaskAnswer struct {
	// Num is the task; 0 means the actor's newest open task.
	Num    int64
	Actor  string // person id
	Action string // TaskActionAck or TaskActionDone
	Note   string
	// Lead: the actor is a supervisor, control or a coordinator, who may
	// answer another's task when the note says why. Anyone else may
	// answer only a task assigned to them, now or earlier.
	Lead bool
}

// TaskAnswered is what AnswerTask did.
type TaskAnswered struct {
	Num      int64
	Title    string
	Assignee string
	Before   string // the status the task had before
}

// ErrNoOpenTask: AnswerTask with no task number, and the actor has no
// open task.
var ErrNoOpenTask = errors.New("no open task")

// NotAssigneeError refuses an answer to a task assigned to someone else:
// the actor may not answer it, or (NeedReason) may, but only with a note
// saying why.
type NotAssigneeError struct {
	Assignee   string
	NeedReason bool
}

func (e *NotAssigneeError) Error() string {
	if e.NeedReason {
		return "task is assigned to " + e.Assignee + ": say why"
	}
	return "task is assigned to " + e.Assignee
}

// AnswerTask acknowledges or finishes a task with its permission check in
// the same script as the change (task_ack.lua), so the command reads
// nothing first: one round trip. Refusals, in this order: ErrNoOpenTask,
// ErrNotFound, *NotAssigneeError, *StateError.
func (s *Store) AnswerTask(ctx context.Context, a TaskAnswer) (*TaskAnswered, error) {
	check := "own"
	if a.Lead {
		check = "lead"
	}
	return s.ackTask(ctx, a, check)
}

func (s *Store) ackTask(ctx context.Context, a TaskAnswer, check string) (*TaskAnswered, error) {
	v, err := s.run(ctx, ackScript, ms(s.now()), a.Num, a.Actor, a.Action, a.Note, "", check)
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) {
			msg := strings.TrimPrefix(rerr.Error(), "ERR ")
			switch {
			case msg == "noopen":
				err = ErrNoOpenTask
			case strings.HasPrefix(msg, "notyours:"):
				err = &NotAssigneeError{Assignee: strings.TrimPrefix(msg, "notyours:")}
			case strings.HasPrefix(msg, "needreason:"):
				err = &NotAssigneeError{Assignee: strings.TrimPrefix(msg, "needreason:"), NeedReason: true}
			}
		}
		what := "your newest task"
		if a.Num > 0 {
			what = FormatID("T", a.Num)
		}
		return nil, fmt.Errorf("%s %s: %w", a.Action, what, err)
	}
	res, _ := v.([]any)
	if len(res) < 4 {
		return nil, unavailable(fmt.Errorf("%s: unexpected reply %v", a.Action, v))
	}
	return &TaskAnswered{Before: toString(res[0]), Num: toInt(res[1]), Title: toString(res[2]), Assignee: toString(res[3])}, nil
}

// CloseActivation stands an activation down (kind "plan.stood_down") or
// stops a drill ("drill.stopped"), cancelling its open tasks, and queues
// msgs (their text may hold CountPlaceholder, replaced by the number of
// tasks cancelled) in the same script. It returns how many tasks were
// cancelled.
func (s *Store) CloseActivation(ctx context.Context, num int64, actor, note, kind string, msgs ...OutMessage) (int64, error) {
	data := auditData(map[string]any{"note": note})
	v, err := s.run(ctx, closeScript, ms(s.now()), num, actor, note, kind, data, outJSON(msgs))
	if err != nil {
		return 0, fmt.Errorf("close %s: %w", FormatID("A", num), err)
	}
	return toInt(v), nil
}

// CountPlaceholder in a stand-down message's text is replaced by the
// number of tasks cancelled, known only inside the script.
const CountPlaceholder = "\x01N\x01"

// Task reads one task.
func (s *Store) Task(ctx context.Context, num int64) (*Task, error) {
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		c = p.HGetAll(ctx, s.Key("task", strconv.FormatInt(num, 10)))
	}); err != nil {
		return nil, err
	}
	if len(c.Val()) == 0 {
		return nil, ErrNotFound
	}
	return taskFromHash(c.Val()), nil
}

// Tasks reads several tasks in one round trip, skipping missing ones.
func (s *Store) Tasks(ctx context.Context, nums []int64) ([]*Task, error) {
	if len(nums) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(nums))
	if err := s.read(ctx, func(p redis.Pipeliner) {
		for i, n := range nums {
			cmds[i] = p.HGetAll(ctx, s.Key("task", strconv.FormatInt(n, 10)))
		}
	}); err != nil {
		return nil, err
	}
	out := make([]*Task, 0, len(nums))
	for _, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			out = append(out, taskFromHash(m))
		}
	}
	return out, nil
}

// OpenTasksFor lists the open task numbers assigned to a person, newest
// first.
func (s *Store) OpenTasksFor(ctx context.Context, person string) ([]int64, error) {
	var c *redis.StringSliceCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { c = p.ZRevRange(ctx, s.Key("tasks:open", person), 0, 49) }); err != nil {
		return nil, err
	}
	out := make([]int64, 0, len(c.Val()))
	for _, x := range c.Val() {
		out = append(out, toInt(x))
	}
	return out, nil
}

// Activation reads one activation.
func (s *Store) Activation(ctx context.Context, num int64) (*Activation, error) {
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		c = p.HGetAll(ctx, s.Key("activation", strconv.FormatInt(num, 10)))
	}); err != nil {
		return nil, err
	}
	if len(c.Val()) == 0 {
		return nil, ErrNotFound
	}
	return activationFromHash(c.Val()), nil
}

// ActivationWithTasks reads an activation (num 0: the newest) and its
// tasks in one round trip (activation_read.lua). ErrNotFound when there is
// none.
func (s *Store) ActivationWithTasks(ctx context.Context, num int64) (*Activation, []*Task, error) {
	what := "activation"
	if num == 0 {
		what = "latest"
	}
	_, a, tasks, err := s.readActivation(ctx, what, num)
	return a, tasks, err
}

// DrillWithTasks reads a drill, its activation and the activation's tasks
// in one round trip. ErrNotFound when there is no such drill.
func (s *Store) DrillWithTasks(ctx context.Context, num int64) (*Drill, *Activation, []*Task, error) {
	return s.readActivation(ctx, "drill", num)
}

func (s *Store) readActivation(ctx context.Context, what string, num int64) (*Drill, *Activation, []*Task, error) {
	v, err := s.run(ctx, readScript, what, num)
	if err != nil {
		return nil, nil, nil, err
	}
	res, _ := v.([]any)
	if len(res) < 2 {
		return nil, nil, nil, unavailable(fmt.Errorf("read %s %d: unexpected reply %v", what, num, v))
	}
	var d *Drill
	if m := flatHash(res[0]); len(m) > 0 {
		d = drillFromHash(m)
	}
	a := activationFromHash(flatHash(res[1]))
	tasks := make([]*Task, 0, len(res)-2)
	for _, t := range res[2:] {
		tasks = append(tasks, taskFromHash(flatHash(t)))
	}
	return d, a, tasks, nil
}

// ActiveActivations lists the activations not yet stood down, newest first.
func (s *Store) ActiveActivations(ctx context.Context) ([]*Activation, error) {
	nums, err := s.rdb.SMembers(s.carry(ctx), s.Key("activations:active")).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	var out []*Activation
	for _, n := range nums {
		a, err := s.Activation(ctx, toInt(n))
		if err == nil {
			out = append(out, a)
		}
	}
	sortDesc(out, func(a *Activation) int64 { return a.Num })
	return out, nil
}

// LatestActivation is the newest activation, or ErrNotFound.
func (s *Store) LatestActivation(ctx context.Context) (*Activation, error) {
	a, _, err := s.ActivationWithTasks(ctx, 0)
	return a, err
}

// Drill reads one drill.
func (s *Store) Drill(ctx context.Context, num int64) (*Drill, error) {
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) {
		c = p.HGetAll(ctx, s.Key("drill", strconv.FormatInt(num, 10)))
	}); err != nil {
		return nil, err
	}
	if len(c.Val()) == 0 {
		return nil, ErrNotFound
	}
	return drillFromHash(c.Val()), nil
}

func taskFromHash(m map[string]string) *Task {
	var assignees []string
	for _, p := range strings.Split(m["assignees"], ",") {
		if p != "" {
			assignees = append(assignees, p)
		}
	}
	return &Task{Assignees: assignees,
		Num: toInt(m["num"]), Activation: toInt(m["activation"]), Plan: m["plan"], Title: m["title"], Role: m["role"],
		Policy: m["policy"], Site: m["site"], Assignee: m["assignee"], Status: m["status"], Step: int(toInt(m["step"])),
		Due: fromMS(toInt(m["due"])), Created: fromMS(toInt(m["created"])), AckedBy: m["acked_by"],
		AckedAt: fromMS(toInt(m["acked_at"])), AckNote: m["ack_note"], DoneBy: m["done_by"], DoneAt: fromMS(toInt(m["done_at"])),
		Drill: toInt(m["drill"]), LiveOnly: m["live_only"] == "1", UnansweredAt: fromMS(toInt(m["unanswered_at"])),
		Kind: m["kind"], Ref: m["ref"], Until: fromMS(toInt(m["until"])), Last: fromMS(toInt(m["last"])),
		Every: time.Duration(toInt(m["every"])) * time.Millisecond, Note: m["note"],
	}
}

func activationFromHash(m map[string]string) *Activation {
	a := &Activation{
		Num: toInt(m["num"]), Plan: m["plan"], PlanName: m["plan_name"], PlanVersion: int(toInt(m["plan_version"])),
		Site: m["site"], TriggeredBy: m["triggered_by"], Note: m["note"], Status: m["status"],
		Created: fromMS(toInt(m["created"])), ClosedAt: fromMS(toInt(m["closed_at"])), ClosedBy: m["closed_by"],
		Drill: toInt(m["drill"]), Incident: toInt(m["incident"]), Target: time.Duration(toInt(m["target"])) * time.Millisecond,
	}
	for _, t := range strings.Split(m["tasks"], ",") {
		if n := toInt(t); n > 0 {
			a.Tasks = append(a.Tasks, n)
		}
	}
	return a
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err)) // only our own types: cannot happen
	}
	return string(b)
}

func sortDesc[T any](xs []T, key func(T) int64) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && key(xs[j]) > key(xs[j-1]); j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}
