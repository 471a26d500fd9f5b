package commands_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// TestActions walks corrective actions through their life on Saturday 28
// Nov 2026: recorded against an incident, an activation and a review,
// done by their owners, verified by a coordinator, listed and found
// overdue.
func TestActions(t *testing.T) {
	f := newFixture(t, saturday0800)
	f.mustOK(t, "amara", "/incident raise intrusion sev2 @harbour Gate B forced")
	f.mustOK(t, "dev", "/incident raise theft sev3 @depot Fuel card missing")
	before := len(f.out.sent())

	for _, tc := range []struct {
		as, line string
		hints    []string
	}{
		{"amara", "/action add INC-1 ben 14d Replace the lock", []string{"Only a supervisor, control or a coordinator"}},
		{"farid", "/action add INC-1 ben 14d", []string{"Usage: /action add <INC-n|A-n|D-n|review> <owner> <due> <text>"}},
		{"farid", "/action add INC-9 ben 14d Replace the lock", []string{"There is no INC-9"}},
		{"farid", "/action add T-1 ben 14d Replace the lock", []string{`"T-1" is not INC-n, A-n, D-n or review`}},
		{"farid", "/action add INC-1 zoe 14d Replace the lock", []string{`Unknown owner "zoe"`}},
		{"farid", "/action add INC-1 ben soon Replace the lock", []string{`"soon" is not a due date`}},
		{"farid", "/action add INC-1 ben 2026-11-27 Replace the lock", []string{"2026-11-27 is in the past"}},
		{"farid", "/action frobnicate", []string{"Unknown /action frobnicate", "Usage: /action add"}},
		{"farid", "/action", []string{"Usage: /action add"}},
	} {
		checkUsage(t, f.as(t, tc.as, tc.line), tc.hints...)
	}

	r := f.mustOK(t, "farid", "/action add INC-1 ben 14d Replace the lock on gate B")
	if want := "CA-1 recorded for INC-1 by Farid Haddad: Replace the lock on gate B. Owner Ben Walsh, due Sat 12 Dec 2026. Done with /action done CA-1."; r.Text != want {
		t.Errorf("add = %q, want %q", r.Text, want)
	}
	if sent := f.out.sent()[before:]; len(sent) != 1 || sent[0].Channel != notify.Chat || sent[0].To != "ben" ||
		sent[0].Text != "Farid Haddad put you down for CA-1 (INC-1), due Sat 12 Dec 2026: Replace the lock on gate B. When it is done: /action done CA-1 [note]" {
		t.Errorf("the owner was not told: %+v", sent)
	}
	f.mustOK(t, "jonah", "/action add INC-2 dev 2026-12-01 Cancel the fuel card")
	f.mustOK(t, "jonah", "/action add review grace 2026-11-30 Write the lone-working procedure")

	// Only the owner (or a coordinator) marks it done; a coordinator
	// verifies it, once done.
	checkUsage(t, f.as(t, "chloe", "/action done CA-1"), "CA-1 is Ben Walsh's; only they or a coordinator may mark it done")
	checkUsage(t, f.as(t, "jonah", "/action verify CA-1 effective"), "CA-1 is still open")
	r = f.mustOK(t, "ben", "/action done CA-1 new lock fitted")
	if !strings.HasPrefix(r.Text, "CA-1 (INC-1) done by Ben Walsh: Replace the lock on gate B (new lock fitted).") {
		t.Errorf("done = %q", r.Text)
	}
	checkUsage(t, f.as(t, "ben", "/action done CA-1"), "CA-1 is already done")
	checkUsage(t, f.as(t, "farid", "/action verify CA-1 effective"), "Only a coordinator may verify")
	checkUsage(t, f.as(t, "jonah", "/action verify CA-1 maybe"), `"maybe": say effective or ineffective`)
	r = f.mustOK(t, "jonah", "/action verify CA-1 ineffective the gate was forced again")
	if !strings.Contains(r.Text, "CA-1 (INC-1) verified ineffective by Jonah Reid") || !strings.Contains(r.Text, "record a new action with /action add INC-1") {
		t.Errorf("verify = %q", r.Text)
	}
	checkUsage(t, f.as(t, "jonah", "/action verify CA-1 effective"), "CA-1 is already verified")
	a, err := f.st.Action(t.Context(), 1)
	if err != nil || a.Status != store.ActionVerified || a.Effective != store.ActionIneffective || a.VerifyNote != "the gate was forced again" || a.DoneNote != "new lock fitted" {
		t.Errorf("CA-1 = %+v %v", a, err)
	}

	// Lists.
	list := func(as, line, want string) {
		t.Helper()
		if r := f.mustOK(t, as, line); r.Text != want {
			t.Errorf("%s (as %s) =\n%s\nwant\n%s", line, as, r.Text, want)
		}
	}
	list("amara", "/action list", "Open corrective actions (2):\nCA-2 INC-2 open, due Tue 1 Dec 2026, Dev Patel: Cancel the fuel card\nCA-3 review open, due Mon 30 Nov 2026, Grace Kim: Write the lone-working procedure")
	list("amara", "/action list open @depot", "Open corrective actions at Riverside Depot (1):\nCA-2 INC-2 open, due Tue 1 Dec 2026, Dev Patel: Cancel the fuel card")
	list("ben", "/action list mine", "Your corrective actions: none.")
	list("dev", "/action list mine", "Your corrective actions (1):\nCA-2 INC-2 open, due Tue 1 Dec 2026, Dev Patel: Cancel the fuel card")
	list("amara", "/action list overdue", "Overdue corrective actions: none.")
	f.set(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	list("amara", "/action list overdue", "Overdue corrective actions (1):\nCA-3 review open, due Mon 30 Nov 2026 (overdue), Grace Kim: Write the lone-working procedure")
	checkUsage(t, f.as(t, "amara", "/action list later"), `"later" is not mine, open or overdue`)
	checkUsage(t, f.as(t, "amara", "/action list @moon"), "Unknown site @moon")

	// By SMS an owner marks their own action done; recording is for chat.
	sms := func(phone, text string) commands.Reply {
		return f.svc.Handle(t.Context(), commands.Request{Platform: commands.PlatformSMS, UserID: phone, Text: text})
	}
	if r := sms("+447700900107", "ACTION DONE CA-3 written and filed"); r.Error || !strings.HasPrefix(r.Text, "CA-3 (review) done by Grace Kim") {
		t.Errorf("SMS done by the owner: %+v", r)
	}
	if r := sms("+447700900110", "ACTION DONE CA-2"); !r.Error || !strings.Contains(r.Text, "CA-2 is Dev Patel's") {
		t.Errorf("SMS done of another's action, even by a coordinator: %+v", r)
	}
	if r := sms("+447700900110", "ACTION ADD INC-1 ben 14d x"); !r.Error || !strings.Contains(r.Text, "record actions in chat") {
		t.Errorf("SMS add: %+v", r)
	}
}

// /drill action stays the drill's shorthand: owned by whoever records it,
// due in 30 days, listed with the drill.
func TestDrillActionShorthand(t *testing.T) {
	f := newFixture(t, saturday0800)
	f.mustOK(t, "jonah", "/drill start fire-evacuation @harbour")
	r := f.mustOK(t, "jonah", "/drill action D-1 Mark the sweep route on the floor plans")
	if want := "CA-1 recorded for D-1 by Jonah Reid: Mark the sweep route on the floor plans. Owner Jonah Reid, due Mon 28 Dec 2026. Done with /action done CA-1."; r.Text != want {
		t.Errorf("/drill action = %q, want %q", r.Text, want)
	}
	r = f.mustOK(t, "amara", "/action list")
	if !strings.Contains(r.Text, "CA-1 D-1 open, due Mon 28 Dec 2026, Jonah Reid: Mark the sweep route") {
		t.Errorf("/action list = %q", r.Text)
	}
	f.mustOK(t, "jonah", "/drill action done 1 plans updated")
	f.mustOK(t, "jonah", "/action verify CA-1 effective second sweep took half the time")
	r = f.mustOK(t, "amara", "/drill action list D-1")
	if r.Text != "Corrective actions of D-1 (1):\nCA-1 D-1 verified effective, due Mon 28 Dec 2026, Jonah Reid: Mark the sweep route on the floor plans" {
		t.Errorf("/drill action list D-1 = %q", r.Text)
	}
}
