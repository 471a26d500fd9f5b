package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

const rosterUsage = "Usage: /roster [@site] [now|next|week] [role] · /roster cover <roster> <person> <from> <to> [--override <reason>]"

func (s *Service) roster(ctx context.Context, c *call) Reply {
	if len(c.args) > 0 && strings.EqualFold(c.args[0], "cover") {
		return s.rosterCover(ctx, c, c.args[1:])
	}
	site, args, bad := s.siteArg(c.args)
	if bad != nil {
		return *bad
	}
	when, role := "now", ""
	for _, a := range args {
		switch la := strings.ToLower(a); {
		case la == "now" || la == "next" || la == "week":
			when = la
		case s.isRole(la):
			role = la
		default:
			return fail(fmt.Sprintf("%q is not a site, now/next/week or a role. %s", a, rosterUsage))
		}
	}
	sites := s.cfg().Sites
	if site != nil {
		sites = []configs.Site{*site}
	} else if ds, ok := s.defaultSite(c); ok {
		sites = []configs.Site{*ds}
	}
	overrides, err := c.st.Overrides(ctx)
	if err != nil {
		return s.failErr(err, "the roster")
	}
	text := RosterText(s.cfg(), sites, role, when, s.now(), overrides)
	return Reply{Text: text}
}

// RosterText answers /roster for the given sites at the instant at; the
// CLI's `muster roster` prints the same. when is now, next or week.
// Anyone whose skips or covers keep them on duty longer than their
// rosters' max_continuous is flagged where they appear.
func RosterText(cfg *configs.Config, sites []configs.Site, role, when string, at time.Time, overrides []roster.Override) string {
	return rosterText(cfg, sites, role, when, at, overrides, false)
}

// RosterTextAt is RosterText for an instant chosen for planning
// (muster roster --at), which is not "now": its heading says "on duty".
func RosterTextAt(cfg *configs.Config, sites []configs.Site, role, when string, at time.Time, overrides []roster.Override) string {
	return rosterText(cfg, sites, role, when, at, overrides, true)
}

func rosterText(cfg *configs.Config, sites []configs.Site, role, when string, at time.Time, overrides []roster.Override, planned bool) string {
	loc := cfg.Location()
	span := 24 * time.Hour
	if when == "week" {
		span = 7 * 24 * time.Hour
	}
	duty := roster.Stretches(cfg, at, at.Add(span), overrides)
	// flag says that the person on duty over sh works too long without a
	// break: on every line where they are on duty, and on a "next" only
	// when no line shows them on duty in that stretch.
	over := func(sh roster.Shift) (roster.Stretch, string, bool) {
		if sh.Person == nil {
			return roster.Stretch{}, "", false
		}
		st, ok := duty.Over(sh.Person.ID, sh.Start, sh.End)
		return st, sh.Person.ID + st.Start.String(), ok
	}
	onDuty := map[string]bool{}
	for i := range cfg.Rosters {
		r := &cfg.Rosters[i]
		if when == "now" && (role == "" || r.Role == role) && slices.ContainsFunc(sites, func(s configs.Site) bool { return s.ID == r.Site }) {
			if _, key, ok := over(roster.At(cfg, r, at, overrides)); ok {
				onDuty[key] = true
			}
		}
	}
	flaggedNext := map[string]bool{}
	flag := func(sh roster.Shift, next bool) string {
		st, key, ok := over(sh)
		if !ok || next && (onDuty[key] || flaggedNext[key]) {
			return ""
		}
		if next {
			flaggedNext[key] = true
		}
		return " [" + st.Flag(sh.Person.Name, loc) + "]"
	}
	var b strings.Builder
	for i, site := range sites {
		if i > 0 {
			b.WriteString("\n")
		}
		header := map[string]string{"now": "on duty now", "next": "next shift", "week": "the week ahead"}[when]
		if planned && when == "now" {
			header = "on duty"
		}
		fmt.Fprintf(&b, "%s, %s (%s):", site.Name, header, at.In(loc).Format("Mon 2 Jan 15:04 MST"))
		found := false
		for ri := range cfg.Rosters {
			r := &cfg.Rosters[ri]
			if r.Site != site.ID || (role != "" && r.Role != role) {
				continue
			}
			found = true
			cur := roster.At(cfg, r, at, overrides)
			switch when {
			case "now":
				next := roster.Next(cfg, r, cur, overrides)
				b.WriteString("\n  " + roster.Describe(cur, &next, loc) + flag(cur, false) + flag(next, true))
			case "next":
				next := roster.Next(cfg, r, cur, overrides)
				after := roster.Next(cfg, r, next, overrides)
				b.WriteString("\n  " + roster.DescribeFrom(next, &after, loc) + flag(next, false))
			case "week":
				fmt.Fprintf(&b, "\n  %s:", r.Role)
				for _, sh := range roster.Between(cfg, r, at, at.Add(7*24*time.Hour), overrides) {
					name := "nobody qualified"
					if sh.Person != nil {
						name = sh.Person.Name
					}
					if sh.Cover != nil {
						name += " (cover)"
						if sh.Cover.Reason != "" {
							name += fmt.Sprintf(" (override: %q)", sh.Cover.Reason)
						}
					}
					fmt.Fprintf(&b, "\n    %s – %s  %s%s", sh.Start.In(loc).Format("Mon 2 Jan 15:04"), sh.End.In(loc).Format("Mon 15:04"), name, flag(sh, false))
				}
			}
		}
		if !found {
			if role != "" {
				fmt.Fprintf(&b, "\n  no %s roster at this site", role)
			} else {
				b.WriteString("\n  no rosters at this site")
			}
		}
	}
	return b.String()
}

func (s *Service) isRole(r string) bool {
	for _, b := range configs.BuiltinRoles {
		if b == r {
			return true
		}
	}
	for _, b := range s.cfg().Roles {
		if b == r {
			return true
		}
	}
	return false
}

const coverUsage = "Usage: /roster cover <roster> <person> <from> <to> [--override <reason>], e.g. /roster cover harbour-guard dev now 19:00 (times: now, HH:MM, 2026-11-28T07:00, or a length like 4h for <to>)"

// rosterCover puts in a cover. It is refused, with the reasons, for
// someone without every qualification the roster requires valid for the
// whole cover, or on duty elsewhere during it, unless the sender (a
// supervisor, control or a coordinator) adds --override <reason>: the
// override and its reason go into the audit event and show in /roster.
// Working past max_continuous is not refused but flagged.
func (s *Service) rosterCover(ctx context.Context, c *call, args []string) Reply {
	if !c.who.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator) {
		return fail("Only a supervisor, control or a coordinator may put in a cover.")
	}
	reason := ""
	for i, a := range args {
		if strings.EqualFold(a, "--override") {
			reason = strings.TrimSpace(c.rest(args, i+1))
			if reason == "" {
				return fail("Say why you override: --override <reason>. " + coverUsage)
			}
			args = args[:i]
			break
		}
	}
	if len(args) != 4 {
		return fail(coverUsage)
	}
	r, ok := s.cfg().Roster(strings.ToLower(args[0]))
	if !ok {
		ids := make([]string, len(s.cfg().Rosters))
		for i, r := range s.cfg().Rosters {
			ids[i] = r.ID
		}
		return fail(fmt.Sprintf("Unknown roster %q. Rosters: %s.", args[0], strings.Join(ids, ", ")))
	}
	p, ok := s.cfg().Person(strings.ToLower(args[1]))
	if !ok {
		return fail(fmt.Sprintf("Unknown person %q. Use a person id from the config, e.g. %s.", args[1], s.cfg().People[0].ID))
	}
	now := s.now()
	from, err := ParseWhen(args[2], now, s.cfg().Location(), time.Time{})
	if err != nil {
		return fail(err.Error() + ". " + coverUsage)
	}
	to, err := ParseWhen(args[3], now, s.cfg().Location(), from)
	if err != nil {
		return fail(err.Error() + ". " + coverUsage)
	}
	if !to.After(from) {
		return fail("The cover must end after it starts. " + coverUsage)
	}
	if to.Sub(from) > 14*24*time.Hour {
		return fail("A cover may last at most 14 days; change the rotation in the config for longer.")
	}
	// The covers so far give the checks and, with this one last, the
	// warnings; the announcement (with the id only the script knows) is
	// queued by the script that records the cover: two round trips.
	overrides, err := c.st.Overrides(ctx)
	if err != nil {
		return s.failErr(err, "the cover")
	}
	problems := roster.CoverProblems(s.cfg(), r, p, from, to, overrides)
	if len(problems) > 0 && reason == "" {
		return fail(fmt.Sprintf("Cover refused: %s is %s. Choose someone else, or if it must be %s, add --override <reason>.",
			p.Name, strings.Join(problems, "; "), p.Name))
	}
	cover := roster.Override{Roster: r.ID, Person: p.ID, From: from, To: to, By: c.who.ID}
	if len(problems) > 0 {
		cover.Reason, cover.Overrode = reason, strings.Join(problems, "; ")
	}
	withNew := append(overrides, roster.Override{ID: store.IDPlaceholder, Roster: r.ID, Person: p.ID, From: from, To: to,
		By: c.who.ID, Created: now, Reason: cover.Reason, Overrode: cover.Overrode})
	sh := roster.At(s.cfg(), r, from, withNew)
	loc := s.cfg().Location()
	line := fmt.Sprintf("Cover %s: %s is on %s (%s) from %s to %s, put in by %s.", store.IDPlaceholder, p.Name, r.ID, r.Role,
		from.In(loc).Format("Mon 2 Jan 15:04"), to.In(loc).Format("Mon 2 Jan 15:04"), c.who.Name)
	if cover.Reason != "" {
		line += fmt.Sprintf(" Override by %s (%s): %s.", c.who.Name, cover.Reason, cover.Overrode)
	} else if sh.Warning != "" {
		line += " Warning: " + sh.Warning + "."
	}
	if st, over := roster.Stretches(s.cfg(), from, to, withNew).Over(p.ID, from, to); over {
		line += " Warning: " + st.Flag(p.Name, loc) + "."
	}
	// On duty from now: asked in the open roll calls of the site at once
	// (the cover's own script names them; a cover outside a roll call
	// costs nothing more). A cover that starts later is added when it
	// starts, by the hand-over loop of every serve process
	// (notify.JoinCovers).
	joinSite := ""
	if cur := roster.At(s.cfg(), r, now, withNew); !from.After(now) && to.After(now) && cur.Person != nil && cur.Person.ID == p.ID {
		joinSite = r.Site
	}
	o, open, err := c.st.AddCover(ctx, cover, joinSite, store.OutMessage{Channel: notify.Chat, Site: r.Site, Kind: "roster", Text: line})
	if err != nil {
		return s.failErr(err, "the cover")
	}
	text := strings.ReplaceAll(line, store.IDPlaceholder, o.ID)
	var ids []string
	for _, num := range open {
		added, err := c.st.JoinRollCall(ctx, num, []store.RollCallMember{{Person: p.ID, Site: r.Site}})
		var se *store.StateError
		if err != nil && !errors.As(err, &se) { // one stopped meanwhile asks nobody new
			s.log.Warn("cover: not added to the open roll call; the hand-over loop adds the cover's person", zap.String("cover", o.ID),
				zap.String("rollcall", store.FormatID("R", num)), zap.Error(err))
		}
		if _, ok := added[p.ID]; ok {
			ids = append(ids, store.FormatID("R", num))
		}
	}
	if len(ids) > 0 {
		s.poke()
		text += fmt.Sprintf(" %s is asked in open roll call %s.", p.Name, strings.Join(ids, ", "))
	}
	return Reply{Text: text, Public: true}
}

// ParseWhen reads a time for a cover: now, HH:MM (the next such local
// time at or after base, or now when base is zero), a local date-time
// 2026-11-28T07:00, RFC 3339, or a length (4h, 90m) after base.
func ParseWhen(s string, now time.Time, loc *time.Location, base time.Time) (time.Time, error) {
	ls := strings.ToLower(strings.TrimSpace(s))
	ref := base
	if ref.IsZero() {
		ref = now
	}
	if ls == "now" {
		return now, nil
	}
	if d, err := configs.ParseDuration(strings.TrimPrefix(ls, "+")); err == nil && d > 0 {
		return ref.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation("15:04", s, loc); err == nil {
		r := ref.In(loc)
		at := time.Date(r.Year(), r.Month(), r.Day(), t.Hour(), t.Minute(), 0, 0, loc)
		if at.Before(ref) {
			at = time.Date(r.Year(), r.Month(), r.Day()+1, t.Hour(), t.Minute(), 0, 0, loc)
		}
		return at, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}
