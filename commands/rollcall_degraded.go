package commands

// Degraded mode for roll calls: while Redis is unreachable /rollcall start
// still asks everyone on duty by the config's rotations (covers live in
// Redis and are not known) by SMS straight through the notifiers, and
// journals the roll call before anything goes out; SMS SAFE and HELP are
// journalled by the process that receives them (a HELP also pages the
// site's supervisor and control directly). When Redis returns, the
// journal's replay records the roll call with every answer received,
// exactly once (store.ReplayDegraded). Roll-call drills never run
// degraded.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// degradedNote ends every message degraded mode sends for a roll call.
const degradedNote = "muster is in degraded mode: records are unavailable"

// degradedRollCall starts a roll call at sites with Redis unreachable
// (cause).
func (s *Service) degradedRollCall(ctx context.Context, c *call, sites []*configs.Site, note string, cause error) Reply {
	now := s.now()
	// The SMS is the question (step 0 of the roll-call policy): once
	// recorded, whoever has not answered is reminded a first wait after
	// it, not asked again.
	rc := &store.DegradedRollCall{By: c.who.ID, Note: note, Policy: s.cfg().RollCall.Policy, Asked: true,
		Wait: notify.RollCallSteps(s.cfg())[0].Wait.D().Milliseconds()}
	e := store.DegradedActivation{ID: s.dg.journal.NewID(), At: now, By: c.who.ID, Note: note, RollCall: rc}
	seen := map[string]bool{}
	var names, siteNames []string
	var msgs []notify.Message
	for _, st := range sites {
		rc.Sites = append(rc.Sites, st.ID)
		siteNames = append(siteNames, st.Name)
		for _, sh := range roster.Everyone(s.cfg(), st.ID, now, nil) {
			if seen[sh.Person.ID] {
				continue
			}
			seen[sh.Person.ID] = true
			rc.People = append(rc.People, store.RollCallMember{Person: sh.Person.ID, Site: st.ID})
			names = append(names, sh.Person.Name)
			msgs = append(msgs, notify.Message{Key: e.ID + ":" + sh.Person.ID + ":sms", Channel: notify.SMS, To: sh.Person.ID,
				Site: st.ID, Kind: "task", Text: notify.SMSText(fmt.Sprintf("Roll call at %s: are you safe? Reply SAFE or HELP", st.Name))})
			e.Sent = append(e.Sent, store.DegradedSend{Channel: notify.SMS, To: sh.Person.ID, Kind: "rollcall", Task: -1})
		}
	}
	where := strings.Join(siteNames, ", ")
	if len(rc.People) == 0 {
		return fail("Nobody is on duty at " + where + " by the rotations, and records (covers) are unavailable: call the control room.")
	}
	for _, st := range sites {
		msgs = append(msgs, notify.Message{Key: e.ID + ":" + st.ID + ":broadcast", Channel: notify.Chat, Site: st.ID, Kind: "broadcast",
			Text: fmt.Sprintf("ROLL CALL at %s by %s: everyone on duty, answer muster's SMS with SAFE or HELP.%s (%s; answers are kept and recorded when they return.)",
				where, c.who.Name, noteText(note), degradedNote)})
		e.Sent = append(e.Sent, store.DegradedSend{Channel: notify.Chat, Site: st.ID, Kind: "broadcast", Task: -1})
	}
	// The tally cards, once the roll call is recorded.
	head := fmt.Sprintf("Roll call %s at %s started by %s: %d on duty asked \"Are you safe?\" by SMS while records were unavailable.%s",
		store.IDPlaceholder, where, c.who.Name, len(rc.People), noteText(note))
	for _, st := range sites {
		rc.Messages = append(rc.Messages, store.OutMessage{Channel: notify.Chat, Site: st.ID, Kind: "tally", Text: head})
	}
	rc.Messages = append(rc.Messages, store.OutMessage{Channel: notify.Chat, To: c.who.ID, Kind: "tally", Text: head})

	// The journal first: if this process dies while sending, the roll
	// call is still on disk.
	e, jerr := s.dg.journal.Append(e)
	if jerr != nil {
		s.log.Error("degraded roll call not journaled; sending anyway", zap.String("id", e.ID), zap.Error(jerr))
	}
	s.log.Warn("roll call started in degraded mode: records unavailable, asking by SMS directly",
		zap.String("id", e.ID), zap.Strings("sites", rc.Sites), zap.String("by", c.who.ID), zap.Int("people", len(rc.People)),
		zap.NamedError("cause", cause))
	status := s.sendAllDirect(ctx, e.ID, msgs)

	var b strings.Builder
	fmt.Fprintf(&b, "Records are unavailable, so the roll call at %s was started in DEGRADED MODE by %s: no R-n yet; journal %s records it and every SMS answer until records return.",
		where, c.who.Name, e.ID)
	if jerr != nil {
		b.WriteString(" The journal could not be written either: note this roll call by hand.")
	}
	b.WriteString("\nAsked by SMS (from the config roster, covers unknown):")
	for i, m := range msgs {
		st := status[i]
		if st == "" {
			st = "sending"
		}
		if m.Channel == notify.SMS {
			fmt.Fprintf(&b, "\n  %s: %s", s.personName(m.To), st)
		} else {
			fmt.Fprintf(&b, "\n  site channel %s: %s", s.siteName(m.Site), st)
		}
	}
	b.WriteString("\nAnswers cannot be shown until records return: account for everyone by phone with the control room.")
	return Reply{Text: b.String(), Public: true}
}

func noteText(note string) string {
	if note == "" {
		return ""
	}
	return " Note: " + note
}

// degradedAnswer journals a person's SAFE or HELP with Redis unreachable
// (cause); a HELP also pages the supervisor and control on duty at their
// site (by the rotations) directly, by SMS and chat, and tells the site's
// channel.
func (s *Service) degradedAnswer(ctx context.Context, c *call, answer, note string, cause error) Reply {
	now := s.now()
	a := &store.DegradedAnswer{Person: c.who.ID, Answer: answer, Note: note}
	e := store.DegradedActivation{ID: s.dg.journal.NewID(), At: now, By: c.who.ID, Note: note, Answer: a}
	var msgs []notify.Message
	site := s.dutySite(c.who.ID)
	if answer == store.AnswerHelp {
		a.Category = s.cfg().HelpCategory(false)
		a.Text = fmt.Sprintf("%s needs help (%s)", c.who.Name, store.IDPlaceholder)
		text := c.who.Name + " needs help"
		if note != "" {
			a.Text += ": " + note
			text += ": " + note
		}
		if site != nil {
			e.Site = site.ID
			page := fmt.Sprintf("HELP: %s at %s (roll call by SMS). %s: call them.", text, site.Name, degradedNote)
			msgs = s.directPages(&e, c.who.ID, site.ID, page, configs.RoleSupervisor, configs.RoleControl)
		}
	}
	e, jerr := s.dg.journal.Append(e)
	if jerr != nil {
		s.log.Error("degraded roll-call answer not journaled", zap.String("id", e.ID), zap.Error(jerr))
	}
	s.log.Warn("roll-call answer journaled in degraded mode: records unavailable",
		zap.String("id", e.ID), zap.String("person", c.who.ID), zap.String("answer", answer), zap.Int("messages", len(msgs)),
		zap.NamedError("cause", cause))
	status := s.sendAllDirect(ctx, e.ID, msgs)
	if answer == store.AnswerSafe {
		return Reply{Text: fmt.Sprintf("Thank you, %s: your SAFE at %s is kept (%s) and goes into the roll call when they return.",
			c.who.Name, s.localTime(now), degradedNote)}
	}
	line := fmt.Sprintf("%s: your call for help at %s is kept (%s) and raises a sev1 incident when they return.", c.who.Name, s.localTime(now), degradedNote)
	return Reply{Text: line + s.pagedText(msgs, status, site == nil) + " Stay where you are safe; if you can, call the control room."}
}

// pagedText says whom the direct pages msgs reached by SMS (status as
// sendAllDirect gave it), or why nobody yet.
func (s *Service) pagedText(msgs []notify.Message, status []string, noSite bool) string {
	var paged []string
	for i, m := range msgs {
		if m.Channel == notify.SMS && status[i] != "" && !strings.HasPrefix(status[i], "FAILED") {
			paged = append(paged, s.personName(m.To))
		}
	}
	switch {
	case len(paged) > 0:
		return " Paged by SMS: " + strings.Join(paged, ", ") + "."
	case noSite:
		return " You are not on duty at any site by the rotations, so nobody could be paged:"
	}
	return " Pages are still going out:"
}

// directPages are the pages degraded mode sends at once for a call for
// help from person at site: page to the site's channel, and by SMS and
// chat to the holders of roles on duty there by the rotations (covers
// live in Redis), in that order, each once and never to person. Each is
// noted in e.Sent.
func (s *Service) directPages(e *store.DegradedActivation, person, site, page string, roles ...string) []notify.Message {
	msgs := []notify.Message{{Key: e.ID + ":site", Channel: notify.Chat, Site: site, Kind: "incident", Text: page}}
	e.Sent = append(e.Sent, store.DegradedSend{Channel: notify.Chat, Site: site, Kind: "incident", Task: -1})
	paged := map[string]bool{person: true}
	for _, role := range roles {
		p := s.assign(role, site, e.At, nil).person
		if p == "" || paged[p] {
			continue
		}
		paged[p] = true
		for _, ch := range []string{notify.SMS, notify.Chat} {
			msgs = append(msgs, notify.Message{Key: e.ID + ":" + p + ":" + ch, Channel: ch, To: p, Site: site, Kind: "page", Text: notify.SMSText(page)})
			e.Sent = append(e.Sent, store.DegradedSend{Channel: ch, To: p, Kind: "page", Task: -1})
		}
	}
	return msgs
}

// degradedHelp is an SMS HELP with Redis unreachable (cause). What this
// process knows decides what it is, in the live path's order: an answer
// to a roll call its journal holds that asked the sender (degradedAnswer);
// else a lone worker's call for help, if it last saw the sender on
// check-ins (degradedLoneHelp); else what the live path answers, the SMS
// help, and the HELP is kept in case a roll call it cannot see (another
// process's journal, or one open before the outage) asked them.
func (s *Service) degradedHelp(ctx context.Context, c *call, note string, cause error) Reply {
	now := s.now()
	if s.journalAsked(c.who.ID, now) {
		return s.degradedAnswer(ctx, c, store.AnswerHelp, note, cause)
	}
	if ls, ok := s.lone.session(c.who.ID, now); ok {
		return s.degradedLoneHelp(ctx, c, ls, note, cause)
	}
	return s.degradedUnsureHelp(c, note, cause)
}

// journalAsked reports whether a roll call in this process's journal, not
// yet recorded and started by now, asked person.
func (s *Service) journalAsked(person string, now time.Time) bool {
	es, err := s.dg.journal.Pending()
	if err != nil {
		// Unreadable: take the HELP as an answer, the safer guess.
		s.log.Error("journal not read; SMS HELP taken as a roll-call answer", zap.Error(err))
		return true
	}
	for _, e := range es {
		if e.RollCall == nil || e.At.After(now) {
			continue
		}
		for _, m := range e.RollCall.People {
			if m.Person == person {
				return true
			}
		}
	}
	return false
}

// degradedLoneHelp journals a lone worker's SMS HELP (session ls) with
// Redis unreachable (cause): control, then the supervisor on duty at the
// session's site by the rotations, are paged directly by SMS and chat; when
// records return the replay raises the sev1 linked to the session and
// pages them as /checkin's live HELP does.
func (s *Service) degradedLoneHelp(ctx context.Context, c *call, ls loneSession, note string, cause error) Reply {
	now := s.now()
	in, pages := s.helpPages(c.who, ls.Site, ls.Ref, note, false, true, nil)
	a := &store.DegradedAnswer{Person: c.who.ID, Answer: store.AnswerHelp, Note: note, Category: in.Category, Text: in.Text,
		Lone: true, Session: ls.Ref, Task: ls.Task, Messages: pages}
	e := store.DegradedActivation{ID: s.dg.journal.NewID(), At: now, By: c.who.ID, Note: note, Site: ls.Site, Answer: a}
	page := fmt.Sprintf("HELP: %s at %s (lone worker, SMS). %s: call them.", in.Text, s.siteName(ls.Site), degradedNote)
	msgs := s.directPages(&e, c.who.ID, ls.Site, page, configs.RoleControl, configs.RoleSupervisor)
	e, jerr := s.dg.journal.Append(e)
	if jerr != nil {
		s.log.Error("degraded lone-worker help not journaled", zap.String("id", e.ID), zap.Error(jerr))
	}
	s.log.Warn("lone worker's call for help journaled in degraded mode: records unavailable",
		zap.String("id", e.ID), zap.String("person", c.who.ID), zap.String("session", ls.Ref), zap.Int("messages", len(msgs)),
		zap.NamedError("cause", cause))
	status := s.sendAllDirect(ctx, e.ID, msgs)
	line := fmt.Sprintf("%s: your call for help (%s) at %s is kept (%s) and raises a sev1 incident when they return; control is paged.",
		c.who.Name, ls.Ref, s.localTime(now), degradedNote)
	return Reply{Text: line + s.pagedText(msgs, status, false) + " Stay where you are safe; if you can, call the control room."}
}

// degradedUnsureHelp is an SMS HELP from someone this process knows in no
// roll call and on no check-ins, with Redis unreachable (cause): it
// answers as the live path does (the SMS help) and pages nobody, but
// journals the HELP: if a roll call it could not see asked the person,
// the replay records it there, raising its sev1 and paging then.
func (s *Service) degradedUnsureHelp(c *call, note string, cause error) Reply {
	now := s.now()
	a := &store.DegradedAnswer{Person: c.who.ID, Answer: store.AnswerHelp, Note: note, Category: s.cfg().HelpCategory(false),
		Text: fmt.Sprintf("%s needs help (%s)", c.who.Name, store.IDPlaceholder), Unsure: true}
	if note != "" {
		a.Text += ": " + note
	}
	e := store.DegradedActivation{ID: s.dg.journal.NewID(), At: now, By: c.who.ID, Note: note, Answer: a}
	if site := s.dutySite(c.who.ID); site != nil {
		e.Site = site.ID
		_, a.Messages = s.helpPages(c.who, site.ID, "SMS HELP while records were unavailable", note, false, false, nil)
	}
	e, jerr := s.dg.journal.Append(e)
	if jerr != nil {
		s.log.Error("degraded SMS HELP not journaled", zap.String("id", e.ID), zap.Error(jerr))
	}
	s.log.Warn("SMS HELP from someone in no known roll call or check-ins, journaled in degraded mode: records unavailable",
		zap.String("id", e.ID), zap.String("person", c.who.ID), zap.NamedError("cause", cause))
	return Reply{Text: SMSHelpText + " (" + degradedNote + ": if you are answering a roll call, your HELP is kept for it; if you need help now, call the control room.)"}
}

// dutySite is the first site where person is on duty now by the
// rotations alone (no covers: they live in Redis).
func (s *Service) dutySite(person string) *configs.Site {
	cfg := s.cfg()
	now := s.now()
	for i := range cfg.Sites {
		for _, sh := range roster.Everyone(cfg, cfg.Sites[i].ID, now, nil) {
			if sh.Person.ID == person {
				return &cfg.Sites[i]
			}
		}
	}
	return nil
}
