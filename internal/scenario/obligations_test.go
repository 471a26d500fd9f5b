package scenario_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/report"
	"github.com/muster-ops/muster/store"
)

// obligationMessages are the messages about ref that speak of an
// obligation (reminders and misses), since the last Take.
func obligationMessages(h *scenario.Harness, ref string) []notify.Message {
	var out []notify.Message
	for _, m := range h.Out.Messages() {
		if m.Ref == ref && (strings.Contains(m.Text, "must be told by") || strings.Contains(m.Text, "MISSED")) {
			out = append(out, m)
		}
	}
	return out
}

// An intrusion sev1 at Harbour Point starts the police's 1h clock: the
// control room operator on duty is reminded at 30 and 45 minutes,
// /incident notified stops it, and the incident report and the review
// pack show it met. A second one left alone is missed at the hour and
// the coordinators are told.
func TestObligationClockRemindsThenStopsOrIsMissed(t *testing.T) {
	h := scenario.New(t)
	ctx := context.Background()
	sh, ok := roster.OnDuty(h.Config, "harbour", "control", h.Clock.Now(), nil)
	if !ok || sh.Person == nil {
		t.Fatal("nobody holds control at harbour in the example")
	}
	owner := sh.Person.ID

	h.As("amara").MustDo("/incident raise intrusion sev1 @harbour Gate B forced, two people inside")
	if show := h.MustDo("/incident show INC-1").Text; !strings.Contains(show, "police-report: pending, 1h00m left to tell Harbour Police control room (by 11:00)") {
		t.Errorf("/incident show lacks the police clock:\n%s", show)
	}
	h.Out.Take()

	h.Advance(30*time.Minute - time.Second)
	if got := obligationMessages(h, "INC-1"); len(got) != 0 {
		t.Fatalf("reminded before half time:\n%s", h.Out.Dump())
	}
	h.Advance(time.Second)
	h.ExpectSent(notify.SMS, owner, "INC-1", "Harbour Police control room (police) must be told by 11:00", "30m left", "/incident notified INC-1 police-report")
	h.ExpectSent(notify.Chat, owner, "INC-1", "30m left")
	h.Out.Take()

	h.Advance(15*time.Minute - time.Second)
	if got := obligationMessages(h, "INC-1"); len(got) != 0 {
		t.Fatalf("second reminder before 15 minutes to go:\n%s", h.Out.Dump())
	}
	h.Advance(time.Second)
	h.ExpectSent(notify.SMS, owner, "INC-1", "15m left")
	h.Out.Take()

	r := h.As(owner).MustDo("/incident notified INC-1 police-report CAD 4471/25")
	if !strings.Contains(r.Text, "obligation police-report met") || !strings.Contains(r.Text, "CAD 4471/25") {
		t.Errorf("notified answers %q", r.Text)
	}
	if r := h.As(owner).Do("/incident notified INC-1 police-report again"); !r.Error || !strings.Contains(r.Text, "already met") {
		t.Errorf("a second notified answers %q", r.Text)
	}
	h.Advance(30 * time.Minute)
	for _, m := range obligationMessages(h, "INC-1") {
		if strings.Contains(m.Text, "police-report") || strings.Contains(m.Text, "Police") {
			t.Errorf("the clock ran on after /incident notified: %s %s: %s", m.Channel, m.To, m.Text)
		}
	}
	show := h.MustDo("/incident show INC-1").Text
	if !strings.Contains(show, "police-report: met, Harbour Police control room told 10:45 by "+sh.Person.Name+", reference CAD 4471/25") {
		t.Errorf("/incident show lacks the met obligation:\n%s", show)
	}

	// The second is left alone: missed at the hour, coordinators told.
	h.Out.Take()
	start := h.Clock.Now()
	h.As("amara").MustDo("/incident raise intrusion sev1 @harbour Fence cut by the east gate")
	h.Advance(time.Hour)
	for _, co := range h.Config.Coordinators() {
		h.ExpectSent(notify.SMS, co.ID, "INC-2", "obligation police-report MISSED", "Harbour Police control room (police) was not told by "+start.Add(time.Hour).In(h.Config.Location()).Format("15:04"))
		h.ExpectSent(notify.Chat, co.ID, "INC-2", "MISSED")
	}
	h.Advance(10 * time.Minute)
	if show := h.MustDo("/incident show INC-2").Text; !strings.Contains(show, "police-report: MISSED by 10m") {
		t.Errorf("/incident show lacks the missed obligation:\n%s", show)
	}

	// The incident report and the review pack.
	b := report.New(h.Config, h.Store)
	doc, err := b.Incident(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := doc.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Obligations", "| police-report | Harbour Police control room | police |", "met on time", "CAD 4471/25",
		"police-report: reminder to", "police-report: clock started"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("incident report lacks %q:\n%s", want, md.String())
		}
	}
	rev, err := b.Review(ctx, report.ReviewOptions{From: scenario.Start.Add(-time.Hour), To: h.Clock.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var police *report.ObligationTally
	for i := range rev.Obligations {
		if rev.Obligations[i].Kind == "police" {
			police = &rev.Obligations[i]
		}
	}
	if police == nil || police.OnTime != 1 || police.Missed != 1 || police.Late != 0 {
		t.Errorf("review pack police obligations = %+v, want 1 on time and 1 missed", police)
	}
	md.Reset()
	if err := b.ReviewDoc(rev).Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "External notifications (obligations)") || !strings.Contains(md.String(), "| police | 1 | 0 | 1 |") {
		t.Errorf("review pack lacks the obligations by kind:\n%s", md.String())
	}
}

// /incident severity makes an incident match an obligation and starts its
// clock; /incident send texts the contact through the outbox and counts
// as the notification.
func TestObligationBySeverityAndSend(t *testing.T) {
	h := scenario.New(t)
	h.As("amara").MustDo("/incident raise theft @harbour Laptop taken from reception")
	if obls, err := h.Store.Obligations(context.Background(), 1); err != nil || len(obls) != 0 {
		t.Fatalf("a sev3 theft started %d clocks (%v)", len(obls), err)
	}
	if r := h.As("amara").Do("/incident severity INC-1 sev1"); !r.Error || !strings.Contains(r.Text, "Only a supervisor, control or a coordinator") {
		t.Errorf("a guard changed the severity: %q", r.Text)
	}
	if r := h.As("hugo").Do("/incident severity INC-1 sev9"); !r.Error || !strings.Contains(r.Text, "sev1 to sev4") {
		t.Errorf("sev9 answers %q", r.Text)
	}
	r := h.As("hugo").MustDo("/incident severity INC-1 sev1")
	if !strings.Contains(r.Text, "sev3 -> sev1") || !strings.Contains(r.Text, "2 obligation clock(s) started") {
		t.Errorf("severity answers %q", r.Text)
	}
	obls, err := h.Store.Obligations(context.Background(), 1)
	if err != nil || len(obls) != 2 {
		t.Fatalf("clocks after sev1: %d (%v), want police-report and client-report", len(obls), err)
	}
	if r := h.As("hugo").Do("/incident severity INC-1 sev1"); !r.Error || !strings.Contains(r.Text, "already sev1") {
		t.Errorf("the same severity again answers %q", r.Text)
	}
	h.Out.Take()
	if r := h.As("hugo").Do("/incident send INC-1 insurer Laptop stolen"); !r.Error || !strings.Contains(r.Text, "no phone number") {
		t.Errorf("send to a contact without a phone answers %q", r.Text)
	}
	if r := h.As("amara").Do("/incident send INC-1 police Laptop stolen"); !r.Error {
		t.Errorf("a guard texted the police: %q", r.Text)
	}
	r = h.As("hugo").MustDo("/incident send INC-1 police Theft at Harbour Point HQ reception, suspect left on foot")
	if !strings.Contains(r.Text, "Obligation met: police-report") {
		t.Errorf("send answers %q", r.Text)
	}
	m := h.ExpectSent(notify.SMS, "contact:police", "INC-1", "Theft at Harbour Point HQ reception")
	if m.Ref != "INC-1" {
		t.Errorf("the SMS is about %q", m.Ref)
	}
	obls, _ = h.Store.Obligations(context.Background(), 1)
	for _, o := range obls {
		if o.ID == "police-report" && (o.Status != store.ObligationMet || o.Via != store.ViaSMS || o.MetBy != "hugo") {
			t.Errorf("police-report after send: %+v", o)
		}
		if o.ID == "client-report" && o.Status != store.ObligationPending {
			t.Errorf("client-report after a send to the police: %+v", o)
		}
	}
	if r := h.As("hugo").Do("/incident notified INC-1 nosuch ref"); !r.Error || !strings.Contains(r.Text, `has no obligation "nosuch"`) {
		t.Errorf("an unknown obligation answers %q", r.Text)
	}
}
