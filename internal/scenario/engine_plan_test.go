package scenario_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// keys lists the namespace's keys with the length of each stream, so a
// comparison sees a new key and a new entry alike.
func keys(t *testing.T, h *scenario.Harness) []string {
	t.Helper()
	ctx := context.Background()
	rdb := h.Store.Client()
	var out []string
	iter := rdb.Scan(ctx, 0, h.Store.Key("*"), 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if typ, _ := rdb.Type(ctx, k).Result(); typ == "stream" {
			n, _ := rdb.XLen(ctx, k).Result()
			k += " len " + strings.Repeat("|", int(min(n, 1000)))
		}
		out = append(out, k)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// /plan dryrun lists who would get each task and the whole escalation
// schedule, and writes nothing.
func TestPlanDryrunWritesNothing(t *testing.T) {
	h := scenario.New(t)
	h.As("amara").MustDo("/incident raise intrusion @harbour Gate B forced") // some state to compare
	before := keys(t, h)
	// Straight to the service: the harness's settling would create the
	// outbox's consumer group, which is not the dry run's doing.
	r := h.Svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: "farid", Text: "/plan dryrun fire-evacuation @harbour"})
	after := keys(t, h)
	if r.Error {
		t.Fatalf("dry run refused: %s", r.Text)
	}
	if !slices.Equal(before, after) {
		t.Errorf("the dry run wrote to Redis:\nbefore %v\nafter  %v", before, after)
	}
	if n, err := h.Store.PendingTimers(context.Background()); err != nil || n != 0 {
		t.Errorf("%d timers pending after a dry run (%v), want 0", n, err)
	}
	for _, want := range []string{
		"Dry run of Fire evacuation at Harbour Point HQ, if triggered now (10:00). Nothing was sent or saved.",
		"1. Sweep floors and confirm they are clear → Amara Okafor (on duty as guard)",
		"   10:00 chat+sms to Amara Okafor",
		"   10:01 voice to Amara Okafor",
		"   10:03 sms+voice to Farid Haddad", // escalate_to supervisor
		"   10:05 sms+voice to Jonah Reid",   // escalate_to person jonah
		"   10:08 chat+sms to Jonah Reid",    // repeat 1: the steps again, to whoever holds it now
		"   10:16 unanswered: site channel and coordinators told",
		"2. Take the roll call at the assembly point → Farid Haddad (on duty as supervisor)",
		"   10:13 unanswered",
		"3. Call the fire service and meet them at the gate → Hugo Brennan (on duty as control)",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.Text)
		}
	}
	if msgs := h.Out.Messages(); len(msgs) != 1 { // the incident's post only
		t.Errorf("sent %d messages, want only the incident's post:\n%s", len(msgs), h.Out.Dump())
	}
}

// /plan standdown cancels every open task and stops all escalation.
func TestPlanStanddownStopsEscalation(t *testing.T) {
	h := scenario.New(t)
	h.As("farid").MustDo("/plan trigger fire-evacuation @harbour Smoke in the loading bay")
	h.Advance(90 * time.Second)
	h.ExpectSent(notify.Voice, "amara", "Task 1")
	r := h.As("hugo").MustDo("/plan standdown A-1 false alarm, a toaster")
	if !strings.Contains(r.Text, "A-1 Fire evacuation stood down by Hugo Brennan; 3 open task(s) cancelled, escalation stopped.") {
		t.Errorf("stand-down reply: %s", r.Text)
	}
	h.Out.Take()
	h.Advance(time.Hour)
	for _, ref := range []string{"T-1", "T-2", "T-3"} {
		h.ExpectNothingFor(ref)
	}
	if n, err := h.Store.PendingTimers(context.Background()); err != nil || n != 0 {
		t.Errorf("%d timers pending after the stand-down (%v), want 0", n, err)
	}
	for n := int64(1); n <= 3; n++ {
		if tk := task(t, h, n); tk.Status != store.TaskCancelled {
			t.Errorf("%s is %s after the stand-down, want cancelled", tk.ID(), tk.Status)
		}
	}
	if r := h.Do("/plan standdown A-1"); !r.Error || !strings.Contains(r.Text, "already stood down") {
		t.Errorf("second stand-down: %+v", r)
	}
	if r := h.As("amara").Do("/plan standdown A-1"); !r.Error {
		t.Errorf("a guard stood a plan down: %s", r.Text)
	}
}

// Someone else's task: a guard may not acknowledge it; a supervisor may,
// with a note, and the timeline records both people. Whoever the task was
// re-assigned away from may still acknowledge it.
func TestAckOthersTask(t *testing.T) {
	h := scenario.New(t)
	h.As("farid").MustDo("/plan trigger medical-emergency @harbour Visitor collapsed")
	// T-1 first-aider amara (critical), T-2 control hugo, T-3 guard amara.
	if tk := task(t, h, 1); tk.Assignee != "amara" {
		t.Fatalf("T-1 went to %s, want amara", tk.Assignee)
	}
	if r := h.As("ben").Do("/ack T-1"); !r.Error || !strings.Contains(r.Text, "you may only ack your own tasks") {
		t.Errorf("a guard acked someone else's task: %+v", r)
	}
	if r := h.As("grace").Do("/ack T-1"); !r.Error || !strings.Contains(r.Text, "say why: /ack T-1 <reason>") {
		t.Errorf("a supervisor's ack without a note: %+v", r)
	}
	r := h.MustDo("/ack T-1 Amara is doing CPR, I have the kit")
	if !strings.Contains(r.Text, "T-1 acknowledged by Grace Kim") || !strings.Contains(r.Text, "for Amara Okafor: Amara is doing CPR") {
		t.Errorf("supervisor's ack: %s", r.Text)
	}
	tl, err := h.Store.TaskTimeline(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	last := tl[len(tl)-1]
	if last.Kind != "ack" || last.Actor != "grace" || !strings.Contains(last.Text, "amara") || !strings.Contains(last.Text, "CPR") {
		t.Errorf("timeline's last entry %+v: want an ack by grace naming amara and the note", last)
	}

	// T-2 (control, critical) escalates to the supervisor on duty at its
	// third step (3 minutes); hugo, who held it, may still acknowledge.
	h.Advance(3*time.Minute + time.Second)
	if tk := task(t, h, 2); tk.Assignee == "hugo" || !tk.WasAssigned("hugo") {
		t.Fatalf("T-2 after 3 minutes: assignee %s, assignees %v; want re-assigned away from hugo", tk.Assignee, tk.Assignees)
	}
	r = h.As("hugo").MustDo("/ack T-2")
	if !strings.Contains(r.Text, "T-2 acknowledged by Hugo Brennan") {
		t.Errorf("earlier assignee's ack: %s", r.Text)
	}
	tl, _ = h.Store.TaskTimeline(context.Background(), 2)
	if last := tl[len(tl)-1]; last.Kind != "ack" || last.Actor != "hugo" {
		t.Errorf("T-2 timeline ends %+v, want hugo's ack", last)
	}
}

// /ack alone acknowledges the newest open task of whoever types it.
func TestAckAlonePicksNewest(t *testing.T) {
	h := scenario.New(t)
	h.As("farid").MustDo("/plan trigger medical-emergency @harbour")
	// amara holds T-1 (first-aider) and T-3 (guard).
	r := h.As("amara").MustDo("/ack")
	if !strings.HasPrefix(r.Text, "T-3 acknowledged by Amara Okafor") {
		t.Errorf("first /ack: %s, want T-3 (the newest)", r.Text)
	}
	r = h.MustDo("/ack")
	if !strings.HasPrefix(r.Text, "T-1 acknowledged by Amara Okafor") {
		t.Errorf("second /ack: %s, want T-1", r.Text)
	}
	if r = h.Do("/ack"); !r.Error || !strings.Contains(r.Text, "no open task") {
		t.Errorf("third /ack: %+v, want no open task", r)
	}
	if tk := task(t, h, 2); tk.Status != store.TaskOpen {
		t.Errorf("T-2 (hugo's) is %s, want untouched", tk.Status)
	}
}
