package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/report"
	"github.com/muster-ops/muster/store"
)

const drillUsage = "Usage: /drill start <plan> [@site] · start rollcall [@site] · stop D-n · report D-n · action D-n <text> · action done <n> · action list [D-n]"

func (s *Service) drill(ctx context.Context, c *call) Reply {
	if len(c.args) == 0 {
		return fail(drillUsage)
	}
	sub, args := strings.ToLower(c.args[0]), c.args[1:]
	switch sub {
	case "start":
		if len(args) > 0 && strings.EqualFold(args[0], "rollcall") && !s.cfg().HasPlanID("rollcall") {
			return s.rollcallStart(ctx, c, args[1:], true)
		}
		return s.planTrigger(ctx, c, args, true)
	case "stop", "end":
		return s.drillStop(ctx, c, args)
	case "report":
		return s.drillReport(ctx, c, args)
	case "action", "actions":
		return s.drillAction(ctx, c)
	}
	return fail(fmt.Sprintf("Unknown /drill %s. %s", sub, drillUsage))
}

func (s *Service) findDrill(ctx context.Context, c *call, args []string, usage string) (*store.Drill, *Reply) {
	if len(args) < 1 {
		r := fail(usage)
		return nil, &r
	}
	num, err := store.ParseID("D", args[0])
	if err != nil {
		r := fail(err.Error() + ". " + usage)
		return nil, &r
	}
	d, err := c.st.Drill(ctx, num)
	if errors.Is(err, store.ErrNotFound) {
		r := fail(fmt.Sprintf("There is no %s.", store.FormatID("D", num)))
		return nil, &r
	}
	if err != nil {
		r := s.failErr(err, "the drill")
		return nil, &r
	}
	return d, nil
}

func (s *Service) drillStop(ctx context.Context, c *call, args []string) Reply {
	if !c.who.HasRole(configs.RoleCoordinator) {
		return fail("Only a coordinator may stop a drill.")
	}
	d, bad := s.findDrill(ctx, c, args, "Usage: /drill stop D-n")
	if bad != nil {
		return *bad
	}
	n, err := c.st.CloseActivation(ctx, d.Activation, c.who.ID, "drill stopped", "drill.stopped")
	var se *store.StateError
	if errors.As(err, &se) {
		return fail(fmt.Sprintf("%s is already stopped.", d.ID()))
	}
	if err != nil {
		return s.failErr(err, "the drill stop")
	}
	return Reply{Text: fmt.Sprintf("DRILL — %s stopped by %s; %d task(s) still open were closed. /drill report %s gives the results.", d.ID(), c.who.Name, n, d.ID()), Public: true, Ref: d.ID()}
}

// drillReport reads the drill, its activation and its tasks in one round
// trip.
func (s *Service) drillReport(ctx context.Context, c *call, args []string) Reply {
	const usage = "Usage: /drill report D-n"
	if len(args) < 1 {
		return fail(usage)
	}
	num, err := store.ParseID("D", args[0])
	if err != nil {
		return fail(err.Error() + ". " + usage)
	}
	d, act, tasks, err := c.st.DrillWithTasks(ctx, num)
	if errors.Is(err, store.ErrNotFound) {
		return fail(fmt.Sprintf("There is no %s.", store.FormatID("D", num)))
	}
	if err != nil {
		return s.failErr(err, "the drill report")
	}
	return Reply{Text: s.drillReportText(report.DrillResult(d, act, tasks)), Ref: d.ID()}
}

// drillReportText renders the after-action summary. Its figures are the
// ones `muster report drill` prints (report works them out for
// both).
func (s *Service) drillReportText(res *report.DrillFigures) string {
	d := res.Drill
	var b strings.Builder
	status := "running"
	if d.Status == "stopped" {
		status = "stopped " + s.localTime(d.Stopped)
	}
	fmt.Fprintf(&b, "DRILL — %s report: %s at %s, started %s by %s, %s. Target: every task acknowledged within %s.",
		d.ID(), res.Act.PlanName, s.siteName(d.Site), s.localTime(d.Started), s.personName(d.StartedBy), status, d.Target)
	for _, f := range res.Tasks {
		t := f.Task
		switch {
		case f.Simulated:
			fmt.Fprintf(&b, "\n  %s %s: simulated (live only)", t.ID(), t.Title)
		case f.AckedLate():
			fmt.Fprintf(&b, "\n  %s %s: acknowledged by %s after %s, only after its escalation ran out (%d escalation step(s))", t.ID(), t.Title, s.personName(f.AckedBy), f.TimeToAck().Round(time.Second), f.Escalations())
		case f.Acked():
			fmt.Fprintf(&b, "\n  %s %s: acknowledged by %s after %s, %d escalation step(s)", t.ID(), t.Title, s.personName(f.AckedBy), f.TimeToAck().Round(time.Second), f.Escalations())
		default:
			fmt.Fprintf(&b, "\n  %s %s: NOT acknowledged (%s, %d escalation step(s))", t.ID(), t.Title, s.names(f.Holders), f.Escalations())
		}
	}
	if len(res.NonResponders) > 0 {
		fmt.Fprintf(&b, "\nNever answered: %s.", s.names(res.NonResponders))
	}
	if res.Passed {
		fmt.Fprintf(&b, "\nResult: PASS (slowest acknowledgement %s, target %s).", res.Slowest.Round(time.Second), d.Target)
	} else {
		fmt.Fprintf(&b, "\nResult: FAIL (target %s).", d.Target)
	}
	return b.String()
}

// names lists people's display names.
func (s *Service) names(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.personName(id)
	}
	if len(out) == 0 {
		return "nobody"
	}
	return strings.Join(out, ", ")
}
