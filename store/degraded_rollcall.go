package store

import (
	"context"
	"fmt"
	"strings"
)

// DegradedRollCall is a roll call that degraded mode started while Redis
// was unreachable: the question went out by SMS straight through the
// notifiers to everyone on duty by the config's rotations. It rides in a
// journal entry (DegradedActivation.RollCall); the JSON names are the
// journal's file format: keep them stable.
type DegradedRollCall struct {
	Sites  []string         `json:"sites"`
	By     string           `json:"by"`
	Note   string           `json:"note,omitempty"`
	Policy string           `json:"policy,omitempty"`
	People []RollCallMember `json:"people"`
	// Asked says that each of People was sent the question (by SMS) at
	// the entry's time: once recorded, their question is at step 1 (the
	// reminder), due Wait after that time, not asked again at once. An
	// entry without it (written before muster kept it) asks again on
	// every channel when recorded.
	Asked bool `json:"asked,omitempty"`
	// Wait is the roll-call policy's first wait when it was sent, in ms.
	Wait int64 `json:"wait_ms,omitempty"`
	// Messages go out when it is recorded (the tally cards); their text
	// may hold IDPlaceholder for R-n.
	Messages []OutMessage `json:"messages,omitempty"`
}

// DegradedAnswer is a SAFE or HELP that a person sent by SMS while Redis
// was unreachable, journalled by the process that received it
// (DegradedActivation.Answer). It is recorded in the newest open roll call
// that asked the person and had started when they answered, at the time
// they answered. A help with no such roll call recorded yet raises its
// sev1 at once (at the entry's Site), linked when the roll call comes.
type DegradedAnswer struct {
	Person string `json:"person"`
	Answer string `json:"answer"` // AnswerSafe or AnswerHelp
	Note   string `json:"note,omitempty"`
	// Category and Text, for a help, are the sev1 incident recorded with
	// it (Text may hold IDPlaceholder for R-n).
	Category string `json:"category,omitempty"`
	Text     string `json:"text,omitempty"`
	// Lone marks a lone worker's HELP (someone on check-ins, session
	// Session, task Task): recorded as the session's call for help, its
	// sev1 raised when replayed, never as a roll-call answer.
	Lone    bool   `json:"lone,omitempty"`
	Session string `json:"session,omitempty"`
	Task    int64  `json:"task,omitempty"`
	// Unsure marks a HELP from someone the receiving process knew in no
	// roll call and on no check-ins: it was answered as the live path
	// answers (the SMS help) and paged nobody. It is recorded only if a
	// roll call that asked the person takes it (then its sev1 is raised
	// and Messages page); on its own it raises nothing.
	Unsure bool `json:"unsure,omitempty"`
	// Messages are the pages queued when the help's incident is raised
	// at replay (their text may hold IDPlaceholder for INC-n): for a lone
	// worker, control and the supervisor as the live path pages them.
	Messages []OutMessage `json:"messages,omitempty"`
}

var rollcallDegradedScript = loadScript("rollcall_degraded")

// replayDegradedRollCall records a journal entry that holds a roll call or
// an answer, once (a marker per entry id). Activation in the result is the
// R-n, "pending" for an answer whose roll call is not recorded yet (it
// waits for it in Redis), or the INC-n a lone worker's help raised.
func (s *Store) replayDegradedRollCall(ctx context.Context, d DegradedActivation) (ReplayResult, error) {
	var kind string
	var body map[string]any
	var data string
	switch {
	case d.RollCall != nil:
		rc := d.RollCall
		if len(rc.Sites) == 0 || rc.By == "" {
			return ReplayResult{}, fmt.Errorf("replay degraded roll call %q: sites and by are required", d.ID)
		}
		people := rc.People
		if people == nil {
			people = []RollCallMember{}
		}
		msgs := rc.Messages
		if msgs == nil {
			msgs = []OutMessage{}
		}
		kind = "rollcall"
		body = map[string]any{"at": ms(d.At), "sites": strings.Join(rc.Sites, ","), "by": rc.By, "note": rc.Note,
			"policy": rc.Policy, "people": people, "messages": msgs, "asked": rc.Asked, "wait": rc.Wait}
		data = auditData(map[string]any{"sites": rc.Sites, "note": rc.Note, "drill": false, "people": len(rc.People),
			"degraded": d.ID, "started_at": ms(d.At), "host": d.Host, "sent": sentText(d.Sent, -1)})
	case d.Answer != nil && d.Answer.Lone:
		a := d.Answer
		if a.Person == "" || a.Answer != AnswerHelp {
			return ReplayResult{}, fmt.Errorf("replay degraded lone-worker help %q: a person and help are required", d.ID)
		}
		msgs := a.Messages
		if msgs == nil {
			msgs = []OutMessage{}
		}
		kind = "lonehelp"
		body = map[string]any{"at": ms(d.At), "person": a.Person, "note": a.Note, "category": a.Category, "text": a.Text,
			"site": d.Site, "session": a.Session, "task": a.Task, "messages": msgs}
		data = "{}"
	case d.Answer != nil:
		a := d.Answer
		if a.Person == "" || (a.Answer != AnswerSafe && a.Answer != AnswerHelp) {
			return ReplayResult{}, fmt.Errorf("replay degraded answer %q: a person and safe or help are required", d.ID)
		}
		kind = "answer"
		msgs := a.Messages
		if msgs == nil {
			msgs = []OutMessage{}
		}
		body = map[string]any{"at": ms(d.At), "person": a.Person, "answer": a.Answer, "note": a.Note,
			"category": a.Category, "text": a.Text, "site": d.Site, "unsure": a.Unsure, "messages": msgs}
		data = "{}"
	default:
		return ReplayResult{}, fmt.Errorf("replay degraded entry %q: neither a roll call nor an answer", d.ID)
	}
	v, err := s.run(ctx, rollcallDegradedScript, ms(s.now()), kind, d.ID, mustJSON(body), data)
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay degraded %s %s: %w", kind, d.ID, err)
	}
	res, _ := v.([]any)
	if len(res) < 2 {
		return ReplayResult{}, unavailable(fmt.Errorf("replay degraded %s %s: unexpected reply %v", kind, d.ID, v))
	}
	out := ReplayResult{Fresh: toInt(res[0]) == 1, Activation: toString(res[1])}
	if !out.Fresh && out.Activation != "pending" && !strings.HasPrefix(out.Activation, "R-") && !strings.HasPrefix(out.Activation, "INC-") {
		return out, fmt.Errorf("replay degraded %s %s: %w", kind, d.ID, ErrReplayStuck)
	}
	return out, nil
}
