package roster

import (
	"time"

	"github.com/muster-ops/muster/configs"
)

// minutesPerDay is a calendar day in wall-clock minutes. Rotations count in
// wall-clock minutes from local midnight of the start date, so a day is
// always 1440 of them, whatever the DST offset does.
const minutesPerDay = 24 * 60

// rotation is a roster's cycle of handovers, ready to compute boundaries.
//
// Boundary k is the wall-clock time start-date 00:00 + handover + k*shift,
// made into a real instant by firstReach. Wall-clock arithmetic is what
// keeps a 07:00 handover at 07:00 local across DST, and what makes a day
// a calendar day rather than 24 hours.
type rotation struct {
	loc      *time.Location
	start    time.Time // local midnight of the start date, as wall fields in UTC
	shift    int64     // wall-clock minutes per shift
	handover int64     // wall-clock minutes after midnight
}

func newRotation(r *configs.Roster, loc *time.Location) rotation {
	shift := r.Rotation.Shift.D()
	if shift < time.Minute {
		// Validate rejects this; answer something defined rather than divide by zero.
		shift = 24 * time.Hour
	}
	d := r.Rotation.Start
	return rotation{
		loc:      loc,
		start:    time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC),
		shift:    int64(shift / time.Minute),
		handover: int64(r.Rotation.Handover.Offset() / time.Minute),
	}
}

// boundary is the instant shift k starts (and shift k-1 ends).
func (rt rotation) boundary(k int) time.Time {
	total := int64(k)*rt.shift + rt.handover
	day := floorDiv(total, minutesPerDay)
	mins := total - day*minutesPerDay
	wall := time.Date(rt.start.Year(), rt.start.Month(), rt.start.Day()+int(day), 0, int(mins), 0, 0, time.UTC)
	return firstReach(wall, rt.loc)
}

// index is the number of the shift that contains at: the k with
// boundary(k) <= at < boundary(k+1). Boundaries are compared as instants,
// so the repeated hour of a fall-back change is never ambiguous here.
func (rt rotation) index(at time.Time) int {
	// Estimate from at's wall clock, then correct against real boundaries:
	// the estimate is off by at most the DST offset change.
	mins := floorDiv(wallUTC(at.In(rt.loc)).Unix()-rt.start.Unix(), 60)
	k := int(floorDiv(mins-rt.handover, rt.shift))
	for rt.boundary(k).After(at) {
		k--
	}
	for !rt.boundary(k + 1).After(at) {
		k++
	}
	return k
}

// firstReach turns a wall-clock time (its fields, carried in UTC) into
// the first instant at which loc's clocks reach it:
//
//   - a time that exists once is that instant;
//   - a time in the repeated hour of a fall-back change is its first
//     occurrence (the clocks reach 01:30 BST before 01:30 GMT);
//   - a time in the gap of a spring-forward change is the instant the
//     clocks jump (a 01:30 handover on the day London skips 01:00-02:00
//     happens at 02:00 BST, when the clock first shows a later time).
//
// This is monotonic in wall, so boundaries never go backwards; a shift
// that lies wholly inside a gap comes out empty. time.Date alone does not
// promise which instant it picks in either case.
func firstReach(wall time.Time, loc *time.Location) time.Time {
	var best time.Time
	found := false
	minOff := 0
	for i := -4; i <= 4; i++ {
		_, off := wall.Add(time.Duration(i) * 12 * time.Hour).In(loc).Zone()
		if i == -4 || off < minOff {
			minOff = off
		}
		t := wall.Add(-time.Duration(off) * time.Second).In(loc)
		if wallUTC(t).Equal(wall) && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	if found {
		return best
	}
	// In a gap: read with the smallest offset around it, the time lies
	// just after the jump, inside the zone period the jump starts.
	t := wall.Add(-time.Duration(minOff) * time.Second).In(loc)
	if start, _ := t.ZoneBounds(); !start.IsZero() && !start.After(t) {
		return start.In(loc)
	}
	return t
}

// wallUTC carries t's local wall-clock fields in UTC, so wall clocks can be
// compared and subtracted without any offset getting in the way.
func wallUTC(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// floorDiv divides rounding towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// mod is the non-negative remainder of k by n (n > 0).
func mod(k, n int) int { return ((k % n) + n) % n }
