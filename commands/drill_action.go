package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

const drillActionUsage = "Usage: /drill action D-n <what will be improved> · /drill action done <n> [note] · /drill action list [D-n]"

// drillAction records and closes a drill's corrective actions (wired
// into /drill as the "action" subcommand; c.args[0] is "action"):
//
//	/drill action D-3 Brief the night shift on the assembly point
//	/drill action done 4 [note]
//	/drill action list [D-3]      (open actions, or every action of D-3)
//
// Recording and closing are for coordinators; anyone may list.
func (s *Service) drillAction(ctx context.Context, c *call) Reply {
	args := c.args
	if len(args) > 0 && strings.EqualFold(args[0], "action") {
		args = args[1:]
	}
	if len(args) == 0 {
		return fail(drillActionUsage)
	}
	switch strings.ToLower(args[0]) {
	case "list", "ls":
		return s.drillActionList(ctx, args[1:])
	case "done", "close":
		return s.drillActionDone(ctx, c, args[1:])
	}
	if !c.who.HasRole(configs.RoleCoordinator) {
		return fail("Only a coordinator may record a corrective action.")
	}
	d, bad := s.findDrill(ctx, args[:1], drillActionUsage)
	if bad != nil {
		return *bad
	}
	text := strings.TrimSpace(c.rest(args, 1))
	if text == "" {
		return fail(fmt.Sprintf("Say what will be improved: /drill action %s <text>.", d.ID()))
	}
	a, err := s.st.AddAction(ctx, d.Num, c.who.ID, text)
	if err != nil {
		return failErr(err, "the corrective action")
	}
	return Reply{Text: fmt.Sprintf("DRILL — %s recorded for %s by %s: %s. Close it with /drill action done %d.", a.ID(), d.ID(), c.who.Name, text, a.Num), Ref: d.ID()}
}

func (s *Service) drillActionDone(ctx context.Context, c *call, args []string) Reply {
	if !c.who.HasRole(configs.RoleCoordinator) {
		return fail("Only a coordinator may close a corrective action.")
	}
	if len(args) == 0 {
		return fail("Usage: /drill action done <n> [note]")
	}
	num, err := store.ParseID("CA", args[0])
	if err != nil {
		return fail(err.Error() + ". Usage: /drill action done <n> [note]")
	}
	note := strings.TrimSpace(c.rest(args, 1))
	a, err := s.st.CloseAction(ctx, num, c.who.ID, note)
	var se *store.StateError
	switch {
	case errors.As(err, &se):
		return fail(fmt.Sprintf("%s is already %s.", store.FormatID("CA", num), se.Status))
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no corrective action %s. /drill action list shows the open ones.", store.FormatID("CA", num)))
	case err != nil:
		return failErr(err, "closing the corrective action")
	}
	line := fmt.Sprintf("DRILL — %s (D-%d) closed by %s: %s", a.ID(), a.Drill, c.who.Name, a.Text)
	if note != "" {
		line += " (" + note + ")"
	}
	return Reply{Text: line, Ref: store.FormatID("D", a.Drill)}
}

func (s *Service) drillActionList(ctx context.Context, args []string) Reply {
	f := store.ActionFilter{OpenOnly: true}
	scope := "Open corrective actions"
	var (
		list []*store.CorrectiveAction
		err  error
	)
	if len(args) > 0 {
		const usage = "Usage: /drill action list [D-n]"
		num, perr := store.ParseID("D", args[0])
		if perr != nil {
			return fail(perr.Error() + ". " + usage)
		}
		var d *store.Drill
		d, list, err = s.st.DrillActions(ctx, num)
		if errors.Is(err, store.ErrNotFound) {
			return fail(fmt.Sprintf("There is no %s.", store.FormatID("D", num)))
		}
		if err != nil {
			return failErr(err, "the drill")
		}
		scope = "Corrective actions of " + d.ID()
	} else {
		list, err = s.st.Actions(ctx, f)
	}
	if err != nil {
		return failErr(err, "the corrective actions")
	}
	if len(list) == 0 {
		return Reply{Text: scope + ": none."}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d):", scope, len(list))
	for _, a := range list {
		fmt.Fprintf(&b, "\n%d  D-%d  %s  %s, by %s %s", a.Num, a.Drill, a.Status, clip(a.Text, 80), s.personName(a.By), s.localTime(a.Created))
		if a.Status == store.ActionDone {
			fmt.Fprintf(&b, "; done by %s %s", s.personName(a.DoneBy), s.localTime(a.DoneAt))
		}
	}
	return Reply{Text: b.String()}
}
