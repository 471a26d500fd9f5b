package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/store"
)

// Engine runs escalation: it claims due deadlines from Redis, runs each
// task's next policy step (re-assign, notify, wait), and marks tasks
// unanswered when their policy runs out. Any number of engines may share
// one Redis; each deadline is claimed by one of them under a lease.
type Engine struct {
	conf  configs.Current
	st    Timers
	clock clock.Clock
	log   *zap.Logger
	lease time.Duration
	batch int
	// gather: see EngineOptions.Gather.
	gather time.Duration
	wake   chan struct{}
	// OnStep, when set, is called after each step is recorded (tests and
	// metrics); result is a store.Step* value. Several engines may share
	// one OnStep, so it must be safe for concurrent use.
	OnStep func(task int64, step int, result string, due, fired time.Time)
	// Observe, when set, sees each recorded step's channels (those it
	// notified the task's holder on; none for a step that only marks the
	// task unanswered), its result and its lateness: the metrics.
	Observe func(channels []string, result string, late time.Duration)
}

// EngineOptions configure an Engine.
type EngineOptions struct {
	Config configs.Current
	// Store holds the deadlines (*store.Store).
	Store  Timers
	Clock  clock.Clock
	Logger *zap.Logger
	// Lease is how long a claim holds; the config's engine.lease when 0.
	Lease time.Duration
	// Batch is how many deadlines one claim takes (default 200).
	Batch int
	// Gather is how long past the next deadline the engine sleeps, so
	// the deadlines falling due meanwhile are claimed and run together
	// (configs.Engine.Gather). 0 wakes at each deadline.
	Gather time.Duration
}

// NewEngine builds an Engine.
func NewEngine(o EngineOptions) *Engine {
	e := &Engine{conf: o.Config, st: o.Store, clock: o.Clock, log: o.Logger, lease: o.Lease, batch: o.Batch,
		gather: max(o.Gather, 0), wake: make(chan struct{}, 1)}
	if e.clock == nil {
		e.clock = clock.Real{}
	}
	if e.log == nil {
		e.log = zap.NewNop()
	}
	if e.lease == 0 {
		e.lease = o.Config.Current().Engine.Lease.D()
	}
	if e.batch == 0 {
		e.batch = 200
	}
	return e
}

// NewToken returns a process-unique claim token (host, pid, random).
func NewToken() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// cfg is the configuration in force now.
func (e *Engine) cfg() *configs.Config { return e.conf.Current() }

// Poke makes the engine look at its deadlines now (after this process
// added one); other processes learn through Redis pub/sub.
func (e *Engine) Poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// maxIdle bounds how long the engine sleeps when pub/sub might have
// missed a wake-up (a reconnect): a safety net, not the mechanism.
const maxIdle = 5 * time.Second

// Run processes deadlines until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sub := e.st.SubscribeWake(ctx)
	defer sub.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
				e.Poke()
			}
		}
	}()
	var lastErr string
	for ctx.Err() == nil {
		wait, err := e.Tick(ctx)
		if err != nil && ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// Log when the error changes, not every retry.
			if err.Error() != lastErr {
				e.log.Warn("escalation engine cannot reach its records; retrying", zap.Error(err))
				lastErr = err.Error()
			}
			wait = time.Second
		} else if lastErr != "" {
			e.log.Info("escalation engine reconnected")
			lastErr = ""
		}
		if wait == 0 {
			continue
		}
		c, stop := e.clock.After(wait)
		select {
		case <-ctx.Done():
		case <-c:
		case <-e.wake:
		}
		stop()
	}
	return nil
}

// Tick claims and runs the due deadlines, then says how long to wait for
// the next one (0: more are due now, a backlog).
//
// Claiming and recording overlap: while a full batch's steps are
// recorded (Redis busy running the step scripts), the next batch is
// claimed and planned (this process busy), and so on until a claim comes
// back short of a batch. Under a backlog neither side waits for the
// other; without one, the deadlines that fell due meanwhile wait for the
// gather window. A task is in at most
// one batch at a time: its timer sits at the end of the lease from its
// claim until its step is recorded, so its steps stay in order. After a
// failure the batch already claimed is still recorded, then Tick stops
// claiming and returns the error.
func (e *Engine) Tick(ctx context.Context) (time.Duration, error) {
	cur := e.claimBatch(ctx)
	if cur.err != nil {
		return 0, cur.err
	}
	var failed error
	backlog := false // a claim came back full: more were due than it took
	for len(cur.claims) > 0 {
		backlog = len(cur.claims) >= e.batch
		var ahead chan claimed
		if backlog && failed == nil && ctx.Err() == nil {
			ahead = make(chan claimed, 1)
			go func() { ahead <- e.claimBatch(ctx) }()
		}
		if err := e.fireAll(ctx, cur); err != nil && failed == nil {
			failed = err
		}
		if ahead == nil {
			break
		}
		if cur = <-ahead; cur.err != nil && failed == nil {
			failed = cur.err
		}
	}
	if failed != nil {
		return 0, failed
	}
	if err := e.tickObligations(ctx); err != nil {
		return 0, err
	}
	next, ok, err := e.st.NextDue(ctx)
	if err != nil {
		return 0, err
	}
	if !ok {
		return maxIdle, nil
	}
	wait := next.Sub(e.clock.Now())
	switch {
	case wait > 0:
	case backlog || e.gather == 0:
		return 0, nil
	default:
		// Due while this tick ran, with no backlog: gathered with the
		// deadlines that fall due next rather than claimed a few at a
		// time (each claim and script costs Redis the same whether it
		// carries one step or fifty).
		return e.gather, nil
	}
	// Wake a millisecond late rather than early: scores are whole
	// milliseconds and a deadline must never fire before its time. Then
	// the gather window: the deadlines due within it are claimed with
	// this one and run in one script, so a burst costs Redis a claim and
	// a script per window rather than per deadline.
	return min(wait+time.Millisecond+e.gather, maxIdle), nil
}

// claimed is a batch of claims with the step each will run.
type claimed struct {
	now    time.Time // when they were claimed (each was due by then)
	claims []store.Claim
	runs   []store.StepRun
	err    error
}

// claimBatch claims up to a batch of the deadlines due now and plans each
// claim's step.
func (e *Engine) claimBatch(ctx context.Context) claimed {
	now := e.clock.Now()
	claims, err := e.claim(ctx, now)
	if err != nil || len(claims) == 0 {
		return claimed{now: now, err: err}
	}
	b := &batch{e: e, now: now}
	runs := make([]store.StepRun, len(claims))
	for i, c := range claims {
		runs[i] = e.prepare(ctx, b, c)
	}
	return claimed{now: now, claims: claims, runs: runs}
}

// claim takes up to a batch of the deadlines due at now, under this
// engine's lease. A claim that is never run (the process died) falls due
// again when the lease ends and another engine takes it over.
func (e *Engine) claim(ctx context.Context, now time.Time) ([]store.Claim, error) {
	return e.st.ClaimDue(ctx, now, e.lease, e.batch)
}

// fireAll records a claimed batch's steps in one pipelined round trip
// (each still its own atomic script). Claims name distinct tasks (a task
// has one timer, and its next step is only scheduled when this one is
// recorded), so a task's steps stay in order.
func (e *Engine) fireAll(ctx context.Context, c claimed) error {
	if len(c.claims) == 0 {
		return nil
	}
	results, err := e.st.RunSteps(ctx, c.runs)
	for i, cl := range c.claims {
		if results[i] == "" {
			continue // failed: the claim's lease brings it back
		}
		e.recorded(cl, c.runs[i], results[i], c.now)
	}
	return err
}

// batch is what the steps of one claim share: the covers, read once and
// only when a step escalates to a role.
type batch struct {
	e   *Engine
	now time.Time
	// once guards overrides.
	once      sync.Once
	overrides []roster.Override
}

func (b *batch) covers(ctx context.Context) []roster.Override {
	b.once.Do(func() {
		var err error
		if b.overrides, err = b.e.st.Overrides(ctx); err != nil {
			b.e.log.Warn("covers unavailable; using the rotation", zap.Error(err))
		}
	})
	return b.overrides
}

// Steps expands a policy into its run order: the steps, repeated.
func Steps(p *configs.Policy) []configs.Step {
	out := make([]configs.Step, 0, len(p.Steps)*(p.Repeat+1))
	for range p.Repeat + 1 {
		out = append(out, p.Steps...)
	}
	return out
}

// prepare decides what a claimed deadline does; a claim whose task is
// gone or closed gets a run that only clears its timer.
func (e *Engine) prepare(ctx context.Context, b *batch, c store.Claim) store.StepRun {
	t := c.Record
	if t == nil {
		return store.StepRun{Task: c.Task, Until: c.Until}
	}
	run := store.StepRun{Task: t.Num, Until: c.Until, Step: t.Step}
	if t.Status == store.TaskOpen {
		switch t.Kind {
		case store.KindRollCall:
			e.planRollCall(ctx, b, t, &run)
		case store.KindCheckin:
			e.planCheckin(ctx, b, t, &run)
		default:
			e.plan(ctx, b, t, &run)
		}
	}
	return run
}

// recorded reports one recorded step (OnStep, the log).
func (e *Engine) recorded(c store.Claim, run store.StepRun, result string, now time.Time) {
	if e.OnStep != nil {
		e.OnStep(c.Task, run.Step, result, c.Due, now)
	}
	if e.Observe != nil {
		e.Observe(stepChannels(run), result, now.Sub(c.Due))
	}
	if result == store.StepOK && e.log.Core().Enabled(zap.InfoLevel) {
		e.log.Info("escalation step", zap.String("task", store.FormatID("T", c.Task)), zap.Int("step", run.Step),
			zap.String("assignee", run.NewAssignee), zap.Duration("late", now.Sub(c.Due)))
	}
}

// stepChannels lists the channels a step notified the task's holder (or
// the site, when nobody held it) on, each once.
func stepChannels(run store.StepRun) []string {
	var out []string
	for _, m := range run.Messages {
		if m.Kind == "task" && !slices.Contains(out, m.Channel) {
			out = append(out, m.Channel)
		}
	}
	return out
}

// fallbackSteps stand in for a policy that is no longer in the config
// (it was renamed or removed since the plan was triggered): the assignee
// is still told once by chat and SMS before the task goes unanswered, so
// a config change never silently drops a task.
func fallbackSteps() []configs.Step {
	return []configs.Step{{Notify: []string{Chat, SMS}, Wait: configs.Duration(5 * time.Minute)}}
}

// plan decides what step t.Step does: whom it goes to, what is sent, and
// when the next step is due.
func (e *Engine) plan(ctx context.Context, b *batch, t *store.Task, run *store.StepRun) {
	site := t.Site
	if s, ok := e.cfg().Site(t.Site); ok {
		site = s.Name
	}
	drill := t.Drill > 0
	var steps []configs.Step
	if pol, ok := e.cfg().Policy(t.Policy); ok {
		steps = Steps(pol)
	} else {
		if t.Step == 0 {
			e.log.Warn("task's escalation policy is not in the config; notifying once, then unanswered",
				zap.String("task", t.ID()), zap.String("policy", t.Policy))
		}
		steps = fallbackSteps()
	}
	if t.Step >= len(steps) {
		// Escalation ran out: the task is unanswered. Tell the site and
		// every coordinator.
		text := UnansweredText(t, site, e.personName(t.Assignee), drill)
		run.Messages = append(run.Messages, store.OutMessage{
			Key: fmt.Sprintf("%s:unanswered:site", t.ID()), Channel: Chat, Site: t.Site, Kind: "unanswered", Ref: t.ID(), Text: text,
			Drill: flagStr(drill)})
		for _, co := range e.cfg().Coordinators() {
			for _, ch := range []string{Chat, SMS} {
				run.Messages = append(run.Messages, store.OutMessage{
					Key: fmt.Sprintf("%s:unanswered:%s:%s", t.ID(), co.ID, ch), Channel: ch, To: co.ID, Kind: "unanswered", Ref: t.ID(), Text: text,
					Drill: flagStr(drill)})
			}
		}
		run.Note = "escalation ran out"
		run.Audit = map[string]any{"step": t.Step + 1, "assignee": t.Assignee}
		return
	}
	st := steps[t.Step]
	who := t.Assignee
	if st.EscalateTo != nil {
		if next := e.resolve(ctx, b, st.EscalateTo, t.Site); next != "" && next != who {
			run.NewAssignee = next
			who = next
		}
	}
	shown := *t
	if who == "" {
		// Nobody holds the task (nobody on duty and no coordinator): the
		// site channel is told instead, so the step is not lost.
		run.Messages = append(run.Messages, store.OutMessage{
			Key:     fmt.Sprintf("%s:%d:site", t.ID(), t.Step),
			Channel: Chat, Site: t.Site, Kind: "task", Ref: t.ID(), Task: fmt.Sprint(t.Num),
			Text: TaskText(Chat, &shown, site, drill) + " (nobody is assigned: whoever can, take it)", Drill: flagStr(drill),
		})
	}
	for _, ch := range st.Notify {
		if who == "" {
			break
		}
		run.Messages = append(run.Messages, store.OutMessage{
			Key:     store.StepKey{Task: t.Num, Step: t.Step, Channel: ch}.String(),
			Channel: ch, To: who, Kind: "task", Ref: t.ID(), Task: fmt.Sprint(t.Num),
			Text: TaskText(ch, &shown, site, drill), Drill: flagStr(drill),
		})
	}
	if len(st.Tell) > 0 {
		tellStep := st
		tellStep.EscalateTo = nil
		text := fmt.Sprintf("%s %s at %s (for %s) is not acknowledged yet.", t.ID(), t.Title, site, e.personName(who))
		if drill {
			text = DrillPrefix + text
		}
		e.tell(ctx, b, t, tellStep, text, run)
	}
	if st.Raise != "" {
		e.raise(t, st.Raise, fmt.Sprintf("%s %s is not acknowledged (last assigned to %s)", t.ID(), t.Title, e.personName(who)), false, drill, run)
	}
	// The next step waits its full policy wait from when this one is
	// recorded, not from this step's deadline: after an outage or a lease
	// take-over an overdue step runs once and the next person still gets
	// their whole wait.
	run.Wait = st.Wait.D()
	run.Note = fmt.Sprintf("step %d: %v to %s, next in %s", t.Step+1, st.Notify, orNobody(who), st.Wait)
	// The audit event names the step, its channels and its recipient
	// (what report reads) beside the note (the task's timeline
	// line). Steps are numbered from 1 here as in the timeline.
	run.Audit = map[string]any{"step": t.Step + 1, "notify": st.Notify, "to": who}
}

func orNobody(who string) string {
	if who == "" {
		return "nobody (site channel)"
	}
	return who
}

// resolve finds whom a step escalates to: the on-duty holder of a role at
// the site, or a named person; a coordinator when nobody holds the role
// (or the named person has left the config).
func (e *Engine) resolve(ctx context.Context, b *batch, to *configs.Target, site string) string {
	if to.Person != "" {
		if _, ok := e.cfg().Person(to.Person); ok {
			return to.Person
		}
	} else if sh, ok := roster.OnDuty(e.cfg(), site, to.Role, b.now, b.covers(ctx)); ok && sh.Person != nil {
		return sh.Person.ID
	}
	if co := e.cfg().Coordinators(); len(co) > 0 {
		return co[0].ID
	}
	return ""
}

func (e *Engine) personName(id string) string {
	if p, ok := e.cfg().Person(id); ok {
		return p.Name
	}
	return id
}

func flagStr(b bool) string {
	if b {
		return "1"
	}
	return ""
}
