package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// TestDegradedLoneWorkerHelp: with Redis stopped, an SMS HELP from a lone
// worker on check-ins is journalled as their call for help, not a
// roll-call answer: control and the supervisor are paged directly, and
// when Redis is back the replay raises the sev1 linked to the session and
// pages control and the supervisor with its INC-n, as the live path does.
// An SMS HELP from someone in no roll call and on no check-ins is answered
// as the live path answers (the SMS help), pages nobody, and on its own
// raises nothing when replayed. Replaying again writes nothing.
func TestDegradedLoneWorkerHelp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := newOutage(t)
	control, ok := roster.OnDuty(o.cfg, "harbour", configs.RoleControl, o.now, nil)
	if !ok || control.Person == nil {
		t.Fatal("nobody on control at harbour")
	}
	var lone, other *configs.Person
	for _, sh := range roster.Everyone(o.cfg, "harbour", o.now, nil) {
		switch {
		case sh.Person.ID == control.Person.ID:
		case lone == nil && !sh.Person.HasAnyRole(configs.RoleSupervisor):
			lone = sh.Person
		case other == nil && sh.Person != lone:
			other = sh.Person
		}
	}
	if other == nil {
		t.Fatal("the test wants two people on duty at harbour besides control")
	}
	if r := timed(t, o.svc, lone.ID, "/checkin start 15m @harbour north fence"); r.Error || r.Ref != "L-1" {
		t.Fatalf("check-ins: %+v", r)
	}
	sms := func(p *configs.Person, text string) commands.Reply {
		t.Helper()
		start := time.Now()
		r := o.svc.Handle(ctx, commands.Request{Platform: commands.PlatformSMS, UserID: p.Phone, Text: text})
		if d := time.Since(start); d > replyBudget {
			t.Errorf("SMS %q answered after %v", text, d)
		}
		return r
	}

	o.redis.Kill()
	o.now = o.now.Add(5 * time.Minute)
	helpAt := o.now
	r := sms(lone, "HELP fell from the ladder")
	if r.Error || !strings.Contains(r.Text, "your call for help (L-1)") || !strings.Contains(r.Text, "control is paged") ||
		!strings.Contains(r.Text, "Paged by SMS: "+control.Person.Name) || strings.Contains(r.Text, "roll call") {
		t.Errorf("lone worker's HELP while degraded: %+v", r)
	}
	o.svc.WaitDegraded()
	var direct int
	for _, m := range o.twilio.Messages() {
		if m.To == control.Person.Phone && strings.Contains(m.Body, "lone worker") && strings.Contains(m.Body, "fell from the ladder") {
			direct++
		}
	}
	if direct != 1 {
		t.Errorf("control paged directly %d times, want once: %+v", direct, o.twilio.Messages())
	}
	sent := len(o.twilio.Messages())
	o.now = o.now.Add(time.Minute)
	r = sms(other, "HELP")
	if r.Error || !strings.HasPrefix(r.Text, commands.SMSHelpText) || strings.Contains(r.Text, "Paged") {
		t.Errorf("HELP from someone in no roll call and on no check-ins: %+v, want the SMS help", r)
	}
	o.svc.WaitDegraded()
	if n := len(o.twilio.Messages()); n != sent {
		t.Errorf("the SMS help paged someone: %+v", o.twilio.Messages()[sent:])
	}

	o.redis.Restart()
	o.now = o.now.Add(5 * time.Minute)
	waitUntil(ctx, t, "Redis back", func() bool { return o.st.Ping(ctx) == nil })
	res, err := o.journal.Replay(ctx)
	if err != nil || res.Recorded != 2 {
		t.Fatalf("replay = %+v, %v", res, err)
	}
	if _, err := o.st.RollCall(ctx, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a roll call was recorded: %v", err)
	}
	inc, err := o.st.Incident(ctx, 1)
	if err != nil {
		t.Fatalf("no incident for the lone worker's HELP: %v", err)
	}
	if inc.Severity != "sev1" || inc.Site != "harbour" || inc.Reporter != lone.ID || inc.Category != o.cfg.HelpCategory(true) ||
		!strings.Contains(inc.Text, lone.Name+" needs help (L-1): fell from the ladder") {
		t.Errorf("incident = %+v", inc)
	}
	if n, _ := o.st.Client().Get(ctx, o.st.Key("seq", "incident")).Int64(); n != 1 {
		t.Errorf("%d incidents, want the lone worker's only", n)
	}
	ws, err := o.st.ActiveLoneWorkers(ctx)
	if err != nil || len(ws) != 1 || ws[0].Helps != 1 {
		t.Errorf("session after the replay = %+v, %v; want one help, INC-1", ws, err)
	}
	evs, err := o.st.AuditEvents(ctx, helpAt.Add(-time.Hour), o.now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var helps int
	for _, e := range evs {
		if e.Kind == "checkin.help" && e.Actor == lone.ID && strings.Contains(e.Data, `"INC-1"`) && strings.Contains(e.Data, "L-1") {
			helps++
		}
	}
	if helps != 1 {
		t.Errorf("%d checkin.help events for INC-1, want 1", helps)
	}
	// The pages the live path queues: control (first) and the
	// supervisor, by chat and SMS, naming INC-1.
	rec := &recorder{}
	if _, err := notify.NewDeliverer(o.st, rec, nil, "t", time.Minute).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	paged := map[string]bool{}
	for _, m := range rec.sent() {
		if m.Kind == "page" && strings.Contains(m.Text, "INC-1") {
			paged[m.To+" "+m.Channel] = true
		}
	}
	if !paged[control.Person.ID+" sms"] || !paged[control.Person.ID+" chat"] {
		t.Errorf("control not paged with INC-1 on the replay: %+v", rec.sent())
	}
	if res, err := o.journal.Replay(ctx); err != nil || res.Recorded+res.Already != 0 {
		t.Fatalf("second replay = %+v, %v", res, err)
	}
	if n, _ := o.st.Client().Get(ctx, o.st.Key("seq", "incident")).Int64(); n != 1 {
		t.Errorf("after a second replay, %d incidents", n)
	}
}
