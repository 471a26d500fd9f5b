package roster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests must not depend on the host's zoneinfo

	"github.com/muster-ops/muster/configs"
)

// The example's rotations all start on Monday 2026-01-05 in Europe/London.
// harbour-guard is 12h from 07:00 over amara, ben, chloe, so shift k is
// day*2 (+1 for the 19:00 shift) and its person is people[k mod 3]:
// 2026-11-28 is day 327, 2026-03-29 day 83, 2026-10-25 day 293.

func example(t *testing.T) *configs.Config {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	return cfg
}

func exampleRoster(t *testing.T, cfg *configs.Config, id string) *configs.Roster {
	t.Helper()
	r, ok := cfg.Roster(id)
	if !ok {
		t.Fatalf("example has no roster %q", id)
	}
	return r
}

var london = mustLoad("Europe/London")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// local reads "2006-01-02 15:04[:05]" as London wall-clock time; only for
// times that exist exactly once.
func local(s string) time.Time { return parseIn(s, london) }

// utc reads "2006-01-02 15:04[:05]" as UTC, for instants near a clock change.
func utc(s string) time.Time { return parseIn(s, time.UTC) }

func parseIn(s string, loc *time.Location) time.Time {
	layout := "2006-01-02 15:04"
	if strings.Count(s, ":") == 2 {
		layout += ":05"
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

func person(id, name string, quals ...configs.Qualification) configs.Person {
	return configs.Person{ID: id, Name: name, Roles: []string{configs.RoleGuard}, Qualifications: quals}
}

func qual(name string, y, m, d int) configs.Qualification {
	return configs.Qualification{Name: name, Expires: configs.Date{Year: y, Month: m, Day: d}}
}

// handBuilt is a London config with one roster, "r", over people.
func handBuilt(shift time.Duration, handover string, start configs.Date, people []configs.Person, rotation []string, requires ...string) (*configs.Config, *configs.Roster) {
	var h configs.Clock
	if _, err := fmt.Sscanf(handover, "%d:%d", &h.Hour, &h.Minute); err != nil {
		panic(err)
	}
	cfg := &configs.Config{
		Organization: "Test",
		Timezone:     "Europe/London",
		People:       people,
		Rosters: []configs.Roster{{
			ID: "r", Site: "s", Role: configs.RoleGuard, Requires: requires,
			Rotation: configs.Rotation{Shift: configs.Duration(shift), Handover: h, Start: start, People: rotation},
		}},
	}
	return cfg, &cfg.Rosters[0]
}

var jan5 = configs.Date{Year: 2026, Month: 1, Day: 5}

func personID(s Shift) string {
	if s.Person == nil {
		return ""
	}
	return s.Person.ID
}

// want is what a test expects of a Shift; zero fields are not checked
// except person ("" means nobody on duty).
type want struct {
	person     string
	index      int
	start, end time.Time
	dur        time.Duration
}

func check(t *testing.T, got Shift, at time.Time, w want) {
	t.Helper()
	if personID(got) != w.person {
		t.Errorf("person = %q, want %q", personID(got), w.person)
	}
	if got.Index != w.index {
		t.Errorf("index = %d, want %d", got.Index, w.index)
	}
	if !w.start.IsZero() && !got.Start.Equal(w.start) {
		t.Errorf("start = %v, want %v", got.Start, w.start)
	}
	if !w.end.IsZero() && !got.End.Equal(w.end) {
		t.Errorf("end = %v, want %v", got.End, w.end)
	}
	if w.dur != 0 && got.Duration() != w.dur {
		t.Errorf("real duration = %v, want %v", got.Duration(), w.dur)
	}
	if got.Start.After(at) || !got.End.After(at) {
		t.Errorf("[%v, %v) does not contain %v", got.Start, got.End, at)
	}
	if got.Start.Location().String() != "Europe/London" || got.End.Location().String() != "Europe/London" {
		t.Errorf("times not in the organization's zone: %v, %v", got.Start.Location(), got.End.Location())
	}
}

func TestRotationOrder(t *testing.T) {
	cfg := example(t)
	r := exampleRoster(t, cfg, "harbour-guard")
	tests := []struct {
		name string
		at   time.Time
		want want
	}{
		{"first shift starts at the handover", local("2026-01-05 07:00"), want{"amara", 0, local("2026-01-05 07:00"), local("2026-01-05 19:00"), 12 * time.Hour}},
		{"mid first shift", local("2026-01-05 12:00"), want{person: "amara", index: 0}},
		{"one second before the handover", local("2026-01-05 18:59:59"), want{person: "amara", index: 0}},
		{"exactly at the evening handover", local("2026-01-05 19:00"), want{"ben", 1, local("2026-01-05 19:00"), local("2026-01-06 07:00"), 0}},
		{"after midnight is still the night shift", local("2026-01-06 03:00"), want{person: "ben", index: 1}},
		{"third shift", local("2026-01-06 07:00"), want{person: "chloe", index: 2}},
		{"rotation wraps", local("2026-01-06 19:00"), want{"amara", 3, local("2026-01-06 19:00"), local("2026-01-07 07:00"), 0}},
		{"fifth shift", local("2026-01-07 07:00"), want{person: "ben", index: 4}},
		{"late in the year, day", local("2026-11-28 12:00"), want{"amara", 654, local("2026-11-28 07:00"), local("2026-11-28 19:00"), 0}},
		{"late in the year, night", local("2026-11-28 19:00"), want{"ben", 655, local("2026-11-28 19:00"), local("2026-11-29 07:00"), 0}},
		{"second before the morning handover", local("2026-11-29 06:59:59"), want{person: "ben", index: 655}},
		{"morning handover", local("2026-11-29 07:00"), want{person: "chloe", index: 656}},
		{"a second before start: the last shift of the cycle", local("2026-01-05 06:59:59"), want{"chloe", -1, local("2026-01-04 19:00"), local("2026-01-05 07:00"), 0}},
		{"the day before start", local("2026-01-04 12:00"), want{person: "ben", index: -2}},
		{"night before that", local("2026-01-04 06:00"), want{"amara", -3, local("2026-01-03 19:00"), local("2026-01-04 07:00"), 0}},
		{"new year's day", local("2026-01-01 12:00"), want{person: "ben", index: -8}},
		{"christmas before start", local("2025-12-25 12:00"), want{person: "chloe", index: -22}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, At(cfg, r, tt.at, nil), tt.at, tt.want)
		})
	}
}

func TestDSTLondon(t *testing.T) {
	cfg := example(t)
	guard := exampleRoster(t, cfg, "harbour-guard")           // 12h from 07:00
	supervisor := exampleRoster(t, cfg, "harbour-supervisor") // 24h from 07:00: farid, grace
	// 12h from 01:30, inside the gap on 29 March and the repeated hour on
	// 25 October: the handover happens the first time the clock reaches
	// 01:30 (at the jump to 02:00 BST in March; at 01:30 BST in October).
	cfg130, r130 := handBuilt(12*time.Hour, "01:30", jan5,
		[]configs.Person{person("a", "A"), person("b", "B")}, []string{"a", "b"})
	cfg130d, r130d := handBuilt(24*time.Hour, "01:30", jan5,
		[]configs.Person{person("a", "A"), person("b", "B")}, []string{"a", "b"})

	tests := []struct {
		name string
		cfg  *configs.Config
		r    *configs.Roster
		at   time.Time
		want want
	}{
		// Spring forward: 2026-03-29 01:00 GMT -> 02:00 BST.
		{"night before spring forward is 11h", cfg, guard, utc("2026-03-28 19:00"), want{"amara", 165, utc("2026-03-28 19:00"), utc("2026-03-29 06:00"), 11 * time.Hour}},
		{"just after the jump", cfg, guard, utc("2026-03-29 01:30"), want{person: "amara", index: 165}},
		{"a second before 07:00 BST", cfg, guard, utc("2026-03-29 05:59:59"), want{person: "amara", index: 165}},
		{"07:00 BST hands over", cfg, guard, utc("2026-03-29 06:00"), want{"ben", 166, local("2026-03-29 07:00"), local("2026-03-29 19:00"), 12 * time.Hour}},
		{"19:00 BST hands over", cfg, guard, local("2026-03-29 19:00"), want{"chloe", 167, utc("2026-03-29 18:00"), utc("2026-03-30 06:00"), 12 * time.Hour}},
		// Fall back: 2026-10-25 02:00 BST -> 01:00 GMT.
		{"night before fall back is 13h", cfg, guard, utc("2026-10-24 18:00"), want{"amara", 585, local("2026-10-24 19:00"), local("2026-10-25 07:00"), 13 * time.Hour}},
		{"first 01:30 (BST)", cfg, guard, utc("2026-10-25 00:30"), want{person: "amara", index: 585}},
		{"second 01:30 (GMT)", cfg, guard, utc("2026-10-25 01:30"), want{person: "amara", index: 585}},
		{"a second before 07:00 GMT", cfg, guard, utc("2026-10-25 06:59:59"), want{person: "amara", index: 585}},
		{"07:00 GMT hands over", cfg, guard, utc("2026-10-25 07:00"), want{"ben", 586, utc("2026-10-25 07:00"), utc("2026-10-25 19:00"), 12 * time.Hour}},
		// 24h shifts: the day of the change is 23h or 25h long.
		{"24h over spring forward is 23h", cfg, supervisor, local("2026-03-28 12:00"), want{"farid", 82, utc("2026-03-28 07:00"), utc("2026-03-29 06:00"), 23 * time.Hour}},
		{"24h over fall back is 25h", cfg, supervisor, local("2026-10-24 12:00"), want{"farid", 292, utc("2026-10-24 06:00"), utc("2026-10-25 07:00"), 25 * time.Hour}},
		// Handover at 01:30, in the gap.
		{"01:30 in the gap: shift before ends at the jump", cfg130, r130, utc("2026-03-29 00:59:59"), want{"b", 165, utc("2026-03-28 13:30"), utc("2026-03-29 01:00"), 11*time.Hour + 30*time.Minute}},
		{"01:30 in the gap: handover at 02:00 BST", cfg130, r130, utc("2026-03-29 01:00"), want{"a", 166, utc("2026-03-29 01:00"), local("2026-03-29 13:30"), 11*time.Hour + 30*time.Minute}},
		{"01:30 in the gap, 24h", cfg130d, r130d, utc("2026-03-29 00:00"), want{"a", 82, utc("2026-03-28 01:30"), utc("2026-03-29 01:00"), 23*time.Hour + 30*time.Minute}},
		{"01:30 in the gap, 24h, after", cfg130d, r130d, utc("2026-03-29 01:00"), want{"b", 83, utc("2026-03-29 01:00"), local("2026-03-30 01:30"), 23*time.Hour + 30*time.Minute}},
		// Handover at 01:30, in the repeated hour.
		{"repeated 01:30: shift before ends at 01:30 BST", cfg130, r130, utc("2026-10-25 00:29:59"), want{"b", 585, local("2026-10-24 13:30"), utc("2026-10-25 00:30"), 12 * time.Hour}},
		{"repeated 01:30: handover at the first 01:30", cfg130, r130, utc("2026-10-25 00:30"), want{"a", 586, utc("2026-10-25 00:30"), local("2026-10-25 13:30"), 13 * time.Hour}},
		{"repeated 01:30: no second handover at 01:30 GMT", cfg130, r130, utc("2026-10-25 01:30"), want{person: "a", index: 586}},
		{"repeated 01:30, 24h", cfg130d, r130d, utc("2026-10-25 12:00"), want{"b", 293, utc("2026-10-25 00:30"), utc("2026-10-26 01:30"), 25 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, At(tt.cfg, tt.r, tt.at, nil), tt.at, tt.want)
		})
	}

	// Every handover of the 12h rotation around both changes is at 07:00
	// or 19:00 on the local clock.
	for _, days := range [][2]string{{"2026-03-27 00:00", "2026-04-01 00:00"}, {"2026-10-23 00:00", "2026-10-28 00:00"}} {
		for _, s := range Between(cfg, guard, local(days[0]), local(days[1]), nil) {
			if c := s.Start.Format("15:04"); c != "07:00" && c != "19:00" {
				t.Errorf("shift %d starts at %s local, want 07:00 or 19:00", s.Index, s.Start.Format(time.DateTime+" MST"))
			}
		}
	}
}

func TestLongShifts(t *testing.T) {
	cfg := example(t)
	supervisor := exampleRoster(t, cfg, "harbour-supervisor") // 24h 07:00 farid, grace
	coordinator := exampleRoster(t, cfg, "harbour-coordinator")
	abcd := []configs.Person{person("a", "A"), person("b", "B"), person("c", "C"), person("d", "D")}
	cfg7, weekly := handBuilt(7*24*time.Hour, "09:00", jan5, abcd, []string{"a", "b", "c", "d"})
	tests := []struct {
		name string
		cfg  *configs.Config
		r    *configs.Roster
		at   time.Time
		want want
	}{
		{"24h first day", cfg, supervisor, local("2026-01-05 07:00"), want{"farid", 0, local("2026-01-05 07:00"), local("2026-01-06 07:00"), 24 * time.Hour}},
		{"24h before start", cfg, supervisor, local("2026-01-04 12:00"), want{person: "grace", index: -1}},
		{"24h second before handover", cfg, supervisor, local("2026-11-28 06:59:59"), want{person: "farid", index: 326}},
		{"24h at handover", cfg, supervisor, local("2026-11-28 07:00"), want{"grace", 327, local("2026-11-28 07:00"), local("2026-11-29 07:00"), 24 * time.Hour}},
		{"7d first week", cfg7, weekly, local("2026-01-05 09:00"), want{"a", 0, local("2026-01-05 09:00"), local("2026-01-12 09:00"), 7 * 24 * time.Hour}},
		{"7d second before handover", cfg7, weekly, local("2026-01-12 08:59:59"), want{person: "a", index: 0}},
		{"7d handover", cfg7, weekly, local("2026-01-12 09:00"), want{person: "b", index: 1}},
		{"7d week before start", cfg7, weekly, local("2026-01-01 12:00"), want{"d", -1, local("2025-12-29 09:00"), local("2026-01-05 09:00"), 0}},
		{"7d over spring forward is 167h", cfg7, weekly, local("2026-03-25 12:00"), want{"d", 11, local("2026-03-23 09:00"), local("2026-03-30 09:00"), 167 * time.Hour}},
		{"7d over fall back is 169h", cfg7, weekly, local("2026-10-21 12:00"), want{"b", 41, local("2026-10-19 09:00"), local("2026-10-26 09:00"), 169 * time.Hour}},
		{"7d one person", cfg, coordinator, local("2026-11-28 12:00"), want{"jonah", 46, local("2026-11-23 09:00"), local("2026-11-30 09:00"), 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, At(tt.cfg, tt.r, tt.at, nil), tt.at, tt.want)
		})
	}
}

func TestCompetenceGate(t *testing.T) {
	people := []configs.Person{
		person("amara", "Amara Okafor", qual("sia-licence", 2026, 5, 31), qual("first-aid", 2027, 9, 30)),
		person("ben", "Ben Walsh", qual("sia-licence", 2027, 11, 30)),
		person("chloe", "Chloe Martin"),
		person("dev", "Dev Patel", qual("sia-licence", 2026, 11, 28)), // last valid day: the test day
		person("elena", "Elena Rossi", qual("sia-licence", 2026, 11, 29)),
	}
	nov28 := configs.Date{Year: 2026, Month: 11, Day: 28}
	// 12h from 07:00 starting on the test day: shift 0 is 28 Nov 07:00-19:00,
	// shift 1 is 19:00 to 07:00 on the 29th, shift 2 the 29th's day shift.
	day, night, nextDay := local("2026-11-28 12:00"), local("2026-11-28 20:00"), local("2026-11-29 08:00")
	sia := []string{"sia-licence"}
	tests := []struct {
		name      string
		shift     time.Duration
		handover  string
		rotation  []string
		requires  []string
		at        time.Time
		scheduled string
		person    string
		skipped   []Skip
	}{
		{"qualified", 12 * time.Hour, "07:00", []string{"ben", "amara"}, sia, day, "ben", "ben", nil},
		{"expired skips to the next", 12 * time.Hour, "07:00", []string{"amara", "ben"}, sia, day, "amara", "ben",
			[]Skip{{"amara", "Amara Okafor", "sia-licence expired 2026-05-31"}}},
		{"missing qualification", 12 * time.Hour, "07:00", []string{"chloe", "ben"}, sia, day, "chloe", "ben",
			[]Skip{{"chloe", "Chloe Martin", "has no sia-licence"}}},
		{"valid through the last day: the day shift is fine", 12 * time.Hour, "07:00", []string{"dev", "ben"}, sia, day, "dev", "dev", nil},
		{"expires during the night shift", 12 * time.Hour, "07:00", []string{"ben", "dev"}, sia, night, "dev", "ben",
			[]Skip{{"dev", "Dev Patel", "sia-licence expires 2026-11-28 during the shift"}}},
		{"a shift ending at midnight after the last day is fine", 6 * time.Hour, "00:00", []string{"dev"}, sia, night, "dev", "dev", nil},
		{"expired the day before the shift", 12 * time.Hour, "07:00", []string{"dev", "elena"}, sia, nextDay, "dev", "elena",
			[]Skip{{"dev", "Dev Patel", "sia-licence expired 2026-11-28"}}},
		{"skips in rotation order until someone qualifies", 12 * time.Hour, "07:00", []string{"amara", "chloe", "dev", "ben", "elena"}, sia, night, "chloe", "ben",
			[]Skip{{"chloe", "Chloe Martin", "has no sia-licence"}, {"dev", "Dev Patel", "sia-licence expires 2026-11-28 during the shift"}}},
		{"nobody qualified lists everyone, wrapping round", 12 * time.Hour, "07:00", []string{"amara", "chloe", "dev"}, sia, night, "chloe", "",
			[]Skip{{"chloe", "Chloe Martin", "has no sia-licence"}, {"dev", "Dev Patel", "sia-licence expires 2026-11-28 during the shift"}, {"amara", "Amara Okafor", "sia-licence expired 2026-05-31"}}},
		{"every requirement is checked", 12 * time.Hour, "07:00", []string{"chloe", "amara", "ben"}, []string{"sia-licence", "first-aid"}, day, "chloe", "",
			[]Skip{{"chloe", "Chloe Martin", "has no sia-licence, has no first-aid"}, {"amara", "Amara Okafor", "sia-licence expired 2026-05-31"}, {"ben", "Ben Walsh", "has no first-aid"}}},
		{"no requirements, no gate", 12 * time.Hour, "07:00", []string{"chloe"}, nil, day, "chloe", "chloe", nil},
		{"someone listed twice is judged once", 12 * time.Hour, "07:00", []string{"amara", "chloe", "amara"}, sia, day, "amara", "",
			[]Skip{{"amara", "Amara Okafor", "sia-licence expired 2026-05-31"}, {"chloe", "Chloe Martin", "has no sia-licence"}}},
		{"unknown person", 12 * time.Hour, "07:00", []string{"zed", "ben"}, nil, day, "zed", "ben",
			[]Skip{{"zed", "zed", "is not in the people list"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, r := handBuilt(tt.shift, tt.handover, nov28, people, tt.rotation, tt.requires...)
			s := At(cfg, r, tt.at, nil)
			if s.Scheduled != tt.scheduled {
				t.Errorf("scheduled = %q, want %q", s.Scheduled, tt.scheduled)
			}
			if personID(s) != tt.person {
				t.Errorf("on duty = %q, want %q", personID(s), tt.person)
			}
			if !slices.Equal(s.Skipped, tt.skipped) {
				t.Errorf("skipped = %q, want %q", s.Skipped, tt.skipped)
			}
		})
	}

	// The example's harbour first-aiders are its guards: Ben's first aid
	// lapses on 2027-08-31, Amara's on 2027-09-30, Chloe's on 2028-01-31.
	// 11 Sep 2027 is day 614 after 5 Jan 2026; its day shift, 1228, is
	// Ben's (1228 mod 3 = 1), so Chloe, next in rotation, takes it.
	cfg := example(t)
	fa := exampleRoster(t, cfg, "harbour-first-aider")
	s := At(cfg, fa, local("2027-09-11 12:00"), nil)
	if s.Scheduled != "ben" || personID(s) != "chloe" || len(s.Skipped) != 1 || s.Skipped[0].Reason != "first-aid expired 2027-08-31" {
		t.Errorf("first-aider 2027-09-11 12:00: scheduled %q, on duty %q, skipped %q; want ben skipped for chloe", s.Scheduled, personID(s), s.Skipped)
	}
	// 10 Feb 2028, day 766, shift 1532 (Chloe's): every first aid lapsed.
	s = At(cfg, fa, local("2028-02-10 12:00"), nil)
	wantSkips := []Skip{{"chloe", "Chloe Martin", "first-aid expired 2028-01-31"}, {"amara", "Amara Okafor", "first-aid expired 2027-09-30"}, {"ben", "Ben Walsh", "first-aid expired 2027-08-31"}}
	if s.Person != nil || !slices.Equal(s.Skipped, wantSkips) {
		t.Errorf("first-aider 2028-02-10: on duty %q, skipped %q; want nobody, skipped %q", personID(s), s.Skipped, wantSkips)
	}
}

func TestOverrides(t *testing.T) {
	cfg := example(t)
	r := exampleRoster(t, cfg, "harbour-guard")
	// 28 Nov 2026 (GMT): amara 07:00-19:00 (shift 654), ben 19:00-07:00 (655).
	cover := func(id, who, from, to, created string) Override {
		return Override{ID: id, Roster: "harbour-guard", Person: who, From: local(from), To: local(to), By: "farid", Created: local(created)}
	}
	dev := cover("c1", "dev", "2026-11-28 10:00", "2026-11-28 14:00", "2026-11-27 09:00")
	elenaLater := cover("c2", "elena", "2026-11-28 11:00", "2026-11-28 13:00", "2026-11-27 10:00")
	elenaEarlier := cover("c2", "elena", "2026-11-28 11:00", "2026-11-28 13:00", "2026-11-27 08:00")
	acrossHandover := cover("c3", "farid", "2026-11-28 17:00", "2026-11-28 21:00", "2026-11-27 09:00")
	hugo := cover("c4", "hugo", "2026-11-28 10:00", "2026-11-28 14:00", "2026-11-27 09:00")
	unknown := cover("c5", "zed", "2026-11-28 10:00", "2026-11-28 14:00", "2026-11-27 09:00")
	otherRoster := dev
	otherRoster.Roster = "depot-guard"
	empty := cover("c6", "dev", "2026-11-28 10:00", "2026-11-28 10:00", "2026-11-27 09:00")

	tests := []struct {
		name      string
		overrides []Override
		at        string
		person    string
		cover     string // override id, "" for none
		replaces  string
		index     int
		from, to  string
		warning   string
	}{
		{"no cover", nil, "2026-11-28 12:00", "amara", "", "", 654, "2026-11-28 07:00", "2026-11-28 19:00", ""},
		{"cover inside a shift", []Override{dev}, "2026-11-28 12:00", "dev", "c1", "amara", 654, "2026-11-28 10:00", "2026-11-28 14:00", ""},
		{"cover starts exactly at the instant", []Override{dev}, "2026-11-28 10:00", "dev", "c1", "amara", 654, "2026-11-28 10:00", "2026-11-28 14:00", ""},
		{"before a cover the rotation runs until it starts", []Override{dev}, "2026-11-28 09:00", "amara", "", "", 654, "2026-11-28 07:00", "2026-11-28 10:00", ""},
		{"cover ending mid-shift hands back", []Override{dev}, "2026-11-28 14:00", "amara", "", "", 654, "2026-11-28 14:00", "2026-11-28 19:00", ""},
		{"overlapping: latest created wins", []Override{dev, elenaLater}, "2026-11-28 12:00", "elena", "c2", "amara", 654, "2026-11-28 11:00", "2026-11-28 13:00", ""},
		{"overlapping: before the later one", []Override{dev, elenaLater}, "2026-11-28 10:30", "dev", "c1", "amara", 654, "2026-11-28 10:00", "2026-11-28 11:00", ""},
		{"overlapping: after the later one", []Override{dev, elenaLater}, "2026-11-28 13:00", "dev", "c1", "amara", 654, "2026-11-28 13:00", "2026-11-28 14:00", ""},
		{"overlapping: an older cover inside loses", []Override{elenaEarlier, dev}, "2026-11-28 12:00", "dev", "c1", "amara", 654, "2026-11-28 10:00", "2026-11-28 14:00", ""},
		{"cover across a handover ends with the shift", []Override{acrossHandover}, "2026-11-28 18:00", "farid", "c3", "amara", 654, "2026-11-28 17:00", "2026-11-28 19:00", ""},
		{"cover across a handover replaces the next shift too", []Override{acrossHandover}, "2026-11-28 19:00", "farid", "c3", "ben", 655, "2026-11-28 19:00", "2026-11-28 21:00", ""},
		{"after a cover across a handover", []Override{acrossHandover}, "2026-11-28 21:00", "ben", "", "", 655, "2026-11-28 21:00", "2026-11-29 07:00", ""},
		{"unqualified cover is honoured with a warning", []Override{hugo}, "2026-11-28 12:00", "hugo", "c4", "amara", 654, "2026-11-28 10:00", "2026-11-28 14:00", "not qualified: has no sia-licence"},
		{"cover by someone not in the config", []Override{unknown}, "2026-11-28 12:00", "", "c5", "amara", 654, "2026-11-28 10:00", "2026-11-28 14:00", `"zed" is not in the people list`},
		{"another roster's cover", []Override{otherRoster}, "2026-11-28 12:00", "amara", "", "", 654, "2026-11-28 07:00", "2026-11-28 19:00", ""},
		{"an empty cover", []Override{empty}, "2026-11-28 10:00", "amara", "", "", 654, "2026-11-28 07:00", "2026-11-28 19:00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := local(tt.at)
			s := At(cfg, r, at, tt.overrides)
			check(t, s, at, want{person: tt.person, index: tt.index, start: local(tt.from), end: local(tt.to)})
			gotCover := ""
			if s.Cover != nil {
				gotCover = s.Cover.ID
			}
			if gotCover != tt.cover {
				t.Errorf("cover = %q, want %q", gotCover, tt.cover)
			}
			gotReplaces := ""
			if s.Replaces != nil {
				gotReplaces = s.Replaces.ID
			}
			if gotReplaces != tt.replaces {
				t.Errorf("replaces = %q, want %q", gotReplaces, tt.replaces)
			}
			if s.Warning != tt.warning {
				t.Errorf("warning = %q, want %q", s.Warning, tt.warning)
			}
		})
	}
}

func TestNext(t *testing.T) {
	cfg := example(t)
	r := exampleRoster(t, cfg, "harbour-guard")
	dev := Override{ID: "c1", Roster: "harbour-guard", Person: "dev", From: local("2026-11-28 10:00"), To: local("2026-11-28 14:00")}
	tests := []struct {
		name      string
		overrides []Override
		from      string
		chain     []string // person, start of each following shift
	}{
		{"rotation", nil, "2026-11-28 12:00", []string{"ben 2026-11-28 19:00", "chloe 2026-11-29 07:00", "amara 2026-11-29 19:00"}},
		{"through a cover", []Override{dev}, "2026-11-28 09:00", []string{"dev 2026-11-28 10:00", "amara 2026-11-28 14:00", "ben 2026-11-28 19:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := At(cfg, r, local(tt.from), tt.overrides)
			for _, w := range tt.chain {
				prev := s
				s = Next(cfg, r, s, tt.overrides)
				if got := personID(s) + " " + s.Start.Format("2006-01-02 15:04"); got != w {
					t.Errorf("next = %q, want %q", got, w)
				}
				if !s.Start.Equal(prev.End) {
					t.Errorf("next starts %v, previous ended %v", s.Start, prev.End)
				}
			}
		})
	}
}

func TestBetween(t *testing.T) {
	cfg := example(t)
	r := exampleRoster(t, cfg, "harbour-guard")
	dev := Override{ID: "c1", Roster: "harbour-guard", Person: "dev", From: local("2026-03-25 10:00"), To: local("2026-03-25 14:00")}
	// The week of the spring change, Monday 23 March 00:00 GMT to Monday
	// 30 March 00:00 BST: from the night shift of Sunday 22nd (shift 153,
	// day 76, amara's) to the night shift of Sunday 29th (167).
	from, to := local("2026-03-23 00:00"), local("2026-03-30 00:00")
	tests := []struct {
		name       string
		from, to   time.Time
		overrides  []Override
		count      int
		firstIndex int
		firstStart time.Time
		lastEnd    time.Time
	}{
		{"a week across the spring change", from, to, nil, 15, 153, local("2026-03-22 19:00"), local("2026-03-30 07:00")},
		{"a cover splits one shift in three", from, to, []Override{dev}, 17, 153, local("2026-03-22 19:00"), local("2026-03-30 07:00")},
		{"from exactly at a handover", local("2026-03-23 07:00"), local("2026-03-23 19:00"), nil, 1, 154, local("2026-03-23 07:00"), local("2026-03-23 19:00")},
		{"to one second after a handover", local("2026-03-23 07:00"), local("2026-03-23 19:00:01"), nil, 2, 154, local("2026-03-23 07:00"), local("2026-03-24 07:00")},
		{"empty range", from, from, nil, 0, 0, time.Time{}, time.Time{}},
		{"backwards range", to, from, nil, 0, 0, time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Between(cfg, r, tt.from, tt.to, tt.overrides)
			if len(got) != tt.count {
				t.Fatalf("%d shifts, want %d", len(got), tt.count)
			}
			if tt.count == 0 {
				return
			}
			first, last := got[0], got[len(got)-1]
			if first.Index != tt.firstIndex || !first.Start.Equal(tt.firstStart) || !last.End.Equal(tt.lastEnd) {
				t.Errorf("first shift %d from %v, last ends %v; want %d from %v, last ends %v",
					first.Index, first.Start, last.End, tt.firstIndex, tt.firstStart, tt.lastEnd)
			}
			for i, s := range got {
				if !s.End.After(s.Start) {
					t.Errorf("shift %d is empty: [%v, %v)", i, s.Start, s.End)
				}
				if s.Cover == nil {
					if want := r.Rotation.People[mod(s.Index, 3)]; personID(s) != want {
						t.Errorf("shift %d (index %d): %q on duty, want %q", i, s.Index, personID(s), want)
					}
				}
				if i == 0 {
					continue
				}
				prev := got[i-1]
				if !s.Start.Equal(prev.End) {
					t.Errorf("gap or overlap: shift %d starts %v, shift %d ended %v", i, s.Start, i-1, prev.End)
				}
				if d := s.Index - prev.Index; d != 0 && d != 1 {
					t.Errorf("index jumps from %d to %d", prev.Index, s.Index)
				}
			}
		})
	}
}

func TestOnDuty(t *testing.T) {
	cfg := example(t)
	at := local("2026-11-28 12:00")
	tests := []struct {
		site, role string
		ok         bool
		person     string
	}{
		{"harbour", "guard", true, "amara"},
		{"depot", "guard", true, "dev"}, // shift 654 of dev, elena
		{"depot", "supervisor", true, "farid"},
		{"harbour", "medic", false, ""},
		{"nowhere", "guard", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.site+"/"+tt.role, func(t *testing.T) {
			s, ok := OnDuty(cfg, tt.site, tt.role, at, nil)
			if ok != tt.ok || personID(s) != tt.person {
				t.Errorf("OnDuty = %q, %v; want %q, %v", personID(s), ok, tt.person, tt.ok)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	cfg := example(t)
	guard := exampleRoster(t, cfg, "harbour-guard")
	fa := exampleRoster(t, cfg, "harbour-first-aider")
	dev := Override{ID: "c1", Roster: "harbour-guard", Person: "dev", From: local("2026-11-28 10:00"), To: local("2026-11-28 14:00")}
	hugo := Override{ID: "c2", Roster: "harbour-guard", Person: "hugo", From: local("2026-11-28 10:00"), To: local("2026-11-28 14:00")}
	tests := []struct {
		name      string
		r         *configs.Roster
		at        string
		overrides []Override
		noNext    bool
		want      string
	}{
		{"plain", guard, "2026-11-28 12:00", nil, false, "guard: Amara Okafor until 19:00 (Sat 28 Nov); next Ben Walsh"},
		{"without next", guard, "2026-11-28 12:00", nil, true, "guard: Amara Okafor until 19:00 (Sat 28 Nov)"},
		{"skipped", fa, "2027-09-11 12:00", nil, false, "first-aider: Chloe Martin until 19:00 (Sat 11 Sep) (skipped Ben Walsh: first-aid expired 2027-08-31); next Chloe Martin"},
		{"nobody", fa, "2028-02-10 12:00", nil, false, "first-aider: nobody qualified until 19:00 (Thu 10 Feb) (skipped Chloe Martin: first-aid expired 2028-01-31; Amara Okafor: first-aid expired 2027-09-30; Ben Walsh: first-aid expired 2027-08-31); next nobody qualified"},
		{"cover", guard, "2026-11-28 12:00", []Override{dev}, false, "guard: Dev Patel covering for Amara Okafor until 14:00 (Sat 28 Nov); next Amara Okafor"},
		{"next is a cover", guard, "2026-11-28 09:00", []Override{dev}, false, "guard: Amara Okafor until 10:00 (Sat 28 Nov); next Dev Patel (cover)"},
		{"cover when nobody qualified", fa, "2028-02-10 12:00", []Override{{ID: "c3", Roster: "harbour-first-aider", Person: "elena", From: local("2028-02-10 08:00"), To: local("2028-02-10 19:00")}}, true,
			"first-aider: Elena Rossi (cover) until 19:00 (Thu 10 Feb) (not qualified: first-aid expired 2027-06-30)"},
		{"override", fa, "2028-02-10 12:00", []Override{{ID: "c4", Roster: "harbour-first-aider", Person: "elena", From: local("2028-02-10 08:00"), To: local("2028-02-10 19:00"),
			By: "jonah", Reason: "nobody else on site", Overrode: "not qualified: first-aid expired 2027-06-30"}}, true,
			`first-aider: Elena Rossi (cover) until 19:00 (Thu 10 Feb) (not qualified: first-aid expired 2027-06-30) (override by Jonah Reid: "nobody else on site")`},
		{"unqualified cover", guard, "2026-11-28 12:00", []Override{hugo}, false, "guard: Hugo Brennan covering for Amara Okafor until 14:00 (Sat 28 Nov) (not qualified: has no sia-licence); next Amara Okafor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := At(cfg, tt.r, local(tt.at), tt.overrides)
			var next *Shift
			if !tt.noNext {
				n := Next(cfg, tt.r, s, tt.overrides)
				next = &n
			}
			if got := Describe(s, next, cfg.Location()); got != tt.want {
				t.Errorf("Describe =\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}

// TestClockChangesEverywhere checks, for many rotations around every clock
// change of a few awkward zones, that shifts tile time: each starts where
// the last ended, none is empty, At agrees with Between, and every
// handover is at a rostered wall-clock time unless that time did not
// exist (then it is the instant the clocks jumped).
func TestClockChangesEverywhere(t *testing.T) {
	zones := []struct {
		name string
		year int
	}{
		{"Europe/London", 2026},
		{"America/Santiago", 2026},    // changes at midnight
		{"Australia/Lord_Howe", 2026}, // 30-minute DST
		{"Pacific/Apia", 2011},        // skipped 30 December 2011 entirely
	}
	shifts := []time.Duration{time.Hour, 3 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}
	handovers := []string{"00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "23:00", "23:30"}
	people := []configs.Person{person("a", "A"), person("b", "B"), person("c", "C")}
	for _, z := range zones {
		loc := mustLoad(z.name)
		var changes []time.Time
		for t0 := time.Date(z.year, 1, 1, 0, 0, 0, 0, loc); ; {
			_, end := t0.ZoneBounds()
			if end.IsZero() || end.Year() > z.year {
				break
			}
			changes = append(changes, end)
			t0 = end
		}
		if len(changes) == 0 {
			t.Fatalf("%s: no clock changes in %d", z.name, z.year)
		}
		for _, sh := range shifts {
			for _, h := range handovers {
				cfg, r := handBuilt(sh, h, configs.Date{Year: z.year, Month: 1, Day: 3}, people, []string{"a", "b", "c"})
				cfg.Timezone = z.name
				hm := h
				for _, change := range changes {
					from, to := change.Add(-36*time.Hour), change.Add(36*time.Hour)
					got := Between(cfg, r, from, to, nil)
					name := fmt.Sprintf("%s %v from %s around %s", z.name, sh, h, change.In(loc).Format(time.DateTime+" MST"))
					for i, s := range got {
						if !s.End.After(s.Start) {
							t.Errorf("%s: shift %d empty at %v", name, s.Index, s.Start)
						}
						if i > 0 && (!s.Start.Equal(got[i-1].End) || s.Index <= got[i-1].Index) {
							t.Errorf("%s: shift %d [%v] does not follow shift %d [%v)", name, s.Index, s.Start, got[i-1].Index, got[i-1].End)
						}
						if i > 0 && s.Index != got[i-1].Index+1 && !isJump(s.Start) {
							t.Errorf("%s: shift %d follows %d away from a clock change", name, s.Index, got[i-1].Index)
						}
						if !onRosteredClock(s.Start, hm, sh) && !isJump(s.Start) {
							t.Errorf("%s: shift %d starts at %s, not a handover time", name, s.Index, s.Start.Format(time.DateTime+" MST"))
						}
					}
					for at := from; at.Before(to); at = at.Add(20 * time.Minute) {
						s := At(cfg, r, at, nil)
						i := slices.IndexFunc(got, func(g Shift) bool { return !g.Start.After(at) && g.End.After(at) })
						if i < 0 || got[i].Index != s.Index || !got[i].Start.Equal(s.Start) || !got[i].End.Equal(s.End) {
							t.Errorf("%s: At(%v) = shift %d [%v, %v), not what Between says", name, at, s.Index, s.Start, s.End)
						}
					}
				}
			}
		}
	}
}

// isJump reports whether t is the instant a zone's clocks changed.
func isJump(t time.Time) bool {
	start, _ := t.ZoneBounds()
	return start.Equal(t)
}

// onRosteredClock reports whether t's local clock reads a handover time of
// a rotation starting at handover every shift.
func onRosteredClock(t time.Time, handover string, shift time.Duration) bool {
	h, _ := time.Parse("15:04", handover)
	first := time.Duration(h.Hour())*time.Hour + time.Duration(h.Minute())*time.Minute
	at := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	step := min(shift, 24*time.Hour)
	return t.Second() == 0 && ((at-first)%step+step)%step == 0
}
