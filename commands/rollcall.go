package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

const rollcallUsage = "Usage: /rollcall start [@site|@all] [note] · safe [R-n] · help [R-n] [text] · status [R-n] · stop R-n"

// rollcall runs /rollcall: everyone on duty asked "Are you safe?".
func (s *Service) rollcall(ctx context.Context, c *call) Reply {
	if len(c.args) == 0 {
		return fail(rollcallUsage)
	}
	sub, args := strings.ToLower(c.args[0]), c.args[1:]
	switch sub {
	case "start":
		return s.rollcallStart(ctx, c, args, false)
	case "safe", "ok":
		return s.rollcallAnswer(ctx, c, args, store.AnswerSafe)
	case "help":
		return s.rollcallAnswer(ctx, c, args, store.AnswerHelp)
	case "status":
		return s.rollcallStatus(ctx, c, args)
	case "stop", "end":
		return s.rollcallStop(ctx, c, args)
	}
	return fail(fmt.Sprintf("Unknown /rollcall %s. %s", sub, rollcallUsage))
}

// safe answers SMS SAFE (and /safe): the sender is safe, in their newest
// open roll call or the one named.
func (s *Service) safe(ctx context.Context, c *call) Reply {
	return s.rollcallAnswer(ctx, c, c.args, store.AnswerSafe)
}

// rollcallLeads may start and stop a roll call.
var rollcallLeads = []string{configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator}

// rollcallStart starts R-n for everyone on duty at the sites now. The
// words after start are, each optional and in this order: @site or @all,
// then the note as typed.
func (s *Service) rollcallStart(ctx context.Context, c *call, args []string, drill bool) Reply {
	verb := "/rollcall start"
	if drill {
		verb = "/drill start rollcall"
		if !c.who.HasRole(configs.RoleCoordinator) {
			return fail("Only a coordinator may start a drill.")
		}
	} else if !c.who.HasAnyRole(rollcallLeads...) {
		return fail("A roll call may be started by a supervisor, control or a coordinator; you are " + strings.Join(c.who.Roles, ", ") + ". Call the control room.")
	}
	var sites []*configs.Site
	i := 0
	if i < len(args) && strings.HasPrefix(args[i], "@") {
		if strings.EqualFold(args[i], "@all") {
			for j := range s.cfg().Sites {
				sites = append(sites, &s.cfg().Sites[j])
			}
		} else {
			st, _, bad := s.siteArg(args[i : i+1])
			if bad != nil {
				return *bad
			}
			sites = append(sites, st)
		}
		i++
	}
	if len(sites) == 0 {
		st, ok := s.defaultSite(c)
		if !ok {
			return fail("Which site? " + verb + " @" + s.cfg().Sites[0].ID + " or @all (sites: " + s.siteList() + ").")
		}
		sites = append(sites, st)
	}
	note := c.rest(args, i)
	overrides, err := c.st.Overrides(ctx)
	if s.degradedOn(ctx, err, drill) {
		return s.degradedRollCall(ctx, c, sites, note, err)
	}
	if err != nil {
		return s.failErr(err, "the roll call")
	}
	now := s.now()
	in := store.NewRollCall{By: c.who.ID, Note: note, Drill: drill, Policy: s.cfg().RollCall.Policy}
	seen := map[string]bool{}
	var names, siteNames []string
	for _, st := range sites {
		in.Sites = append(in.Sites, st.ID)
		siteNames = append(siteNames, st.Name)
		for _, sh := range roster.Everyone(s.cfg(), st.ID, now, overrides) {
			if seen[sh.Person.ID] {
				continue
			}
			seen[sh.Person.ID] = true
			in.People = append(in.People, store.RollCallMember{Person: sh.Person.ID, Site: st.ID})
			names = append(names, sh.Person.Name)
		}
	}
	where := strings.Join(siteNames, ", ")
	if len(in.People) == 0 {
		return fail("Nobody is on duty at " + where + " now, so there is nobody to ask. /roster shows who is on duty.")
	}
	head := fmt.Sprintf("Roll call %s at %s started by %s: %d on duty asked \"Are you safe?\".", store.IDPlaceholder, where, c.who.Name, len(in.People))
	if note != "" {
		head += " Note: " + note
	}
	if drill {
		head = notify.DrillPrefix + head
	}
	// The tally cards: one in each site's channel and one in the
	// starter's DMs, edited as answers come.
	for _, st := range sites {
		in.Messages = append(in.Messages, store.OutMessage{Channel: notify.Chat, Site: st.ID, Kind: "tally", Text: head, Drill: flagStr(drill)})
	}
	in.Messages = append(in.Messages, store.OutMessage{Channel: notify.Chat, To: c.who.ID, Kind: "tally", Text: head, Drill: flagStr(drill)})
	in.Ask = notify.RollCallAsk(s.cfg(), in.Sites, drill)
	num, _, err := c.st.StartRollCall(ctx, in)
	if s.degradedOn(ctx, err, drill) {
		// It may have been written all the same (a reply lost to a
		// timeout): a roll call asked twice beats one never asked.
		return s.degradedRollCall(ctx, c, sites, note, err)
	}
	if err != nil {
		return s.failErr(err, "the roll call")
	}
	s.poke()
	id := store.FormatID("R", num)
	// The names, as many as a tally card lists: a roll call of thousands
	// must still fit one chat message.
	listed := strings.Join(names[:min(len(names), notify.TallyLimit)], ", ")
	if len(names) > notify.TallyLimit {
		listed += fmt.Sprintf(" and %d more", len(names)-notify.TallyLimit)
	}
	line := strings.ReplaceAll(head, store.IDPlaceholder, id) + " " + listed + "."
	return Reply{Text: line, Public: true, Ref: id}
}

// rollcallAnswer records SAFE or HELP. The first word may name the roll
// call (R-n); the rest of a help is what is wrong.
func (s *Service) rollcallAnswer(ctx context.Context, c *call, args []string, answer string) Reply {
	var num int64
	i := 0
	if len(args) > 0 && strings.HasPrefix(strings.ToUpper(args[0]), "R-") {
		n, err := store.ParseID("R", args[0])
		if err != nil {
			return fail(err.Error() + ". Usage: /rollcall " + answer + " [R-n]")
		}
		num, i = n, 1
	}
	note := c.rest(args, i)
	if answer == store.AnswerSafe && note != "" && c.req.Platform != PlatformSMS {
		return fail("Usage: /rollcall safe [R-n]. To say what is wrong: /rollcall help [R-n] <text>.")
	}
	a := store.RollCallAnswer{Num: num, Person: c.who.ID, Answer: answer, Note: note, Channel: c.req.Surface()}
	drill := false // unknown for a safe, whose roll call is not read first
	if answer == store.AnswerHelp {
		// The incident and its pages go in the answer's own script; they
		// need the person's site, read first.
		rn, t, err := c.st.RollCallEntry(ctx, num, c.who.ID)
		if num == 0 && s.degradedOn(ctx, err, false) {
			return s.degradedAnswer(ctx, c, answer, note, err)
		}
		if err != nil {
			return s.rollcallRefusal(err, num)
		}
		a.Num, drill = rn, t.Drill > 0
		a.Incident, a.Messages = s.helpIncident(ctx, c, t.Site, store.FormatID("R", rn), note, t.Drill > 0, false)
	}
	res, err := c.st.AnswerRollCall(ctx, a)
	if num == 0 && s.degradedOn(ctx, err, drill) {
		return s.degradedAnswer(ctx, c, answer, note, err)
	}
	if err != nil {
		return s.rollcallRefusal(err, num)
	}
	id := store.FormatID("R", res.Num)
	at := s.localTime(s.now())
	if answer == store.AnswerSafe {
		return Reply{Text: fmt.Sprintf("Thank you, %s: you are recorded SAFE in roll call %s at %s.", c.who.Name, id, at), Ref: id}
	}
	inc := store.FormatID("INC", res.Incident)
	return Reply{Text: fmt.Sprintf("%s: your call for help in roll call %s is recorded at %s as %s; your supervisor and control are paged. Stay where you are safe; if you can, call the control room.",
		c.who.Name, id, at, inc), Ref: inc}
}

// helpIncident is the sev1 incident a person's HELP raises (in roll call
// or lone-worker session ref) and the pages for it: the incident card in
// the site's channel, chat and SMS to the site's on-duty supervisor (not
// for a lone worker: control first, as they asked for help alone) and
// control. The texts hold store.IDPlaceholder for INC-n.
func (s *Service) helpIncident(ctx context.Context, c *call, site, ref, note string, drill, lone bool) (*store.NewIncident, []store.OutMessage) {
	overrides, err := c.st.Overrides(ctx)
	if err != nil {
		overrides = nil // the rotation alone still finds whom to page
	}
	return s.helpPages(c.who, site, ref, note, drill, lone, overrides)
}

// helpPages is helpIncident with the covers given (nil: the rotations
// alone, as in degraded mode).
func (s *Service) helpPages(who *configs.Person, site, ref, note string, drill, lone bool, overrides []roster.Override) (*store.NewIncident, []store.OutMessage) {
	text := fmt.Sprintf("%s needs help (%s)", who.Name, ref)
	if note != "" {
		text += ": " + note
	}
	if drill {
		text = notify.DrillPrefix + text
	}
	in := &store.NewIncident{Site: site, Category: s.cfg().HelpCategory(lone), Severity: "sev1", Reporter: who.ID, Text: text}
	page := fmt.Sprintf("HELP: %s at %s. %s sev1 raised: /incident show %s", strings.TrimPrefix(text, notify.DrillPrefix), s.siteName(site), store.IDPlaceholder, store.IDPlaceholder)
	if drill {
		// A drill's incident: every message of it starts "DRILL —".
		page = notify.DrillPrefix + page
		in.Drill = true
	}
	msgs := []store.OutMessage{{Channel: notify.Chat, Site: site, Kind: "incident", Text: text, Drill: flagStr(drill)}}
	roles := []string{configs.RoleSupervisor, configs.RoleControl}
	if lone {
		roles = []string{configs.RoleControl, configs.RoleSupervisor}
	}
	paged := map[string]bool{who.ID: true}
	for _, role := range roles {
		a := s.assign(role, site, s.now(), overrides)
		if a.person == "" || paged[a.person] {
			continue
		}
		paged[a.person] = true
		for _, ch := range []string{notify.Chat, notify.SMS} {
			msgs = append(msgs, store.OutMessage{Channel: ch, To: a.person, Kind: "page", Text: page, Drill: flagStr(drill)})
		}
	}
	return in, msgs
}

func (s *Service) rollcallRefusal(err error, num int64) Reply {
	id := store.FormatID("R", num)
	var se *store.StateError
	switch {
	case errors.Is(err, store.ErrNoRollCall):
		return fail("You are not in an open roll call. /rollcall status shows the latest.")
	case errors.Is(err, store.ErrNotInRollCall):
		return fail(fmt.Sprintf("You were not on duty when %s was started, so it did not ask you. /rollcall status %s shows who it asked.", id, id))
	case errors.Is(err, store.ErrRollCallClosed):
		return fail(fmt.Sprintf("%s has been stopped; your answer was not recorded. Tell the control room directly.", id))
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no %s. /rollcall status shows the latest.", id))
	case errors.As(err, &se):
		return fail(fmt.Sprintf("You already answered %s in that roll call.", strings.ToUpper(se.Status)))
	}
	return s.failErr(err, "your roll-call answer")
}

func (s *Service) rollcallNum(args []string, usage string) (int64, *Reply) {
	switch len(args) {
	case 0:
		return 0, nil
	case 1:
		n, err := store.ParseID("R", args[0])
		if err != nil {
			r := fail(err.Error() + ". " + usage)
			return 0, &r
		}
		return n, nil
	}
	r := fail(usage)
	return 0, &r
}

// rollcallStatus shows a roll call's tally (default: the newest).
func (s *Service) rollcallStatus(ctx context.Context, c *call, args []string) Reply {
	num, bad := s.rollcallNum(args, "Usage: /rollcall status [R-n]")
	if bad != nil {
		return *bad
	}
	rc, err := c.st.RollCall(ctx, num)
	switch {
	case errors.Is(err, store.ErrNotFound) && num == 0:
		return Reply{Text: "No roll call has been started yet."}
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no %s.", store.FormatID("R", num)))
	case err != nil:
		return s.failErr(err, "the roll call")
	}
	people, err := c.st.RollCallSample(ctx, rc.Num, notify.TallyLimit)
	if err != nil {
		return s.failErr(err, "the roll call")
	}
	return Reply{Text: notify.TallyText(s.cfg(), rc, people, s.cfg().Location()), Ref: rc.ID()}
}

// rollcallStop stops R-n: nobody is asked or reminded any more.
func (s *Service) rollcallStop(ctx context.Context, c *call, args []string) Reply {
	const usage = "Usage: /rollcall stop R-n [note]"
	if len(args) == 0 {
		return fail(usage)
	}
	num, err := store.ParseID("R", args[0])
	if err != nil {
		return fail(err.Error() + ". " + usage)
	}
	rc, err := c.st.RollCall(ctx, num)
	if errors.Is(err, store.ErrNotFound) {
		return fail(fmt.Sprintf("There is no %s. /rollcall status shows the latest.", store.FormatID("R", num)))
	}
	if err != nil {
		return s.failErr(err, "the roll call")
	}
	if !c.who.HasAnyRole(rollcallLeads...) && rc.By != c.who.ID {
		return fail("Only a supervisor, control, a coordinator or whoever started it may stop a roll call.")
	}
	note := c.rest(args, 1)
	line := fmt.Sprintf("Roll call %s stopped by %s.", rc.ID(), c.who.Name)
	if rc.Drill {
		line = notify.DrillPrefix + line
	}
	var msgs []store.OutMessage
	for _, st := range rc.Sites {
		msgs = append(msgs, store.OutMessage{Channel: notify.Chat, Site: st, Kind: "rollcall", Ref: rc.ID(), Text: line, Drill: flagStr(rc.Drill)})
	}
	silent, err := c.st.StopRollCall(ctx, num, c.who.ID, note, msgs...)
	var se *store.StateError
	if errors.As(err, &se) {
		return fail(fmt.Sprintf("%s is already %s.", rc.ID(), se.Status))
	}
	if err != nil {
		return s.failErr(err, "the roll call stop")
	}
	return Reply{Text: fmt.Sprintf("%s %d never answered. muster report rollcall %s has the record.", line, silent, rc.ID()), Public: true, Ref: rc.ID()}
}
