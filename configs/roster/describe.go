package roster

import (
	"fmt"
	"strings"
	"time"
)

// Describe writes s as one line for chat, SMS and the CLI, e.g.
//
//	guard: Ben Walsh until 19:00 (Sat 28 Nov); next Chloe Martin
//	guard: Ben Walsh until 19:00 (Sat 28 Nov) (skipped Amara Okafor: sia-licence expired 2026-05-31); next Chloe Martin
//	guard: Dev Patel covering for Amara Okafor until 14:00 (Sat 28 Nov); next Amara Okafor
//
// next, usually Next(cfg, r, s, overrides), may be nil to leave it out.
// Times are shown in loc (the organization's zone; s.End's when nil).
func Describe(s Shift, next *Shift, loc *time.Location) string {
	return describe(s, next, loc, false)
}

// DescribeFrom is Describe for a shift that has not started yet: it says
// when it starts as well as when it ends, e.g.
//
//	guard: Ben Walsh from 19:00 (Sat 28 Nov) until 07:00 (Sun 29 Nov); next Chloe Martin
func DescribeFrom(s Shift, next *Shift, loc *time.Location) string {
	return describe(s, next, loc, true)
}

func describe(s Shift, next *Shift, loc *time.Location, from bool) string {
	if loc == nil {
		loc = s.End.Location()
	}
	var b strings.Builder
	if s.Roster != nil {
		b.WriteString(s.Roster.Role + ": ")
	}
	b.WriteString(who(s))
	switch {
	case s.Cover != nil && s.Replaces != nil:
		b.WriteString(" covering for " + s.Replaces.Name)
	case s.Cover != nil:
		b.WriteString(" (cover)") // nobody qualified was rostered
	}
	if from {
		b.WriteString(s.Start.In(loc).Format(" from 15:04 (Mon 2 Jan)"))
	}
	b.WriteString(s.End.In(loc).Format(" until 15:04 (Mon 2 Jan)"))
	if len(s.Skipped) > 0 && s.Cover == nil {
		b.WriteString(" (skipped ")
		for i, sk := range s.Skipped {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(sk.Name + ": " + sk.Reason)
		}
		b.WriteString(")")
	}
	if s.Warning != "" {
		b.WriteString(" (" + s.Warning + ")")
	}
	if s.Cover != nil && s.Cover.Reason != "" {
		by := s.Cover.By
		if s.CoverBy != nil {
			by = s.CoverBy.Name
		}
		b.WriteString(fmt.Sprintf(" (override by %s: %q", by, s.Cover.Reason))
		if s.Cover.Overrode != "" && s.Cover.Overrode != s.Warning {
			b.WriteString("; overrode: " + s.Cover.Overrode)
		}
		b.WriteString(")")
	}
	if next != nil {
		b.WriteString("; next " + who(*next))
		if next.Cover != nil {
			b.WriteString(" (cover)")
		}
	}
	return b.String()
}

// who names whoever is on duty in s.
func who(s Shift) string {
	switch {
	case s.Person != nil:
		return s.Person.Name
	case s.Cover != nil:
		return s.Cover.Person
	case len(s.Skipped) > 0:
		return "nobody qualified"
	default:
		return "nobody"
	}
}
