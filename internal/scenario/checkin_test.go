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

// noneContaining fails if any message since the last Take holds fragment.
func noneContaining(t *testing.T, h *scenario.Harness, fragment string) {
	t.Helper()
	for _, m := range h.Out.Messages() {
		if strings.Contains(m.Text, fragment) {
			t.Fatalf("sent too early: %s %s%s: %s", m.Channel, m.To, m.Site, m.Text)
		}
	}
}

// Amara patrols Harbour Point alone, checking in every 15 minutes. She
// checks in once on time, then misses one: a reminder by chat and SMS at
// once (10:29), a call after the 3-minute grace (10:32), Farid and Hugo
// told 3 minutes later (10:35), the coordinator 5 minutes after that
// (10:40), a sev1 incident 5 minutes after that (10:45). Each step comes
// at its time on the injected clock and not before; her check-in then
// stops the escalation and her next one is due 15 minutes on.
func TestLoneWorkerMissedCheckin(t *testing.T) {
	h := scenario.New(t)
	ctx := context.Background()
	r := h.As("amara").MustDo("/checkin start 15m @harbour north fence patrol")
	if !strings.Contains(r.Text, "Check-ins L-1 started for Amara Okafor at Harbour Point HQ: every 15m") || !strings.Contains(r.Text, "first due 10:15") {
		t.Fatalf("start: %s", r.Text)
	}
	if r := h.As("amara").Do("/checkin start 10m"); !r.Error || !strings.Contains(r.Text, "already running") {
		t.Errorf("second start: %+v", r)
	}
	st := h.As("hugo").MustDo("/checkin status")
	if !strings.Contains(st.Text, "L-1 Amara Okafor at Harbour Point HQ: every 15m, next due 10:15") {
		t.Errorf("status: %s", st.Text)
	}

	h.Advance(14 * time.Minute)
	h.As("amara").MustDo("/checkin") // 10:14: on time; next due 10:29
	h.Out.Take()
	h.Advance(14*time.Minute + 59*time.Second) // 10:28:59
	if len(h.Out.Messages()) != 0 {
		t.Fatalf("sent before the check-in was due:\n%s", h.Out.Dump())
	}
	h.Advance(time.Second) // 10:29: missed
	h.ExpectSent(notify.Chat, "amara", "Check-in missed (L-1 at Harbour Point HQ)")
	h.ExpectSent(notify.SMS, "amara", "Reply OK")

	steps := []struct {
		at      time.Duration // after the missed due time
		channel string
		to      string
		text    string
	}{
		{3 * time.Minute, notify.Voice, "amara", ""},
		{6 * time.Minute, notify.SMS, "farid", "Amara Okafor missed a check-in at Harbour Point HQ; last check-in 10:14; note: north fence patrol"},
		{11 * time.Minute, notify.Chat, "jonah", "Amara Okafor missed a check-in at Harbour Point HQ"},
	}
	due := scenario.Start.Add(29 * time.Minute)
	for _, s := range steps {
		h.Out.Take()
		h.Advance(due.Add(s.at).Add(-time.Second).Sub(h.Clock.Now()))
		if s.text != "" {
			noneContaining(t, h, s.text)
		}
		h.Advance(time.Second)
		h.ExpectSent(s.channel, s.to, s.text)
		if s.to == "farid" { // the supervisor and control together
			h.ExpectSent(s.channel, "hugo", s.text)
		}
	}
	h.Out.Take()
	h.Advance(due.Add(16 * time.Minute).Add(-time.Second).Sub(h.Clock.Now()))
	if list, err := h.Store.ListIncidents(ctx, store.IncidentFilter{}); err != nil || len(list) != 0 {
		t.Fatalf("an incident before its step: %v %v", list, err)
	}
	h.Advance(time.Second) // 10:45
	list, err := h.Store.ListIncidents(ctx, store.IncidentFilter{})
	if err != nil || len(list) != 1 || list[0].Severity != "sev1" || list[0].Site != "harbour" || !strings.Contains(list[0].Text, "Amara Okafor missed a check-in") {
		t.Fatalf("incidents after the raise step: %+v %v", list, err)
	}
	h.ExpectSent(notify.Chat, "#harbour", list[0].ID(), "sev1")

	// Her check-in stops it; the next is due 15 minutes on.
	r = h.As("amara").MustDo("/checkin")
	if !strings.Contains(r.Text, "missed check-in (due 10:29) is answered") || !strings.Contains(r.Text, "Next due 11:00") {
		t.Errorf("check-in: %s", r.Text)
	}
	h.Out.Take()
	h.Advance(14*time.Minute + 59*time.Second)
	if len(h.Out.Messages()) != 0 {
		t.Fatalf("escalation went on after the check-in:\n%s", h.Out.Dump())
	}
	// SMS OK checks in too.
	if r := h.SMSFrom("+447700900101", "OK"); r.Error || !strings.Contains(r.Text, "Checked in") {
		t.Errorf("SMS OK: %+v", r)
	}
	h.As("amara").MustDo("/checkin stop")
	if st := h.As("hugo").MustDo("/checkin status"); !strings.Contains(st.Text, "Nobody") {
		t.Errorf("status after stop: %s", st.Text)
	}
	if n, err := h.Store.PendingTimers(ctx); err != nil || n != 0 {
		t.Errorf("%d timers after the stop (%v)", n, err)
	}
	// The check-ins report: the session, the missed check-in with every
	// step it reached, and her answer 16 minutes after it was due.
	doc, err := report.New(h.Config, h.Store).Checkins(ctx, scenario.Start.Add(-time.Hour), h.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	if err := doc.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"- **Sessions:** 1", "- **Missed check-ins:** 1", "- **Median response time:** 16m0s", "- **Incidents raised:** 1",
		"| L-1 | Amara Okafor | Harbour Point HQ | 15m0s |", "| 3 | 1 | 0 | INC-1 | north fence patrol |",
		"10:29:00 reminder (chat+sms) · 10:32:00 voice · 10:35:00 told Farid Haddad, Hugo Brennan · 10:40:00 told Jonah Reid · 10:45:00 raised INC-1",
		"| 10:45:00 | Amara Okafor | console | 16m0s |",
	} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("check-ins report lacks %q:\n%s", w, md.String())
		}
	}
	// The review pack counts it.
	rev, err := report.New(h.Config, h.Store).Review(ctx, report.ReviewOptions{From: scenario.Start.Add(-time.Hour), To: h.Clock.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if f := rev.CheckinFigures(); f.Sessions != 1 || f.Missed != 1 || f.Answered != 1 || f.Response.Median != 16*time.Minute || f.Incidents != 1 {
		t.Errorf("review check-in figures: %+v", f)
	}
	md.Reset()
	if err := report.New(h.Config, h.Store).ReviewDoc(rev).Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "## Lone-worker check-ins") || !strings.Contains(md.String(), "| L-1 | Amara Okafor | Harbour Point HQ |") ||
		!strings.Contains(md.String(), "step 5: raised INC-1 | 16m0s |") {
		t.Errorf("review pack lacks the missed check-in:\n%s", md.String())
	}
}

// SMS HELP from a lone worker raises a sev1 and pages control at once; a
// session ends with the shift.
func TestLoneWorkerHelpAndShiftEnd(t *testing.T) {
	h := scenario.New(t)
	h.As("amara").MustDo("/checkin start 30m @harbour")
	r := h.SMSFrom("+447700900101", "HELP fell from the ladder")
	if r.Error || !strings.Contains(r.Text, "INC-1") {
		t.Fatalf("SMS HELP: %+v", r)
	}
	h.ExpectSent(notify.SMS, "hugo", "HELP: Amara Okafor needs help (L-1): fell from the ladder")
	// Her shift (07:00-19:00) ends the session at 19:00 though she kept
	// checking in.
	for h.Clock.Now().Before(scenario.Start.Add(8*time.Hour + 31*time.Minute)) {
		h.Advance(29 * time.Minute)
		h.As("amara").MustDo("/checkin")
	}
	h.Advance(time.Hour)
	if r := h.As("amara").Do("/checkin"); !r.Error || !strings.Contains(r.Text, "no check-ins running") {
		t.Errorf("check-in after the shift: %+v", r)
	}
	h.ExpectSent(notify.Chat, "amara", "have ended")
}

// A session given a length outlives the shift: Amara's 07:00-19:00 shift
// ends, her `for 12h` session (10:00-22:00) goes on, and ends at 22:00.
func TestLoneWorkerSessionForOutlivesShift(t *testing.T) {
	h := scenario.New(t)
	r := h.As("amara").MustDo("/checkin start 30m for 12h @harbour")
	if !strings.Contains(r.Text, "until 22:00") {
		t.Fatalf("start: %q", r.Text)
	}
	for h.Clock.Now().Before(scenario.Start.Add(11*time.Hour + 31*time.Minute)) {
		h.Advance(29 * time.Minute)
		if h.Clock.Now().After(scenario.Start.Add(9*time.Hour + time.Minute)) {
			if r := h.As("amara").Do("/checkin status"); !strings.Contains(r.Text, "L-1 Amara Okafor at Harbour Point HQ") {
				t.Fatalf("after her shift, at %s, the session is gone: %q", h.Clock.Now().Format("15:04"), r.Text)
			}
		}
		h.As("amara").MustDo("/checkin")
	}
	h.Advance(time.Hour)
	if r := h.As("amara").Do("/checkin"); !r.Error || !strings.Contains(r.Text, "no check-ins running") {
		t.Errorf("check-in after 22:00: %+v", r)
	}
	h.ExpectSent(notify.Chat, "amara", "have ended")
}

// The Check in button on Slack: Amara misses a check-in, her reminder
// card in her DMs carries Check in; pressing it records the check-in and
// stops the escalation (no call, nobody told). The button stays while
// the session runs: pressing it again is the next check-in.
func TestLoneWorkerCheckInButton(t *testing.T) {
	s := scenario.NewSlack(t)
	if ans := s.Slash("U0AMARA", "C0HARBOUR", "/checkin", "start 15m @harbour north fence"); ans.Status != 200 || !strings.Contains(ans.Text, "Check-ins L-1 started") {
		t.Fatalf("start: %d %q", ans.Status, ans.Text)
	}
	s.Advance(15 * time.Minute)
	s.ExpectSent(notify.SMS, "amara", "Check-in missed (L-1")
	s.Deliver()
	card := s.Card("T-1", "DU0AMARA")
	if !strings.Contains(string(card.Blocks), slackbot.ActionCheckin) {
		t.Fatalf("the reminder card has no Check in button: %s", card.Blocks)
	}
	s.Out.Take()
	s.Advance(time.Minute)
	r := s.Click("U0AMARA", "DU0AMARA", slackbot.ActionCheckin, "L-1")
	if !strings.Contains(r.Text, "Checked in, Amara Okafor (L-1)") || !strings.Contains(r.Text, "escalation stopped") {
		t.Fatalf("Check in button: %+v", r)
	}
	s.Advance(10 * time.Minute) // past lone_worker.grace: the call would have gone
	for _, m := range s.Out.Messages() {
		if m.Channel == notify.Voice || strings.Contains(m.Text, "missed a check-in") {
			t.Errorf("escalated after the Check in button: %s %s: %s", m.Channel, m.To, m.Text)
		}
	}
}
