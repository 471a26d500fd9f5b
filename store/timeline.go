package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Timelines are read from the audit chain. A task's or an activation's
// timeline is not stored beside its record: every entry it shows is an
// audit event (or follows from one), so what a report shows is as
// tamper-evident as the chain, and an escalation step writes one event
// instead of an event and two timeline entries. An incident keeps its
// timeline stream for /incident show, each entry naming the audit event
// it was written with (field a); audit verify checks every entry against
// that event (IncidentLine).

// eventData is every field a timeline reads from an event's data.
type eventData struct {
	Activation string   `json:"activation"`
	Note       string   `json:"note"`
	Text       string   `json:"text"`
	For        string   `json:"for"`
	From       string   `json:"from"`
	To         string   `json:"to"`
	Notify     []string `json:"notify"`
	Reason     string   `json:"reason"`
	Channel    string   `json:"channel"`
	Site       string   `json:"site"`
	Error      string   `json:"error"`
	Status     string   `json:"status"`
	Code       string   `json:"code"`
	Capacity   int64    `json:"capacity"`
	// Task is set on a message's events when the message is one of a
	// task's own notices (what its timeline lists).
	Task     string `json:"task"`
	Name     string `json:"name"`
	Incident any    `json:"incident"`
	// RollCall is the R-n of a roll-call answer.
	RollCall string `json:"rollcall"`
	// Degraded names the journal entry of a record made in degraded
	// mode; Sent says what went out directly then; At, TriggeredAt and
	// AckedAt are when it happened (ms), before it was recorded.
	Session     string `json:"session"`
	ResponseMS  int64  `json:"response_ms"`
	Degraded    string `json:"degraded"`
	Sent        string `json:"sent"`
	At          any    `json:"at"`
	TriggeredAt any    `json:"triggered_at"`
	AckedAt     any    `json:"acked_at"`
}

func (e *AuditEvent) data() eventData {
	var d eventData
	_ = json.Unmarshal([]byte(e.Data), &d)
	return d
}

// msOf reads a time in ms written as a number or a string; 0 when absent.
func msOf(v any) int64 {
	switch t := v.(type) {
	case float64:
		return int64(t)
	case string:
		n, _ := strconv.ParseInt(t, 10, 64)
		return n
	}
	return 0
}

// degradedHow is what the timeline says of a record made in degraded mode.
func degradedHow(jid string) string {
	return "created in degraded mode while records were unavailable (journal " + jid + ")"
}

// destination is whom a message went to as a timeline says it: the
// person, or the site's channel.
func destination(to, site string) string {
	if to == "" {
		return "#" + site
	}
	return to
}

// Timeline is what the event shows in the timeline of its own record
// (its subject), oldest first: none, one, or (a record made in degraded
// mode) two entries.
func (e *AuditEvent) Timeline() []TimelineEntry {
	d := e.data()
	at := e.At
	entry := func(actor, kind, text string) TimelineEntry {
		return TimelineEntry{At: at, Actor: actor, Kind: kind, Text: text}
	}
	switch e.Kind {
	case "incident.raised":
		return []TimelineEntry{entry(e.Actor, "raised", d.Text)}
	case "task.assigned":
		if d.Degraded != "" {
			if t := msOf(d.At); t > 0 {
				at = fromMS(t)
			}
			return []TimelineEntry{entry(e.Actor, "assigned", d.Note),
				entry("muster", "degraded", degradedHow(d.Degraded)+"; "+orText(d.Sent, "nothing sent"))}
		}
		return []TimelineEntry{entry(e.Actor, "assigned", d.Note)}
	case "task.escalated":
		return []TimelineEntry{entry("muster", "step", d.Note)}
	case "task.unanswered":
		return []TimelineEntry{entry("muster", "unanswered", d.Note)}
	case "task.reassigned":
		return []TimelineEntry{entry("muster", "reassigned", d.From+" -> "+d.To)}
	case "task.ack", "task.done":
		if t := msOf(d.AckedAt); d.Degraded != "" && t > 0 {
			at = fromMS(t)
		}
		return []TimelineEntry{entry(e.Actor, strings.TrimPrefix(e.Kind, "task."), answerText(d))}
	case "task.cancelled":
		return []TimelineEntry{entry(e.Actor, "cancelled", d.Note)}
	case "task.advanced":
		return []TimelineEntry{entry("muster", "advanced", d.Reason)}
	case KindMessageSent:
		if d.Task == "" {
			return nil
		}
		return []TimelineEntry{entry("muster", "sent", d.Channel+" to "+destination(d.To, d.Site))}
	case "outbox.failed":
		if d.Task == "" {
			return nil
		}
		return []TimelineEntry{entry("muster", "failed", d.Channel+" to "+destination(d.To, d.Site)+" failed: "+d.Error)}
	case "outbox.refused":
		return []TimelineEntry{entry("muster", "refused", fmt.Sprintf("%s to %s not queued: %d messages already wait for this sender, 4 hours at its rate",
			d.Channel, d.To, d.Capacity))}
	case "delivery.status", "delivery.failed":
		if d.Task == "" {
			return nil
		}
		text := d.Channel + " to " + d.To + ": " + d.Status
		if d.Code != "" {
			text += " (error " + d.Code + ")"
		}
		return []TimelineEntry{entry("twilio", "delivery", text)}
	case "plan.triggered", "drill.started":
		if d.Degraded != "" {
			if t := msOf(d.TriggeredAt); t > 0 {
				at = fromMS(t)
			}
			return []TimelineEntry{entry(e.Actor, "triggered", d.Note),
				entry("muster", "degraded", degradedHow(d.Degraded)+"; "+d.Sent+"; recorded when records returned")}
		}
		return []TimelineEntry{entry(e.Actor, "triggered", d.Note)}
	case "plan.stood_down", "drill.stopped":
		return []TimelineEntry{entry(e.Actor, "stood_down", d.Note)}
	case "rollcall.asked":
		return []TimelineEntry{entry(e.Actor, "asked", d.RollCall+": "+d.Note)}
	case "rollcall.safe", "rollcall.help":
		text := d.RollCall + " by " + orText(d.Channel, "an unknown channel")
		if inc := fmt.Sprint(d.Incident); d.Incident != nil && inc != "" {
			text += ", " + inc
		}
		if d.Note != "" {
			text += ": " + d.Note
		}
		return []TimelineEntry{entry(e.Actor, strings.TrimPrefix(e.Kind, "rollcall."), text)}
	case "checkin.started":
		return []TimelineEntry{entry(e.Actor, "started", d.Note)}
	case "checkin.ok":
		text := d.Session + " by " + orText(d.Channel, "an unknown channel")
		if d.ResponseMS > 0 {
			text += fmt.Sprintf(", %s after a missed check-in", time.Duration(d.ResponseMS)*time.Millisecond)
		}
		return []TimelineEntry{entry(e.Actor, "checkin", text)}
	case "checkin.help":
		return []TimelineEntry{entry(e.Actor, "help", d.Session+" by "+orText(d.Channel, "an unknown channel")+", "+fmt.Sprint(d.Incident))}
	case "checkin.stopped":
		return []TimelineEntry{entry(e.Actor, "stopped", d.Session)}
	case "checkin.ended":
		return []TimelineEntry{entry("muster", "ended", d.Session)}
	}
	if action, ok := strings.CutPrefix(e.Kind, "incident."); ok && action != "" {
		return []TimelineEntry{entry(e.Actor, action, d.Text)}
	}
	return nil
}

func orText(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// answerText is an acknowledgement's line: the note, who it was for when
// someone answered another's task, and whether it was made in degraded
// mode.
func answerText(d eventData) string {
	text := d.Note
	if d.For != "" {
		text = "for " + d.For + ": " + d.Note
	}
	if d.Degraded != "" {
		text = strings.TrimSpace(text + " (in degraded mode)")
	}
	return text
}

// ActivationLine is what a task's event shows in its activation's
// timeline: its steps, its end and its answers.
func (e *AuditEvent) ActivationLine() (TimelineEntry, bool) {
	tl := e.Timeline()
	if len(tl) == 0 {
		return TimelineEntry{}, false
	}
	t := tl[0]
	switch e.Kind {
	case "task.escalated", "task.unanswered", "task.advanced":
		t.Kind = e.Kind
	case "task.ack", "task.done":
	default:
		return TimelineEntry{}, false
	}
	t.Text = e.Subject + " " + t.Text
	return t, true
}

// IncidentLine is the entry an incident's timeline holds for the event
// (its own, or the plan triggered on it); ref names the incident.
func (e *AuditEvent) IncidentLine() (ref string, t TimelineEntry, ok bool) {
	if strings.HasPrefix(e.Kind, "incident.") {
		tl := e.Timeline()
		if len(tl) == 0 {
			return "", TimelineEntry{}, false
		}
		return e.Subject, tl[0], true
	}
	if e.Kind == "rollcall.help" {
		// The sev1 incident a HELP in a roll call raised, with it.
		d := e.data()
		inc := fmt.Sprint(d.Incident)
		if d.Incident == nil || inc == "" || d.RollCall == "" {
			return "", TimelineEntry{}, false
		}
		text := "Raised by a HELP in roll call " + d.RollCall
		if d.Degraded != "" {
			text += " (sent by SMS in degraded mode, journal " + d.Degraded + ")"
		}
		return "INC-" + strings.TrimPrefix(inc, "INC-"), TimelineEntry{At: e.At, Actor: e.Actor, Kind: "rollcall", Text: text}, true
	}
	if e.Kind != "plan.triggered" && e.Kind != "drill.started" {
		return "", TimelineEntry{}, false
	}
	d := e.data()
	inc := fmt.Sprint(d.Incident)
	if d.Incident == nil || inc == "" || inc == "0" {
		return "", TimelineEntry{}, false
	}
	text := e.Subject + " " + d.Name + " triggered"
	at := e.At
	if d.Degraded != "" {
		text += " (" + degradedHow(d.Degraded) + ")"
		if t := msOf(d.TriggeredAt); t > 0 {
			at = fromMS(t)
		}
	}
	return "INC-" + strings.TrimPrefix(inc, "INC-"), TimelineEntry{At: at, Actor: e.Actor, Kind: "plan", Text: text}, true
}

// RecordTimeline builds the timeline of ref (T-n, A-n or INC-n) from
// history (every audit event, grouped by subject, oldest first), oldest
// first. An activation's timeline holds its own events and its tasks'
// steps and answers; an incident's, its own and the plans triggered on it.
func RecordTimeline(ref string, history map[string][]AuditEvent) []TimelineEntry {
	var out []TimelineEntry
	for _, e := range history[ref] {
		out = append(out, e.Timeline()...)
	}
	switch {
	case strings.HasPrefix(ref, "A-"):
		for subject, evs := range history {
			if !strings.HasPrefix(subject, "T-") || !belongsTo(evs, ref) {
				continue
			}
			for _, e := range evs {
				if t, ok := e.ActivationLine(); ok {
					out = append(out, t)
				}
			}
		}
	case strings.HasPrefix(ref, "INC-"):
		for subject, evs := range history {
			// Plans triggered on it (A-n), a HELP in a roll call (T-n).
			if !strings.HasPrefix(subject, "A-") && !strings.HasPrefix(subject, "T-") {
				continue
			}
			for _, e := range evs {
				if inc, t, ok := e.IncidentLine(); ok && inc == ref {
					out = append(out, t)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// belongsTo reports whether a task's events say it was assigned in the
// activation act.
func belongsTo(evs []AuditEvent, act string) bool {
	for _, e := range evs {
		if e.Kind == "task.assigned" {
			return e.data().Activation == act
		}
	}
	return false
}

// History reads every audit event, grouped by subject, oldest first.
func (s *Store) History(ctx context.Context) (map[string][]AuditEvent, error) {
	h := map[string][]AuditEvent{}
	err := s.ScanAudit(ctx, "", func(e AuditEvent) error {
		for _, m := range e.Messages() {
			h[m.Subject] = append(h[m.Subject], m)
		}
		return nil
	})
	return h, err
}

// TaskTimeline returns a task's timeline, oldest first, read from the
// audit chain (a whole scan: reports build timelines from one History).
func (s *Store) TaskTimeline(ctx context.Context, num int64) ([]TimelineEntry, error) {
	h, err := s.History(ctx)
	if err != nil {
		return nil, err
	}
	return RecordTimeline(FormatID("T", num), h), nil
}

// ActivationTimeline returns an activation's timeline, oldest first, read
// from the audit chain.
func (s *Store) ActivationTimeline(ctx context.Context, num int64) ([]TimelineEntry, error) {
	h, err := s.History(ctx)
	if err != nil {
		return nil, err
	}
	return RecordTimeline(FormatID("A", num), h), nil
}

// KindMessageSent is the audit event of a message that went out (chat,
// SMS or call), about the record it names.
const KindMessageSent = "message.sent"

// KindMessagesSent is one audit event for several messages whose sends
// were recorded together (lua/outbox_finish.lua): its data is a JSON
// array of {"subject", "data"}, one message.sent each (Messages).
const KindMessagesSent = "messages.sent"

// Messages returns what the event stands for in a timeline or report:
// the event itself, or for a messages.sent one message.sent per message,
// each with the event's id, time, actor and chain fields, its own
// subject and data. A messages.sent whose data does not read as such
// stands for itself (audit verify still checks it as stored).
func (e AuditEvent) Messages() []AuditEvent {
	if e.Kind != KindMessagesSent {
		return []AuditEvent{e}
	}
	var items []struct {
		Subject string          `json:"subject"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(e.Data), &items); err != nil {
		return []AuditEvent{e}
	}
	out := make([]AuditEvent, len(items))
	for i, it := range items {
		m := e
		m.Kind, m.Subject, m.Data = KindMessageSent, it.Subject, string(it.Data)
		out[i] = m
	}
	return out
}
