package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// A HELP journalled during an outage whose roll call is in another
// process's journal, replayed first: its sev1 is raised at once (a call
// for help never waits), and the roll call's replay links it rather than
// raising a second one. Replaying either again writes nothing.
func TestDegradedHelpBeforeItsRollCall(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Minute)
	st := storetest.Open(t, func() time.Time { return now })
	help := store.DegradedActivation{ID: "dg-help-1", At: t0.Add(time.Minute), By: "amara", Site: "harbour",
		Answer: &store.DegradedAnswer{Person: "amara", Answer: store.AnswerHelp, Note: "stuck in the lift", Category: "injury",
			Text: "Amara Okafor needs help (" + store.IDPlaceholder + "): stuck in the lift"}}
	rc := store.DegradedActivation{ID: "dg-rc-1", At: t0, By: "farid", RollCall: &store.DegradedRollCall{Sites: []string{"harbour"}, By: "farid",
		People: []store.RollCallMember{{Person: "amara", Site: "harbour"}, {Person: "hugo", Site: "harbour"}}}}

	res, err := st.ReplayDegraded(ctx, help)
	if err != nil || !res.Fresh || res.Activation != "pending" {
		t.Fatalf("HELP replayed first = %+v, %v", res, err)
	}
	inc, err := st.Incident(ctx, 1)
	if err != nil {
		t.Fatalf("no incident for the HELP: %v", err)
	}
	if inc.Severity != "sev1" || inc.Site != "harbour" || !strings.Contains(inc.Text, "needs help (by SMS in degraded mode): stuck in the lift") {
		t.Errorf("incident = %+v", inc)
	}
	if res, err := st.ReplayDegraded(ctx, rc); err != nil || !res.Fresh || res.Activation != "R-1" {
		t.Fatalf("roll call replay = %+v, %v", res, err)
	}
	for _, e := range []store.DegradedActivation{help, rc} {
		if res, err := st.ReplayDegraded(ctx, e); err != nil || res.Fresh {
			t.Fatalf("second replay of %s = %+v, %v", e.ID, res, err)
		}
	}
	r, err := st.RollCall(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != 2 || r.Help != 1 || r.Safe != 0 {
		t.Errorf("R-1 = %+v", r)
	}
	people, err := st.RollCallPeople(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range people {
		if p.Person == "amara" && (p.Status != store.AnswerHelp || p.Incident != 1 || !p.Answered.Equal(help.At)) {
			t.Errorf("amara in R-1 = %+v", p)
		}
	}
	if n, err := st.Client().Get(ctx, st.Key("seq", "incident")).Int64(); err != nil || n != 1 {
		t.Errorf("%d incidents, want the one HELP's (%v)", n, err)
	}
	if v := storetest.SealAndVerify(t, st); !v.OK() {
		t.Fatalf("audit verify: %v", v.Problem)
	}
}

// A degraded roll call sent its SMS question at t0: once recorded, whoever
// has not answered is at step 1 (the reminder) due the policy's first wait
// after t0, not asked again at once; a SAFE from the same journal is
// recorded once and leaves no deadline. An entry that does not say the
// question went out (an older journal) asks again at once (step 0, due
// now).
func TestDegradedRollCallAskedWhenSent(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Minute)
	st := storetest.Open(t, func() time.Time { return now })
	wait := 2 * time.Minute
	rc := store.DegradedActivation{ID: "dg-rc-1", At: t0, By: "farid", RollCall: &store.DegradedRollCall{Sites: []string{"harbour"}, By: "farid",
		Policy: "rollcall", Asked: true, Wait: wait.Milliseconds(),
		People: []store.RollCallMember{{Person: "amara", Site: "harbour"}, {Person: "hugo", Site: "harbour"}}}}
	safe := store.DegradedActivation{ID: "dg-safe-1", At: t0.Add(30 * time.Second), By: "amara",
		Answer: &store.DegradedAnswer{Person: "amara", Answer: store.AnswerSafe}}
	for _, e := range []store.DegradedActivation{rc, safe, rc, safe} {
		if _, err := st.ReplayDegraded(ctx, e); err != nil {
			t.Fatalf("replay %s: %v", e.ID, err)
		}
	}
	people, err := st.RollCallPeople(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(people) != 2 {
		t.Fatalf("R-1 people = %+v", people)
	}
	for _, p := range people {
		tk, err := st.Task(ctx, p.Task)
		if err != nil {
			t.Fatal(err)
		}
		score, serr := st.Client().ZScore(ctx, st.Key("timers"), fmt.Sprint(p.Task)).Result()
		switch p.Person {
		case "amara":
			if p.Status != store.AnswerSafe || !p.Answered.Equal(safe.At) || serr == nil {
				t.Errorf("amara: %s at %s, timer %v (%v); want safe at %s and no deadline", p.Status, p.Answered, score, serr, safe.At)
			}
		case "hugo":
			if due := t0.Add(wait); tk.Step != 1 || !tk.Due.Equal(due) || serr != nil || int64(score) != due.UnixMilli() || !p.Asked.Equal(t0) {
				t.Errorf("hugo: step %d due %s asked %s, timer %v (%v); want step 1 (the reminder) due %s, asked %s", tk.Step, tk.Due, p.Asked, score, serr, due, t0)
			}
		}
	}
	evs, err := st.AuditEvents(ctx, t0, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Kind == "rollcall.safe" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d rollcall.safe events, want 1", n)
	}

	old := store.DegradedActivation{ID: "dg-rc-old", At: t0, By: "farid", RollCall: &store.DegradedRollCall{Sites: []string{"depot"}, By: "farid",
		People: []store.RollCallMember{{Person: "dev", Site: "depot"}}}}
	if _, err := st.ReplayDegraded(ctx, old); err != nil {
		t.Fatal(err)
	}
	_, tk, err := st.RollCallEntry(ctx, 2, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if tk.Step != 0 || !tk.Due.Equal(now) {
		t.Errorf("older entry: dev at step %d due %s, want step 0 due now (%s)", tk.Step, tk.Due, now)
	}
}

// An unsure HELP (from someone the receiving process knew in no roll
// call) replayed before a roll call that asked them raises nothing on its
// own; the roll call's replay takes it, raising its sev1 and queueing the
// pages nobody sent while records were unavailable.
func TestDegradedUnsureHelpTakenByRollCall(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Minute)
	st := storetest.Open(t, func() time.Time { return now })
	help := store.DegradedActivation{ID: "dg-help-u", At: t0.Add(time.Minute), By: "amara", Site: "harbour",
		Answer: &store.DegradedAnswer{Person: "amara", Answer: store.AnswerHelp, Category: "injury", Unsure: true,
			Text:     "Amara Okafor needs help (" + store.IDPlaceholder + ")",
			Messages: []store.OutMessage{{Channel: "sms", To: "hugo", Kind: "page", Text: "HELP: Amara Okafor. " + store.IDPlaceholder + " sev1 raised"}}}}
	if res, err := st.ReplayDegraded(ctx, help); err != nil || res.Activation != "pending" {
		t.Fatalf("unsure HELP replayed first = %+v, %v", res, err)
	}
	if n, _ := st.Client().Get(ctx, st.Key("seq", "incident")).Int64(); n != 0 {
		t.Fatalf("an unsure HELP raised %d incidents on its own", n)
	}
	rc := store.DegradedActivation{ID: "dg-rc-u", At: t0, By: "farid", RollCall: &store.DegradedRollCall{Sites: []string{"harbour"}, By: "farid",
		Asked: true, People: []store.RollCallMember{{Person: "amara", Site: "harbour"}}}}
	if res, err := st.ReplayDegraded(ctx, rc); err != nil || res.Activation != "R-1" {
		t.Fatalf("roll call replay = %+v, %v", res, err)
	}
	people, err := st.RollCallPeople(ctx, 1)
	if err != nil || len(people) != 1 || people[0].Status != store.AnswerHelp || people[0].Incident != 1 {
		t.Fatalf("R-1 people = %+v, %v", people, err)
	}
	msgs, err := st.Client().XRange(ctx, st.Key("outbox"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	for _, m := range msgs {
		if m.Values["kind"] == "page" && m.Values["to"] == "hugo" && strings.Contains(fmt.Sprint(m.Values["text"]), "INC-1 sev1 raised") {
			pages++
		}
	}
	if pages != 1 {
		t.Errorf("%d pages naming INC-1 queued, want 1: %+v", pages, msgs)
	}
}

// An SMS answer journalled during an outage and replayed into a live roll
// call (open before Redis went down, or seen by another process) moves
// the person in the tally's lines as a live answer does: the card and
// /rollcall status name them safe, not still unanswered.
func TestDegradedAnswerKeepsLiveTallyLines(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	now := t0
	st := storetest.Open(t, func() time.Time { return now })
	num, _, err := st.StartRollCall(ctx, store.NewRollCall{Sites: []string{"harbour"}, By: "farid",
		People: []store.RollCallMember{{Person: "amara", Site: "harbour"}, {Person: "hugo", Site: "harbour"}}})
	if err != nil {
		t.Fatal(err)
	}
	now = t0.Add(5 * time.Minute)
	safe := store.DegradedActivation{ID: "dg-safe-live", At: t0.Add(time.Minute), By: "amara",
		Answer: &store.DegradedAnswer{Person: "amara", Answer: store.AnswerSafe}}
	if res, err := st.ReplayDegraded(ctx, safe); err != nil || res.Activation != store.FormatID("R", num) {
		t.Fatalf("replay = %+v, %v", res, err)
	}
	// One name a line: the first not yet answered is hugo, not amara.
	sample, err := st.RollCallSample(ctx, num, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range sample {
		got[p.Person] = p.Status
	}
	if len(sample) != 2 || got["amara"] != store.AnswerSafe || got["hugo"] != store.TaskOpen {
		t.Errorf("tally lines after the replayed SAFE = %+v, want amara safe and hugo open, once each", sample)
	}
}
