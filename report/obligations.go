package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/muster-ops/muster/store"
)

// obligationSection lists an incident's obligations: met (when, by whom,
// the reference), pending (time left) or missed (by how much).
func (b *Builder) obligationSection(list []*store.Obligation) Section {
	now := b.now()
	t := Table{Caption: "Obligations", Header: []string{"Obligation", "Contact", "Kind", "Deadline", "Status", "Told", "By", "Reference"}}
	for _, o := range list {
		status, told, by, ref := "", "-", "-", "-"
		switch {
		case o.Status == store.ObligationMet:
			status = "met on time"
			if o.Late() {
				status = "met " + dur(o.MetTime().Sub(o.DeadlineAt())) + " late"
			}
			told, by, ref = b.when(o.MetTime()), b.person(o.MetBy), o.Reference
			if o.Via == store.ViaSMS {
				ref = "SMS: " + o.Reference
			}
		case o.Missed(now):
			status = "missed by " + dur(now.Sub(o.DeadlineAt()))
		default:
			status = "pending, " + dur(o.DeadlineAt().Sub(now)) + " left"
		}
		t.Rows = append(t.Rows, []string{o.ID, b.contact(o.Contact), o.Kind, b.when(o.DeadlineAt()), status, told, by, ref})
	}
	return Section{Heading: "Obligations", Tables: []Table{t}}
}

func (b *Builder) contact(id string) string {
	if c, ok := b.cfg.Contact(id); ok {
		return c.Name
	}
	return id
}

// obligationEvent is the timeline line of an obligation's audit event.
func (b *Builder) obligationEvent(e store.AuditEvent) (string, bool) {
	if !strings.HasPrefix(e.Kind, "obligation.") {
		return "", false
	}
	var d struct {
		Obligation string   `json:"obligation"`
		Contact    string   `json:"contact"`
		Reference  string   `json:"reference"`
		Via        string   `json:"via"`
		Deadline   int64    `json:"deadline"`
		Late       bool     `json:"late"`
		To         []string `json:"to"`
		Told       []string `json:"told"`
		Text       string   `json:"text"`
	}
	_ = json.Unmarshal([]byte(e.Data), &d)
	deadline := b.when(time.UnixMilli(d.Deadline))
	switch e.Kind {
	case "obligation.started":
		return fmt.Sprintf("%s: clock started, tell %s by %s", d.Obligation, b.contact(d.Contact), deadline), true
	case "obligation.reminder":
		return fmt.Sprintf("%s: reminder to %s", d.Obligation, b.people(d.To)), true
	case "obligation.missed":
		return fmt.Sprintf("%s: missed (deadline %s); told %s", d.Obligation, deadline, b.people(d.Told)), true
	case "obligation.met":
		late := ""
		if d.Late {
			late = " (late)"
		}
		return fmt.Sprintf("%s: %s told%s, %s %s", d.Obligation, b.contact(d.Contact), late, d.Via, d.Reference), true
	case "obligation.sent":
		return fmt.Sprintf("SMS to %s: %s", b.contact(d.Contact), d.Text), true
	}
	return "", false
}
