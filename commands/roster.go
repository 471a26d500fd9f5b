package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

const rosterUsage = "Usage: /roster [@site] [now|next|week] [role] · /roster cover <roster> <person> <from> <to>"

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
	sites := s.cfg.Sites
	if site != nil {
		sites = []configs.Site{*site}
	} else if ds, ok := s.defaultSite(c); ok {
		sites = []configs.Site{*ds}
	}
	overrides, err := s.st.Overrides(ctx)
	if err != nil {
		return failErr(err, "the roster")
	}
	text := RosterText(s.cfg, sites, role, when, s.now(), overrides)
	return Reply{Text: text}
}

// RosterText answers /roster for the given sites at the instant at; the
// CLI's `muster roster` prints the same. when is now, next or week.
func RosterText(cfg *configs.Config, sites []configs.Site, role, when string, at time.Time, overrides []roster.Override) string {
	loc := cfg.Location()
	var b strings.Builder
	for i, site := range sites {
		if i > 0 {
			b.WriteString("\n")
		}
		header := map[string]string{"now": "on duty now", "next": "next shift", "week": "the week ahead"}[when]
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
				b.WriteString("\n  " + roster.Describe(cur, &next, loc))
			case "next":
				next := roster.Next(cfg, r, cur, overrides)
				after := roster.Next(cfg, r, next, overrides)
				b.WriteString("\n  " + roster.Describe(next, &after, loc) + next.Start.In(loc).Format(" (from 15:04 Mon 2 Jan)"))
			case "week":
				fmt.Fprintf(&b, "\n  %s:", r.Role)
				for _, sh := range roster.Between(cfg, r, at, at.Add(7*24*time.Hour), overrides) {
					name := "nobody qualified"
					if sh.Person != nil {
						name = sh.Person.Name
					}
					if sh.Cover != nil {
						name += " (cover)"
					}
					fmt.Fprintf(&b, "\n    %s – %s  %s", sh.Start.In(loc).Format("Mon 2 Jan 15:04"), sh.End.In(loc).Format("Mon 15:04"), name)
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
	for _, b := range s.cfg.Roles {
		if b == r {
			return true
		}
	}
	return false
}

const coverUsage = "Usage: /roster cover <roster> <person> <from> <to>, e.g. /roster cover harbour-guard dev now 19:00 (times: now, HH:MM, 2026-11-28T07:00, or a length like 4h for <to>)"

func (s *Service) rosterCover(ctx context.Context, c *call, args []string) Reply {
	if !c.who.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator) {
		return fail("Only a supervisor, control or a coordinator may put in a cover.")
	}
	if len(args) != 4 {
		return fail(coverUsage)
	}
	r, ok := s.cfg.Roster(strings.ToLower(args[0]))
	if !ok {
		ids := make([]string, len(s.cfg.Rosters))
		for i, r := range s.cfg.Rosters {
			ids[i] = r.ID
		}
		return fail(fmt.Sprintf("Unknown roster %q. Rosters: %s.", args[0], strings.Join(ids, ", ")))
	}
	p, ok := s.cfg.Person(strings.ToLower(args[1]))
	if !ok {
		return fail(fmt.Sprintf("Unknown person %q. Use a person id from the config, e.g. %s.", args[1], s.cfg.People[0].ID))
	}
	now := s.now()
	from, err := ParseWhen(args[2], now, s.cfg.Location(), time.Time{})
	if err != nil {
		return fail(err.Error() + ". " + coverUsage)
	}
	to, err := ParseWhen(args[3], now, s.cfg.Location(), from)
	if err != nil {
		return fail(err.Error() + ". " + coverUsage)
	}
	if !to.After(from) {
		return fail("The cover must end after it starts. " + coverUsage)
	}
	if to.Sub(from) > 14*24*time.Hour {
		return fail("A cover may last at most 14 days; change the rotation in the config for longer.")
	}
	// The covers so far, with this one last, give the warning; the
	// announcement (with the id only the script knows) is queued by the
	// script that records the cover: two round trips.
	overrides, err := s.st.Overrides(ctx)
	if err != nil {
		return failErr(err, "the cover")
	}
	cover := roster.Override{Roster: r.ID, Person: p.ID, From: from, To: to, By: c.who.ID}
	withNew := append(overrides, roster.Override{ID: store.IDPlaceholder, Roster: r.ID, Person: p.ID, From: from, To: to,
		By: c.who.ID, Created: now})
	sh := roster.At(s.cfg, r, from, withNew)
	loc := s.cfg.Location()
	line := fmt.Sprintf("Cover %s: %s is on %s (%s) from %s to %s, put in by %s.", store.IDPlaceholder, p.Name, r.ID, r.Role,
		from.In(loc).Format("Mon 2 Jan 15:04"), to.In(loc).Format("Mon 2 Jan 15:04"), c.who.Name)
	if sh.Warning != "" {
		line += " Warning: " + sh.Warning + "."
	}
	o, err := s.st.AddOverride(ctx, cover, store.OutMessage{Channel: notify.Chat, Site: r.Site, Kind: "roster", Text: line})
	if err != nil {
		return failErr(err, "the cover")
	}
	return Reply{Text: strings.ReplaceAll(line, store.IDPlaceholder, o.ID), Public: true}
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
