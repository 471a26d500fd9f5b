package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

const actionUsage = "Usage: /action add <INC-n|A-n|D-n|review> <owner> <due> <text> · /action done CA-n [note] · /action verify CA-n effective|ineffective [note] · /action list [mine|open|overdue] [@site]"

// DefaultActionDue is how long /drill action D-n <text> gives its owner.
const DefaultActionDue = 30 * 24 * time.Hour

// action runs /action: corrective actions for incidents, activations,
// drills and management reviews.
//
//	/action add INC-4 ben 14d Replace the lock on gate B
//	/action done CA-3 [note]
//	/action verify CA-3 effective|ineffective [note]
//	/action list [mine|open|overdue] [@site]
//
// Supervisors, control and coordinators record actions; the owner (or a
// coordinator) marks one done; a coordinator verifies whether it worked;
// anyone lists them. By SMS, owners may only mark their own actions done
// and list them.
func (s *Service) action(ctx context.Context, c *call) Reply {
	if len(c.args) == 0 {
		return fail(actionUsage)
	}
	sub, args := strings.ToLower(c.args[0]), c.args[1:]
	bySMS := c.req.Platform == PlatformSMS
	switch sub {
	case "add", "new":
		if bySMS {
			return fail("By SMS you may mark your own actions done (ACTION DONE CA-n) or list them (ACTION LIST MINE); record actions in chat.")
		}
		return s.actionAdd(ctx, c, args)
	case "done", "close":
		return s.actionDone(ctx, c, args)
	case "verify":
		if bySMS {
			return fail("Verify actions in chat: /action verify CA-n effective|ineffective [note].")
		}
		return s.actionVerify(ctx, c, args)
	case "list", "ls":
		return s.actionList(ctx, c, args)
	}
	return fail(fmt.Sprintf("Unknown /action %s. %s", sub, actionUsage))
}

// actionAdd records an action; /drill action D-n <text> comes here with
// its owner and due date filled in.
func (s *Service) actionAdd(ctx context.Context, c *call, args []string) Reply {
	const usage = "Usage: /action add <INC-n|A-n|D-n|review> <owner> <due> <text>, e.g. /action add INC-4 ben 14d Replace the lock on gate B (due: a date like 2026-03-15 or a length like 14d)"
	if !c.who.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator) {
		return fail("Only a supervisor, control or a coordinator may record a corrective action.")
	}
	if len(args) < 4 {
		return fail(usage)
	}
	subject, bad := actionSubject(args[0])
	if bad != "" {
		return fail(bad + ". " + usage)
	}
	owner, ok := s.cfg().Person(strings.ToLower(args[1]))
	if strings.EqualFold(args[1], "me") {
		owner, ok = c.who, true
	}
	if !ok {
		return fail(fmt.Sprintf("Unknown owner %q. Use a person id from the config (or me), e.g. %s. %s", args[1], s.cfg().People[0].ID, usage))
	}
	due, err := ParseDue(args[2], s.now(), s.cfg().Location())
	if err != nil {
		return fail(err.Error() + ". " + usage)
	}
	text := strings.TrimSpace(c.rest(args, 3))
	if text == "" {
		return fail("Say what will be done. " + usage)
	}
	return s.recordAction(ctx, c, subject, owner, due, text)
}

func (s *Service) recordAction(ctx context.Context, c *call, subject string, owner *configs.Person, due configs.Date, text string) Reply {
	loc := s.cfg().Location()
	dueText := due.In(loc).Format("Mon 2 Jan 2006")
	var msgs []store.OutMessage
	if owner.ID != c.who.ID {
		msgs = append(msgs, store.OutMessage{Channel: notify.Chat, To: owner.ID, Kind: "action",
			Text: fmt.Sprintf("%s put you down for %s (%s), due %s: %s. When it is done: /action done %s [note]",
				c.who.Name, store.IDPlaceholder, subject, dueText, text, store.IDPlaceholder)})
	}
	a, err := c.st.RecordAction(ctx, store.NewAction{Subject: subject, Owner: owner.ID, Due: due.String(), Text: text, By: c.who.ID, Messages: msgs})
	if errors.Is(err, store.ErrNotFound) {
		return fail(fmt.Sprintf("There is no %s. /incident list, /plan status and /drill report show what there is.", subject))
	}
	if err != nil {
		return s.failErr(err, "the corrective action")
	}
	ref := subject
	if subject == store.ReviewSubject {
		ref = a.ID()
	}
	return Reply{Text: fmt.Sprintf("%s recorded for %s by %s: %s. Owner %s, due %s. Done with /action done %s.",
		a.ID(), subject, c.who.Name, text, owner.Name, dueText, a.ID()), Ref: ref}
}

// actionSubject reads what an action is for: INC-n, A-n, D-n or review.
func actionSubject(arg string) (string, string) {
	if strings.EqualFold(arg, store.ReviewSubject) {
		return store.ReviewSubject, ""
	}
	for _, prefix := range []string{"INC", "A", "D"} {
		if strings.HasPrefix(strings.ToUpper(arg), prefix+"-") {
			n, err := store.ParseID(prefix, arg)
			if err != nil {
				return "", err.Error()
			}
			return store.FormatID(prefix, n), ""
		}
	}
	return "", fmt.Sprintf("%q is not INC-n, A-n, D-n or review", arg)
}

// ParseDue reads when an action is due: a date (2026-03-15) or a length
// from now (14d, 36h), as the day it falls on in loc. A day before today
// is refused.
func ParseDue(s string, now time.Time, loc *time.Location) (configs.Date, error) {
	var at time.Time
	if t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(s), loc); err == nil {
		at = t
	} else if d, err := configs.ParseDuration(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "+")); err == nil && d > 0 {
		at = now.Add(d)
	} else {
		return configs.Date{}, fmt.Errorf("%q is not a due date: write 2026-03-15 or a length such as 14d", s)
	}
	l := at.In(loc)
	due := configs.Date{Year: l.Year(), Month: int(l.Month()), Day: l.Day()}
	n := now.In(loc)
	if due.In(loc).Before(time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, loc)) {
		return configs.Date{}, fmt.Errorf("%s is in the past", due)
	}
	return due, nil
}

func (s *Service) actionDone(ctx context.Context, c *call, args []string) Reply {
	const usage = "Usage: /action done CA-n [note]"
	if len(args) == 0 {
		return fail(usage)
	}
	num, err := store.ParseID("CA", args[0])
	if err != nil {
		return fail(err.Error() + ". " + usage)
	}
	note := strings.TrimSpace(c.rest(args, 1))
	// Anyone but a coordinator may only mark their own actions done; by
	// SMS, coordinators too. The script checks, in the same step.
	ownerOnly := !c.who.HasRole(configs.RoleCoordinator) || c.req.Platform == PlatformSMS
	a, err := c.st.MarkActionDone(ctx, num, c.who.ID, note, ownerOnly)
	var (
		se *store.StateError
		no *store.NotOwnerError
	)
	id := store.FormatID("CA", num)
	switch {
	case errors.As(err, &no):
		return fail(fmt.Sprintf("%s is %s's; only they or a coordinator may mark it done.", id, s.personName(no.Owner)))
	case errors.As(err, &se):
		return fail(fmt.Sprintf("%s is already %s.", id, se.Status))
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no corrective action %s. /action list shows the open ones.", id))
	case err != nil:
		return s.failErr(err, "closing the corrective action")
	}
	line := fmt.Sprintf("%s (%s) done by %s: %s", a.ID(), a.Subject, c.who.Name, a.Text)
	if note != "" {
		line += " (" + note + ")"
	}
	return Reply{Text: line + ". A coordinator verifies it: /action verify " + a.ID() + " effective|ineffective [note].", Ref: a.Subject}
}

func (s *Service) actionVerify(ctx context.Context, c *call, args []string) Reply {
	const usage = "Usage: /action verify CA-n effective|ineffective [note]"
	if !c.who.HasRole(configs.RoleCoordinator) {
		return fail("Only a coordinator may verify a corrective action.")
	}
	if len(args) < 2 {
		return fail(usage)
	}
	num, err := store.ParseID("CA", args[0])
	if err != nil {
		return fail(err.Error() + ". " + usage)
	}
	verdict := strings.ToLower(args[1])
	if verdict != store.ActionEffective && verdict != store.ActionIneffective {
		return fail(fmt.Sprintf("%q: say effective or ineffective. %s", args[1], usage))
	}
	note := strings.TrimSpace(c.rest(args, 2))
	a, err := c.st.VerifyAction(ctx, num, c.who.ID, verdict, note)
	var se *store.StateError
	id := store.FormatID("CA", num)
	switch {
	case errors.As(err, &se) && se.Status == store.ActionOpen:
		return fail(fmt.Sprintf("%s is still open: its owner marks it done first (/action done %s).", id, id))
	case errors.As(err, &se):
		return fail(fmt.Sprintf("%s is already verified.", id))
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no corrective action %s. /action list shows the open ones.", id))
	case err != nil:
		return s.failErr(err, "verifying the corrective action")
	}
	line := fmt.Sprintf("%s (%s) verified %s by %s: %s", a.ID(), a.Subject, verdict, c.who.Name, a.Text)
	if note != "" {
		line += " (" + note + ")"
	}
	if verdict == store.ActionIneffective {
		line += ". It did not work: record a new action with /action add " + a.Subject + " <owner> <due> <text>"
	}
	return Reply{Text: line + ".", Ref: a.Subject}
}

// actionList lists corrective actions: open ones by default; mine (the
// sender's, not yet verified), overdue (open past their due day); at one
// site with @site.
func (s *Service) actionList(ctx context.Context, c *call, args []string) Reply {
	const usage = "Usage: /action list [mine|open|overdue] [@site]"
	site, args, bad := s.siteArg(args)
	if bad != nil {
		return *bad
	}
	which := "open"
	for _, a := range args {
		switch la := strings.ToLower(a); la {
		case "mine", "open", "overdue":
			which = la
		default:
			return fail(fmt.Sprintf("%q is not mine, open or overdue. %s", a, usage))
		}
	}
	all, err := c.st.Actions(ctx, store.ActionFilter{OpenOnly: which != "mine"})
	if err != nil {
		return s.failErr(err, "the corrective actions")
	}
	today := s.today()
	var list []*store.CorrectiveAction
	for _, a := range all {
		switch {
		case site != nil && a.Site != site.ID:
		case which == "mine" && (a.Owner != c.who.ID || a.Status == store.ActionVerified):
		case which == "overdue" && !actionOverdue(a, today):
		default:
			list = append(list, a)
		}
	}
	scope := map[string]string{"open": "Open corrective actions", "mine": "Your corrective actions", "overdue": "Overdue corrective actions"}[which]
	if site != nil {
		scope += " at " + site.Name
	}
	if len(list) == 0 {
		return Reply{Text: scope + ": none."}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d):", scope, len(list))
	sep := "\n"
	if c.req.Platform == PlatformSMS {
		sep = "; "
	}
	for _, a := range list {
		b.WriteString(sep + s.actionLine(a, today))
	}
	return Reply{Text: b.String()}
}

// actionLine is one action in a list: "CA-3 INC-4 open, due Mon 15 Mar
// (overdue), Ben Walsh: Replace the lock".
func (s *Service) actionLine(a *store.CorrectiveAction, today configs.Date) string {
	due := "no due date"
	if d, ok := parseDate(a.Due); ok {
		due = "due " + d.In(s.cfg().Location()).Format("Mon 2 Jan 2006")
		if actionOverdue(a, today) {
			due += " (overdue)"
		}
	}
	status := a.Status
	if a.Status == store.ActionVerified {
		status += " " + a.Effective
	}
	return fmt.Sprintf("%s %s %s, %s, %s: %s", a.ID(), a.Subject, status, due, s.personName(a.Owner), clip(a.Text, 80))
}

// today is the organization's date now.
func (s *Service) today() configs.Date {
	n := s.now().In(s.cfg().Location())
	return configs.Date{Year: n.Year(), Month: int(n.Month()), Day: n.Day()}
}

// actionOverdue: still open after its due day.
func actionOverdue(a *store.CorrectiveAction, today configs.Date) bool {
	d, ok := parseDate(a.Due)
	return ok && a.Status == store.ActionOpen && d.String() < today.String()
}

func parseDate(s string) (configs.Date, bool) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return configs.Date{}, false
	}
	return configs.Date{Year: t.Year(), Month: int(t.Month()), Day: t.Day()}, true
}
