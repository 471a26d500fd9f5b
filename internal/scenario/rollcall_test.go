package scenario_test

import (
	"context"
	"strings"
	"testing"
	"time"

	slackbot "github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/report"
	"github.com/muster-ops/muster/store"
)

// A roll call at Harbour Point with four people on duty (Amara the guard,
// Farid the supervisor, Hugo in control, Jonah the coordinator): Hugo
// answers SAFE by SMS, Farid by the Safe button, Amara needs help (a sev1
// incident is raised and Farid and Hugo are paged), Jonah stays silent and
// is reminded by SMS, called, then Farid and Hugo are told. The tally card
// in the site channel reads right after every step.
func TestRollCallFourPeople(t *testing.T) {
	s := scenario.NewSlack(t)
	ctx := context.Background()
	tally := func(want ...string) {
		t.Helper()
		s.Deliver()
		c := s.Card("R-1", "C0HARBOUR")
		for _, w := range want {
			if !strings.Contains(c.Text, w) {
				t.Errorf("tally card lacks %q:\n%s", w, c.Text)
			}
		}
	}

	ans := s.Slash("U0FARID", "C0HARBOUR", "/rollcall", "start @harbour assembly point B")
	if ans.Status != 200 || !strings.Contains(ans.Text, "Roll call R-1 at Harbour Point HQ started by Farid Haddad: 4 on duty asked") {
		t.Fatalf("start: %d %q", ans.Status, ans.Text)
	}
	for _, p := range []string{"amara", "farid", "hugo", "jonah"} {
		s.ExpectSent(notify.SMS, p, "Roll call R-1", "are you safe? Reply SAFE or HELP")
		s.ExpectSent(notify.Chat, p, "Roll call R-1 at Harbour Point HQ: are you safe?")
	}
	tally("0 safe, 0 need help, 4 not yet answered of 4", "Not yet answered (4): Amara Okafor, Farid Haddad, Hugo Brennan, Jonah Reid")

	// The question card in Amara's DMs carries Safe and Need help.
	q := s.Card("T-1", "DU0AMARA")
	if !strings.Contains(string(q.Blocks), slackbot.ActionSafe) || !strings.Contains(string(q.Blocks), slackbot.ActionHelp) {
		t.Errorf("question card has no Safe/Need help buttons: %s", q.Blocks)
	}

	// Hugo by SMS.
	s.Advance(20 * time.Second)
	if r := s.SMS("+447700900108", "SAFE"); r.Error || !strings.Contains(r.Text, "recorded SAFE in roll call R-1") {
		t.Fatalf("SMS SAFE: %+v", r)
	}
	tally("1 safe, 0 need help, 3 not yet answered of 4", "Safe (1): Hugo Brennan 10:00")

	// Farid by the button on his DM card.
	s.Advance(40 * time.Second)
	if r := s.Click("U0FARID", "DU0FARID", slackbot.ActionSafe, "R-1"); !strings.Contains(r.Text, "recorded SAFE") {
		t.Fatalf("Safe button: %+v", r)
	}
	tally("2 safe, 0 need help, 2 not yet answered of 4", "Safe (2): Farid Haddad 10:01, Hugo Brennan 10:00")
	if q := s.Card("T-2", "DU0FARID"); strings.Contains(string(q.Blocks), slackbot.ActionSafe) || !strings.Contains(string(q.Blocks), "You answered *SAFE*") {
		t.Errorf("Farid's question card after his answer: %s", q.Blocks)
	}

	// Amara needs help, by SMS: a sev1 incident at once, Farid and Hugo
	// paged.
	s.Out.Take()
	r := s.SMS("+447700900101", "HELP twisted ankle on the stairs")
	if r.Error || !strings.Contains(r.Text, "INC-1") {
		t.Fatalf("SMS HELP: %+v", r)
	}
	inc, err := s.Store.Incident(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Severity != "sev1" || inc.Site != "harbour" || !strings.Contains(inc.Text, "Amara Okafor needs help (R-1): twisted ankle on the stairs") {
		t.Errorf("incident: %+v", inc)
	}
	for _, p := range []string{"farid", "hugo"} {
		s.ExpectSent(notify.SMS, p, "HELP: Amara Okafor needs help (R-1)", "INC-1 sev1 raised")
	}
	s.ExpectSent(notify.Chat, "#harbour", "Amara Okafor needs help")
	tally("2 safe, 1 need help, 1 not yet answered of 4", "Need help (1): Amara Okafor 10:01 INC-1: twisted ankle on the stairs",
		"Not yet answered (1): Jonah Reid")

	// Jonah is silent: SMS again at 2 minutes, a call at 4, then the
	// supervisor and control are told at 6; nobody else is reminded.
	s.Out.Take()
	s.Advance(time.Minute) // 10:02
	s.ExpectSent(notify.SMS, "jonah", "Reminder: Roll call R-1")
	s.Advance(2 * time.Minute) // 10:04
	s.ExpectSent(notify.Voice, "jonah")
	s.Advance(time.Minute + 50*time.Second) // 10:05:50
	for _, m := range s.Out.Messages() {
		if strings.Contains(m.Text, "has not answered") {
			t.Fatalf("told before the policy's 6 minutes: %+v", m)
		}
		if m.To != "jonah" && m.Kind == "task" {
			t.Errorf("someone who answered was reminded: %+v", m)
		}
	}
	s.Advance(10 * time.Second) // 10:06
	for _, p := range []string{"farid", "hugo"} {
		s.ExpectSent(notify.SMS, p, "Jonah Reid has not answered roll call R-1")
		s.ExpectSent(notify.Chat, p, "Jonah Reid has not answered roll call R-1")
	}
	tally("2 safe, 1 need help, 1 not yet answered of 4")

	// Status and stop: Jonah never answered.
	st := s.As("hugo").MustDo("/rollcall status R-1")
	if !strings.Contains(st.Text, "Not yet answered (1): Jonah Reid") {
		t.Errorf("status: %s", st.Text)
	}
	if r := s.As("amara").Do("/rollcall stop R-1"); !r.Error {
		t.Errorf("a guard stopped the roll call: %s", r.Text)
	}
	stop := s.As("farid").MustDo("/rollcall stop R-1")
	if !strings.Contains(stop.Text, "1 never answered") {
		t.Errorf("stop: %s", stop.Text)
	}
	tally("Roll call R-1 at Harbour Point HQ (stopped 10:06")
	if n, err := s.Store.PendingTimers(ctx); err != nil || n != 0 {
		t.Errorf("%d timers pending after the stop (%v), want 0", n, err)
	}
	if r := s.As("jonah").Do("/rollcall safe R-1"); !r.Error || !strings.Contains(r.Text, "stopped") {
		t.Errorf("an answer after the stop: %+v", r)
	}

	people, err := s.Store.RollCallPeople(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"amara": store.AnswerHelp, "farid": store.AnswerSafe, "hugo": store.AnswerSafe, "jonah": store.TaskUnanswered}
	for _, p := range people {
		if p.Status != want[p.Person] {
			t.Errorf("%s is %s, want %s", p.Person, p.Status, want[p.Person])
		}
	}
	// The report (muster report rollcall R-1) lists each person with how
	// they answered and the time to account for them (the harness lets a
	// second pass for each delivery of the cards); who needed help with
	// the incident; who never answered with the escalations they got.
	doc, err := report.New(s.Config, s.Store).RollCall(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	if err := doc.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"- **Started:** 2026-", " by Farid Haddad", "- **Sites:** Harbour Point HQ (@harbour)",
		"| Hugo Brennan | Harbour Point HQ | 10:00:00 | safe | sms | 10:00:21 | 21s |",
		"| Farid Haddad | Harbour Point HQ | 10:00:00 | safe | slack button | 10:01:01 | 1m1s |",
		"| Amara Okafor | Harbour Point HQ | 10:00:00 | need help | sms | 10:01:02 | 1m2s | 0 | INC-1 |",
		"| Jonah Reid | Harbour Point HQ | 10:00:00 | never answered | - | - | - | 3 | - |",
		"| Amara Okafor | Harbour Point HQ | 10:01:02 | sms | twisted ankle on the stairs | INC-1 | open |",
		"10:00:00 chat+sms · 10:02:00 sms · 10:04:00 voice · 10:06:00 told Farid Haddad, Hugo Brennan",
		"- **Time to account for everyone:** not everyone: 3 of 4 accounted for",
		"- **Median time to account:** 1m1s",
	} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("roll-call report lacks %q:\n%s", w, md.String())
		}
	}
	// The review pack counts it.
	rev, err := report.New(s.Config, s.Store).Review(ctx, report.ReviewOptions{From: scenario.Start.Add(-time.Hour), To: s.Clock.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if f := rev.RollCallFigures(); f.RollCalls != 1 || f.Asked != 4 || f.NeverAnswered != 1 || f.Help != 1 || f.Unaccounted != 1 || f.Everyone.MedianReached {
		t.Errorf("review roll-call figures: %+v", f)
	}
	md.Reset()
	if err := report.New(s.Config, s.Store).ReviewDoc(rev).Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if w := "| R-1 | Harbour Point HQ |"; !strings.Contains(md.String(), "## Roll calls") || !strings.Contains(md.String(), w) ||
		!strings.Contains(md.String(), "| 4 | 2 | 1 | Jonah Reid | not everyone accounted for |") {
		t.Errorf("review pack lacks the roll call:\n%s", md.String())
	}
}

// Refusals: a guard may not start one; a second SAFE is refused; someone
// not asked cannot answer; SMS HELP outside a roll call is the help text.
func TestRollCallRefusals(t *testing.T) {
	h := scenario.New(t)
	if r := h.As("amara").Do("/rollcall start @harbour"); !r.Error || !strings.Contains(r.Text, "supervisor, control or a coordinator") {
		t.Errorf("guard start: %+v", r)
	}
	if r := h.As("amara").Do("/rollcall safe"); !r.Error || !strings.Contains(r.Text, "not in an open roll call") {
		t.Errorf("safe with none open: %+v", r)
	}
	h.As("farid").MustDo("/rollcall start @harbour")
	h.As("amara").MustDo("/rollcall safe")
	if r := h.As("amara").Do("/rollcall safe R-1"); !r.Error || !strings.Contains(r.Text, "already answered SAFE") {
		t.Errorf("second safe: %+v", r)
	}
	if r := h.As("dev").Do("/rollcall safe R-1"); !r.Error || !strings.Contains(r.Text, "did not ask you") {
		t.Errorf("someone not asked: %+v", r)
	}
	if r := h.As("amara").Do("/rollcall safe R-9"); !r.Error || !strings.Contains(r.Text, "no R-9") {
		t.Errorf("unknown roll call: %+v", r)
	}
	if r := h.As("farid").Do("/rollcall start @nowhere"); !r.Error || !strings.Contains(r.Text, "Unknown site") {
		t.Errorf("unknown site: %+v", r)
	}
	if r := h.As("farid").Do("/rollcall frobnicate"); !r.Error || !strings.Contains(r.Text, "Usage: /rollcall start") {
		t.Errorf("unknown subcommand: %+v", r)
	}
}

// A roll-call drill: every message starts "DRILL —".
func TestRollCallDrill(t *testing.T) {
	h := scenario.New(t)
	r := h.As("jonah").MustDo("/drill start rollcall @depot")
	if !strings.HasPrefix(r.Text, notify.DrillPrefix) {
		t.Errorf("drill reply: %s", r.Text)
	}
	h.Advance(7 * time.Minute)
	msgs := h.Out.Messages()
	if len(msgs) == 0 {
		t.Fatal("the drill sent nothing")
	}
	for _, m := range msgs {
		if !strings.HasPrefix(m.Text, notify.DrillPrefix) && m.Channel != notify.Voice {
			t.Errorf("drill message without the prefix: %s %s: %s", m.Channel, m.To, m.Text)
		}
	}
	if r := h.As("farid").Do("/drill start rollcall @depot"); !r.Error {
		t.Errorf("a supervisor started a drill: %s", r.Text)
	}
}

// A HELP in a roll-call drill raises a drill incident, not a real
// emergency: it is marked a drill, its text and every message about it
// (the site's incident card, the pages to the supervisor and control)
// start "DRILL —".
func TestRollCallDrillHelpIsADrillIncident(t *testing.T) {
	h := scenario.New(t)
	h.As("jonah").MustDo("/drill start rollcall @harbour")
	h.Advance(time.Minute)
	h.Out.Take()
	r := h.As("amara").MustDo("/rollcall help casualty role-play")
	if !strings.Contains(r.Text, "INC-1") {
		t.Fatalf("drill HELP: %q", r.Text)
	}
	inc, err := h.Store.Incident(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !inc.Drill || !strings.HasPrefix(inc.Text, notify.DrillPrefix) || inc.Severity != "sev1" {
		t.Errorf("drill HELP's incident: %+v", inc)
	}
	h.Settle()
	msgs := h.Out.Messages()
	var pages int
	for _, m := range msgs {
		if !strings.HasPrefix(m.Text, notify.DrillPrefix) && m.Channel != notify.Voice {
			t.Errorf("drill message without the prefix: %s %s%s: %s", m.Channel, m.To, m.Site, m.Text)
		}
		if strings.Contains(m.Text, "HELP: Amara Okafor needs help (R-1): casualty role-play") {
			pages++
		}
	}
	if pages == 0 {
		t.Errorf("nobody was paged for the drill HELP:\n%s", h.Out.Dump())
	}
}
