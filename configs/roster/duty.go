package roster

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/muster-ops/muster/configs"
)

// Lookaround is how far before and after the time asked about Stretches
// follows someone's duty: a stretch that runs further is cut there, and
// reads as at least that long.
const Lookaround = 72 * time.Hour

// Stretch is one person's working time without a break: their shifts and
// covers on rosters that are not on call, back to back or overlapping,
// as the rosters stand (rotation, qualification skips, covers).
type Stretch struct {
	Person     string
	Start, End time.Time
	// Rosters are the rosters it is made of, in the order it reaches them.
	Rosters []string
	// Limit is the smallest max_continuous among them.
	Limit time.Duration
	// Cut: the stretch runs on beyond the time looked at (Lookaround), so
	// it lasts at least Length.
	Cut bool
}

// Length is how long the stretch lasts (at least, when Cut).
func (s Stretch) Length() time.Duration { return s.End.Sub(s.Start) }

// Over reports whether the stretch is longer than its rosters allow.
func (s Stretch) Over() bool { return s.Length() > s.Limit }

// Holds reports whether the stretch overlaps [from, to) (contains from
// when from == to).
func (s Stretch) Holds(from, to time.Time) bool {
	if !to.After(from) {
		return !from.Before(s.Start) && from.Before(s.End)
	}
	return from.Before(s.End) && to.After(s.Start)
}

// Flag describes an over-long stretch for /roster, `muster roster` and
// the hand-over notice, e.g. "Chloe Martin on duty 24h without a break
// from 07:00 Sat 28 Nov, past max_continuous 16h".
func (s Stretch) Flag(name string, loc *time.Location) string {
	length := configs.FormatDuration(s.Length().Round(time.Minute))
	if s.Cut {
		length = "over " + length
	}
	return fmt.Sprintf("%s on duty %s without a break from %s, past max_continuous %s",
		name, length, s.Start.In(loc).Format("15:04 Mon 2 Jan"), configs.FormatDuration(s.Limit))
}

// Duty is everyone's working stretches around a stretch of time.
type Duty map[string][]Stretch

// Stretches works out the working stretches of everyone on duty during
// [from, to) (at from when to is not after it), following each person's
// duty up to Lookaround before and after. extra are covers to count as
// if they were in overrides already (a cover being put in).
func Stretches(cfg *configs.Config, from, to time.Time, overrides []Override) Duty {
	if to.Before(from) {
		to = from
	}
	lo, hi := from.Add(-Lookaround), to.Add(Lookaround)
	type piece struct {
		from, to time.Time
		roster   *configs.Roster
	}
	byPerson := map[string][]piece{}
	for i := range cfg.Rosters {
		r := &cfg.Rosters[i]
		if !r.Working() {
			continue
		}
		for _, sh := range Between(cfg, r, lo, hi, overrides) {
			if sh.Person == nil {
				continue
			}
			a, b := maxTime(sh.Start, lo), minTime(sh.End, hi)
			if b.After(a) {
				byPerson[sh.Person.ID] = append(byPerson[sh.Person.ID], piece{a, b, r})
			}
		}
	}
	d := Duty{}
	for p, ps := range byPerson {
		sort.Slice(ps, func(i, j int) bool { return ps[i].from.Before(ps[j].from) })
		var cur *Stretch
		flush := func() {
			if cur == nil {
				return
			}
			cur.Cut = !cur.Start.After(lo) || !cur.End.Before(hi)
			if cur.Holds(from, to) {
				d[p] = append(d[p], *cur)
			}
			cur = nil
		}
		for _, pc := range ps {
			if cur != nil && !pc.from.After(cur.End) {
				cur.End = maxTime(cur.End, pc.to)
				if !slices.Contains(cur.Rosters, pc.roster.ID) {
					cur.Rosters = append(cur.Rosters, pc.roster.ID)
				}
				cur.Limit = min(cur.Limit, pc.roster.Limit())
				continue
			}
			flush()
			cur = &Stretch{Person: p, Start: pc.from, End: pc.to, Rosters: []string{pc.roster.ID}, Limit: pc.roster.Limit()}
		}
		flush()
	}
	return d
}

// At is person's stretch holding [from, to) (the first, when several do);
// false when they are not on working duty then.
func (d Duty) At(person string, from, to time.Time) (Stretch, bool) {
	for _, s := range d[person] {
		if s.Holds(from, to) {
			return s, true
		}
	}
	return Stretch{}, false
}

// Over is person's over-long stretch holding [from, to), if any.
func (d Duty) Over(person string, from, to time.Time) (Stretch, bool) {
	for _, s := range d[person] {
		if s.Holds(from, to) && s.Over() {
			return s, true
		}
	}
	return Stretch{}, false
}

// CoverProblems says why p may not cover r over [from, to): a required
// qualification that does not last the whole cover, or duty on a roster
// elsewhere (another site, or a remote desk when r is at a site) at any
// time during it. None: the cover may go in. A supervisor may still put
// it in with an override.
func CoverProblems(cfg *configs.Config, r *configs.Roster, p *configs.Person, from, to time.Time, overrides []Override) []string {
	loc := cfg.Location()
	var out []string
	if why := unqualified(p, r.Requires, from, to, loc, "the cover"); why != "" {
		out = append(out, "not qualified: "+why)
	}
	place := r.Place()
	if place == "" {
		return out // on call is no place: it clashes with nothing
	}
	told := map[string]bool{} // places already named: a desk once
	for i := range cfg.Rosters {
		o := &cfg.Rosters[i]
		if o.ID == r.ID || o.Place() == "" || o.Place() == place || told[o.Place()] {
			continue
		}
		for _, sh := range Between(cfg, o, from, to, overrides) {
			if sh.Person == nil || sh.Person.ID != p.ID {
				continue
			}
			where := "a remote desk"
			if o.Duty != configs.DutyRemote {
				where = o.Site
				if s, ok := cfg.Site(o.Site); ok {
					where = s.Name
				}
			}
			out = append(out, fmt.Sprintf("on duty on %s (%s, %s) from %s to %s", o.ID, o.Role, where,
				maxTime(sh.Start, from).In(loc).Format("Mon 2 Jan 15:04"), minTime(sh.End, to).In(loc).Format("Mon 2 Jan 15:04")))
			told[o.Place()] = true
			break
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
