package commands_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/notify"
)

// The example's harbour-guard rotation: 12h shifts handed over at 07:00
// and 19:00 London time, from Mon 5 Jan 2026, people [amara, ben, chloe].
// Shift k starts on day k/2 after 5 Jan; its person is people[k mod 3].
//
//   - Sat 28 Nov is day-of-year 31+28+31+30+31+30+31+31+30+31+28 = 332,
//     so 332 - 5 = 327 days after 5 Jan. 08:00 GMT is in the day shift
//     k = 2*327 = 654, 654 mod 3 = 0: Amara until 19:00, then k = 655,
//     655 mod 3 = 1: Ben. 20:00 is k = 655: Ben until 07:00 Sunday, then
//     Chloe.
//   - Wed 15 Jul is day-of-year 196, day 191. 06:30 UTC is 07:30 BST, so
//     the day shift k = 382, 382 mod 3 = 1: Ben until 19:00, then Chloe.
//     (Reading the handover as 07:00 UTC would wrongly give the night
//     shift k = 381, Amara.)
func TestRosterAtFixedClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   time.Time
		as   string
		text string
		want string
	}{
		{"day shift", saturday0800, "amara", "/roster @harbour guard",
			"Harbour Point HQ, on duty now (Sat 28 Nov 08:00 GMT):\n  guard: Amara Okafor until 19:00 (Sat 28 Nov); next Ben Walsh"},
		{"night shift", time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC), "farid", "/roster @harbour now guard",
			"Harbour Point HQ, on duty now (Sat 28 Nov 20:00 GMT):\n  guard: Ben Walsh until 07:00 (Sun 29 Nov); next Chloe Martin"},
		{"summer time", time.Date(2026, 7, 15, 6, 30, 0, 0, time.UTC), "amara", "/roster guard @harbour",
			"Harbour Point HQ, on duty now (Wed 15 Jul 07:30 BST):\n  guard: Ben Walsh until 19:00 (Wed 15 Jul); next Chloe Martin"},
		{"next shift", saturday0800, "amara", "/roster @harbour next guard",
			"Harbour Point HQ, next shift (Sat 28 Nov 08:00 GMT):\n  guard: Ben Walsh until 07:00 (Sun 29 Nov); next Chloe Martin (from 19:00 Sat 28 Nov)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.at)
			r := f.mustOK(t, tc.as, tc.text)
			if r.Text != tc.want {
				t.Errorf("%s =\n%s\nwant\n%s", tc.text, r.Text, tc.want)
			}
			if r.Public {
				t.Errorf("a roster answer should be shown only to the sender")
			}
		})
	}
}

// TestRosterDefaultSite: /roster with no site answers for the sender's
// site (or the channel's), every role there.
func TestRosterDefaultSite(t *testing.T) {
	f := newFixture(t, saturday0800)
	r := f.mustOK(t, "dev", "/roster")
	if !strings.HasPrefix(r.Text, "Riverside Depot, on duty now") || strings.Contains(r.Text, "Harbour") {
		t.Errorf("/roster as dev = %q, want depot only", r.Text)
	}
	for _, role := range []string{"guard: ", "supervisor: ", "control: ", "coordinator: "} {
		if !strings.Contains(r.Text, "\n  "+role) {
			t.Errorf("/roster as dev = %q, want a %s line", r.Text, role)
		}
	}
	// Depot guards [dev, elena], same day shift k = 654, even: Dev.
	if !strings.Contains(r.Text, "\n  guard: Dev Patel until 19:00 (Sat 28 Nov); next Elena Rossi") {
		t.Errorf("/roster as dev = %q", r.Text)
	}
}

// TestRosterCover: a guard may not put in a cover; a supervisor may, and
// /roster then names the cover until it ends.
func TestRosterCover(t *testing.T) {
	f := newFixture(t, saturday0800)
	const cover = "/roster cover harbour-guard dev now 4h"

	checkUsage(t, f.as(t, "amara", cover), "supervisor", "control", "coordinator")
	if o, err := f.st.Overrides(t.Context()); err != nil || len(o) != 0 {
		t.Fatalf("after a guard's cover, overrides = %+v, %v; want none", o, err)
	}
	if len(f.out.sent()) != 0 {
		t.Errorf("a refused cover sent %+v", f.out.sent())
	}

	r := f.mustOK(t, "farid", cover)
	want := "Cover C-1: Dev Patel is on harbour-guard (guard) from Sat 28 Nov 08:00 to Sat 28 Nov 12:00, put in by Farid Haddad."
	if r.Text != want || !r.Public {
		t.Errorf("cover reply = %+v, want public %q", r, want)
	}
	o, err := f.st.Overrides(t.Context())
	if err != nil || len(o) != 1 || o[0].Person != "dev" || o[0].Roster != "harbour-guard" || o[0].By != "farid" ||
		!o[0].From.Equal(saturday0800) || !o[0].To.Equal(saturday0800.Add(4*time.Hour)) {
		t.Fatalf("overrides = %+v, %v", o, err)
	}
	if sent := f.out.sent(); len(sent) != 1 || sent[0].Channel != notify.Chat || sent[0].Site != "harbour" || sent[0].Text != want {
		t.Errorf("cover fan-out = %+v, want one post to #harbour", sent)
	}

	r = f.mustOK(t, "amara", "/roster @harbour guard")
	if want := "\n  guard: Dev Patel covering for Amara Okafor until 12:00 (Sat 28 Nov); next Amara Okafor"; !strings.HasSuffix(r.Text, want) {
		t.Errorf("/roster during the cover = %q, want it to end %q", r.Text, want)
	}

	// When the cover ends, the rotation is back.
	f.set(saturday0800.Add(4 * time.Hour))
	r = f.mustOK(t, "amara", "/roster @harbour guard")
	if want := "\n  guard: Amara Okafor until 19:00 (Sat 28 Nov); next Ben Walsh"; !strings.HasSuffix(r.Text, want) {
		t.Errorf("/roster after the cover = %q, want it to end %q", r.Text, want)
	}
}

// TestRosterCoverUnqualified: a cover by someone without the roster's
// qualifications is honoured, with a warning.
func TestRosterCoverUnqualified(t *testing.T) {
	f := newFixture(t, saturday0800)
	r := f.mustOK(t, "jonah", "/roster cover harbour-guard hugo 09:00 10:30")
	if !strings.Contains(r.Text, "Hugo Brennan is on harbour-guard (guard) from Sat 28 Nov 09:00 to Sat 28 Nov 10:30") ||
		!strings.Contains(r.Text, "Warning: not qualified: has no sia-licence") {
		t.Errorf("cover reply = %q", r.Text)
	}
	checkUsage(t, f.as(t, "jonah", "/roster cover harbour-guard hugo 2026-11-28T10:00 2026-11-28T09:00"), "must end after it starts")
	checkUsage(t, f.as(t, "jonah", "/roster cover harbour-guard hugo now 15d"), "at most 14 days")
}
