package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

func (s *Service) ack(ctx context.Context, c *call) Reply {
	return s.taskAction(ctx, c, store.TaskActionAck)
}

func (s *Service) done(ctx context.Context, c *call) Reply {
	return s.taskAction(ctx, c, store.TaskActionDone)
}

func (s *Service) taskAction(ctx context.Context, c *call, action string) Reply {
	usage := "Usage: /ack [T-n] [note]"
	if action == store.TaskActionDone {
		usage = "Usage: /done T-n [note]"
	}
	var num int64
	args := c.args
	if len(args) > 0 {
		n, err := store.ParseID("T", args[0])
		if err == nil {
			num, args = n, args[1:]
		} else if action == store.TaskActionDone || strings.HasPrefix(strings.ToUpper(args[0]), "T-") {
			return fail(err.Error() + ". " + usage)
		}
	}
	if num == 0 {
		if action == store.TaskActionDone {
			return fail(usage)
		}
		open, err := s.st.OpenTasksFor(ctx, c.who.ID)
		if err != nil {
			return failErr(err, "your acknowledgement")
		}
		if len(open) == 0 {
			return fail("You have no open task to acknowledge. /plan status shows the latest activation.")
		}
		num = open[0]
	}
	note := strings.Join(args, " ")
	t, err := s.st.Task(ctx, num)
	if errors.Is(err, store.ErrNotFound) {
		return fail(fmt.Sprintf("There is no %s.", store.FormatID("T", num)))
	}
	if err != nil {
		return failErr(err, "your acknowledgement")
	}
	// Someone the task was re-assigned away from (the guard who got the
	// SMS before it went to the supervisor) may still answer it: their
	// "ACK 3" must not be refused.
	earlier := t.Assignee != c.who.ID && t.WasAssigned(c.who.ID)
	if t.Assignee != c.who.ID && !earlier {
		if !c.who.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator) {
			return fail(fmt.Sprintf("%s is assigned to %s; you may only %s your own tasks. /ack alone acknowledges your newest one.", t.ID(), s.personName(t.Assignee), action))
		}
		if note == "" {
			return fail(fmt.Sprintf("%s is assigned to %s. To %s it for them, say why: /%s %s <reason>", t.ID(), s.personName(t.Assignee), action, action, t.ID()))
		}
	}
	prev, err := s.st.AckTask(ctx, num, c.who.ID, action, note)
	var se *store.StateError
	if errors.As(err, &se) {
		return fail(fmt.Sprintf("%s is already %s.", t.ID(), se.Status))
	}
	if err != nil {
		return failErr(err, "your acknowledgement")
	}
	verb := "acknowledged"
	if action == store.TaskActionDone {
		verb = "done"
	}
	line := fmt.Sprintf("%s %s by %s: %s", t.ID(), verb, c.who.Name, t.Title)
	if t.Assignee != c.who.ID {
		line += fmt.Sprintf(" (for %s", s.personName(t.Assignee))
		if note != "" {
			line += ": " + note
		}
		line += ")"
	} else if note != "" {
		line += " (" + note + ")"
	}
	if prev == store.TaskUnanswered {
		line += " (it had gone unanswered)"
	}
	if action == store.TaskActionAck {
		line += ". Escalation stopped."
	}
	return Reply{Text: line, Ref: t.ID()}
}
