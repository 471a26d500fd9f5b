package configs

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// maxCheckedCycle bounds how far checkRotations lays the rotations side
// by side: their common cycle, or this, whichever is shorter.
const maxCheckedCycle = 400 * 24 * 60 // minutes

// stint is one rotation shift of one person, in wall-clock minutes since
// the Unix epoch (the rotations' own arithmetic: a day is 1440 minutes,
// whatever daylight saving does).
type stint struct {
	from, to int64
	roster   int // index in Config.Rosters
}

// checkRotations lays every rotation side by side, as written (no
// qualification skips, no covers), and reports each person they put in
// two places at once (two sites, or a site and a remote roster), or on
// duty longer than max_continuous without a break (shifts back to back
// on any rosters that are not on call). The pattern repeats every common
// cycle of the rotations, so one cycle tells all.
func (c *Config) checkRotations(v *validator) {
	cycle := int64(1)
	first := int64(0)
	for i, r := range c.Rosters {
		n := minutesOf(r.Rotation.Shift.D()) * int64(len(r.Rotation.People))
		cycle = min(lcm(cycle, n), maxCheckedCycle)
		if b := rosterBoundary(&r, 0); i == 0 || b < first {
			first = b
		}
	}
	// Three cycles: every stretch shorter than a cycle lies whole in the
	// middle one, and one longer than a cycle never ends.
	end := first + 3*cycle
	byPerson := map[string][]stint{}
	for i := range c.Rosters {
		r := &c.Rosters[i]
		shift := minutesOf(r.Rotation.Shift.D())
		k0 := floorDiv(first-rosterBoundary(r, 0), shift)
		for k := k0; rosterBoundary(r, k) < end; k++ {
			p := r.Rotation.People[mod64(k, int64(len(r.Rotation.People)))]
			byPerson[p] = append(byPerson[p], stint{rosterBoundary(r, k), rosterBoundary(r, k+1), i})
		}
	}
	people := make([]string, 0, len(byPerson))
	for p := range byPerson {
		people = append(people, p)
	}
	sort.Strings(people)
	for _, p := range people {
		ss := byPerson[p]
		sort.Slice(ss, func(i, j int) bool {
			return ss[i].from < ss[j].from || ss[i].from == ss[j].from && ss[i].roster < ss[j].roster
		})
		c.checkPlaces(v, p, ss)
		c.checkContinuous(v, p, ss, first, cycle)
	}
}

// checkPlaces reports the first time p is rostered in two places at once,
// once for each pair of rosters.
func (c *Config) checkPlaces(v *validator, p string, ss []stint) {
	told := map[[2]int]bool{}
	for i, a := range ss {
		pa := c.Rosters[a.roster].Place()
		for _, b := range ss[i+1:] {
			if b.from >= a.to {
				break
			}
			pb := c.Rosters[b.roster].Place()
			pair := [2]int{min(a.roster, b.roster), max(a.roster, b.roster)}
			if pa == "" || pb == "" || pa == pb || told[pair] {
				continue
			}
			told[pair] = true
			ra, rb := &c.Rosters[pair[0]], &c.Rosters[pair[1]]
			v.addf(fmt.Sprintf("rosters[%d].rotation.people", pair[1]),
				"%s would be in two places at once: %s on %s and %s on %s, from %s (a person is at one site at a time; a remote roster is a desk of its own)",
				p, ra.ID, placeName(ra), rb.ID, placeName(rb), wallText(max(a.from, b.from)))
		}
	}
}

// checkContinuous reports the first stretch of working shifts back to back
// that lasts longer than the smallest max_continuous of its rosters.
func (c *Config) checkContinuous(v *validator, p string, ss []stint, first, cycle int64) {
	var (
		from, to int64
		rosters  []int
	)
	flush := func() bool {
		if len(rosters) == 0 {
			return false
		}
		limit := time.Duration(1<<63 - 1)
		ids := make([]string, len(rosters))
		for i, ri := range rosters {
			limit = min(limit, c.Rosters[ri].Limit())
			ids[i] = c.Rosters[ri].ID
		}
		length := time.Duration(to-from) * time.Minute
		if length <= limit {
			return false
		}
		path := fmt.Sprintf("rosters[%d].rotation.people", slices.Min(rosters))
		if to-from > cycle || from <= first && to >= first+3*cycle {
			v.addf(path, "puts %s on duty without ever a break (%s), past max_continuous %s: add people to the rotation, or set duty: %s if the role is held on call",
				p, strings.Join(ids, ", "), FormatDuration(limit), DutyOnCall)
		} else {
			v.addf(path, "puts %s on duty for %s without a break from %s (%s), past max_continuous %s",
				p, FormatDuration(length), wallText(from), strings.Join(ids, ", "), FormatDuration(limit))
		}
		return true
	}
	for _, s := range ss {
		if !c.Rosters[s.roster].Working() {
			continue
		}
		if len(rosters) > 0 && s.from <= to {
			to = max(to, s.to)
			if !slices.Contains(rosters, s.roster) {
				rosters = append(rosters, s.roster)
			}
			continue
		}
		if flush() {
			return
		}
		from, to, rosters = s.from, s.to, []int{s.roster}
	}
	flush()
}

// rosterBoundary is the wall-clock minute (since the Unix epoch) at which
// shift k of r starts.
func rosterBoundary(r *Roster, k int64) int64 {
	d := r.Rotation.Start
	day := time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC).Unix() / 60
	return day + minutesOf(r.Rotation.Handover.Offset()) + k*minutesOf(r.Rotation.Shift.D())
}

func placeName(r *Roster) string {
	if r.Duty == DutyRemote {
		return "a remote desk"
	}
	return "site " + r.Site
}

// wallText writes a wall-clock minute as a local date and time.
func wallText(m int64) string { return time.Unix(m*60, 0).UTC().Format("2006-01-02 15:04") }

func minutesOf(d time.Duration) int64 { return int64(d / time.Minute) }

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func lcm(a, b int64) int64 {
	if a == 0 || b == 0 {
		return max(a, b)
	}
	return a / gcd(a, b) * b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod64(k, n int64) int64 { return ((k % n) + n) % n }
