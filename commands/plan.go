package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

const planUsage = "Usage: /plan list · show <plan> · trigger <plan> [@site] [INC-n] [note] · status [A-n] · standdown A-n · dryrun <plan> [@site]"

func (s *Service) plan(ctx context.Context, c *call) Reply {
	if len(c.args) == 0 {
		return fail(planUsage)
	}
	sub, args := strings.ToLower(c.args[0]), c.args[1:]
	switch sub {
	case "list", "ls":
		return s.planList()
	case "show":
		return s.planShow(args)
	case "trigger", "start", "activate":
		return s.planTrigger(ctx, c, args, false)
	case "status":
		return s.planStatus(ctx, c, args)
	case "standdown", "stand-down", "stop":
		return s.planStanddown(ctx, c, args)
	case "dryrun", "dry-run":
		return s.planDryrun(ctx, c, args)
	}
	return fail(fmt.Sprintf("Unknown /plan %s. %s", sub, planUsage))
}

func (s *Service) planList() Reply {
	var b strings.Builder
	b.WriteString("Plans:")
	for _, p := range s.cfg().Plans {
		fmt.Fprintf(&b, "\n%s  %s v%d, %d tasks, target %s, triggered by %s", p.ID, p.Name, p.Version, len(p.Tasks), p.Target, strings.Join(triggerRoles(&p), ", "))
	}
	return Reply{Text: b.String()}
}

func triggerRoles(p *configs.Plan) []string {
	r := slices.Clone(p.TriggeredBy)
	if !slices.Contains(r, configs.RoleCoordinator) {
		r = append(r, configs.RoleCoordinator)
	}
	return r
}

func (s *Service) findPlan(id string) (*configs.Plan, *Reply) {
	p, ok := s.cfg().Plan(strings.ToLower(id))
	if !ok {
		ids := make([]string, len(s.cfg().Plans))
		for i, p := range s.cfg().Plans {
			ids[i] = p.ID
		}
		r := fail(fmt.Sprintf("Unknown plan %q. Plans: %s.", id, strings.Join(ids, ", ")))
		return nil, &r
	}
	return p, nil
}

func (s *Service) planShow(args []string) Reply {
	if len(args) != 1 {
		return fail("Usage: /plan show <plan>")
	}
	p, bad := s.findPlan(args[0])
	if bad != nil {
		return *bad
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) v%d, target %s, triggered by %s\nBroadcast: %s", p.Name, p.ID, p.Version, p.Target, strings.Join(triggerRoles(p), ", "), p.Broadcast)
	for i, t := range p.Tasks {
		live := ""
		if t.LiveOnly {
			live = " (live only: simulated in drills)"
		}
		fmt.Fprintf(&b, "\n%d. %s: %s, policy %s%s", i+1, t.Role, t.Title, t.Policy, live)
	}
	return Reply{Text: b.String()}
}

// assignment is who a plan task goes to now, and why.
type assignment struct {
	person string
	note   string
}

// assign resolves a plan task's role to the person on duty at the site
// now; with nobody on duty, to a coordinator, saying so.
func (s *Service) assign(role, site string, at time.Time, overrides []roster.Override) assignment {
	if sh, ok := roster.OnDuty(s.cfg(), site, role, at, overrides); ok && sh.Person != nil {
		note := "on duty as " + role
		if sh.Cover != nil {
			note += " (cover " + sh.Cover.ID + ")"
		}
		return assignment{sh.Person.ID, note}
	}
	if co := s.cfg().Coordinators(); len(co) > 0 {
		return assignment{co[0].ID, fmt.Sprintf("no %s on duty at %s: assigned to coordinator %s", role, site, co[0].Name)}
	}
	return assignment{"", "no " + role + " on duty and no coordinator"}
}

func (s *Service) planTrigger(ctx context.Context, c *call, args []string, drill bool) Reply {
	verb := "/plan trigger"
	if drill {
		verb = "/drill start"
	}
	if len(args) == 0 {
		return fail("Usage: " + verb + " <plan> [@site] [INC-n] [note]")
	}
	p, bad := s.findPlan(args[0])
	if bad != nil {
		return *bad
	}
	if drill && !c.who.HasRole(configs.RoleCoordinator) {
		return fail("Only a coordinator may start a drill.")
	}
	if !drill && !c.who.HasAnyRole(triggerRoles(p)...) {
		return fail(fmt.Sprintf("%s may be triggered by %s; you are %s. Call the control room or a supervisor.", p.Name, strings.Join(triggerRoles(p), ", "), strings.Join(c.who.Roles, ", ")))
	}
	// The words after the plan are, in this order and each optional:
	// @site, INC-n, then the note as typed (an @word in the note is text).
	i := 1
	var site *configs.Site
	if i < len(args) && strings.HasPrefix(args[i], "@") {
		st, _, bad := s.siteArg(args[i : i+1])
		if bad != nil {
			return *bad
		}
		site = st
		i++
	}
	if site == nil {
		var ok bool
		if site, ok = s.defaultSite(c); !ok {
			return fail("Which site? " + verb + " " + p.ID + " @" + s.cfg().Sites[0].ID + " (sites: " + s.siteList() + ").")
		}
	}
	var incident int64
	if i < len(args) && !drill {
		if n, err := store.ParseID("INC", args[i]); err == nil && strings.HasPrefix(strings.ToUpper(args[i]), "INC-") {
			incident = n
			i++
		}
	}
	note := c.rest(args, i)
	now := s.now()
	overrides, err := c.st.Overrides(ctx)
	if s.degradedOn(ctx, err, drill) {
		return s.degradedTrigger(ctx, c, p, site, incident, note, err)
	}
	if err != nil {
		return s.failErr(err, "the plan")
	}
	in := store.NewActivation{Plan: p.ID, PlanName: p.Name, PlanVersion: p.Version, Site: site.ID, By: c.who.ID,
		Note: note, Drill: drill, Incident: incident, Target: p.Target.D()}
	var lines []string
	for _, t := range p.Tasks {
		a := s.assign(t.Role, site.ID, now, overrides)
		simulated := drill && t.LiveOnly
		in.Tasks = append(in.Tasks, store.NewTask{Title: t.Title, Role: t.Role, Policy: t.Policy, Assignee: a.person,
			Note: a.note, LiveOnly: t.LiveOnly, Simulated: simulated})
		_ = lines
	}
	broadcast := fmt.Sprintf("%s at %s: %s", strings.ToUpper(p.Name), site.Name, p.Broadcast)
	if note != "" {
		broadcast += " Note: " + note
	}
	if drill {
		broadcast = notify.DrillPrefix + broadcast
	}
	in.Messages = []store.OutMessage{{Channel: notify.Chat, Site: site.ID, Kind: "broadcast", Text: broadcast, Drill: flagStr(drill)}}
	act, tasks, err := c.st.TriggerPlan(ctx, in)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no %s to link. Trigger without it, or check /incident list.", store.FormatID("INC", incident)))
	case errors.Is(err, store.ErrNotReplicated) && act != nil:
		// Saved: answered as triggered, and said so below.
	case s.degradedOn(ctx, err, drill):
		return s.degradedTrigger(ctx, c, p, site, incident, note, err)
	case err != nil:
		return s.failErr(err, "the plan trigger")
	}
	unconfirmed := err != nil
	s.poke()
	var b strings.Builder
	if drill {
		fmt.Fprintf(&b, "%sD-%d started: %s (%s) at %s by %s, target %s.", notify.DrillPrefix, act.Drill, p.Name, act.ID(), site.Name, c.who.Name, p.Target)
	} else {
		fmt.Fprintf(&b, "%s triggered: %s v%d at %s by %s.", act.ID(), p.Name, p.Version, site.Name, c.who.Name)
		if incident > 0 {
			fmt.Fprintf(&b, " Linked to %s.", store.FormatID("INC", incident))
		}
	}
	for _, t := range tasks {
		fmt.Fprintf(&b, "\n  %s %s: %s", t.ID(), s.personName(t.Assignee), t.Title)
		if t.Status == store.TaskSimulated {
			b.WriteString(" (simulated: live only)")
		}
	}
	if unconfirmed {
		b.WriteString("\n" + notConfirmed(act.ID()))
	}
	return Reply{Text: b.String(), Public: true, Ref: act.ID()}
}

func flagStr(b bool) string {
	if b {
		return "1"
	}
	return ""
}

func (s *Service) planStatus(ctx context.Context, c *call, args []string) Reply {
	var num int64 // 0: the latest
	switch len(args) {
	case 0:
	case 1:
		n, perr := store.ParseID("A", args[0])
		if perr != nil {
			return fail(perr.Error() + ". Usage: /plan status [A-n]")
		}
		num = n
	default:
		return fail("Usage: /plan status [A-n]")
	}
	act, tasks, err := c.st.ActivationWithTasks(ctx, num)
	switch {
	case errors.Is(err, store.ErrNotFound) && num == 0:
		return Reply{Text: "No plan has been triggered yet."}
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no %s.", store.FormatID("A", num)))
	case err != nil:
		return s.failErr(err, "the plan status")
	}
	return Reply{Text: s.activationText(act, tasks), Ref: act.ID()}
}

func (s *Service) activationText(act *store.Activation, tasks []*store.Task) string {
	var b strings.Builder
	kind := ""
	if act.Drill > 0 {
		kind = fmt.Sprintf(" (drill D-%d)", act.Drill)
	}
	fmt.Fprintf(&b, "%s %s%s at %s, %s; triggered %s by %s", act.ID(), act.PlanName, kind, s.siteName(act.Site),
		strings.ReplaceAll(act.Status, "_", " "), s.localTime(act.Created), s.personName(act.TriggeredBy))
	for _, t := range tasks {
		fmt.Fprintf(&b, "\n  %s %-12s %s: %s", t.ID(), t.Status, s.personName(t.Assignee), t.Title)
		switch t.Status {
		case store.TaskOpen:
			steps := 0
			if p, ok := s.cfg().Policy(t.Policy); ok {
				steps = len(notify.Steps(p))
			}
			fmt.Fprintf(&b, " (step %d of %d, next %s)", t.Step, steps, s.localTime(t.Due))
		case store.TaskAcknowledged, store.TaskDone:
			fmt.Fprintf(&b, " (by %s at %s, after %s)", s.personName(t.AckedBy), s.localTime(t.AckedAt), roundDur(t.AckedAt.Sub(t.Created)))
		}
	}
	return b.String()
}

func roundDur(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Second).String()
}

func (s *Service) planStanddown(ctx context.Context, c *call, args []string) Reply {
	if len(args) < 1 {
		return fail("Usage: /plan standdown A-n [note]")
	}
	num, err := store.ParseID("A", args[0])
	if err != nil {
		return fail(err.Error() + ". Usage: /plan standdown A-n [note]")
	}
	act, err := c.st.Activation(ctx, num)
	if errors.Is(err, store.ErrNotFound) {
		return fail(fmt.Sprintf("There is no %s. /plan status shows the latest.", store.FormatID("A", num)))
	}
	if err != nil {
		return s.failErr(err, "the stand-down")
	}
	p, _ := s.cfg().Plan(act.Plan)
	allowed := []string{configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator}
	if p != nil {
		allowed = append(allowed, triggerRoles(p)...)
	}
	if !c.who.HasAnyRole(allowed...) && act.TriggeredBy != c.who.ID {
		return fail("Only a supervisor, control, a coordinator or whoever triggered it may stand a plan down.")
	}
	if act.Drill > 0 {
		return fail(fmt.Sprintf("%s is drill D-%d; stop it with /drill stop D-%d.", act.ID(), act.Drill, act.Drill))
	}
	note := strings.Join(args[1:], " ")
	// The announcement is queued by the same script that stands the plan
	// down; only the script knows how many tasks it cancelled.
	line := fmt.Sprintf("%s %s stood down by %s; %%s open task(s) cancelled, escalation stopped.", act.ID(), act.PlanName, c.who.Name)
	n, err := c.st.CloseActivation(ctx, num, c.who.ID, note, "plan.stood_down",
		store.OutMessage{Channel: notify.Chat, Site: act.Site, Kind: "standdown", Ref: act.ID(), Text: fmt.Sprintf(line, store.CountPlaceholder)})
	var se *store.StateError
	if errors.As(err, &se) {
		return fail(fmt.Sprintf("%s is already %s.", act.ID(), strings.ReplaceAll(se.Status, "_", " ")))
	}
	if err != nil {
		return s.failErr(err, "the stand-down")
	}
	line = fmt.Sprintf(line, strconv.FormatInt(n, 10))
	return Reply{Text: line, Public: true, Ref: act.ID()}
}

func (s *Service) planDryrun(ctx context.Context, c *call, args []string) Reply {
	if len(args) == 0 {
		return fail("Usage: /plan dryrun <plan> [@site]")
	}
	p, bad := s.findPlan(args[0])
	if bad != nil {
		return *bad
	}
	site, _, bad := s.siteArg(args[1:])
	if bad != nil {
		return *bad
	}
	if site == nil {
		var ok bool
		if site, ok = s.defaultSite(c); !ok {
			return fail("Which site? /plan dryrun " + p.ID + " @" + s.cfg().Sites[0].ID)
		}
	}
	overrides, err := c.st.Overrides(ctx)
	if err != nil {
		return s.failErr(err, "the dry run")
	}
	now := s.now()
	var b strings.Builder
	fmt.Fprintf(&b, "Dry run of %s at %s, if triggered now (%s). Nothing was sent or saved.", p.Name, site.Name, s.localTime(now))
	for i, t := range p.Tasks {
		a := s.assign(t.Role, site.ID, now, overrides)
		fmt.Fprintf(&b, "\n%d. %s → %s (%s)", i+1, t.Title, s.personName(a.person), a.note)
		pol, ok := s.cfg().Policy(t.Policy)
		if !ok {
			continue
		}
		at, who := now, a.person
		for _, st := range notify.Steps(pol) {
			if st.EscalateTo != nil {
				if st.EscalateTo.Person != "" {
					who = st.EscalateTo.Person
				} else {
					who = s.assign(st.EscalateTo.Role, site.ID, at, overrides).person
				}
			}
			fmt.Fprintf(&b, "\n   %s %s to %s", s.localTime(at), strings.Join(st.Notify, "+"), s.personName(who))
			at = at.Add(st.Wait.D())
		}
		fmt.Fprintf(&b, "\n   %s unanswered: site channel and coordinators told", s.localTime(at))
	}
	return Reply{Text: b.String()}
}

// poke wakes this process's engine after a write that added deadlines.
func (s *Service) poke() {
	if s.engine != nil {
		s.engine.Poke()
	}
}
