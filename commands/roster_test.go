package commands_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/report"
	"github.com/muster-ops/muster/store"
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
			"Harbour Point HQ, next shift (Sat 28 Nov 08:00 GMT):\n  guard: Ben Walsh from 19:00 (Sat 28 Nov) until 07:00 (Sun 29 Nov); next Chloe Martin"},
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
// /roster then names the cover until it ends. Ben is off duty on Saturday
// morning (his night shift, 655, starts at 19:00).
func TestRosterCover(t *testing.T) {
	f := newFixture(t, saturday0800)
	const cover = "/roster cover harbour-guard ben now 4h"

	checkUsage(t, f.as(t, "amara", cover), "supervisor", "control", "coordinator")
	if o, err := f.st.Overrides(t.Context()); err != nil || len(o) != 0 {
		t.Fatalf("after a guard's cover, overrides = %+v, %v; want none", o, err)
	}
	if len(f.out.sent()) != 0 {
		t.Errorf("a refused cover sent %+v", f.out.sent())
	}

	r := f.mustOK(t, "farid", cover)
	want := "Cover C-1: Ben Walsh is on harbour-guard (guard) from Sat 28 Nov 08:00 to Sat 28 Nov 12:00, put in by Farid Haddad."
	if r.Text != want || !r.Public {
		t.Errorf("cover reply = %+v, want public %q", r, want)
	}
	o, err := f.st.Overrides(t.Context())
	if err != nil || len(o) != 1 || o[0].Person != "ben" || o[0].Roster != "harbour-guard" || o[0].By != "farid" ||
		!o[0].From.Equal(saturday0800) || !o[0].To.Equal(saturday0800.Add(4*time.Hour)) || o[0].Reason != "" {
		t.Fatalf("overrides = %+v, %v", o, err)
	}
	if sent := f.out.sent(); len(sent) != 1 || sent[0].Channel != notify.Chat || sent[0].Site != "harbour" || sent[0].Text != want {
		t.Errorf("cover fan-out = %+v, want one post to #harbour", sent)
	}

	r = f.mustOK(t, "amara", "/roster @harbour guard")
	if want := "\n  guard: Ben Walsh covering for Amara Okafor until 12:00 (Sat 28 Nov); next Amara Okafor"; !strings.HasSuffix(r.Text, want) {
		t.Errorf("/roster during the cover = %q, want it to end %q", r.Text, want)
	}

	// When the cover ends, the rotation is back.
	f.set(saturday0800.Add(4 * time.Hour))
	r = f.mustOK(t, "amara", "/roster @harbour guard")
	if want := "\n  guard: Amara Okafor until 19:00 (Sat 28 Nov); next Ben Walsh"; !strings.HasSuffix(r.Text, want) {
		t.Errorf("/roster after the cover = %q, want it to end %q", r.Text, want)
	}
}

// TestRosterCoverRefused: a cover for someone without a required
// qualification, or on duty elsewhere then, is refused with the reasons
// and records nothing; with --override <reason> from a supervisor it
// goes in, and the override and its reason show in /roster and in the
// audit export.
func TestRosterCoverRefused(t *testing.T) {
	// Sat 4 Dec 2027, 10:00 GMT: Ben's SIA licence lapsed on 30 Nov.
	at := time.Date(2027, 12, 4, 10, 0, 0, 0, time.UTC)
	f := newFixture(t, at)
	r := f.as(t, "farid", "/roster cover harbour-guard ben now 4h")
	checkUsage(t, r, "Cover refused: Ben Walsh is not qualified: sia-licence expired 2027-11-30", "add --override <reason>")
	// Hugo is no guard, and is on control duty then.
	r = f.as(t, "jonah", "/roster cover harbour-guard hugo 10:30 12:00")
	checkUsage(t, r, "Cover refused: Hugo Brennan is not qualified: has no sia-licence; on duty on harbour-control (control, a remote desk) from Sat 4 Dec 10:30 to Sat 4 Dec 12:00")
	checkUsage(t, f.as(t, "farid", "/roster cover harbour-guard ben now 4h --override"), "Say why you override: --override <reason>")
	if o, err := f.st.Overrides(t.Context()); err != nil || len(o) != 0 {
		t.Fatalf("after refused covers, overrides = %+v, %v; want none", o, err)
	}
	if len(f.out.sent()) != 0 {
		t.Errorf("a refused cover was announced: %+v", f.out.sent())
	}

	r = f.mustOK(t, "farid", `/roster cover harbour-guard ben now 4h --override "nobody else can reach the gate; Ben stays in the gatehouse"`)
	want := `Cover C-1: Ben Walsh is on harbour-guard (guard) from Sat 4 Dec 10:00 to Sat 4 Dec 14:00, put in by Farid Haddad. Override by Farid Haddad (nobody else can reach the gate; Ben stays in the gatehouse): not qualified: sia-licence expired 2027-11-30.`
	if r.Text != want || !r.Public {
		t.Errorf("override reply = %+v, want public %q", r, want)
	}
	r = f.mustOK(t, "amara", "/roster @harbour guard")
	if !strings.Contains(r.Text, `guard: Ben Walsh covering for`) || !strings.Contains(r.Text, `(not qualified: sia-licence expired 2027-11-30) (override by Farid Haddad: "nobody else can reach the gate; Ben stays in the gatehouse")`) {
		t.Errorf("/roster during the override = %q", r.Text)
	}
	r = f.mustOK(t, "amara", "/roster @harbour week guard")
	if !strings.Contains(r.Text, `Ben Walsh (cover) (override: "nobody else can reach the gate; Ben stays in the gatehouse")`) {
		t.Errorf("/roster week during the override = %q", r.Text)
	}

	var out, errOut strings.Builder
	if code := report.RunCLI(t.Context(), []string{"audit", "export"}, f.cfg, f.st, &out, &errOut); code != 0 {
		t.Fatalf("audit export: %d %s", code, errOut.String())
	}
	var found bool
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, `"kind":"roster.override"`) {
			found = strings.Contains(line, `\"override\":\"nobody else can reach the gate; Ben stays in the gatehouse\"`) &&
				strings.Contains(line, `\"overrode\":\"not qualified: sia-licence expired 2027-11-30\"`) && strings.Contains(line, `"actor":"farid"`)
			if !found {
				t.Errorf("the cover's audit event lacks the override: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("no roster.override event in the export:\n%s", out.String())
	}
}

// TestRosterFlagsLongStints: on 11 Sep 2027 Ben's first aid has lapsed,
// so Chloe, next in rotation, takes his first-aider day shift (1228) and
// then works her own guard night (1229): 24h without a break. /roster
// and `muster roster` flag her; nobody else.
func TestRosterFlagsLongStints(t *testing.T) {
	at := time.Date(2027, 9, 11, 11, 0, 0, 0, time.UTC) // 12:00 BST
	f := newFixture(t, at)
	r := f.mustOK(t, "farid", "/roster @harbour")
	const flag = "[Chloe Martin on duty 24h without a break from 07:00 Sat 11 Sep, past max_continuous 16h]"
	if !strings.Contains(r.Text, "first-aider: Chloe Martin until 19:00 (Sat 11 Sep) (skipped Ben Walsh: first-aid expired 2027-08-31); next Chloe Martin "+flag) {
		t.Errorf("/roster @harbour = %q, want Chloe flagged", r.Text)
	}
	if strings.Count(r.Text, "without a break") != 1 {
		t.Errorf("/roster @harbour flags more than Chloe's stretch, once: %q", r.Text)
	}
	site, _ := f.cfg.Site("harbour")
	if cli := commands.RosterText(f.cfg, []configs.Site{*site}, "", "now", at, nil); cli != r.Text {
		t.Errorf("muster roster = %q, /roster = %q", cli, r.Text)
	}
	// A cover that keeps someone on is flagged in its reply.
	// Ben's own day shift ends at 19:00: four hours more is 16h, the
	// limit itself, not past it.
	r = f.mustOK(t, "farid", "/roster cover harbour-guard ben 19:00 23:00")
	if strings.Contains(r.Text, "Warning") {
		t.Errorf("cover reply = %q, want no warning at exactly 16h", r.Text)
	}
	r = f.mustOK(t, "farid", "/roster cover harbour-guard ben 19:00 23:30")
	if !strings.Contains(r.Text, "Warning: Ben Walsh on duty 16h30m without a break from 07:00 Sat 11 Sep, past max_continuous 16h.") {
		t.Errorf("cover reply = %q, want Ben flagged", r.Text)
	}
}

// TestCoverFromNowJoinsOpenRollCall: a cover that puts someone on duty
// now, during an open roll call at the site, asks them in it at once (due
// now, asked once however often it is said); a cover that starts later
// does not (the hand-over loop adds its person when it starts).
func TestCoverFromNowJoinsOpenRollCall(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, saturday0800)
	onDuty := map[string]bool{}
	for _, sh := range roster.Everyone(f.cfg, "harbour", f.now, nil) {
		onDuty[sh.Person.ID] = true
	}
	r, _ := f.cfg.Roster("harbour-guard")
	var off []string
	for _, p := range r.Rotation.People {
		if !onDuty[p] {
			off = append(off, p)
		}
	}
	if len(off) < 2 {
		t.Fatalf("harbour guards off duty at %s: %v; the test wants two", f.now, off)
	}
	f.mustOK(t, "farid", "/rollcall start @harbour")
	rc, err := f.st.RollCall(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	asked := rc.Total

	later := f.mustOK(t, "farid", "/roster cover harbour-guard "+off[1]+" 10:30 12:00 --override test")
	if strings.Contains(later.Text, "is asked in open roll call") {
		t.Errorf("a cover from 10:30 asked its person at 08:00: %q", later.Text)
	}
	if _, _, err := f.st.RollCallEntry(ctx, rc.Num, off[1]); err == nil {
		t.Errorf("%s, on duty from 10:30, is already in %s", off[1], rc.ID())
	}

	f.set(f.now.Add(5 * time.Minute))
	rep := f.mustOK(t, "farid", "/roster cover harbour-guard "+off[0]+" now 4h --override test")
	p, _ := f.cfg.Person(off[0])
	if want := p.Name + " is asked in open roll call R-1."; !strings.HasSuffix(rep.Text, want) {
		t.Errorf("cover reply %q does not end %q", rep.Text, want)
	}
	_, tk, err := f.st.RollCallEntry(ctx, rc.Num, off[0])
	if err != nil {
		t.Fatalf("%s, on duty from now by a cover, is not in %s: %v", off[0], rc.ID(), err)
	}
	if tk.Status != store.TaskOpen || !tk.Due.Equal(f.now) || tk.Site != "harbour" {
		t.Errorf("their question: %s at %s due %s, want open at harbour, due now (%s)", tk.Status, tk.Site, tk.Due, f.now)
	}
	// The same cover again (a second cover for the same person): no
	// second question.
	if rep := f.mustOK(t, "farid", "/roster cover harbour-guard "+off[0]+" now 2h --override test"); strings.Contains(rep.Text, "is asked") {
		t.Errorf("asked twice: %q", rep.Text)
	}
	if rc, err = f.st.RollCall(ctx, rc.Num); err != nil || rc.Total != asked+1 {
		t.Errorf("%s asks %d, want %d: %v", rc.ID(), rc.Total, asked+1, err)
	}
}
