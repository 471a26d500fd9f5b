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
	if num == 0 && action == store.TaskActionDone {
		return fail(usage)
	}
	note := strings.Join(args, " ")
	// One script finds the task (num 0: the sender's newest open one),
	// checks the sender may answer it and answers it. Someone the task was
	// re-assigned away from (the guard who got the SMS before it went to
	// the supervisor) may still answer it: their "ACK 3" is not refused.
	// By SMS everyone, supervisors included, may answer only their own
	// tasks: a text is easier to forge or misdirect than a chat message,
	// and "ACK 3" from the wrong phone must not silence someone else's
	// escalation.
	bySMS := c.req.Platform == PlatformSMS
	t, err := c.st.AnswerTask(ctx, store.TaskAnswer{Num: num, Actor: c.who.ID, Action: action, Note: note,
		Lead: !bySMS && c.who.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator)})
	id := store.FormatID("T", num)
	var (
		se *store.StateError
		na *store.NotAssigneeError
	)
	switch {
	case errors.Is(err, store.ErrNoOpenTask):
		return fail("You have no open task to acknowledge. /plan status shows the latest activation.")
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no %s.", id))
	case errors.As(err, &na) && bySMS:
		return fail(fmt.Sprintf("%s is not assigned to you. By SMS you can only %s your own tasks; reply STATUS to list them.", id, strings.ToUpper(action)))
	case errors.As(err, &na) && !na.NeedReason:
		return fail(fmt.Sprintf("%s is assigned to %s; you may only %s your own tasks. /ack alone acknowledges your newest one.", id, s.personName(na.Assignee), action))
	case errors.As(err, &na):
		return fail(fmt.Sprintf("%s is assigned to %s. To %s it for them, say why: /%s %s <reason>", id, s.personName(na.Assignee), action, action, id))
	case errors.As(err, &se) && num == 0:
		return fail(fmt.Sprintf("Your newest task is already %s.", se.Status))
	case errors.As(err, &se):
		return fail(fmt.Sprintf("%s is already %s.", id, se.Status))
	case err != nil:
		return s.failErr(err, "your acknowledgement")
	}
	prev := t.Before
	id = store.FormatID("T", t.Num)
	verb := "acknowledged"
	if action == store.TaskActionDone {
		verb = "done"
	}
	line := fmt.Sprintf("%s %s by %s: %s", id, verb, c.who.Name, t.Title)
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
	return Reply{Text: line, Ref: id}
}
