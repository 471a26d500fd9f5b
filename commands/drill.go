package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

const drillUsage = "Usage: /drill start <plan> [@site] · stop D-n · report D-n · action D-n <text> · action done <n> · action list [D-n]"

func (s *Service) drill(ctx context.Context, c *call) Reply {
	if len(c.args) == 0 {
		return fail(drillUsage)
	}
	sub, args := strings.ToLower(c.args[0]), c.args[1:]
	switch sub {
	case "start":
		return s.planTrigger(ctx, c, args, true)
	case "stop", "end":
		return s.drillStop(ctx, c, args)
	case "report":
		return s.drillReport(ctx, args)
	case "action", "actions":
		return s.drillAction(ctx, c)
	}
	return fail(fmt.Sprintf("Unknown /drill %s. %s", sub, drillUsage))
}

func (s *Service) findDrill(ctx context.Context, args []string, usage string) (*store.Drill, *Reply) {
	if len(args) < 1 {
		r := fail(usage)
		return nil, &r
	}
	num, err := store.ParseID("D", args[0])
	if err != nil {
		r := fail(err.Error() + ". " + usage)
		return nil, &r
	}
	d, err := s.st.Drill(ctx, num)
	if errors.Is(err, store.ErrNotFound) {
		r := fail(fmt.Sprintf("There is no %s.", store.FormatID("D", num)))
		return nil, &r
	}
	if err != nil {
		r := failErr(err, "the drill")
		return nil, &r
	}
	return d, nil
}

func (s *Service) drillStop(ctx context.Context, c *call, args []string) Reply {
	if !c.who.HasRole(configs.RoleCoordinator) {
		return fail("Only a coordinator may stop a drill.")
	}
	d, bad := s.findDrill(ctx, args, "Usage: /drill stop D-n")
	if bad != nil {
		return *bad
	}
	n, err := s.st.CloseActivation(ctx, d.Activation, c.who.ID, "drill stopped", "drill.stopped")
	var se *store.StateError
	if errors.As(err, &se) {
		return fail(fmt.Sprintf("%s is already stopped.", d.ID()))
	}
	if err != nil {
		return failErr(err, "the drill stop")
	}
	return Reply{Text: fmt.Sprintf("DRILL — %s stopped by %s; %d task(s) still open were closed. /drill report %s gives the results.", d.ID(), c.who.Name, n, d.ID()), Public: true, Ref: d.ID()}
}

// DrillResult is the after-action figures of one drill.
type DrillResult struct {
	Drill      *store.Drill
	Activation *store.Activation
	Rows       []DrillRow
	// Passed: every live task acknowledged within the plan's target.
	Passed bool
	// Slowest is the longest time to acknowledge among those who did.
	Slowest time.Duration
}

// DrillRow is one task of a drill.
type DrillRow struct {
	Task      *store.Task
	Person    string // whoever acknowledged, else the last assignee
	Acked     bool
	TimeToAck time.Duration
	// Steps is how many escalation steps ran before the ack.
	Steps     int
	Simulated bool
}

// DrillResults computes the after-action figures of a drill.
func (s *Service) DrillResults(ctx context.Context, d *store.Drill) (*DrillResult, error) {
	_, act, tasks, err := s.st.DrillWithTasks(ctx, d.Num)
	if err != nil {
		return nil, err
	}
	return drillResults(d, act, tasks), nil
}

// drillResults computes the figures from the records.
func drillResults(d *store.Drill, act *store.Activation, tasks []*store.Task) *DrillResult {
	res := &DrillResult{Drill: d, Activation: act, Passed: true}
	for _, t := range tasks {
		row := DrillRow{Task: t, Person: t.Assignee, Simulated: t.Status == store.TaskSimulated}
		if !t.AckedAt.IsZero() {
			row.Acked = true
			row.Person = t.AckedBy
			row.TimeToAck = t.AckedAt.Sub(t.Created)
			// Step counts the steps run so far; the first step is the
			// notice itself, so steps beyond it are escalations.
			row.Steps = max(t.Step-1, 0)
			res.Slowest = max(res.Slowest, row.TimeToAck)
			if d.Target > 0 && row.TimeToAck > d.Target {
				res.Passed = false
			}
		} else if !row.Simulated {
			row.Steps = max(t.Step-1, 0)
			res.Passed = false
		}
		res.Rows = append(res.Rows, row)
	}
	return res
}

// drillReport reads the drill, its activation and its tasks in one round
// trip.
func (s *Service) drillReport(ctx context.Context, args []string) Reply {
	const usage = "Usage: /drill report D-n"
	if len(args) < 1 {
		return fail(usage)
	}
	num, err := store.ParseID("D", args[0])
	if err != nil {
		return fail(err.Error() + ". " + usage)
	}
	d, act, tasks, err := s.st.DrillWithTasks(ctx, num)
	if errors.Is(err, store.ErrNotFound) {
		return fail(fmt.Sprintf("There is no %s.", store.FormatID("D", num)))
	}
	if err != nil {
		return failErr(err, "the drill report")
	}
	return Reply{Text: s.DrillReportText(drillResults(d, act, tasks)), Ref: d.ID()}
}

// DrillReportText renders the after-action summary.
func (s *Service) DrillReportText(res *DrillResult) string {
	d := res.Drill
	var b strings.Builder
	status := "running"
	if d.Status == "stopped" {
		status = "stopped " + s.localTime(d.Stopped)
	}
	fmt.Fprintf(&b, "DRILL — %s report: %s at %s, started %s by %s, %s. Target: every task acknowledged within %s.",
		d.ID(), res.Activation.PlanName, s.siteName(d.Site), s.localTime(d.Started), s.personName(d.StartedBy), status, d.Target)
	var silent []string
	for _, r := range res.Rows {
		switch {
		case r.Simulated:
			fmt.Fprintf(&b, "\n  %s %s: simulated (live only)", r.Task.ID(), r.Task.Title)
		case r.Acked:
			fmt.Fprintf(&b, "\n  %s %s: acknowledged by %s after %s, %d escalation step(s)", r.Task.ID(), r.Task.Title, s.personName(r.Person), r.TimeToAck.Round(time.Second), r.Steps)
		default:
			fmt.Fprintf(&b, "\n  %s %s: NOT acknowledged (%s, %d escalation step(s))", r.Task.ID(), r.Task.Title, s.personName(r.Person), r.Steps)
			silent = append(silent, s.personName(r.Person))
		}
	}
	if len(silent) > 0 {
		fmt.Fprintf(&b, "\nNever answered: %s.", strings.Join(silent, ", "))
	}
	if res.Passed {
		fmt.Fprintf(&b, "\nResult: PASS (slowest acknowledgement %s, target %s).", res.Slowest.Round(time.Second), d.Target)
	} else {
		fmt.Fprintf(&b, "\nResult: FAIL (target %s).", d.Target)
	}
	return b.String()
}
