package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/notify/clock"
	"github.com/muster-ops/muster/store"
)

// Engine runs escalation: it claims due deadlines from Redis, runs each
// task's next policy step (re-assign, notify, wait), and marks tasks
// unanswered when their policy runs out. Any number of engines may share
// one Redis; each deadline is claimed by one of them under a lease.
type Engine struct {
	cfg   *configs.Config
	st    *store.Store
	clock clock.Clock
	log   *zap.Logger
	// token identifies this process's claims.
	token string
	lease time.Duration
	batch int
	wake  chan struct{}
	// OnStep, when set, is called after each step is recorded (tests and
	// metrics); result is a store.Step* value.
	OnStep func(task int64, step int, result string, due, fired time.Time)
}

// EngineOptions configure an Engine.
type EngineOptions struct {
	Config *configs.Config
	Store  *store.Store
	Clock  clock.Clock
	Logger *zap.Logger
	// Token names this process in claims; random when empty.
	Token string
	// Lease is how long a claim holds; the config's engine.lease when 0.
	Lease time.Duration
	// Batch is how many deadlines one claim takes (default 200).
	Batch int
}

// NewEngine builds an Engine.
func NewEngine(o EngineOptions) *Engine {
	e := &Engine{cfg: o.Config, st: o.Store, clock: o.Clock, log: o.Logger, token: o.Token, lease: o.Lease, batch: o.Batch,
		wake: make(chan struct{}, 1)}
	if e.clock == nil {
		e.clock = clock.Real{}
	}
	if e.log == nil {
		e.log = zap.NewNop()
	}
	if e.token == "" {
		e.token = NewToken()
	}
	if e.lease == 0 {
		e.lease = o.Config.Engine.Lease.D()
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

// Tick claims and runs every due deadline, then says how long to wait for
// the next one (0: more are due now).
func (e *Engine) Tick(ctx context.Context) (time.Duration, error) {
	now := e.clock.Now()
	claims, err := e.st.ClaimDue(ctx, now, e.lease, e.batch, e.token)
	if err != nil {
		return 0, err
	}
	for _, c := range claims {
		if err := e.fire(ctx, c, now); err != nil {
			return 0, err
		}
	}
	if len(claims) == e.batch {
		return 0, nil
	}
	next, ok, err := e.st.NextDue(ctx)
	if err != nil {
		return 0, err
	}
	if !ok {
		return maxIdle, nil
	}
	wait := next.Sub(e.clock.Now())
	if wait <= 0 {
		return 0, nil
	}
	// Wake a millisecond late rather than early: scores are whole
	// milliseconds and a deadline must never fire before its time.
	return min(wait+time.Millisecond, maxIdle), nil
}

// Steps expands a policy into its run order: the steps, repeated.
func Steps(p *configs.Policy) []configs.Step {
	out := make([]configs.Step, 0, len(p.Steps)*(p.Repeat+1))
	for range p.Repeat + 1 {
		out = append(out, p.Steps...)
	}
	return out
}

// fire runs one claimed deadline.
func (e *Engine) fire(ctx context.Context, c store.Claim, now time.Time) error {
	t, err := e.st.Task(ctx, c.Task)
	if errors.Is(err, store.ErrNotFound) {
		_, err = e.st.RunStep(ctx, store.StepRun{Task: c.Task, Token: e.token})
		return err
	}
	if err != nil {
		return err
	}
	run := store.StepRun{Task: t.Num, Token: e.token, Step: t.Step}
	if t.Status == store.TaskOpen {
		e.plan(ctx, t, c.Due, now, &run)
	}
	result, err := e.st.RunStep(ctx, run)
	if err != nil {
		return err
	}
	if e.OnStep != nil {
		e.OnStep(t.Num, t.Step, result, c.Due, now)
	}
	if result == store.StepOK {
		e.log.Info("escalation step", zap.String("task", t.ID()), zap.Int("step", t.Step),
			zap.String("assignee", run.NewAssignee), zap.Duration("late", now.Sub(c.Due)))
	}
	return nil
}

// plan decides what step t.Step does: whom it goes to, what is sent, and
// when the next step is due.
func (e *Engine) plan(ctx context.Context, t *store.Task, due, now time.Time, run *store.StepRun) {
	site := t.Site
	if s, ok := e.cfg.Site(t.Site); ok {
		site = s.Name
	}
	drill := t.Drill > 0
	pol, ok := e.cfg.Policy(t.Policy)
	var steps []configs.Step
	if ok {
		steps = Steps(pol)
	}
	if t.Step >= len(steps) {
		// Escalation ran out: the task is unanswered. Tell the site and
		// every coordinator.
		text := UnansweredText(t, site, e.personName(t.Assignee), drill)
		run.Messages = append(run.Messages, store.OutMessage{
			Key: fmt.Sprintf("%s:unanswered:site", t.ID()), Channel: Chat, Site: t.Site, Kind: "unanswered", Ref: t.ID(), Text: text})
		for _, co := range e.cfg.Coordinators() {
			for _, ch := range []string{Chat, SMS} {
				run.Messages = append(run.Messages, store.OutMessage{
					Key: fmt.Sprintf("%s:unanswered:%s:%s", t.ID(), co.ID, ch), Channel: ch, To: co.ID, Kind: "unanswered", Ref: t.ID(), Text: text})
			}
		}
		run.Note = "escalation ran out"
		run.Audit = map[string]any{"step": t.Step, "assignee": t.Assignee}
		return
	}
	st := steps[t.Step]
	who := t.Assignee
	if st.EscalateTo != nil {
		if next := e.resolve(ctx, st.EscalateTo, t.Site, now); next != "" && next != who {
			run.NewAssignee = next
			who = next
		}
	}
	shown := *t
	for _, ch := range st.Notify {
		run.Messages = append(run.Messages, store.OutMessage{
			Key:     fmt.Sprintf("%s:%d:%s", t.ID(), t.Step, ch),
			Channel: ch, To: who, Kind: "task", Ref: t.ID(), Task: fmt.Sprint(t.Num),
			Text: TaskText(ch, &shown, site, drill), Drill: flagStr(drill),
		})
	}
	run.NextDue = due.Add(st.Wait.D())
	run.Note = fmt.Sprintf("step %d: %v to %s, next in %s", t.Step+1, st.Notify, who, st.Wait)
	run.Audit = map[string]any{"step": t.Step, "notify": st.Notify, "to": who, "due": due.UTC().Format(time.RFC3339Nano)}
}

// resolve finds whom a step escalates to: the on-duty holder of a role at
// the site, or a named person; a coordinator when nobody holds the role.
func (e *Engine) resolve(ctx context.Context, to *configs.Target, site string, at time.Time) string {
	if to.Person != "" {
		return to.Person
	}
	overrides, err := e.st.Overrides(ctx)
	if err != nil {
		e.log.Warn("covers unavailable; using the rotation", zap.Error(err))
	}
	if sh, ok := roster.OnDuty(e.cfg, site, to.Role, at, overrides); ok && sh.Person != nil {
		return sh.Person.ID
	}
	if co := e.cfg.Coordinators(); len(co) > 0 {
		return co[0].ID
	}
	return ""
}

func (e *Engine) personName(id string) string {
	if p, ok := e.cfg.Person(id); ok {
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
