package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/store"
)

const checkinUsage = "Usage: /checkin start <every> [for <duration>] [@site] [note] · /checkin (check in) · /checkin stop · /checkin status"

// MinCheckinEvery is the shortest check-in interval muster takes.
const MinCheckinEvery = time.Minute

// checkin runs /checkin: timed check-ins for someone working alone.
func (s *Service) checkin(ctx context.Context, c *call) Reply {
	if len(c.args) == 0 {
		return s.checkIn(ctx, c)
	}
	sub, args := strings.ToLower(c.args[0]), c.args[1:]
	switch sub {
	case "start":
		return s.checkinStart(ctx, c, args)
	case "ok", "in":
		return s.checkIn(ctx, c)
	case "stop", "end":
		return s.checkinStop(ctx, c)
	case "status":
		return s.checkinStatus(ctx, c)
	}
	return fail(fmt.Sprintf("Unknown /checkin %s. %s", sub, checkinUsage))
}

// ok answers SMS OK: a check-in.
func (s *Service) ok(ctx context.Context, c *call) Reply { return s.checkIn(ctx, c) }

// checkinStart starts a session: the words after start are the interval,
// then each optional and in this order: for <duration>, @site, the note.
func (s *Service) checkinStart(ctx context.Context, c *call, args []string) Reply {
	cfg := s.cfg()
	if len(args) == 0 {
		return fail(checkinUsage)
	}
	every, err := configs.ParseDuration(args[0])
	if err != nil || every < MinCheckinEvery || every > 24*time.Hour {
		return fail(fmt.Sprintf("%q is not a check-in interval: give one from 1m to 24h, e.g. /checkin start 15m @%s patrol of the yard.", args[0], cfg.Sites[0].ID))
	}
	i := 1
	var length time.Duration
	if i+1 < len(args) && strings.EqualFold(args[i], "for") {
		d, err := configs.ParseDuration(args[i+1])
		if err != nil || d < every || d > 7*24*time.Hour {
			return fail(fmt.Sprintf("%q is not a session length: give one at least the interval, e.g. /checkin start %s for 4h.", args[i+1], args[0]))
		}
		length, i = d, i+2
	}
	var site *configs.Site
	if i < len(args) && strings.HasPrefix(args[i], "@") {
		st, _, bad := s.siteArg(args[i : i+1])
		if bad != nil {
			return *bad
		}
		site, i = st, i+1
	}
	note := c.rest(args, i)
	overrides, err := c.st.Overrides(ctx)
	if err != nil {
		return s.failErr(err, "the check-ins")
	}
	now := s.now()
	// The session ends with the person's shift at the site unless they
	// gave a length; someone not on duty anywhere may not start one.
	var shiftEnd time.Time
	for j := range cfg.Sites {
		if site != nil && cfg.Sites[j].ID != site.ID {
			continue
		}
		for _, sh := range roster.Everyone(cfg, cfg.Sites[j].ID, now, overrides) {
			if sh.Person.ID == c.who.ID {
				if site == nil {
					site = &cfg.Sites[j]
				}
				if shiftEnd.IsZero() || sh.End.After(shiftEnd) {
					shiftEnd = sh.End
				}
			}
		}
	}
	if shiftEnd.IsZero() {
		where := "any site"
		if site != nil {
			where = site.Name
		}
		return fail("You are not on duty at " + where + " now; check-ins follow a shift. /roster shows who is on duty.")
	}
	until := shiftEnd
	if length > 0 {
		until = now.Add(length)
	}
	res, err := c.st.StartCheckin(ctx, store.NewCheckin{Person: c.who.ID, Site: site.ID, Note: note, Every: every, Until: until})
	var se *store.StateError
	if errors.As(err, &se) {
		return fail("Your check-ins are already running. /checkin checks in; /checkin stop ends them.")
	}
	if err != nil {
		return s.failErr(err, "the check-ins")
	}
	s.poke()
	id := store.FormatSession(res.Session)
	s.lone.put(c.who.ID, loneSession{Task: res.Task, Ref: id, Site: site.ID, Until: until})
	return Reply{Text: fmt.Sprintf("Check-ins %s started for %s at %s: every %s until %s; first due %s. Check in with /checkin, the Check in button or an SMS OK; SMS HELP if you need help.",
		id, c.who.Name, site.Name, configs.FormatDuration(every), s.localTime(until), s.localTime(now.Add(min(every, until.Sub(now))))), Ref: id}
}

// checkIn records a check-in.
func (s *Service) checkIn(ctx context.Context, c *call) Reply {
	res, err := c.st.CheckIn(ctx, c.who.ID, c.who.ID, c.req.Surface())
	if errors.Is(err, store.ErrNoSession) {
		return fail("You have no check-ins running. Start them with /checkin start <every> [for <duration>] [@site] [note].")
	}
	if err != nil {
		return s.failErr(err, "your check-in")
	}
	t, err := c.st.Task(ctx, res.Task)
	next := ""
	if err == nil {
		next = " Next due " + s.localTime(t.Due) + "."
	}
	line := fmt.Sprintf("Checked in, %s (%s) at %s.%s", c.who.Name, store.FormatSession(res.Session), s.localTime(s.now()), next)
	if !res.MissedAt.IsZero() {
		line += fmt.Sprintf(" Your missed check-in (due %s) is answered; escalation stopped.", s.localTime(res.MissedAt))
	}
	return Reply{Text: line, Ref: store.FormatSession(res.Session)}
}

// checkinStop ends the sender's session.
func (s *Service) checkinStop(ctx context.Context, c *call) Reply {
	res, err := c.st.StopCheckin(ctx, c.who.ID, c.who.ID)
	if errors.Is(err, store.ErrNoSession) {
		return fail("You have no check-ins running.")
	}
	if err != nil {
		return s.failErr(err, "your check-ins")
	}
	s.lone.forget(c.who.ID)
	return Reply{Text: fmt.Sprintf("Check-ins %s stopped by %s.", store.FormatSession(res.Session), c.who.Name), Ref: store.FormatSession(res.Session)}
}

// checkinStatus lists the active lone workers, their sites and when each
// is next due.
func (s *Service) checkinStatus(ctx context.Context, c *call) Reply {
	ws, err := c.st.ActiveLoneWorkers(ctx)
	if err != nil {
		return s.failErr(err, "the check-ins")
	}
	s.lone.set(ws)
	if len(ws) == 0 {
		return Reply{Text: "Nobody is on lone-worker check-ins."}
	}
	return Reply{Text: "Lone workers:\n" + s.LoneWorkerLines(ws)}
}

// LoneWorkerLines describes active lone workers, one a line: who, where,
// next check-in due (or MISSED), until when.
func (s *Service) LoneWorkerLines(ws []store.LoneWorker) string {
	lines := make([]string, 0, len(ws))
	for _, w := range ws {
		state := "next due " + s.localTime(w.Due)
		if w.Step > 0 || w.Status == store.TaskUnanswered {
			state = "MISSED a check-in due " + s.localTime(w.Last.Add(w.Every))
		}
		line := fmt.Sprintf("%s %s at %s: every %s, %s, last %s, until %s", w.Ref, s.personName(w.Assignee), s.siteName(w.Site),
			configs.FormatDuration(w.Every), state, s.localTime(w.Last), s.localTime(w.Until))
		if w.Note != "" {
			line += " (" + w.Note + ")"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// checkinHelp is SMS HELP from a lone worker: a sev1 incident at once,
// linked to their session, and control (then the supervisor) paged, in
// one step.
func (s *Service) checkinHelp(ctx context.Context, c *call, t *store.Task) Reply {
	note := c.rest(c.args, 0)
	in, msgs := s.helpIncident(ctx, c, t.Site, t.Ref, note, t.Drill > 0, true)
	res, err := c.st.CheckinHelp(ctx, c.who.ID, c.req.Surface(), *in, msgs...)
	if errors.Is(err, store.ErrNoSession) {
		// The session ended between the look and the help: a help
		// all the same.
		inc, rerr := c.st.RaiseIncident(ctx, *in, msgs...)
		if rerr != nil {
			return s.failErr(rerr, "your call for help")
		}
		res, err = &store.Checked{Incident: inc.Num}, nil
	}
	if err != nil {
		return s.failErr(err, "your call for help")
	}
	id := store.FormatID("INC", res.Incident)
	return Reply{Text: fmt.Sprintf("%s: your call for help is recorded as %s; control is paged. Stay where you are safe; if you can, call the control room.",
		c.who.Name, id), Ref: id}
}

// activeSession is the sender's running lone-worker session, if any.
func (s *Service) activeSession(ctx context.Context, c *call, person string) (*store.Task, bool) {
	ws, err := c.st.ActiveLoneWorkers(ctx)
	if err != nil {
		return nil, false
	}
	s.lone.set(ws)
	for _, w := range ws {
		if w.Assignee == person {
			return w.Task, true
		}
	}
	return nil, false
}
