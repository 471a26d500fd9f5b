package scenario_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/notify"
)

// A silent guard gets an SMS after the first wait; once they acknowledge,
// nothing more is sent for their task.
func TestSilentAssigneeGetsSMSThenAckStopsEscalation(t *testing.T) {
	h := scenario.New(t)
	r := h.As("jonah").MustDo("/plan trigger medical-emergency @harbour Visitor collapsed in reception")
	if !strings.Contains(r.Text, "A-1 triggered") {
		t.Fatalf("trigger reply: %s", r.Text)
	}
	// T-3 "Meet the ambulance" goes to the guard on duty (standard policy:
	// chat, wait 2m, then sms, wait 3m, then voice...).
	h.ExpectSent(notify.Chat, "#harbour", "MEDICAL EMERGENCY")
	h.ExpectSent(notify.Chat, "amara", "T-3", "/ack T-3")
	h.Out.Take()

	h.Advance(2*time.Minute - time.Second)
	for _, m := range h.Out.Messages() {
		if m.Ref == "T-3" {
			t.Fatalf("step 2 fired early: %s", m.Text)
		}
	}
	h.Advance(time.Second)
	h.ExpectSent(notify.SMS, "amara", "T-3", "Reply ACK 3")
	h.Out.Take()

	r = h.As("amara").MustDo("/ack")
	if !strings.Contains(r.Text, "T-3 acknowledged by Amara Okafor") {
		t.Fatalf("ack reply: %s", r.Text)
	}
	h.Advance(3*time.Minute + 3*time.Minute + 5*time.Minute) // two more steps and then some
	h.ExpectNothingFor("T-3")
}
