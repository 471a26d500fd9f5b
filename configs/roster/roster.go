// Package roster works out who is on duty on a roster at any instant: the
// rotation in local wall-clock time (DST included), the competence gate
// that skips people whose required qualifications do not last the shift,
// and covers (overrides) that supervisors put in at run time.
//
// It is pure computation: no clock, no Redis, no I/O. Callers pass the
// instant and the overrides they have loaded.
//
// # Shifts and DST
//
// Shift k of a rotation starts at the local wall-clock time
// Start 00:00 + Handover + k*Shift (k < 0 before Start) and is worked by
// People[k mod len(People)]. Days are calendar days, so a 12h rotation
// with handover 07:00 hands over at 07:00 and 19:00 local all year; the
// shift that spans a clock change lasts 11h or 13h in real time.
//
// A handover whose wall-clock time falls in a clock change happens the
// first time the local clock reaches it: in the repeated hour of a
// fall-back change, at its first occurrence (01:30 BST, not 01:30 GMT);
// in the gap of a spring-forward change, at the moment the clocks jump
// (02:00 BST for a 01:30 handover on the day London skips 01:00-02:00). A
// shift that lies wholly inside a gap (a 1h shift from 01:00 that day)
// is empty: its person loses that turn and the rotation goes on. Instants
// are compared as instants, so At is never ambiguous.
//
// # Answers are segments
//
// A Shift returned by At, Next and Between is the stretch of time over
// which the answer holds: one rotation shift, or the part of it between
// the start or end of covers. A cover from 10:00 to 14:00 inside a
// 07:00-19:00 shift splits it into three Shifts with the same Index;
// Between returns them in order, each starting where the last ended.
package roster

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
)

// Override is a cover: Person is on duty on Roster over [From, To)
// instead of whoever the rotation would put there. When several covers
// overlap, the latest Created wins (on a tie, the later one in the slice).
// A cover for someone without the roster's required qualifications, or on
// duty elsewhere, goes in only with an override (Reason); it is still
// honoured, and the answer carries a warning.
type Override struct {
	ID     string
	Roster string // roster id
	Person string // person id
	From   time.Time
	To     time.Time
	// By is the person id of whoever put the cover in.
	By      string
	Created time.Time
	// Reason is why By overrode the refusal (--override <reason>); empty
	// when the cover needed none. Overrode is what was overridden (the
	// refusal's reasons, joined).
	Reason, Overrode string
}

// Active reports whether the cover holds at the instant at.
func (o Override) Active(at time.Time) bool { return !at.Before(o.From) && at.Before(o.To) }

// Skip is someone the competence gate passed over.
type Skip struct {
	Person string // person id
	Name   string // display name (the id if the person is unknown)
	Reason string // e.g. "sia-licence expired 2026-05-31"
}

// Shift is one person's turn on a roster: a rotation shift, or the part of
// one that a cover begins or ends (see the package comment).
type Shift struct {
	Roster *configs.Roster
	// Index is the rotation shift number k (negative before Start).
	Index int
	// Start and End bound this answer, in the organization's time zone:
	// the rotation shift's handovers, or a cover's From and To where
	// they fall inside it.
	Start, End time.Time
	// Scheduled is the person id the rotation names for shift Index,
	// before the competence gate.
	Scheduled string
	// Person is on duty; nil when nobody qualified (or a cover names a
	// person missing from the config).
	Person *configs.Person
	// Skipped lists, in rotation order, everyone the competence gate
	// passed over for shift Index.
	Skipped []Skip
	// Cover is set when an override put Person on duty.
	Cover *Override
	// Replaces is, for a cover, whom the rotation and the gate would
	// otherwise have put on duty (nil if nobody qualified).
	Replaces *configs.Person
	// Warning flags a cover by someone without a required qualification
	// ("not qualified: has no sia-licence") or missing from the config.
	Warning string
	// CoverBy is whoever put the cover in (nil when unknown).
	CoverBy *configs.Person
}

// Duration is how long the shift lasts in real time.
func (s Shift) Duration() time.Duration { return s.End.Sub(s.Start) }

// At answers who is on duty on roster r at the instant at.
func At(cfg *configs.Config, r *configs.Roster, at time.Time, overrides []Override) Shift {
	loc := cfg.Location()
	rt := newRotation(r, loc)
	k := rt.index(at)
	base := gate(cfg, r, k, rt.boundary(k), rt.boundary(k+1))
	return withCovers(cfg, r, base, at, overrides)
}

// Next answers who comes on duty when after ends: the Shift that starts at
// after.End (the rest of a rotation shift when a cover ends inside it).
func Next(cfg *configs.Config, r *configs.Roster, after Shift, overrides []Override) Shift {
	return At(cfg, r, after.End, overrides)
}

// Between lists every Shift overlapping [from, to), in order and
// contiguous: the first contains from, each starts where the previous
// ended, and the last ends at or after to. Nil when to <= from.
func Between(cfg *configs.Config, r *configs.Roster, from, to time.Time, overrides []Override) []Shift {
	var out []Shift
	if !from.Before(to) {
		return nil
	}
	for s := At(cfg, r, from, overrides); s.Start.Before(to); s = Next(cfg, r, s, overrides) {
		out = append(out, s)
	}
	return out
}

// OnDuty answers who holds role at site at the instant at, through the
// site's roster for the role; false when there is no such roster.
func OnDuty(cfg *configs.Config, site, role string, at time.Time, overrides []Override) (Shift, bool) {
	r, ok := cfg.RosterFor(site, role)
	if !ok {
		return Shift{}, false
	}
	return At(cfg, r, at, overrides), true
}

// gate fills in rotation shift k, [start, end): the scheduled person,
// or the next in rotation order who holds every required qualification
// through end.
func gate(cfg *configs.Config, r *configs.Roster, k int, start, end time.Time) Shift {
	loc := cfg.Location()
	s := Shift{Roster: r, Index: k, Start: start.In(loc), End: end.In(loc)}
	people := r.Rotation.People
	if len(people) == 0 {
		return s
	}
	s.Scheduled = people[mod(k, len(people))]
	seen := map[string]bool{}
	for i := range people {
		id := people[mod(k+i, len(people))]
		if seen[id] {
			continue // someone listed twice in the rotation is judged once
		}
		seen[id] = true
		p, ok := cfg.Person(id)
		if !ok {
			s.Skipped = append(s.Skipped, Skip{Person: id, Name: id, Reason: "is not in the people list"})
			continue
		}
		if why := unqualified(p, r.Requires, start, end, loc, "the shift"); why != "" {
			s.Skipped = append(s.Skipped, Skip{Person: id, Name: p.Name, Reason: why})
			continue
		}
		s.Person = p
		break
	}
	return s
}

// unqualified says why p may not work [start, end) under requires, or ""
// if p may. during names the stretch in the message ("the shift").
func unqualified(p *configs.Person, requires []string, start, end time.Time, loc *time.Location, during string) string {
	var why []string
	for i, name := range requires {
		if slices.Contains(requires[:i], name) {
			continue
		}
		ok, q := p.Qualified(name, end, loc)
		switch {
		case ok:
		case q == nil:
			why = append(why, "has no "+name)
		case q.Expires.In(loc).AddDate(0, 0, 1).After(start): // valid through the expiry day, as Qualified
			why = append(why, fmt.Sprintf("%s expires %s during %s", name, q.Expires, during))
		default:
			why = append(why, fmt.Sprintf("%s expired %s", name, q.Expires))
		}
	}
	return strings.Join(why, ", ")
}

// withCovers narrows base (rotation shift base.Index) to the segment
// containing at over which the winning cover, or the lack of one, stays
// the same, and applies that cover.
func withCovers(cfg *configs.Config, r *configs.Roster, base Shift, at time.Time, overrides []Override) Shift {
	var covers []Override
	for _, o := range overrides {
		if o.Roster == r.ID && o.From.Before(o.To) && o.From.Before(base.End) && o.To.After(base.Start) {
			covers = append(covers, o)
		}
	}
	if len(covers) == 0 {
		return base
	}

	// The winner can only change where a cover starts or ends.
	points := []time.Time{base.Start, base.End}
	for _, o := range covers {
		for _, t := range []time.Time{o.From, o.To} {
			if t.After(base.Start) && t.Before(base.End) {
				points = append(points, t)
			}
		}
	}
	slices.SortFunc(points, time.Time.Compare)
	points = slices.CompactFunc(points, time.Time.Equal)

	// Segment i is [points[i], points[i+1]); find at's, then widen it
	// while the neighbours have the same winner.
	i, _ := slices.BinarySearchFunc(points, at, time.Time.Compare)
	if i == len(points) || points[i].After(at) {
		i--
	}
	w := winner(covers, points[i])
	lo, hi := i, i+1
	for lo > 0 && winner(covers, points[lo-1]) == w {
		lo--
	}
	for hi < len(points)-1 && winner(covers, points[hi]) == w {
		hi++
	}
	loc := cfg.Location()
	s := base
	s.Start, s.End = points[lo].In(loc), points[hi].In(loc)
	if w < 0 {
		return s
	}

	o := covers[w]
	s.Cover = &o
	s.Replaces = base.Person
	if by, ok := cfg.Person(o.By); ok {
		s.CoverBy = by
	}
	p, ok := cfg.Person(o.Person)
	if !ok {
		s.Person = nil
		s.Warning = fmt.Sprintf("%q is not in the people list", o.Person)
		return s
	}
	s.Person = p
	if why := unqualified(p, r.Requires, s.Start, s.End, loc, "the cover"); why != "" {
		s.Warning = "not qualified: " + why
	}
	return s
}

// winner is the index in covers of the cover in force at t (the latest
// created; on a tie the later in the slice), or -1.
func winner(covers []Override, t time.Time) int {
	w := -1
	for i, o := range covers {
		if o.Active(t) && (w < 0 || !o.Created.Before(covers[w].Created)) {
			w = i
		}
	}
	return w
}

// Everyone lists who is on duty at site at the instant at, on every
// roster of the site (rotations and covers), each person once, in roster
// order: whom a roll call asks.
func Everyone(cfg *configs.Config, site string, at time.Time, overrides []Override) []Shift {
	var out []Shift
	seen := map[string]bool{}
	for i := range cfg.Rosters {
		r := &cfg.Rosters[i]
		if r.Site != site {
			continue
		}
		sh := At(cfg, r, at, overrides)
		if sh.Person == nil || seen[sh.Person.ID] {
			continue
		}
		seen[sh.Person.ID] = true
		out = append(out, sh)
	}
	return out
}
