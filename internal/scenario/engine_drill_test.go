package scenario_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// A coordinator runs a fire drill at harbour. Every message it sends, on
// every channel, starts with "DRILL —"; the live-only task (call the fire
// service) is simulated and sends nothing; the report gives each
// person's time to acknowledge and the result against the 5-minute
// target.
func TestDrillPrefixesEverythingAndReportsTimeToAck(t *testing.T) {
	h := scenario.New(t)
	r := h.As("jonah").MustDo("/drill start fire-evacuation @harbour")
	if !strings.HasPrefix(r.Text, "DRILL — D-1 started: Fire evacuation (A-1)") || !strings.Contains(r.Text, "T-3") || !strings.Contains(r.Text, "simulated") {
		t.Fatalf("drill start reply:\n%s", r.Text)
	}
	ctx := context.Background()
	guard, sup, control := task(t, h, 1), task(t, h, 2), task(t, h, 3)
	if control.Status != store.TaskSimulated || !control.LiveOnly {
		t.Errorf("T-3 (call the fire service, live only) is %s, want simulated", control.Status)
	}

	// T-1 (critical: chat+sms, then voice after 1m) is acknowledged after
	// 90 s; T-2 (standard: chat, then sms after 2m) after 3 minutes.
	h.Advance(90 * time.Second)
	h.As(guard.Assignee).MustDo("/ack T-1")
	h.Advance(90 * time.Second)
	h.As(sup.Assignee).MustDo("/ack T-2 at the assembly point")
	h.Advance(20 * time.Minute)

	seen := map[string]bool{}
	for _, m := range h.Out.Messages() {
		seen[m.Channel] = true
		if !drillPrefixed(m) {
			t.Errorf("drill message without the DRILL prefix: %s to %s%s: %q", m.Channel, m.To, m.Site, m.Text)
		}
		if !m.Drill {
			t.Errorf("drill message not marked as a drill: %s %q", m.Channel, m.Text)
		}
		if m.Ref == "T-3" {
			t.Errorf("the simulated live-only task sent: %s %q", m.Channel, m.Text)
		}
	}
	for _, ch := range []string{notify.Chat, notify.SMS, notify.Voice} {
		if !seen[ch] {
			t.Errorf("the drill sent nothing by %s; sent:\n%s", ch, h.Out.Dump())
		}
	}

	r = h.As("jonah").MustDo("/drill report D-1")
	rep := r.Text
	for _, want := range []string{
		"DRILL — D-1 report: Fire evacuation at Harbour Point HQ",
		"T-1 Sweep floors and confirm they are clear: acknowledged by " + name(h, guard.Assignee) + " after 1m30s, 1 escalation step(s)",
		"T-2 Take the roll call at the assembly point: acknowledged by " + name(h, sup.Assignee) + " after 3m0s, 1 escalation step(s)",
		"T-3 Call the fire service and meet them at the gate: simulated (live only)",
		"Result: PASS (slowest acknowledgement 3m0s, target 5m0s).",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	r = h.MustDo("/drill stop D-1")
	if !strings.HasPrefix(r.Text, "DRILL — D-1 stopped") {
		t.Errorf("drill stop: %s", r.Text)
	}

	// A second drill nobody answers fails, naming who never answered.
	h.Out.Take()
	h.MustDo("/drill start intruder-lockdown @harbour")
	h.Advance(30 * time.Minute)
	r = h.MustDo("/drill report D-2")
	if !strings.Contains(r.Text, "NOT acknowledged") || !strings.Contains(r.Text, "Never answered: ") || !strings.Contains(r.Text, "Result: FAIL (target 3m0s).") {
		t.Errorf("unanswered drill report:\n%s", r.Text)
	}
	for _, m := range h.Out.Messages() {
		if !drillPrefixed(m) {
			t.Errorf("drill message without the DRILL prefix: %s %q", m.Channel, m.Text)
		}
	}
	// The drill's unanswered notices reached the coordinator, prefixed.
	h.ExpectSent(notify.SMS, "jonah", notify.DrillPrefix, "UNANSWERED")
	if a, err := h.Store.Activation(ctx, 2); err != nil || a.Drill != 2 {
		t.Errorf("A-2 = %+v, %v; want drill D-2", a, err)
	}
}

// drillPrefixed: chat and voice start with "DRILL — "; an SMS may start
// with "DRILL - " instead (the em dash is not GSM-7, see notify/texts.go).
func drillPrefixed(m notify.Message) bool {
	return strings.HasPrefix(m.Text, notify.DrillPrefix) ||
		m.Channel == notify.SMS && strings.HasPrefix(m.Text, notify.SMSDrillPrefix)
}

// task reads T-n.
func task(t *testing.T, h *scenario.Harness, n int64) *store.Task {
	t.Helper()
	tk, err := h.Store.Task(context.Background(), n)
	if err != nil {
		t.Fatalf("T-%d: %v", n, err)
	}
	return tk
}

func name(h *scenario.Harness, id string) string {
	if p, ok := h.Config.Person(id); ok {
		return p.Name
	}
	return id
}
