package roster

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// On 11 Sep 2027 Ben's first aid has lapsed (2027-08-31): the harbour's
// first-aider day shift 1228, his, goes to Chloe, whose guard night shift
// 1229 follows it. She works 07:00 Saturday to 07:00 Sunday, 24h, past the
// default max_continuous of 16h. Ben, guard on the day shift, is not.
func TestStretchAfterASkip(t *testing.T) {
	cfg := example(t)
	at := local("2027-09-11 12:00")
	d := Stretches(cfg, at, at, nil)
	st, over := d.Over("chloe", at, at)
	if !over || !st.Start.Equal(local("2027-09-11 07:00")) || !st.End.Equal(local("2027-09-12 07:00")) ||
		!slices.Equal(st.Rosters, []string{"harbour-first-aider", "harbour-guard"}) || st.Limit != 16*time.Hour {
		t.Fatalf("chloe's stretch = %+v, over %v; want 07:00 Sat to 07:00 Sun on both harbour rosters, over 16h", st, over)
	}
	if got, want := st.Flag("Chloe Martin", cfg.Location()), "Chloe Martin on duty 24h without a break from 07:00 Sat 11 Sep, past max_continuous 16h"; got != want {
		t.Errorf("flag = %q, want %q", got, want)
	}
	if st, over := d.Over("ben", at, at); over {
		t.Errorf("ben flagged: %+v", st)
	}
	// Ben's night before (1225) went to Chloe too, ahead of her own day
	// shift: 19:00 Thursday to 19:00 Friday. Amara's night between is her
	// own 12h guard and first-aider shift: not over.
	prev := local("2027-09-10 12:00")
	if st, over := Stretches(cfg, prev, prev, nil).Over("chloe", prev, prev); !over || !st.Start.Equal(local("2027-09-09 19:00")) || st.Length() != 24*time.Hour {
		t.Errorf("chloe on 10 Sep: %+v %v, want 24h from 19:00 Thursday", st, over)
	}
	night := local("2027-09-10 20:00")
	if st, ok := Stretches(cfg, night, night, nil).At("amara", night, night); !ok || st.Over() || st.Length() != 12*time.Hour {
		t.Errorf("amara on the night of 10 Sep: %+v %v, want a 12h stretch", st, ok)
	}
	// On-call duty does not count: Farid's 24h on-call supervisor day is
	// no stretch at all.
	if st, ok := d.At("farid", at, at); ok {
		t.Errorf("farid on call has a working stretch: %+v", st)
	}
}

// A cover that keeps someone on after their own shift makes one stretch
// with it.
func TestStretchWithACover(t *testing.T) {
	cfg := example(t)
	// 28 Nov 2026: Amara guards 07:00-19:00 (shift 654). A cover for her
	// from 19:00 to 01:00 makes 18h.
	cover := Override{ID: "c1", Roster: "harbour-guard", Person: "amara", From: local("2026-11-28 19:00"), To: local("2026-11-29 01:00"), By: "farid"}
	at := local("2026-11-28 20:00")
	st, over := Stretches(cfg, at, at, []Override{cover}).Over("amara", at, at)
	if !over || st.Length() != 18*time.Hour {
		t.Errorf("amara with the cover: %+v over %v, want 18h and over", st, over)
	}
	if _, over := Stretches(cfg, at, at, nil).Over("amara", local("2026-11-28 12:00"), local("2026-11-28 12:00")); over {
		t.Errorf("amara without the cover is over")
	}
}

func TestCoverProblems(t *testing.T) {
	cfg := example(t)
	tests := []struct {
		name     string
		roster   string
		person   string
		from, to string
		want     []string
	}{
		// Ben's SIA licence lapses on 30 Nov 2027.
		{"expired qualification", "harbour-guard", "ben", "2027-12-04 10:00", "2027-12-04 14:00", []string{"not qualified: sia-licence expired 2027-11-30"}},
		{"expires during the cover", "harbour-guard", "ben", "2027-11-30 20:00", "2027-12-01 02:00", []string{"not qualified: sia-licence expires 2027-11-30 during the cover"}},
		// Hugo is no guard, and on 28 Nov at 10:00 he is on control duty
		// (hand-over 08:00, shift 654: hugo) at the remote desk.
		{"unqualified and on duty elsewhere", "harbour-guard", "hugo", "2026-11-28 10:00", "2026-11-28 12:00",
			[]string{"not qualified: has no sia-licence", "on duty on harbour-control (control, a remote desk) from Sat 28 Nov 10:00 to Sat 28 Nov 12:00"}},
		// Dev guards the depot by day (shift 654).
		{"on duty at another site", "harbour-guard", "dev", "2026-11-28 10:00", "2026-11-28 12:00",
			[]string{"on duty on depot-guard (guard, Riverside Depot) from Sat 28 Nov 10:00 to Sat 28 Nov 12:00"}},
		// Dev's night is off duty; Amara's guard shift is at the same site
		// as the first-aider roster; Grace's depot supervisor day is on
		// call; a control desk is one desk for both sites.
		{"free", "harbour-guard", "dev", "2026-11-28 20:00", "2026-11-28 23:00", nil},
		{"same site", "harbour-first-aider", "amara", "2026-11-28 10:00", "2026-11-28 12:00", nil},
		{"on call elsewhere", "harbour-guard", "grace", "2026-11-28 10:00", "2026-11-28 12:00", nil},
		{"the same remote desk", "harbour-control", "ines", "2026-11-28 20:00", "2026-11-28 22:00", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := cfg.Person(tt.person)
			got := CoverProblems(cfg, exampleRoster(t, cfg, tt.roster), p, local(tt.from), local(tt.to), nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems =\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(tt.want, "\n "))
			}
		})
	}
}
