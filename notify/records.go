package notify

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/store"
)

// What each of notify's loops needs of the store, declared here where it
// is used; *store.Store is every one of them (cmd/muster asserts it).

// Timers is what the escalation engine needs: durable deadlines claimed
// under a lease and run in batches (tasks and obligation clocks), the
// wake-up channel, and the covers that change who is on duty.
type Timers interface {
	SubscribeWake(ctx context.Context) *redis.PubSub
	NextDue(ctx context.Context) (time.Time, bool, error)
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Claim, error)
	RunSteps(ctx context.Context, runs []store.StepRun) ([]string, error)
	ClaimObligations(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.ObligationClaim, error)
	RunObligationSteps(ctx context.Context, runs []store.ObligationRun) ([]string, error)
	Overrides(ctx context.Context) ([]roster.Override, error)
}

// Outbox is what the Deliverer needs: the durable outbox it reads,
// routes to lanes, takes, and finishes, retries or drops; the queue it
// adds to (a lane refusing messages tells coordinators); the escalation
// step a failed send moves on; and the store's clock.
type Outbox interface {
	Now() time.Time
	EnsureOutbox(ctx context.Context) error
	ReadOutbox(ctx context.Context, consumer string, count int, block time.Duration) ([]store.OutboxEntry, error)
	ReclaimOutbox(ctx context.Context, consumer string, minIdle time.Duration, count int) ([]store.OutboxEntry, error)
	LiveOutbox(ctx context.Context, entries []store.OutboxEntry) (live, closed []store.OutboxEntry, err error)
	RouteOutbox(ctx context.Context, routes []store.Route) ([]store.Routed, error)
	OutboxLanes(ctx context.Context) ([]string, error)
	LaneLen(ctx context.Context, lane string) (int64, error)
	TakeOutbox(ctx context.Context, t store.Take) (*store.Taken, error)
	FinishOutbox(ctx context.Context, e store.OutboxEntry, token string) error
	RetryOutbox(ctx context.Context, e store.OutboxEntry, token string, at time.Time, reason string) (bool, error)
	FailOutbox(ctx context.Context, e store.OutboxEntry, token, reason string) error
	DropOutbox(ctx context.Context, e store.OutboxEntry, token string) error
	Enqueue(ctx context.Context, msgs ...store.OutMessage) (int64, error)
	AdvanceAfter(ctx context.Context, key, reason string) (string, error)
}

// HandoverRecords is what a shift's hand-over notice reads (what is
// still open at the site, who covers, roll calls the newcomer joins) and
// where it goes (the outbox).
type HandoverRecords interface {
	Overrides(ctx context.Context) ([]roster.Override, error)
	ActiveActivations(ctx context.Context) ([]*store.Activation, error)
	Tasks(ctx context.Context, nums []int64) ([]*store.Task, error)
	ListIncidents(ctx context.Context, f store.IncidentFilter) ([]*store.Incident, error)
	ActiveLoneWorkers(ctx context.Context) ([]store.LoneWorker, error)
	OpenRollCalls(ctx context.Context) ([]*store.RollCall, error)
	JoinRollCall(ctx context.Context, num int64, people []store.RollCallMember) (map[string]int64, error)
	Enqueue(ctx context.Context, msgs ...store.OutMessage) (int64, error)
}

// ActionRecords is what the corrective-action reminders need.
type ActionRecords interface {
	Actions(ctx context.Context, f store.ActionFilter) ([]*store.CorrectiveAction, error)
	RemindAction(ctx context.Context, num int64, which string, msgs ...store.OutMessage) (sent bool, err error)
}

// Surfaces is what the Dispatcher remembers per outbox message: which
// chat surfaces took it.
type Surfaces interface {
	SurfacesTaken(ctx context.Context, id string) (map[string]bool, error)
	MarkSurface(ctx context.Context, id, surface string) error
}
