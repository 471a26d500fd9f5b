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

// RollCallAsk is a roll call's first step for the start script to queue
// itself (store.RollCallAsk), when that step only asks the person on its
// channels; nil when it also tells, re-assigns or raises (the engine runs
// it then, with the roster at hand). The texts are the engine's own
// (RollCallText), with store.IDPlaceholder for R-n.
func RollCallAsk(cfg *configs.Config, sites []string, drill bool) *store.RollCallAsk {
	steps := RollCallSteps(cfg)
	if len(steps) == 0 {
		return nil
	}
	st := steps[0]
	if len(st.Notify) == 0 || len(st.Tell) > 0 || st.EscalateTo != nil || st.Raise != "" || st.Wait.D() <= 0 {
		return nil
	}
	ask := &store.RollCallAsk{Channels: st.Notify, Wait: st.Wait.D(), Texts: map[string]map[string]string{}}
	for _, site := range sites {
		texts := map[string]string{}
		for _, ch := range st.Notify {
			texts[ch] = RollCallText(ch, store.IDPlaceholder, siteNameOf(cfg, site), false, drill)
		}
		ask.Texts[site] = texts
	}
	return ask
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
// the tally card's text, /rollcall status, the console. people may be all
// of the roll call's or only the first TallyLimit of each line
// (store.RollCallSample): each line's count is the roll call's own.
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
	line := func(head string, names []string, count int64) {
		count = max(count, int64(len(names)))
		if count == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s (%d): ", head, count)
		shown := names[:min(len(names), TallyLimit)]
		b.WriteString(strings.Join(shown, ", "))
		if more := count - int64(len(shown)); more > 0 && len(shown) > 0 {
			fmt.Fprintf(&b, " and %d more", more)
		} else if more > 0 {
			fmt.Fprintf(&b, "%d people", more)
		}
	}
	line("Need help", help, rc.Help)
	line("Not yet answered", silent, rc.Pending())
	line("Safe", safe, rc.Safe)
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

// checkinFallback stands in for a missing lone_worker.policy: a call, then
// the site's supervisor and control are told.
func checkinFallback() []configs.Step {
	return []configs.Step{
		{Notify: []string{Voice}, Wait: configs.Duration(5 * time.Minute)},
		{Tell: []string{configs.RoleSupervisor, configs.RoleControl}, Wait: configs.Duration(10 * time.Minute)},
	}
}

// CheckinSteps is the run order of a missed check-in after its reminder:
// the lone_worker.policy's steps, repeated; a fallback when it names none.
func CheckinSteps(cfg *configs.Config) []configs.Step {
	if p, ok := cfg.Policy(cfg.LoneWorker.Policy); ok {
		return Steps(p)
	}
	return checkinFallback()
}

// planCheckin decides what step t.Step of a lone-worker session does. Its
// timer is the next check-in due; a check-in puts it back at step 0 an
// interval on. Step 0 is the missed check-in's reminder, by chat and SMS
// at once, which waits lone_worker.grace; the steps after it are the
// policy's: call, tell, raise. At the session's end it ends instead.
func (e *Engine) planCheckin(ctx context.Context, b *batch, t *store.Task, run *store.StepRun) {
	cfg := e.cfg()
	site := e.siteName(t.Site)
	drill := t.Drill > 0
	if !t.Until.IsZero() && !b.now.Before(t.Until) && t.Step == 0 {
		run.Close = store.CheckinEnded
		run.Note = "session ended"
		run.Audit = map[string]any{"session": t.Ref, "person": t.Assignee, "until": t.Until.UnixMilli()}
		run.Messages = append(run.Messages, store.OutMessage{
			Key: t.ID() + ":ended", Channel: Chat, To: t.Assignee, Kind: "checkin", Ref: t.Ref,
			Text:  prefix(drill, fmt.Sprintf("Your lone-worker check-ins %s at %s have ended. Start again with /checkin start <every> if you are still alone.", t.Ref, site)),
			Drill: flagStr(drill)})
		return
	}
	name := e.personName(t.Assignee)
	last := t.Last.In(cfg.Location()).Format("15:04")
	if t.Step == 0 {
		for _, ch := range []string{Chat, SMS} {
			run.Messages = append(run.Messages, store.OutMessage{
				Key: fmt.Sprintf("%s:%d:%d:%s", t.ID(), t.Last.UnixMilli(), t.Step, ch), Channel: ch, To: t.Assignee, Kind: "task",
				Ref: t.ID(), Task: fmt.Sprint(t.Num), Text: CheckinReminderText(ch, t.Ref, site, drill), Drill: flagStr(drill),
			})
		}
		run.Wait = cfg.LoneWorker.Grace.D()
		run.Note = fmt.Sprintf("check-in missed (last %s): reminder by chat and SMS, next in %s", last, cfg.LoneWorker.Grace)
		run.Audit = map[string]any{"step": 1, "notify": []string{Chat, SMS}, "to": t.Assignee, "session": t.Ref, "missed": true,
			"last": t.Last.UnixMilli()}
		return
	}
	steps := CheckinSteps(cfg)
	k := t.Step - 1
	if k >= len(steps) {
		run.Note = "missed check-in: escalation ran out"
		run.Audit = map[string]any{"step": t.Step + 1, "session": t.Ref, "person": t.Assignee}
		return
	}
	st := steps[k]
	for _, ch := range st.Notify {
		run.Messages = append(run.Messages, store.OutMessage{
			Key: fmt.Sprintf("%s:%d:%d:%s", t.ID(), t.Last.UnixMilli(), t.Step, ch), Channel: ch, To: t.Assignee, Kind: "task",
			Ref: t.ID(), Task: fmt.Sprint(t.Num), Text: CheckinReminderText(ch, t.Ref, site, drill), Drill: flagStr(drill),
		})
	}
	text := MissedCheckinText(name, site, last, t.Note, drill)
	// tell's idempotency keys name the step; a session misses many times.
	shown := *t
	shown.Num = t.Num
	told := e.tell(ctx, b, &shown, st, text, run)
	for i := range run.Messages {
		if m := &run.Messages[i]; m.Kind == "unanswered" {
			m.Key += fmt.Sprintf(":%d", t.Last.UnixMilli())
		}
	}
	if st.Raise != "" {
		e.raise(t, st.Raise, fmt.Sprintf("%s missed a check-in at %s (%s); last check-in %s", name, site, t.Ref, last), true, drill, run)
	}
	run.Wait = st.Wait.D()
	run.Note = fmt.Sprintf("missed check-in step %d: %v to %s, told %v, next in %s", t.Step+1, st.Notify, t.Assignee, told, st.Wait)
	run.Audit = map[string]any{"step": t.Step + 1, "notify": st.Notify, "to": t.Assignee, "session": t.Ref, "told": told,
		"raise": st.Raise, "missed": true}
}

func prefix(drill bool, s string) string {
	if drill {
		return DrillPrefix + s
	}
	return s
}

// CheckinReminderText asks a lone worker to check in.
func CheckinReminderText(channel, ref, site string, drill bool) string {
	switch channel {
	case SMS:
		return prefix(drill, fmt.Sprintf("Check-in missed (%s %s). Reply OK if you are fine, HELP if not", ref, SMSText(site)))
	case Voice:
		return prefix(drill, fmt.Sprintf("This is muster. You missed a lone-worker check-in at %s. Press 1 if you are fine.", site))
	}
	return prefix(drill, fmt.Sprintf("Check-in missed (%s at %s): are you all right? Press Check in, type /checkin, or reply OK by SMS.", ref, site))
}

// MissedCheckinText tells a supervisor, control or the coordinators that a
// lone worker missed a check-in.
func MissedCheckinText(name, site, last, note string, drill bool) string {
	if note == "" {
		note = "none"
	}
	return prefix(drill, fmt.Sprintf("%s missed a check-in at %s; last check-in %s; note: %s", name, site, last, note))
}
