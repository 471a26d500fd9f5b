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

// drillAction is the drill's shorthand for /action (wired into /drill as
// the "action" subcommand; c.args[0] is "action"):
//
//	/drill action D-3 Brief the night shift     = /action add D-3 me 30d Brief the night shift
//	/drill action done 4 [note]                  = /action done CA-4 [note]
//	/drill action list [D-3]      (open actions, or every action of D-3)
//
// Recording and closing are for coordinators, as they were before /action;
// anyone may list.
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
		return s.drillActionList(ctx, c, args[1:])
	case "done", "close":
		if !c.who.HasRole(configs.RoleCoordinator) {
			return fail("Only a coordinator may close a corrective action.")
		}
		if len(args) < 2 {
			return fail("Usage: /drill action done <n> [note]")
		}
		return s.actionDone(ctx, c, args[1:])
	}
	if !c.who.HasRole(configs.RoleCoordinator) {
		return fail("Only a coordinator may record a corrective action.")
	}
	num, err := store.ParseID("D", args[0])
	if err != nil {
		return fail(err.Error() + ". " + drillActionUsage)
	}
	text := strings.TrimSpace(c.rest(args, 1))
	if text == "" {
		return fail(fmt.Sprintf("Say what will be improved: /drill action %s <text>.", store.FormatID("D", num)))
	}
	due, err := ParseDue(configs.FormatDuration(DefaultActionDue), s.now(), s.cfg().Location())
	if err != nil {
		return s.failErr(err, "the corrective action")
	}
	return s.recordAction(ctx, c, store.FormatID("D", num), c.who, due, text)
}

func (s *Service) drillActionList(ctx context.Context, c *call, args []string) Reply {
	if len(args) == 0 {
		return s.actionList(ctx, c, nil)
	}
	const usage = "Usage: /drill action list [D-n]"
	num, err := store.ParseID("D", args[0])
	if err != nil {
		return fail(err.Error() + ". " + usage)
	}
	d, list, err := c.st.DrillActions(ctx, num)
	if errors.Is(err, store.ErrNotFound) {
		return fail(fmt.Sprintf("There is no %s.", store.FormatID("D", num)))
	}
	if err != nil {
		return s.failErr(err, "the drill")
	}
	scope := "Corrective actions of " + d.ID()
	if len(list) == 0 {
		return Reply{Text: scope + ": none."}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d):", scope, len(list))
	today := s.today()
	for _, a := range list {
		b.WriteString("\n" + s.actionLine(a, today))
	}
	return Reply{Text: b.String()}
}
