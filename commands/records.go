package commands

import (
	"context"
	"time"

	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/store"
)

// Records is what the command handlers read and change in the store,
// grouped by concern below; *store.Store is one (cmd/muster asserts it).
// Each command works on the view bound to its request's replay check
// (Guarded).
type Records interface {
	// Guarded is the store for one request, bound to its replay guard.
	Guarded(g *store.ReplayGuard) *store.Store
	// Health tells an outage from overload (failErr, degraded mode).
	Health() *store.Health
	// Now is the store's clock.
	Now() time.Time

	Incidents
	Activations
	Rosters
	Actions
	Safety
	Boards
}

// Incidents: raising, changing and showing incidents and their
// notification obligations.
type Incidents interface {
	RaiseIncident(ctx context.Context, in store.NewIncident, msgs ...store.OutMessage) (*store.Incident, error)
	Incident(ctx context.Context, num int64) (*store.Incident, error)
	IncidentRecord(ctx context.Context, num int64) (*store.Incident, []store.TimelineEntry, []*store.Obligation, error)
	ListIncidents(ctx context.Context, f store.IncidentFilter) ([]*store.Incident, error)
	ChangeIncident(ctx context.Context, num int64, actor, action, text string, msgs ...store.OutMessage) (*store.Incident, error)
	ChangeSeverity(ctx context.Context, num int64, actor, severity string, clocks []store.ObligationClock, msgs ...store.OutMessage) (*store.Incident, int, error)
	Obligations(ctx context.Context, num int64) ([]*store.Obligation, error)
	ObligationsMet(ctx context.Context, num int64, actor string, ids []string, reference, via string, sent map[string]any, msgs ...store.OutMessage) ([]string, error)
}

// Activations: plans triggered (drills included) and their tasks.
type Activations interface {
	TriggerPlan(ctx context.Context, in store.NewActivation) (*store.Activation, []*store.Task, error)
	Activation(ctx context.Context, num int64) (*store.Activation, error)
	ActivationWithTasks(ctx context.Context, num int64) (*store.Activation, []*store.Task, error)
	CloseActivation(ctx context.Context, num int64, actor, note, kind string, msgs ...store.OutMessage) (int64, error)
	Drill(ctx context.Context, num int64) (*store.Drill, error)
	DrillWithTasks(ctx context.Context, num int64) (*store.Drill, *store.Activation, []*store.Task, error)
	Task(ctx context.Context, num int64) (*store.Task, error)
	Tasks(ctx context.Context, nums []int64) ([]*store.Task, error)
	OpenTasksFor(ctx context.Context, person string) ([]int64, error)
	AnswerTask(ctx context.Context, a store.TaskAnswer) (*store.TaskAnswered, error)
}

// Rosters: the covers (overrides) that change who is on duty.
type Rosters interface {
	Overrides(ctx context.Context) ([]roster.Override, error)
	AddCover(ctx context.Context, o roster.Override, site string, msgs ...store.OutMessage) (roster.Override, []int64, error)
}

// Actions: corrective actions, from drills and reviews.
type Actions interface {
	Actions(ctx context.Context, f store.ActionFilter) ([]*store.CorrectiveAction, error)
	DrillActions(ctx context.Context, num int64) (*store.Drill, []*store.CorrectiveAction, error)
	RecordAction(ctx context.Context, in store.NewAction) (*store.CorrectiveAction, error)
	MarkActionDone(ctx context.Context, num int64, actor, note string, ownerOnly bool) (*store.CorrectiveAction, error)
	VerifyAction(ctx context.Context, num int64, actor, verdict, note string) (*store.CorrectiveAction, error)
}

// Safety: roll calls and lone-worker check-ins.
type Safety interface {
	StartRollCall(ctx context.Context, in store.NewRollCall) (int64, map[string]int64, error)
	RollCall(ctx context.Context, num int64) (*store.RollCall, error)
	JoinRollCall(ctx context.Context, num int64, people []store.RollCallMember) (map[string]int64, error)
	RollCallEntry(ctx context.Context, num int64, person string) (int64, *store.Task, error)
	RollCallSample(ctx context.Context, num int64, limit int) ([]store.RollCallPerson, error)
	AnswerRollCall(ctx context.Context, a store.RollCallAnswer) (*store.RollCallAnswered, error)
	StopRollCall(ctx context.Context, num int64, actor, note string, msgs ...store.OutMessage) (int64, error)
	StartCheckin(ctx context.Context, in store.NewCheckin) (*store.Checked, error)
	CheckIn(ctx context.Context, person, actor, channel string) (*store.Checked, error)
	CheckinHelp(ctx context.Context, person, channel string, in store.NewIncident, msgs ...store.OutMessage) (*store.Checked, error)
	StopCheckin(ctx context.Context, person, actor string) (*store.Checked, error)
	ActiveLoneWorkers(ctx context.Context) ([]store.LoneWorker, error)
}

// Boards: sign-in links and sessions of the live operations board.
type Boards interface {
	NewBoardLink(ctx context.Context, person string) (string, error)
	EndBoardSessions(ctx context.Context, actor, person string) (int, error)
}
