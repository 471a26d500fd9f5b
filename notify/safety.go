package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// Roll calls and lone-worker check-ins are tasks of their own kinds
// (store.KindRollCall, store.KindCheckin): the engine claims and records
// their steps like any task's, and only what a step says differs.

// rollCallFallback stands in for a missing rollcall.policy: asked by chat
// and SMS, then the site's supervisor and control are told.
func rollCallFallback() []configs.Step {
	return []configs.Step{
		{Notify: []string{Chat, SMS}, Wait: configs.Duration(5 * time.Minute)},
		{Tell: []string{configs.RoleSupervisor, configs.RoleControl}, Wait: configs.Duration(5 * time.Minute)},
	}
}

// RollCallSteps is the run order of a roll call's questions: the
// rollcall.policy's steps, repeated; a fallback when it names none.
func RollCallSteps(cfg *configs.Config) []configs.Step {
	if p, ok := cfg.Policy(cfg.RollCall.Policy); ok {
		return Steps(p)
	}
	return rollCallFallback()
}

// planRollCall decides what step t.Step of a person's roll-call question
// does: ask or remind them on the step's channels, tell the roles it
// names that they have not answered, raise an incident if it says so.
func (e *Engine) planRollCall(ctx context.Context, b *batch, t *store.Task, run *store.StepRun) {
	site := e.siteName(t.Site)
	drill := t.Drill > 0
	steps := RollCallSteps(e.cfg())
	if t.Step >= len(steps) {
		// Nobody is asked any more; the tally shows them not answered.
		run.Note = "roll call escalation ran out: never answered"
		run.Audit = map[string]any{"step": t.Step + 1, "rollcall": t.Ref, "person": t.Assignee}
		return
	}
	st := steps[t.Step]
	for _, ch := range st.Notify {
		run.Messages = append(run.Messages, store.OutMessage{
			Key: fmt.Sprintf("%s:%d:%s", t.ID(), t.Step, ch), Channel: ch, To: t.Assignee, Kind: "task",
			Ref: t.ID(), Task: fmt.Sprint(t.Num), Text: RollCallText(ch, t.Ref, site, t.Step > 0, drill), Drill: flagStr(drill),
		})
	}
	name := e.personName(t.Assignee)
	told := e.tell(ctx, b, t, st, NotAnsweredText(name, t.Ref, drill), run)
	if st.Raise != "" {
		e.raise(t, st.Raise, fmt.Sprintf("%s has not answered roll call %s at %s", name, t.Ref, site), false, drill, run)
	}
	run.Wait = st.Wait.D()
	run.Note = fmt.Sprintf("roll call %s step %d: %v to %s, told %v, next in %s", t.Ref, t.Step+1, st.Notify, t.Assignee, told, st.Wait)
	run.Audit = map[string]any{"step": t.Step + 1, "notify": st.Notify, "to": t.Assignee, "rollcall": t.Ref, "told": told}
}

// tell queues text, by chat and SMS, to the on-duty holders at the task's
// site of the roles st.Tell names (and of st.EscalateTo's, which for a roll
// call or check-in tells rather than re-assigns); "coordinator" is every
// coordinator. It returns whom it told. The messages are dropped if the
// person answers before they go out (Task is set).
func (e *Engine) tell(ctx context.Context, b *batch, t *store.Task, st configs.Step, text string, run *store.StepRun) []string {
	var who []string
	add := func(p string) {
		if p != "" && p != t.Assignee && !contains(who, p) {
			who = append(who, p)
		}
	}
	roles := append([]string{}, st.Tell...)
	if to := st.EscalateTo; to != nil {
		if to.Person != "" {
			add(to.Person)
		} else {
			roles = append(roles, to.Role)
		}
	}
	for _, role := range roles {
		if role == configs.RoleCoordinator {
			for _, co := range e.cfg().Coordinators() {
				add(co.ID)
			}
			continue
		}
		add(e.resolve(ctx, b, &configs.Target{Role: role}, t.Site))
	}
	ref := t.Ref
	if ref == "" {
		ref = t.ID()
	}
	for _, p := range who {
		for _, ch := range []string{Chat, SMS} {
			run.Messages = append(run.Messages, store.OutMessage{
				Key: fmt.Sprintf("%s:%d:tell:%s:%s", t.ID(), t.Step, p, ch), Channel: ch, To: p, Kind: "unanswered",
				Ref: ref, Task: fmt.Sprint(t.Num), Text: text, Drill: flagStr(t.Drill > 0),
			})
		}
	}
	return who
}

// raise has the step raise an incident of severity sev at the task's
// site, announced in the site's channel.
func (e *Engine) raise(t *store.Task, sev, text string, lone, drill bool, run *store.StepRun) {
	if drill {
		text = DrillPrefix + text
	}
	run.Raise = &store.NewIncident{Site: t.Site, Category: e.cfg().HelpCategory(lone), Severity: sev, Reporter: "muster", Text: text}
	run.Messages = append(run.Messages, store.OutMessage{
		Channel: Chat, Site: t.Site, Kind: "incident", Ref: store.IDPlaceholder,
		Text:  fmt.Sprintf("%s %s %s at %s: %s", store.IDPlaceholder, sev, run.Raise.Category, e.siteName(t.Site), text),
		Drill: flagStr(drill),
	})
}

func (e *Engine) siteName(id string) string {
	if s, ok := e.cfg().Site(id); ok {
		return s.Name
	}
	return id
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// RollCallText is a roll call's question (reminder false) or a reminder
// of it on a channel: the chat card's text, the SMS, the voice prompt.
func RollCallText(channel, ref, site string, reminder, drill bool) string {
	var s string
	switch channel {
	case SMS:
		s = fmt.Sprintf("Roll call %s %s: are you safe? Reply SAFE or HELP", ref, SMSText(site))
		if reminder {
			s = "Reminder: " + s
		}
	case Voice:
		s = fmt.Sprintf("This is muster, roll call %s at %s. Are you safe? Press 1 if safe, 2 if you need help.",
			strings.ReplaceAll(ref, "-", " "), site)
	default:
		s = fmt.Sprintf("Roll call %s at %s: are you safe? Answer with the buttons, /rollcall safe %s or /rollcall help %s <what is wrong>.",
			ref, site, ref, ref)
		if reminder {
			s = "Reminder: " + s
		}
	}
	if drill {
		s = DrillPrefix + s
	}
	return s
}

// NotAnsweredText tells a supervisor or control that someone has not
// answered a roll call.
func NotAnsweredText(name, ref string, drill bool) string {
	s := fmt.Sprintf("%s has not answered roll call %s", name, ref)
	if drill {
		s = DrillPrefix + s
	}
	return s
}

// TallyLimit is how many names each line of a tally lists before "and N
// more": a card must stay readable (and within a chat platform's limits)
// in a roll call of thousands.
const TallyLimit = 25

// TallyText is a roll call's live tally as plain text: safe, need help,
// not yet answered, with names and times (in loc). Every surface shows it:
// the tally card's text, /rollcall status, the console.
func TallyText(cfg *configs.Config, rc *store.RollCall, people []store.RollCallPerson, loc *time.Location) string {
	var b strings.Builder
	if rc.Drill {
		b.WriteString(DrillPrefix)
	}
	sites := make([]string, len(rc.Sites))
	for i, s := range rc.Sites {
		sites[i] = siteNameOf(cfg, s)
	}
	state := "open"
	if rc.Status != store.RollCallOpen {
		state = rc.Status + " " + rc.ClosedAt.In(loc).Format("15:04")
	}
	fmt.Fprintf(&b, "Roll call %s at %s (%s, started %s by %s): %d safe, %d need help, %d not yet answered of %d.",
		rc.ID(), strings.Join(sites, ", "), state, rc.Created.In(loc).Format("15:04"), personNameOf(cfg, rc.By),
		rc.Safe, rc.Help, rc.Pending(), rc.Total)
	var safe, help, silent []string
	for _, p := range people {
		name := personNameOf(cfg, p.Person)
		switch p.Status {
		case store.AnswerSafe:
			safe = append(safe, name+" "+p.Answered.In(loc).Format("15:04"))
		case store.AnswerHelp:
			s := name + " " + p.Answered.In(loc).Format("15:04")
			if p.Incident > 0 {
				s += " " + store.FormatID("INC", p.Incident)
			}
			if p.Note != "" {
				s += ": " + p.Note
			}
			help = append(help, s)
		default:
			silent = append(silent, name)
		}
	}
	line := func(head string, names []string) {
		if len(names) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s (%d): ", head, len(names))
		if len(names) > TallyLimit {
			b.WriteString(strings.Join(names[:TallyLimit], ", "))
			fmt.Fprintf(&b, " and %d more", len(names)-TallyLimit)
			return
		}
		b.WriteString(strings.Join(names, ", "))
	}
	line("Need help", help)
	line("Not yet answered", silent)
	line("Safe", safe)
	return b.String()
}

func siteNameOf(cfg *configs.Config, id string) string {
	if s, ok := cfg.Site(id); ok {
		return s.Name
	}
	return id
}

func personNameOf(cfg *configs.Config, id string) string {
	if p, ok := cfg.Person(id); ok {
		return p.Name
	}
	return id
}
